/*
 * test_relabel.c — relabeling, table-driven from Prometheus 2.42's
 * documented behaviour and its model/relabel/relabel_test.go cases: every
 * action, anchoring, Go's template expansion quirks, validation messages,
 * and MD5 (RFC 1321 vectors) under hashmod.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/md5.h"
#include "common/relabel.h"

#include "common/buf.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One rule in the fields of the YAML; NULL fields keep Prometheus's defaults. */
typedef struct rule_spec {
    const char *action, *sources, *separator, *target, *regex, *replacement;
    uint64_t modulus;
} rule_spec;

typedef struct relabel_case {
    const char *name;
    const char *in; /* "a=foo,b=bar" */
    rule_spec rules[3];
    const char *out; /* NULL: dropped */
} relabel_case;

static char *dup_or_null(const char *s)
{
    return s ? em_strdup(s) : NULL;
}

/* Build a rule; returns relabel_rule_compile's result. */
static int build(relabel_rules *rs, const rule_spec *s, char *err, size_t errlen)
{
    relabel_rule *r = relabel_rules_push(rs);
    assert_true(relabel_action_parse(s->action, &r->action));
    if (s->sources) {
        char *copy = em_strdup(s->sources);
        for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
            r->source_labels = em_realloc(r->source_labels, (r->nsource + 1) * sizeof(char *));
            r->source_labels[r->nsource++] = em_strdup(tok);
        }
        free(copy);
    }
    r->separator = dup_or_null(s->separator);
    r->target_label = dup_or_null(s->target);
    r->regex = dup_or_null(s->regex);
    r->replacement = dup_or_null(s->replacement);
    r->modulus = s->modulus;
    return relabel_rule_compile(r, err, errlen);
}

static void parse_labels(labelset *ls, const char *text)
{
    labels_init(ls);
    char *copy = em_strdup(text);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        labels_set(ls, tok, eq + 1);
    }
    free(copy);
    labels_sort(ls);
}

static void format_labels(ebuf *out, const labelset *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        ebuf_printf(out, "%s%s=%s", i ? "," : "", ls->v[i].name, ls->v[i].value);
}

