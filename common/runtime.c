/* runtime.c — common start-up and shutdown of the binaries (see runtime.h). */
#include "common/runtime.h"

#include "common/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *log_level_setting(const opt_spec *specs, size_t nspecs)
{
    for (size_t i = 0; i < nspecs; i++)
        if (strcmp(specs[i].name, "log.level") == 0 && specs[i].kind == OPT_STRING)
            return *(char **)specs[i].target;
    return NULL;
}

int runtime_start(const opt_program *prog, const opt_spec *specs, size_t nspecs, int argc,
                  char **argv)
{
    char err[512];
    int rc = opts_load(prog, specs, nspecs, argc, argv, err, sizeof err);
    if (rc != OPTS_OK) {
        if (rc == OPTS_ERROR)
            fprintf(stderr, "%s: %s\n", prog->name, err);
        opts_free(specs, nspecs);
        return rc == OPTS_EXIT ? 0 : 2;
    }
    const char *level_name = log_level_setting(specs, nspecs);
    log_level level;
    if (level_name && !log_parse_level(level_name, &level)) {
        fprintf(stderr, "%s: --log.level: unknown level \"%s\" (debug, info, warn, error)\n",
                prog->name, level_name);
        opts_free(specs, nspecs);
        return 2;
    }
    if (level_name)
        log_set_level(level);
    return RUNTIME_CONTINUE;
}

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void runtime_block_stop_signals(void)
{
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer closing a socket is an error code, not a death */
}

int runtime_wait_stop(void)
{
    sigset_t set;
    stop_signals(&set);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    log_info("shutting down", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return sig;
}
