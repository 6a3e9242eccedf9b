/* The published JSON, byte for byte as docs/mqtt.md shows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "payload.h"

static void alarm_event(void **state)
{
    struct alarm_msg m = {
        .seq = 1234,
        .ts_ms = 1764000000123,
        .alarm_id = 77,
        .sensor = "gas-01",
        .cls = "gas",
        .lifeline = "gas",
        .condition = "threshold",
        .event = "raised",
        .level = "red",
        .prev_level = "yellow",
        .value = 52.3,
        .has_value = true,
        .unit = "%LEL",
        .threshold = 50.0,
        .has_threshold = true,
        .quality = "good",
    };
    char buf[512];
    (void)state;
    int n = payload_alarm(&m, buf, sizeof(buf));
    assert_string_equal(
        buf,
        "{\"seq\":1234,\"ts\":1764000000123,\"alarm_id\":77,\"sensor\":\"gas-01\","
        "\"class\":\"gas\",\"lifeline\":\"gas\",\"condition\":\"threshold\",\"event\":\"raised\",\"level\":\"red\","
        "\"prev_level\":\"yellow\",\"value\":52.3,\"unit\":\"%LEL\",\"threshold\":50,"
        "\"quality\":\"good\"}");
    assert_int_equal(n, (int)strlen(buf));
    m.has_value = false;
    m.sensor = "quote\"d";
    payload_alarm(&m, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"value\":null"));
    assert_non_null(strstr(buf, "\"sensor\":\"quote\\\"d\""));
    assert_int_equal(payload_alarm(&m, buf, 40), -1);
}

static void status(void **state)
{
    struct status_msg m = {.state = "online",
                           .version = "0.1.0",
                           .boot = 3,
                           .sensors = 5,
                           .ts_ms = 1764000000000,
                           .config = "9f86d081884c7d65",
                           .outbox = 12,
                           .dropped = {0, 1, 2345}};
    char buf[512];
    (void)state;
    payload_status(&m, buf, sizeof(buf));
    assert_string_equal(buf, "{\"state\":\"online\",\"version\":\"0.1.0\",\"boot\":3,\"sensors\":5,"
                             "\"ts\":1764000000000,\"config\":\"9f86d081884c7d65\",\"outbox\":12,"
                             "\"dropped\":{\"alarm\":0,\"status\":1,\"telemetry\":2345},\"maintenance\":[]}");
    const char *names[] = {"gas-01", "gas-02"};
    m.maintenance = names;
    m.n_maintenance = 2;
    payload_status(&m, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"maintenance\":[\"gas-01\",\"gas-02\"]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(alarm_event), cmocka_unit_test(status)};
    return cmocka_run_group_tests_name("payload", tests, NULL, NULL);
}