static const relabel_case cases[] = {
    {"replace with groups",
     "a=foo",
     {{"replace", "a", NULL, "d", "f(.*)", "ch${1}-ch${1}", 0}},
     "a=foo,d=choo-choo"},
    {"replace joins sources",
     "a=foo,b=bar",
     {{"replace", "a,b", NULL, "a", "f(.*);(.*)r", "b${1}${2}m", 0}},
     "a=boobam,b=bar"},
    {"rules chain",
     "a=foo,b=bar",
     {{"replace", "a,b", NULL, "a", "f(.*);(.*)r", "b${1}${2}m", 0},
      {"replace", "b,a", NULL, "d", "(b).*b(.*)ba(.*)", "$1$2$2$3", 0}},
     "a=boobam,b=bar,d=boooom"},
    {"drop on match", "a=foo", {{"drop", "a", NULL, NULL, ".*o.*", NULL, 0}}, NULL},
    {"drop without match",
     "a=foo,b=bar",
     {{"drop", "a", NULL, NULL, "f(.*)r", NULL, 0}},
     "a=foo,b=bar"},
    {"keep without match", "a=foo", {{"keep", "a", NULL, NULL, "no-match", NULL, 0}}, NULL},
    {"keep on match", "a=foo", {{"keep", "a", NULL, NULL, "f.*", NULL, 0}}, "a=foo"},
    {"regex is anchored", "a=foo", {{"replace", "a", NULL, "d", "f", "x", 0}}, "a=foo"},
    {"anchored at the very end",
     "a=foo\n",
     {{"replace", "a", NULL, "d", "foo", "x", 0}},
     "a=foo\n"},
    {"default regex and replacement copy",
     "a=foo",
     {{"replace", "a", NULL, "b", NULL, NULL, 0}},
     "a=foo,b=foo"},
    {"missing source is empty",
     "a=foo",
     {{"replace", "a,missing,a", "-", "b", "(.*)", "[$1]", 0}},
     "a=foo,b=[foo--foo]"},
    {"empty result deletes", "a=foo,b=bar", {{"replace", "a", NULL, "b", "(.*)", "", 0}}, "a=foo"},
    {"$1x is a group named 1x", "a=foo", {{"replace", "a", NULL, "b", "(.*)", "$1x", 0}}, "a=foo"},
    {"${1}x and $$", "a=foo", {{"replace", "a", NULL, "b", "(.*)", "${1}x$$", 0}}, "a=foo,b=foox$"},
    {"named groups",
     "a=foo",
     {{"replace", "a", NULL, "b", "(?P<first>f)(?P<rest>.*)", "${rest}-$first", 0}},
     "a=foo,b=oo-f"},
    {"target label expansion",
     "a=some-name-value",
     {{"replace", "a", NULL, "${1}", "some-([^-]+)-([^,]+)", "${2}", 0}},
     "a=some-name-value,name=value"},
    {"invalid expanded target is skipped",
     "a=some-0-value",
     {{"replace", "a", NULL, "${1}", "some-([^-]+)-([^,]+)", "${2}", 0}},
     "a=some-0-value"},
    {"labelmap",
     "a=foo,b1=bar,b2=baz",
     {{"labelmap", NULL, NULL, NULL, "(b.*)", "bar_${1}", 0}},
     "a=foo,b1=bar,b2=baz,bar_b1=bar,bar_b2=baz"},
    {"labelmap meta",
     "__meta_my_bar=aaa,__meta_other=bbb,a=foo",
     {{"labelmap", NULL, NULL, NULL, "__meta_(my.*)", "${1}", 0}},
     "__meta_my_bar=aaa,__meta_other=bbb,a=foo,my_bar=aaa"},
    {"labeldrop",
     "a=foo,b1=bar,b2=baz",
     {{"labeldrop", NULL, NULL, NULL, "(b.*)", NULL, 0}},
     "a=foo"},
    {"labelkeep",
     "a=foo,b1=bar,b2=baz",
     {{"labelkeep", NULL, NULL, NULL, "(b.*)", NULL, 0}},
     "b1=bar,b2=baz"},
    {"labelkeep of nothing drops", "a=foo", {{"labelkeep", NULL, NULL, NULL, "z", NULL, 0}}, NULL},
    {"hashmod",
     "a=foo,b=bar,c=baz",
     {{"hashmod", "c", NULL, "d", NULL, NULL, 1000}},
     "a=foo,b=bar,c=baz,d=976"},
    {"hashmod joined",
     "a=a,b=b",
     {{"hashmod", "a,b", NULL, "h", NULL, NULL, 1000}},
     "a=a,b=b,h=74"},
    {"uppercase",
     "foo=bAr123Foo",
     {{"uppercase", "foo", NULL, "foo_uppercase", NULL, NULL, 0}},
     "foo=bAr123Foo,foo_uppercase=BAR123FOO"},
    {"lowercase",
     "foo=bAr123Foo",
     {{"lowercase", "foo", NULL, "foo_lowercase", NULL, NULL, 0}},
     "foo=bAr123Foo,foo_lowercase=bar123foo"},
    {"keepequal keeps",
     "foo=x,bar=x",
     {{"keepequal", "foo", NULL, "bar", NULL, NULL, 0}},
     "bar=x,foo=x"},
    {"keepequal drops", "foo=x,bar=y", {{"keepequal", "foo", NULL, "bar", NULL, NULL, 0}}, NULL},
    {"dropequal drops", "foo=x,bar=x", {{"dropequal", "foo", NULL, "bar", NULL, NULL, 0}}, NULL},
    {"dropequal keeps",
     "foo=x,bar=y",
     {{"dropequal", "foo", NULL, "bar", NULL, NULL, 0}},
     "bar=y,foo=x"},
    {"action is case-insensitive",
     "a=foo",
     {{"Replace", "a", NULL, "b", NULL, NULL, 0}},
     "a=foo,b=foo"},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const relabel_case *c = &cases[i];
        relabel_rules rs;
        relabel_rules_init(&rs);
        char err[256];
        for (size_t k = 0; k < 3 && c->rules[k].action; k++)
            if (build(&rs, &c->rules[k], err, sizeof err) != 0)
                fail_msg("%s: %s", c->name, err);
        labelset ls;
        parse_labels(&ls, c->in);
        bool kept = relabel_apply(&rs, &ls);
        ebuf got;
        ebuf_init(&got);
        format_labels(&got, &ls);
        if (!c->out && kept)
            fail_msg("%s: kept as %s, want dropped", c->name, got.data);
        if (c->out && (!kept || strcmp(got.data, c->out) != 0))
            fail_msg("%s: got %s%s, want %s", c->name, kept ? "" : "dropped ", got.data, c->out);
        ebuf_free(&got);
        labels_free(&ls);
        relabel_rules_free(&rs);
    }
}

