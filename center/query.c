/*
 * lifeline-center alarms, gateways: what serve stored, read from its
 * database (read-only; serve may be writing at the same time).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "center.h"
#include "db.h"

static const struct option query_longopts[] = {
    {"db", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'},
    {"no-color", no_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
};

static void query_usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "alarms"))
        fprintf(f, "usage: " PROG " alarms [--db FILE] [--all] [--json] [--no-color]\n"
                   "The active alarms of every gateway, most severe first, then oldest first.\n"
                   "  --db FILE   serve's database (default lifeline-center.db)\n"
                   "  --all       cleared alarms too (after the active ones)\n"
                   "  --json      one JSON array\n"
                   "  --no-color  never colour the level (colour is used only on a terminal)\n");
    else
        fprintf(f, "usage: " PROG " gateways [--db FILE] [--json]\n"
                   "Every gateway serve has heard of: offline first, last seen, outbox, dropped\n"
                   "(alarm/status/telemetry), and its seq: stored without a gap up to, missing, lost.\n"
                   "  --db FILE   serve's database (default lifeline-center.db)\n"
                   "  --json      one JSON array\n");
}

static int query(int argc, char **argv, bool alarms)
{
    const char *cmd = alarms ? "alarms" : "gateways", *path = "lifeline-center.db";
    bool json = false, all = false, no_color = false;
    struct cdb *db;
    int ch;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", query_longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'a':
        case 'C':
            if (!alarms)
                goto bad;
            if (ch == 'a')
                all = true;
            else
                no_color = true;
            break;
        case 'h':
            query_usage(stdout, cmd);
            return 0;
        default:
        bad:
            fprintf(stderr, PROG " %s: %s '%s'\n", cmd, ch == ':' ? "option needs a value:" : "unknown option",
                    argv[optind - 1]);
            query_usage(stderr, cmd);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG " %s: unexpected argument '%s'\n", cmd, argv[optind]);
        query_usage(stderr, cmd);
        return EXIT_USAGE;
    }
    if (cdb_open(path, true, &db) < 0)
        return 1;
    int r = alarms ? cdb_print_alarms(db, stdout, json, use_color(no_color), all, realtime_ms())
                   : cdb_print_gateways(db, stdout, json, realtime_ms());
    cdb_close(db);
    return r < 0 || fflush(stdout) == EOF ? 1 : 0;
}

int cmd_alarms(int argc, char **argv)
{
    return query(argc, argv, true);
}

int cmd_gateways(int argc, char **argv)
{
    return query(argc, argv, false);
}
