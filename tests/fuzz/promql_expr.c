/*
 * promql_expr.c — libFuzzer target for the full PromQL parser
 * (query/parse_expr.c) and printer (query/print.c).
 *
 * Every input is parsed (it must end in a tree or an error, within the
 * depth limit, never a crash).  A tree is printed, the text parsed again
 * (it must parse) and printed again: the two prints must be identical.
 * Any difference aborts.
 */
#include "query/promql.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print_tree(const promql_expr *e)
{
    ebuf b;
    ebuf_init(&b);
    promql_expr_format(&b, e);
    ebuf_putc(&b, '\0');
    return ebuf_steal(&b, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = malloc(size + 1);
    memcpy(q, data, size);
    q[size] = '\0';
    promql_expr *e;
    promql_error err;
    if (promql_parse(q, &e, &err) == 0) {
        char *a = print_tree(e);
        promql_expr *again;
        if (promql_parse(a, &again, &err) != 0) {
            fprintf(stderr, "reparse of %s failed: %s\n", a, err.msg);
            abort();
        }
        char *b = print_tree(again);
        if (strcmp(a, b) != 0) {
            fprintf(stderr, "print mismatch: %s vs %s\n", a, b);
            abort();
        }
        free(a);
        free(b);
        promql_expr_free(again);
        promql_expr_free(e);
    } else if (strncmp(err.msg, "", 1) == 0 || !strstr(err.msg, "parse error: ")) {
        abort(); /* every error carries Prometheus's position prefix */
    }
    free(q);
    return 0;
}
