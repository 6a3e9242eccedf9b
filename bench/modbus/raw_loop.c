/* raw_loop: the baseline of bench/modbus. One libmodbus TCP client reads
 * COUNT holding registers of one unit back to back for a fixed time, with
 * nothing else around it: no scheduling, no decoding, no queue, no store.
 * What the gateway adds on top is measured against this.
 *
 *   raw_loop HOST PORT SECONDS [UNIT ADDRESS COUNT]
 *
 * Prints one line on stdout, key=value, for the benchmark script to parse:
 *   requests=N errors=N seconds=S rate=R cpu_us_per_req=C
 * Exit 0, or 1 when it cannot connect or no request succeeded, 64 on usage. */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define EX_USAGE 64

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* strtol with the whole string consumed and a range check; -1 on error. */
static long number(const char *s, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    long seconds, unit = 1, addr = 0, count = 2;
    uint16_t regs[MODBUS_MAX_READ_REGISTERS];
    unsigned long ok = 0, errors = 0;
    modbus_t *ctx;

    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: raw_loop HOST PORT SECONDS [UNIT ADDRESS COUNT]\n");
        return EX_USAGE;
    }
    seconds = number(argv[3], 1, 3600);
    if (argc == 7) {
        unit = number(argv[4], 0, 255);
        addr = number(argv[5], 0, 65535);
        count = number(argv[6], 1, MODBUS_MAX_READ_REGISTERS);
    }
    if (seconds < 0 || unit < 0 || addr < 0 || count < 0) {
        fprintf(stderr, "raw_loop: bad number in arguments\n");
        return EX_USAGE;
    }
    ctx = modbus_new_tcp_pi(argv[1], argv[2]);
    if (!ctx) {
        fprintf(stderr, "raw_loop: modbus_new_tcp_pi %s:%s: %s\n", argv[1], argv[2], modbus_strerror(errno));
        return 1;
    }
    if (modbus_set_slave(ctx, (int)unit) < 0 || modbus_connect(ctx) < 0) {
        fprintf(stderr, "raw_loop: connect %s:%s: %s\n", argv[1], argv[2], modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }
    /* The clock is read once per request: its cost is part of any real poll loop too. */
    double cpu0 = cpu_us(), t0 = mono_s(), end = t0 + (double)seconds, t = t0;
    while (t < end) {
        if (modbus_read_registers(ctx, (int)addr, (int)count, regs) == (int)count)
            ok++;
        else
            errors++;
        t = mono_s();
    }
    double cpu = cpu_us() - cpu0, dt = t - t0;
    modbus_close(ctx);
    modbus_free(ctx);
    printf("requests=%lu errors=%lu seconds=%.3f rate=%.1f cpu_us_per_req=%.2f\n", ok, errors, dt, (double)ok / dt,
           ok ? cpu / (double)ok : 0.0);
    return ok ? 0 : 1;
}
