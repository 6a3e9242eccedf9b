/*
 * lifeline-center: the reference monitoring-center receiver for Lifeline
 * gateways (center/README.md, docs/center.md). One subcommand a file.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "center.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the command name */
    const char *help;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "store every alarm event and status; fill gaps with cmd/replay"},
    {"watch", cmd_watch, "print alarms and gateway status as they arrive"},
    {"alarms", cmd_alarms, "the active alarms of every gateway (from serve's database)"},
    {"gateways", cmd_gateways, "every gateway: online or not, last seen, outbox, seq"},
    {"ack", cmd_ack, "acknowledge an alarm on its gateway"},
    {"send", cmd_send, "give a gateway a command and print its answer"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " COMMAND [OPTIONS]   (" PROG " COMMAND --help for its options)\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf(PROG " " LIFELINE_VERSION "\n");
        return 0;
    }
    /* Timestamps are printed in local time from paho's thread: load TZ once, here. */
    tzset();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
