/*
 * metric_asserts.h — what collector and simulator tests ask of a metric_set:
 * find a sample by name and labels, count a metric's series, check a
 * family's metadata, and write fixture files.  Header-only, because every
 * tests/unit/test_*.c is its own executable; include it after <cmocka.h>.
 */
#ifndef EMBER_TESTS_METRIC_ASSERTS_H
#define EMBER_TESTS_METRIC_ASSERTS_H

#include "common/expfmt.h"
#include "common/fsutil.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The sample named name carrying the NULL-terminated label pairs in ap;
 * with exact, it must carry no other label. */
static inline const metric_sample *find_sample_v(const metric_set *ms, bool exact, const char *name,
                                                 va_list ap)
{
    for (size_t i = 0; i < ms->n; i++) {
        const labelset *ls = &ms->samples[i].labels;
        const char *got = labels_metric_name(ls);
        if (got == NULL || strcmp(got, name) != 0)
            continue;
        va_list aq;
        va_copy(aq, ap);
        size_t npairs = 0;
        bool match = true;
        for (const char *k = va_arg(aq, const char *); k != NULL; k = va_arg(aq, const char *)) {
            const char *v = va_arg(aq, const char *), *have = labels_get(ls, k);
            match = match && have != NULL && strcmp(have, v) == 0;
            npairs++;
        }
        va_end(aq);
        if (match && (!exact || ls->n == npairs + 1))
            return &ms->samples[i];
    }
    return NULL;
}

/* The sample named name with exactly these label pairs (NULL-terminated). */
static inline const metric_sample *find_sample(const metric_set *ms, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    const metric_sample *s = find_sample_v(ms, true, name, ap);
    va_end(ap);
    return s;
}

/* The first sample named name whose labels include these pairs. */
static inline const metric_sample *find_with(const metric_set *ms, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    const metric_sample *s = find_sample_v(ms, false, name, ap);
    va_end(ap);
    return s;
}

static inline size_t count_named(const metric_set *ms, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < ms->n; i++) {
        const char *got = labels_metric_name(&ms->samples[i].labels);
        n += got != NULL && strcmp(got, name) == 0;
    }
    return n;
}

static inline void assert_meta(const metric_set *ms, const char *family, metric_type type,
                               const char *help)
{
    const metric_meta *m = metric_set_find_meta(ms, family);
    assert_non_null(m);
    assert_int_equal(m->type, type);
    assert_non_null(m->help);
    assert_string_equal(m->help, help);
}

/* Write root/rel, creating its directories. */
static inline void put_file(const char *root, const char *rel, const char *content)
{
    char path[1024];
    assert_true(snprintf(path, sizeof path, "%s/%s", root, rel) < (int)sizeof path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(fs_mkdir_p(path), 0);
    *slash = '/';
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    assert_int_equal(fclose(fp), 0);
}

#endif
