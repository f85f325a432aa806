/*
 * relabel.c — libFuzzer target for relabeling (common/relabel.c), the part
 * that runs on outside input: a rule built from the first lines of the
 * input (action, regex, replacement, target label, source labels), applied
 * to a label set built from the rest ("name=value" lines).  Checks that a
 * kept set is sorted with no empty values; frees everything.
 */
#include "common/relabel.h"

#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*p, end) as a new string, or NULL at the end. */
static char *next_line(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = em_strndup(*p, len);
    *p += len + 1;
    return s;
}

static void build_rule(relabel_rule *r, const char **p, const char *end)
{
    char *action = next_line(p, end);
    if (!action || !relabel_action_parse(action, &r->action))
        r->action = RELABEL_REPLACE;
    free(action);
    r->regex = next_line(p, end);
    r->replacement = next_line(p, end);
    r->target_label = next_line(p, end);
    char *src = next_line(p, end);
    for (char *tok = src ? strtok(src, ",") : NULL; tok && r->nsource < 8;
         tok = strtok(NULL, ",")) {
        r->source_labels = em_realloc(r->source_labels, (r->nsource + 1) * sizeof(char *));
        r->source_labels[r->nsource++] = em_strdup(tok);
    }
    free(src);
    r->modulus = 7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    relabel_rules rs;
    relabel_rules_init(&rs);
    relabel_rule *r = relabel_rules_push(&rs);
    build_rule(r, &p, end);
    char err[256];
    if (relabel_rule_compile(r, err, sizeof err) == 0) {
        labelset ls;
        labels_init(&ls);
        for (char *line; (line = next_line(&p, end)) != NULL; free(line)) {
            char *eq = strchr(line, '=');
            if (eq && eq != line && eq[1]) { /* real label sets hold no empty values */
                *eq = '\0';
                labels_set(&ls, line, eq + 1);
            }
        }
        labels_sort(&ls);
        if (relabel_apply(&rs, &ls))
            for (size_t i = 0; i < ls.n; i++)
                if (!ls.v[i].value[0] || (i && strcmp(ls.v[i - 1].name, ls.v[i].name) >= 0))
                    abort();
        labels_free(&ls);
    }
    relabel_rules_free(&rs);
    return 0;
}
