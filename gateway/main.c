/* lifelined: the Lifeline gateway daemon. */
#include <getopt.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "log.h"

#define EX_USAGE_STATUS 64

static void usage(FILE *f)
{
    fprintf(f, "usage: lifelined -c FILE [--check] [-d]\n"
               "  -c, --config FILE  configuration (INI), e.g. /etc/lifeline/lifeline.conf\n"
               "      --check        validate the configuration and exit (0: valid, 78: not)\n"
               "  -d, --syslog       log to syslog instead of stderr\n"
               "  -v, --verbose      log debug lines too\n"
               "  -V, --version      print the version and exit\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"syslog", no_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool check = false, to_syslog = false, verbose = false;
    struct config cfg;
    char err[CFG_ERR_MAX];
    int c;

    while ((c = getopt_long(argc, argv, "c:dvVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'd':
            to_syslog = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'V':
            printf("lifelined %s\n", LIFELINE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EX_USAGE_STATUS;
        }
    }
    if (!path || optind != argc) {
        fprintf(stderr, "lifelined: %s\n", path ? "unexpected argument" : "-c FILE is required");
        usage(stderr);
        return EX_USAGE_STATUS;
    }
    if (config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "lifelined: config error: %s\n", err);
        return EX_CONFIG_STATUS;
    }
    if (check) {
        printf("%s: ok (gateway %s/%s, %u buses, %u sensors)\n", path, cfg.gateway.site, cfg.gateway.id, cfg.n_buses,
               cfg.n_sensors);
        config_free(&cfg);
        return 0;
    }
    log_open(to_syslog ? LOG_TARGET_SYSLOG : cfg.gateway.log, verbose ? LOG_DEBUG : cfg.gateway.log_level);
    if (to_syslog || verbose)
        log_lock();
    mosquitto_lib_init();
    int status = gateway_run(&cfg);
    mosquitto_lib_cleanup();
    if (status == GATEWAY_RESTART) {
        /* same pid, same arguments: a service manager sees no exit */
        log_info("core: exec %s again", argv[0]);
        log_close();
        execv("/proc/self/exe", argv);
        fprintf(stderr, "lifelined: restart: exec failed: %s\n", strerror(errno));
        return 1;
    }
    log_close();
    return status;
}
