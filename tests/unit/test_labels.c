/* test_labels.c — label sets: order, hash, compare, validation, format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/labels.h"

#include <string.h>

static void build(labelset *ls, const char *const *kv)
{
    labels_init(ls);
    for (; kv[0]; kv += 2)
        labels_add(ls, kv[0], kv[1]);
}

static void test_sort_is_bytewise_by_name(void **state)
{
    labelset ls;
    build(&ls, (const char *const[]){"job", "x", "__name__", "up", "Zed", "1", "a", "2", NULL});
    labels_sort(&ls);
    /* upper case sorts before "__name__", which sorts before lower case */
    assert_string_equal(ls.v[0].name, "Zed");
    assert_string_equal(ls.v[1].name, "__name__");
    assert_string_equal(ls.v[2].name, "a");
    assert_string_equal(ls.v[3].name, "job");
    labels_free(&ls);
}

static void test_hash_and_equality_ignore_insertion_order(void **state)
{
    labelset a, b, c;
    build(&a, (const char *const[]){"__name__", "m", "x", "1", "y", "2", NULL});
    build(&b, (const char *const[]){"y", "2", "__name__", "m", "x", "1", NULL});
    build(&c, (const char *const[]){"__name__", "m", "x", "12", NULL});
    labels_sort(&a);
    labels_sort(&b);
    labels_sort(&c);
    assert_true(labels_equal(&a, &b));
    assert_int_equal(labels_hash(&a), labels_hash(&b));
    assert_false(labels_equal(&a, &c));
    assert_int_not_equal(labels_hash(&a), labels_hash(&c));
    labels_free(&a);
    labels_free(&b);
    labels_free(&c);
}

static void test_hash_separates_names_and_values(void **state)
{
    labelset a, b;
    build(&a, (const char *const[]){"a", "bc", NULL});
    build(&b, (const char *const[]){"ab", "c", NULL});
    assert_int_not_equal(labels_hash(&a), labels_hash(&b));
    labels_free(&a);
    labels_free(&b);
}

static void test_compare_like_prometheus(void **state)
{
    labelset a, b, c;
    build(&a, (const char *const[]){"a", "1", NULL});
    build(&b, (const char *const[]){"a", "1", "b", "1", NULL});
    build(&c, (const char *const[]){"a", "2", NULL});
    assert_true(labels_compare(&a, &b) < 0); /* prefix sorts first */
    assert_true(labels_compare(&b, &c) < 0); /* value decides before length */
    assert_true(labels_compare(&c, &a) > 0);
    assert_int_equal(labels_compare(&a, &a), 0);
    labels_free(&a);
    labels_free(&b);
    labels_free(&c);
}

static void test_set_get_del_keep_sorted(void **state)
{
    labelset ls;
    build(&ls, (const char *const[]){"b", "2", "d", "4", NULL});
    labels_sort(&ls);
    labels_set(&ls, "c", "3");
    labels_set(&ls, "a", "1");
    labels_set(&ls, "e", "5");
    labels_set(&ls, "b", "two");
    assert_int_equal(ls.n, 5);
    const char *order[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(ls.v[i].name, order[i]);
    assert_string_equal(labels_get(&ls, "b"), "two");
    assert_true(labels_del(&ls, "c"));
    assert_false(labels_del(&ls, "c"));
    assert_null(labels_get(&ls, "c"));
    assert_int_equal(ls.n, 4);
    labels_free(&ls);
}

static void test_metric_name_handling(void **state)
{
    labelset ls;
    build(&ls, (const char *const[]){"__name__", "http_requests_total", "code", "200", NULL});
    assert_string_equal(labels_metric_name(&ls), "http_requests_total");
    labels_del(&ls, LABEL_METRIC_NAME);
    assert_null(labels_metric_name(&ls));
    labels_free(&ls);
}

static void test_validation(void **state)
{
    char err[128];
    labelset ls;
    build(&ls, (const char *const[]){"__name__", "ok:metric_1", "l_1", "v", NULL});
    assert_true(labels_validate(&ls, err, sizeof err));
    labels_free(&ls);

    build(&ls, (const char *const[]){"__name__", "1bad", NULL});
    assert_false(labels_validate(&ls, err, sizeof err));
    assert_non_null(strstr(err, "1bad"));
    labels_free(&ls);

    build(&ls, (const char *const[]){"__name__", "m", "bad-name", "v", NULL});
    assert_false(labels_validate(&ls, err, sizeof err));
    assert_non_null(strstr(err, "bad-name"));
    labels_free(&ls);

    build(&ls, (const char *const[]){"__name__", "m", "dup", "1", "dup", "2", NULL});
    assert_false(labels_validate(&ls, err, sizeof err));
    assert_non_null(strstr(err, "duplicate"));
    assert_non_null(strstr(err, "dup"));
    labels_free(&ls);

    build(&ls, (const char *const[]){"__name__", "m", "v", "\xc3\x28", NULL});
    assert_false(labels_validate(&ls, err, sizeof err));
    assert_non_null(strstr(err, "UTF-8"));
    labels_free(&ls);
}

static void test_utf8(void **state)
{
    assert_true(utf8_valid("héllo €𝄞", strlen("héllo €𝄞")));
    assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(utf8_valid("\x80", 1));             /* stray continuation */
}

static void test_names(void **state)
{
    assert_true(metric_name_valid("a:b_c", 5));
    assert_false(label_name_valid("a:b", 3));
    assert_true(label_name_valid("_x9", 3));
    assert_false(label_name_valid("", 0));
    assert_false(metric_name_valid("9a", 2));
}

static void test_format_escapes(void **state)
{
    labelset ls;
    build(&ls,
          (const char *const[]){"__name__", "m", "b", "q\"uote", "a", "back\\slash\nnl", NULL});
    labels_sort(&ls);
    ebuf out;
    ebuf_init(&out);
    labels_format(&out, &ls);
    assert_string_equal(out.data, "m{a=\"back\\\\slash\\nnl\", b=\"q\\\"uote\"}");
    ebuf_free(&out);
    labels_free(&ls);
}

static void test_copy_is_deep(void **state)
{
    labelset a, b;
    build(&a, (const char *const[]){"x", "1", NULL});
    labels_copy(&b, &a);
    labels_set(&a, "x", "2");
    assert_string_equal(labels_get(&b, "x"), "1");
    labels_free(&a);
    labels_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_is_bytewise_by_name),
        cmocka_unit_test(test_hash_and_equality_ignore_insertion_order),
        cmocka_unit_test(test_hash_separates_names_and_values),
        cmocka_unit_test(test_compare_like_prometheus),
        cmocka_unit_test(test_set_get_del_keep_sorted),
        cmocka_unit_test(test_metric_name_handling),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_format_escapes),
        cmocka_unit_test(test_copy_is_deep),
    };
    return cmocka_run_group_tests_name("labels", tests, NULL, NULL);
}