static const struct {
    rule_spec rule;
    const char *err;
} invalid[] = {
    {{"hashmod", "a", NULL, "b", NULL, NULL, 0},
     "relabel configuration for hashmod requires non-zero modulus"},
    {{"replace", "a", NULL, NULL, NULL, NULL, 0},
     "relabel configuration for replace action requires 'target_label' value"},
    {{"lowercase", "a", NULL, NULL, NULL, NULL, 0},
     "relabel configuration for lowercase action requires 'target_label' value"},
    {{"replace", "a", NULL, "0bad", NULL, NULL, 0},
     "\"0bad\" is invalid 'target_label' for replace action"},
    {{"uppercase", "a", NULL, "b", NULL, "x", 0},
     "'replacement' can not be set for uppercase action"},
    {{"labelmap", NULL, NULL, NULL, "(.*)", "-x", 0},
     "\"-x\" is invalid 'replacement' for labelmap action"},
    {{"hashmod", "a", NULL, "${1}", NULL, NULL, 10},
     "\"${1}\" is invalid 'target_label' for hashmod action"},
    {{"keepequal", "a", NULL, "b", "x", NULL, 0},
     "keepequal action requires only 'source_labels' and `target_label`, and no other fields"},
    {{"labeldrop", "a", NULL, NULL, "x", NULL, 0},
     "labeldrop action requires only 'regex', and no other fields"},
    {{"labelkeep", NULL, "-", NULL, "x", NULL, 0},
     "labelkeep action requires only 'regex', and no other fields"},
    {{"replace", "a", NULL, "b", "(unclosed", NULL, 0}, "invalid regex \"(unclosed\""},
    {{"replace", "a-b", NULL, "b", NULL, NULL, 0}, "\"a-b\" is not a valid label name"},
};

static void test_validation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        relabel_rules rs;
        relabel_rules_init(&rs);
        char err[256] = "";
        assert_int_equal(build(&rs, &invalid[i].rule, err, sizeof err), -1);
        if (strncmp(err, invalid[i].err, strlen(invalid[i].err)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, invalid[i].err);
        relabel_rules_free(&rs);
    }
    relabel_action a;
    assert_false(relabel_action_parse("rename", &a));
    assert_true(relabel_action_parse("dropequal", &a));
    assert_string_equal(relabel_action_name(a), "dropequal");
}

static void test_md5_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
        {"1234567890123456789012345678901234567890123456789012345", /* 55: one block */
         "c9ccf168914a1bcfc3229f1948e67da0"},
        {"12345678901234567890123456789012345678901234567890123456", /* 56: two */
         "49f193adce178490e34d1b3a4ec0064c"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[16];
        char hex[33];
        md5_digest(v[i].in, strlen(v[i].in), d);
        for (int k = 0; k < 16; k++)
            snprintf(hex + 2 * k, 3, "%02x", d[k]);
        assert_string_equal(hex, v[i].hex);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_md5_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
