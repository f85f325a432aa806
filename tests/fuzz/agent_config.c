/*
 * agent_config.c — libFuzzer target for the agent's scrape config file
 * (agent/config.c): any bytes as YAML; a parse either fails with a message
 * or yields targets whose URLs, jobs and instances are set.  Everything is
 * freed every time, so LeakSanitizer sees any leak.
 */
#include "agent/config.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scrape_config c;
    char err[512];
    if (scrape_config_parse(&c, "fuzz.yml", (const char *)data, size, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort(); /* a failure always says why */
        return 0;
    }
    for (size_t i = 0; i < c.ntargets; i++)
        if (!c.targets[i].url || !c.targets[i].job || !c.targets[i].instance)
            abort();
    scrape_config_free(&c);
    return 0;
}
