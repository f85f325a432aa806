/*
 * test_etime.c — clocks, sleep, and Prometheus durations and timestamps.
 *
 * The duration cases mirror Prometheus's model.ParseDuration and
 * model.Duration.String (including the ~292-year range of Go's
 * time.Duration), since configs move between Prometheus and Ember.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"

#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define WEEK (7 * DAY)
#define YEAR (365 * DAY)
/* INT64_MAX nanoseconds in ms: the largest duration Prometheus accepts. */
#define MAX_MS 9223372036854LL

static void expect_duration(const char *s, int64_t want)
{
    int64_t got = -42;
    if (!parse_duration_ms(s, &got))
        fail_msg("parse_duration_ms(\"%s\") failed", s);
    if (got != want)
        fail_msg("parse_duration_ms(\"%s\") = %lld, want %lld", s, (long long)got, (long long)want);
}

static void expect_bad_duration(const char *s)
{
    int64_t got = -42;
    if (parse_duration_ms(s, &got))
        fail_msg("parse_duration_ms(\"%s\") accepted (%lld)", s, (long long)got);
    assert_int_equal(got, -42); /* untouched on failure */
}

static void test_parse_duration_valid(void **state)
{
    (void)state;
    expect_duration("0", 0);
    expect_duration("0s", 0);
    expect_duration("0ms", 0);
    expect_duration("15s", 15 * SEC);
    expect_duration("1h30m", HOUR + 30 * MIN);
    expect_duration("30d", 30 * DAY);
    expect_duration("1y", YEAR);
    expect_duration("1w", WEEK);
    expect_duration("2w3d", 2 * WEEK + 3 * DAY);
    expect_duration("1m", MIN);
    expect_duration("1ms", 1);
    expect_duration("5m10ms", 5 * MIN + 10);
    expect_duration("1y2w3d4h5m6s7ms",
                    YEAR + 2 * WEEK + 3 * DAY + 4 * HOUR + 5 * MIN + 6 * SEC + 7);
    expect_duration("01s", SEC);      /* [0-9]+ allows leading zeros */
    expect_duration("90m", 90 * MIN); /* no carrying rule: 90m is fine */
    expect_duration("1000ms", SEC);
}

static void test_parse_duration_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "",       "15",   "00",   "1.5h", "-1s", "+1s",   "1s1m", "1s1s", "1m1y",
        "1h 30m", " 1s",  "1s ",  "1S",   "1x",  "s",     "ms",   "1sm",  "1mss",
        "0 ",     "1d1w", "1msm", "y1",   "1y1", "1h-1m", "1µs",  "1us",  "1ns",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_duration(bad[i]);
    int64_t out = -42;
    assert_false(parse_duration_ms(NULL, &out));
}

static void test_parse_duration_range(void **state)
{
    (void)state;
    expect_duration("292y", 292 * YEAR);
    expect_bad_duration("293y");
    expect_duration("9223372036854ms", MAX_MS);
    expect_bad_duration("9223372036855ms");
    expect_duration("106751d23h47m16s854ms", MAX_MS);
    expect_bad_duration("106751d23h47m16s855ms");
    expect_bad_duration("99999999999999999999s");
    expect_bad_duration("99999999999999999999999999999999ms");
    expect_bad_duration("292y1000w");               /* each part fits, the sum does not */
    expect_bad_duration("99999999999999999999s1x"); /* syntax still checked */
}

static void expect_format(int64_t ms, const char *want)
{
    char buf[32];
    format_duration_ms(buf, sizeof buf, ms);
    if (strcmp(buf, want) != 0)
        fail_msg("format_duration_ms(%lld) = \"%s\", want \"%s\"", (long long)ms, buf, want);
}

