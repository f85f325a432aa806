/*
 * promql.c — libFuzzer target for the PromQL lexer and selector parser.
 *
 * Every input is lexed to the end (the lexer must terminate and stay in
 * bounds on any bytes) and parsed.  A selector that parses is printed with
 * promql_selector_format and parsed again: the reparse must succeed and give
 * the same matchers (type, name and value, byte for byte, in any order), and
 * printing it again must give the same text.  Each matcher is also run
 * against the raw input (arbitrary bytes as a label value), and the
 * reparsed matcher must agree with the original.  Any difference aborts.
 */
#include "query/lexer.h"
#include "query/promql.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lex_all(const char *s, size_t n)
{
    promql_lexer l;
    promql_token t;
    promql_lexer_init(&l, s, n);
    size_t steps = 0;
    do {
        promql_lexer_next(&l, &t);
        if (t.pos + t.len > n || ++steps > 2 * n + 2)
            abort(); /* out of bounds, or not making progress */
    } while (t.type != PQ_EOF && t.type != PQ_ERROR);
}

static int cmp_matcher(const void *a, const void *b)
{
    const label_matcher *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = (int)x->type - (int)y->type;
    return c ? c : strcmp(x->value, y->value);
}

static bool same_matchers(promql_selector *a, promql_selector *b)
{
    if (a->n != b->n)
        return false;
    qsort(a->matchers, a->n, sizeof(label_matcher), cmp_matcher);
    qsort(b->matchers, b->n, sizeof(label_matcher), cmp_matcher);
    for (size_t i = 0; i < a->n; i++)
        if (cmp_matcher(&a->matchers[i], &b->matchers[i]) != 0)
            return false;
    return true;
}

/* Same pattern, same answer: also exercises PCRE2 on arbitrary subjects.
 * Call before same_matchers() sorts the two selectors differently. */
static void check_same_answers(const promql_selector *a, const promql_selector *b,
                               const char *subject)
{
    for (size_t i = 0; i < a->n; i++) {
        bool want = matcher_matches(&a->matchers[i], subject);
        for (size_t j = 0; j < b->n; j++) {
            if (cmp_matcher(&a->matchers[i], &b->matchers[j]) == 0 &&
                matcher_matches(&b->matchers[j], subject) != want)
                abort();
        }
    }
}

static void check_round_trip(const char *query, promql_selector *sel)
{
    ebuf text, again;
    ebuf_init(&text);
    ebuf_init(&again);
    promql_selector_format(&text, sel);

    promql_selector re;
    promql_error err;
    if (promql_parse_selector(text.data, &re, &err) < 0) {
        fprintf(stderr, "query %s\nprinted %s\ndoes not parse: %s\n", query, text.data, err.msg);
        abort();
    }
    promql_selector_format(&again, &re);
    check_same_answers(sel, &re, query);
    if (strcmp(text.data, again.data) != 0 || !same_matchers(sel, &re)) {
        fprintf(stderr, "query %s\nprinted %s\nreprinted %s\n", query, text.data, again.data);
        abort();
    }
    promql_selector_free(&re);
    ebuf_free(&text);
    ebuf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser takes a C string: the query is the bytes up to a NUL. */
    char *query = malloc(size + 1);
    if (!query)
        return 0;
    memcpy(query, data, size);
    query[size] = '\0';
    lex_all(query, strlen(query));

    promql_selector sel;
    promql_error err;
    if (promql_parse_selector(query, &sel, &err) == 0) {
        check_round_trip(query, &sel);
        promql_selector_free(&sel);
    } else if (strstr(err.msg, ": parse error: ") == NULL) {
        abort(); /* every error has Prometheus's framing */
    }
    free(query);
    return 0;
}
