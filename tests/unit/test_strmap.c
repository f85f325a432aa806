/* test_strmap.c — the byte-string → uint64 hash map: put, get, overwrite,
 * growth, reserving room, binary and empty keys, key copying. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/strmap.h"

#include <stdio.h>
#include <string.h>

/* key[0..klen) is in m with value want. */
static void has_value(const strmap *m, const void *key, size_t klen, uint64_t want)
{
    uint64_t v = ~want;
    assert_true(strmap_get(m, key, klen, &v));
    assert_true(v == want);
}

static void test_empty_map(void **state)
{
    strmap m;
    strmap_init(&m);
    uint64_t v = 42;
    assert_int_equal(m.len, 0);
    assert_false(strmap_get(&m, "a", 1, &v));
    assert_false(strmap_get(&m, "", 0, NULL));
    assert_int_equal(v, 42); /* untouched on a miss */
    strmap_free(&m);
    assert_null(m.slots);
    assert_int_equal(m.len, 0);
}

static void test_put_and_get(void **state)
{
    strmap m;
    strmap_init(&m);
    strmap_put(&m, "alpha", 5, 1);
    strmap_put(&m, "beta", 4, 2);
    strmap_put(&m, "gamma", 5, UINT64_MAX);
    assert_int_equal(m.len, 3);
    has_value(&m, "alpha", 5, 1);
    has_value(&m, "beta", 4, 2);
    has_value(&m, "gamma", 5, UINT64_MAX);
    assert_true(strmap_get(&m, "beta", 4, NULL)); /* value pointer optional */
    assert_false(strmap_get(&m, "delta", 5, NULL));
    /* The length is part of the key: prefixes and extensions are misses. */
    assert_false(strmap_get(&m, "alph", 4, NULL));
    assert_false(strmap_get(&m, "alphabet", 8, NULL));
    has_value(&m, "alphabet", 5, 1);
    strmap_free(&m);
}

static void test_overwrite(void **state)
{
    /* The empty key too: it is a key like any other. */
    static const char *const keys[] = {"k", ""};
    strmap m;
    strmap_init(&m);
    for (size_t i = 0; i < 2; i++) {
        size_t klen = strlen(keys[i]);
        strmap_put(&m, keys[i], klen, 10);
        strmap_put(&m, keys[i], klen, 20);
        assert_int_equal(m.len, i + 1);
        has_value(&m, keys[i], klen, 20);
        strmap_put(&m, keys[i], klen, 0);
        has_value(&m, keys[i], klen, 0);
        assert_int_equal(m.len, i + 1);
    }
    strmap_free(&m);
}

static void test_keys_are_copied(void **state)
{
    strmap m;
    strmap_init(&m);
    char key[] = "mutable";
    strmap_put(&m, key, strlen(key), 7);
    memcpy(key, "changed", 7);
    has_value(&m, "mutable", 7, 7);
    assert_false(strmap_get(&m, key, 7, NULL));
    strmap_free(&m);
}

static void test_binary_keys(void **state)
{
    /* Distinct keys that NUL bytes would confuse if taken as C strings. */
    static const struct {
        const char *key;
        size_t len;
    } keys[] = {
        {"a\0b", 3}, {"a\0c", 3}, {"\0", 1}, {"\0\0", 2}, {"a", 1}, {"\xff\0\x80\x7f", 4},
    };
    const size_t n = sizeof keys / sizeof keys[0];
    strmap m;
    strmap_init(&m);
    for (size_t i = 0; i < n; i++)
        strmap_put(&m, keys[i].key, keys[i].len, i + 1);
    assert_int_equal(m.len, n);
    for (size_t i = 0; i < n; i++)
        has_value(&m, keys[i].key, keys[i].len, i + 1);
    /* "a\0" is none of "a", "a\0b", "a\0c". */
    assert_false(strmap_get(&m, "a\0b", 2, NULL));
    assert_false(strmap_get(&m, "", 0, NULL));
    strmap_free(&m);
}

static void test_empty_key(void **state)
{
    strmap m;
    strmap_init(&m);
    strmap_put(&m, "", 0, 11);
    strmap_put(&m, "x", 1, 12);
    assert_int_equal(m.len, 2);
    has_value(&m, "", 0, 11);
    has_value(&m, "zzz", 0, 11); /* any pointer will do for a zero-length key */
    has_value(&m, "x", 1, 12);
    assert_false(strmap_get(&m, "\0", 1, NULL));
    assert_false(strmap_get(&m, " ", 1, NULL));
    strmap_free(&m);
}