static void test_format_duration(void **state)
{
    (void)state;
    expect_format(0, "0s");
    expect_format(500, "500ms");
    expect_format(15 * SEC, "15s");
    expect_format(HOUR + 30 * MIN, "1h30m");
    expect_format(DAY, "1d");
    expect_format(WEEK, "1w");
    expect_format(YEAR, "1y");
    expect_format(2 * WEEK, "2w");
    expect_format(90 * DAY, "90d");   /* weeks only when exact */
    expect_format(372 * DAY, "372d"); /* years only when exact */
    expect_format(2 * YEAR, "2y");
    expect_format(YEAR + 1, "365d1ms");
    expect_format(HOUR + SEC, "1h1s");
    expect_format(YEAR + WEEK, "372d");
    expect_format(YEAR + 2 * YEAR, "3y");
    expect_format(3 * DAY + 4 * HOUR + 5 * MIN + 6 * SEC + 7, "3d4h5m6s7ms");
    expect_format(-15 * SEC, "-15s");
    expect_format(MAX_MS, "106751d23h47m16s854ms");
    expect_format(INT64_MAX, "106751991167d7h12m55s807ms");
    expect_format(INT64_MIN, "-106751991167d7h12m55s808ms");
}

static void test_format_duration_small_buffer(void **state)
{
    (void)state;
    char buf[4] = "xxx";
    format_duration_ms(buf, sizeof buf, HOUR + 30 * MIN);
    assert_string_equal(buf, "1h3"); /* truncated, still terminated */
    format_duration_ms(buf, 0, 1);   /* len 0 touches nothing */
    assert_string_equal(buf, "1h3");
}

/* format → parse is the identity for every representable duration. */
static void test_duration_round_trip(void **state)
{
    (void)state;
    int64_t v = 1;
    for (int i = 0; i < 2000 && v > 0 && v <= MAX_MS; i++) {
        char buf[32];
        format_duration_ms(buf, sizeof buf, v);
        int64_t back = -1;
        if (!parse_duration_ms(buf, &back) || back != v)
            fail_msg("round trip of %lld via \"%s\" gave %lld", (long long)v, buf, (long long)back);
        v = v * 3 / 2 + 7 * (i % 5) + 1;
    }
}

static void expect_rfc3339(int64_t ms, const char *want)
{
    char buf[32];
    format_rfc3339_ms(buf, sizeof buf, ms);
    if (strcmp(buf, want) != 0)
        fail_msg("format_rfc3339_ms(%lld) = \"%s\", want \"%s\"", (long long)ms, buf, want);
}

static void test_format_rfc3339(void **state)
{
    (void)state;
    expect_rfc3339(0, "1970-01-01T00:00:00.000Z");
    expect_rfc3339(1795737540123LL, "2026-11-26T23:59:00.123Z");
    expect_rfc3339(1709210096007LL, "2024-02-29T12:34:56.007Z");
    expect_rfc3339(-1, "1969-12-31T23:59:59.999Z");
    expect_rfc3339(-1000, "1969-12-31T23:59:59.000Z");
    expect_rfc3339(-2208988800000LL, "1900-01-01T00:00:00.000Z");
    expect_rfc3339(253402300799999LL, "9999-12-31T23:59:59.999Z");
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t wall = now_ms();
    int64_t t = (int64_t)time(NULL) * 1000;
    assert_true(wall >= t - 2000 && wall <= t + 2000);
    int64_t a = mono_ms(), b = mono_ms();
    assert_true(b >= a);
}

static void test_sleep(void **state)
{
    (void)state;
    int64_t start = mono_ms();
    sleep_ms(30);
    int64_t slept = mono_ms() - start;
    assert_true(slept >= 30);
    assert_true(slept < 5000);
    start = mono_ms();
    sleep_ms(0);
    sleep_ms(-5);
    assert_true(mono_ms() - start < 1000);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* Signals every 5 ms must not cut a 60 ms sleep short. */
static void test_sleep_survives_signals(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: nanosleep sees EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval it = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    int64_t start = mono_ms();
    sleep_ms(60);
    int64_t slept = mono_ms() - start;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_true(alarms > 0);
    assert_true(slept >= 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration_valid),
        cmocka_unit_test(test_parse_duration_invalid),
        cmocka_unit_test(test_parse_duration_range),
        cmocka_unit_test(test_format_duration),
        cmocka_unit_test(test_format_duration_small_buffer),
        cmocka_unit_test(test_duration_round_trip),
        cmocka_unit_test(test_format_rfc3339),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_sleep_survives_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
