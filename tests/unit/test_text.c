/* text: UTF-8 checked and control characters escaped, for what reaches a
 * log line, a terminal or a page from outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

static void utf8_validity(void **state)
{
    (void)state;
    static const char *const good[] = {"", "gas-01", "燃气泄漏 报警", "\xf0\x9f\x9a\xa8", "\x7f", "\xc2\x80"};
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xff",
        "\x80",
        "abc\xe6\xb0", /* cut short */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(text_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(text_utf8_valid(bad[i], strlen(bad[i])));
}

static void printable(void **state)
{
    (void)state;
    assert_true(text_printable("desk 3, 值班员"));
    assert_true(text_printable(""));
    assert_false(text_printable("desk\n3"));
    assert_false(text_printable("desk\x1b[2J"));
    assert_false(text_printable("desk\xc2\x9b"));
    assert_false(text_printable("desk\x7f"));
    assert_false(text_printable("desk\xff"));
}

static void escaping(void **state)
{
    char out[128];
    (void)state;
    /* a forged second log line, a screen clear, a C1 CSI, a broken byte */
    text_escape("ack by desk\n2026-12-07 core: fake\x1b[2J\xc2\x9b"
                "1m\xff!",
                out, sizeof(out));
    assert_string_equal(out, "ack by desk\\x0a2026-12-07 core: fake\\x1b[2J\\xc2\\x9b1m\\xff!");
    text_escape("燃气 tab\there\x7f", out, sizeof(out));
    assert_string_equal(out, "燃气 tab\\x09here\\x7f");
}

/* out full: it ends on a whole character or escape, never half of one */
static void truncation(void **state)
{
    char out[8];
    (void)state;
    assert_int_equal(text_escape("abcdef燃", out, sizeof(out)), 6);
    assert_string_equal(out, "abcdef");
    assert_int_equal(text_escape("abcd\x1b", out, sizeof(out)), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(text_escape("ab\x1b", out, sizeof(out)), 6);
    assert_string_equal(out, "ab\\x1b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_validity),
        cmocka_unit_test(printable),
        cmocka_unit_test(escaping),
        cmocka_unit_test(truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