enum { MANY = 200000 };

static size_t key_of(char *buf, size_t i)
{
    return (size_t)snprintf(buf, 32, "series_%zu", i);
}

static void test_growth(void **state)
{
    strmap m;
    strmap_init(&m);
    char k[32];
    for (size_t i = 0; i < MANY; i++) {
        strmap_put(&m, k, key_of(k, i), (uint64_t)i * 3);
        /* Power-of-two capacity, load factor kept at or under 3/4. */
        assert_true((m.cap & (m.cap - 1)) == 0);
        assert_true(m.len * 4 <= m.cap * 3);
    }
    assert_int_equal(m.len, MANY);
    for (size_t i = 0; i < MANY; i++)
        has_value(&m, k, key_of(k, i), (uint64_t)i * 3);
    for (size_t i = MANY; i < MANY + 1000; i++)
        assert_false(strmap_get(&m, k, key_of(k, i), NULL));
    /* Overwrite every other key after growing; the count stays. */
    for (size_t i = 0; i < MANY; i += 2)
        strmap_put(&m, k, key_of(k, i), 1);
    assert_int_equal(m.len, MANY);
    for (size_t i = 0; i < MANY; i++)
        has_value(&m, k, key_of(k, i), i % 2 ? (uint64_t)i * 3 : 1);
    strmap_free(&m);
}

static size_t le_key(unsigned char k[8], uint64_t i)
{
    for (int b = 0; b < 8; b++)
        k[b] = (unsigned char)(i >> (8 * b));
    return 8;
}

static void test_growth_with_binary_keys(void **state)
{
    /* Fixed-width little-endian keys: full of NUL bytes, all 8 bytes long. */
    strmap m;
    strmap_init(&m);
    unsigned char k[8];
    for (uint64_t i = 0; i < 50000; i++)
        strmap_put(&m, k, le_key(k, i), ~i);
    assert_int_equal(m.len, 50000);
    for (uint64_t i = 0; i < 50000; i++) {
        has_value(&m, k, le_key(k, i), ~i);
        assert_false(strmap_get(&m, k, 7, NULL)); /* a prefix is another key */
    }
    strmap_free(&m);
}

static void test_reserve(void **state)
{
    strmap m;
    strmap_init(&m);
    size_t cap0 = m.cap;
    strmap_reserve(&m, 0);
    strmap_reserve(&m, 1);
    assert_int_equal(m.cap, cap0); /* already room */
    strmap_reserve(&m, 1000);
    size_t cap = m.cap;
    assert_true((cap & (cap - 1)) == 0);
    assert_true(1000 * 4 <= cap * 3);
    char k[32];
    for (size_t i = 0; i < 1000; i++) {
        strmap_put(&m, k, key_of(k, i), i);
        assert_int_equal(m.cap, cap); /* never grows while under the reservation */
    }
    strmap_reserve(&m, 10); /* never shrinks */
    assert_int_equal(m.cap, cap);
    /* Reserving on a full map keeps its entries. */
    strmap_reserve(&m, 100000);
    assert_true(m.cap > cap);
    assert_true(100000 * 4 <= m.cap * 3);
    assert_int_equal(m.len, 1000);
    for (size_t i = 0; i < 1000; i++)
        has_value(&m, k, key_of(k, i), i);
    assert_false(strmap_get(&m, k, key_of(k, 1000), NULL));
    strmap_free(&m);
}

static void test_reuse_after_free(void **state)
{
    strmap m;
    strmap_init(&m);
    strmap_put(&m, "a", 1, 1);
    strmap_free(&m);
    strmap_free(&m); /* freeing twice is harmless */
    strmap_init(&m);
    assert_false(strmap_get(&m, "a", 1, NULL));
    strmap_put(&m, "a", 1, 2);
    has_value(&m, "a", 1, 2);
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_map),   cmocka_unit_test(test_put_and_get),
        cmocka_unit_test(test_overwrite),   cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_binary_keys), cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_growth),      cmocka_unit_test(test_growth_with_binary_keys),
        cmocka_unit_test(test_reserve),     cmocka_unit_test(test_reuse_after_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
