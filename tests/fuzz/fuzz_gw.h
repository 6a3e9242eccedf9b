/* fuzz_gw.h: a real core (store, uplink, sim bus, actions, control socket)
 * made once per fuzzer process in a private temporary directory, for the
 * targets that drive its command parsers. The loop never runs: what a
 * command hands to it (timers, publishes) just waits. */
#ifndef LIFELINE_FUZZ_GW_H
#define LIFELINE_FUZZ_GW_H

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "log.h"

static const char fuzz_conf[] =
    "[gateway]\nid = fuzz\nsite = lab\n"
    "[mqtt]\nhost = 127.0.0.1\nport = 1\n" /* nobody there: everything waits in the outbox */
    "cmd_rate = 0\nset_interval = 0\n"     /* every input reaches the parser */
    "[store]\npath = %s/fuzz.db\noutbox_max = 2000\n"
    "[console]\nsocket = %s/ctl.sock\n"
    "[bus sim]\ntype = sim\n"
    "[bus tcp-1]\ntype = tcp\nhost = 127.0.0.1\nport = 1\n"
    "[sensor gas-01]\nclass = gas\nbus = sim\nsim_min = 5\nsim_max = 60\npoll = 1s\n"
    "[sensor level-02]\nclass = water_level\nbus = sim\nunit = m\nred = 3\norange = 2\n"
    "direction = high\npoll = 2s\n"
    "[sensor flow-03]\nclass = gas\nbus = tcp-1\nunit_id = 3\nregister = holding:10\n"
    "type = float32\norder = cdab\n"
    "[action fan]\nsensors = gas-01\nlevel = yellow\noutput = modbus:tcp-1:3:coil:0\n";

/* A private directory under $TMPDIR (make fuzz: build-fuzz/tmp, removed
 * after each target: libFuzzer ends with _Exit, so no exit handler runs). */
static inline char *fuzz_mkdtemp(void)
{
    static char dir[256];
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/lifeline-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    return dir;
}

static inline struct gateway *fuzz_gateway(void)
{
    static struct gateway *g;
    char *dir;
    char path[300], err[512];
    struct config cfg;
    FILE *f;

    if (g)
        return g;
    log_open(LOG_TARGET_STDERR, LOG_CRIT); /* the targets' refusals are not news */
    log_lock();
    dir = fuzz_mkdtemp();
    snprintf(path, sizeof(path), "%s/lifeline.conf", dir);
    if (!(f = fopen(path, "w")))
        abort();
    fprintf(f, fuzz_conf, dir, dir);
    fclose(f);
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    if (gateway_open(&cfg, &g) < 0) {
        fprintf(stderr, "fuzz: the core did not start\n");
        abort();
    }
    return g;
}

#endif
