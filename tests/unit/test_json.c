/*
 * test_json.c — JSON string escaping (common/json.c) against what Go's
 * encoding/json (and so Prometheus's API) writes for the same strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/json.h"

static void expect(const char *in, const char *want)
{
    ebuf b;
    ebuf_init(&b);
    json_string(&b, in);
    ebuf_putc(&b, '\0');
    assert_string_equal(b.data, want);
    ebuf_free(&b);
}

static void test_escapes_as_go(void **state)
{
    (void)state;
    expect("", "\"\"");
    expect("plain é ü 日本", "\"plain é ü 日本\"");
    expect("q\"b\\s", "\"q\\\"b\\\\s\"");
    expect("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
    expect("\x01\x1f", "\"\\u0001\\u001f\"");
    /* HTML-safe, as json.Marshal */
    expect("<script>&amp;", "\"\\u003cscript\\u003e\\u0026amp;\"");
    /* line and paragraph separators; other three-byte runes pass */
    expect("a\xe2\x80\xa8"
           "b\xe2\x80\xa9"
           "c\xe2\x80\xa6",
           "\"a\\u2028b\\u2029c\xe2\x80\xa6\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_escapes_as_go)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
