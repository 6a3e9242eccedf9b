/* ctl_cmds: the console's command table (docs/console.md): the words of
 * each command, its arguments and help, whether it needs privileged mode;
 * matching a line to it, and the helpers the commands share. The commands
 * themselves are in ctl_show.c, ctl_bus.c, ctl_change.c and ctl_config.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_int.h"
#include "log.h"
#include "payload.h"

struct ctl_cmd {
    const char *words; /* "show sensors" */
    const char *args;  /* "NAME", for help */
    const char *help;
    const char *(*fn)(struct ctl_req *r, int argi);
    int min_args, max_args; /* after the words */
    bool privileged;
};

cJSON *ctl_jadd(struct ctl_req *r, cJSON *to, const char *key, cJSON *item)
{
    if (!to || !item || !(cJSON_IsArray(to) ? cJSON_AddItemToArray(to, item) : cJSON_AddItemToObject(to, key, item))) {
        cJSON_Delete(item);
        r->oom = true;
        return NULL;
    }
    return item;
}

cJSON *ctl_jnum(bool has, double v)
{
    return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

const char *ctl_no_such(struct ctl_req *r, const char *what, const char *name, const char *list)
{
    snprintf(r->err, sizeof(r->err), "no %s '%s' (%s lists them)", what, name, list);
    return r->err;
}

void ctl_age_text(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (s < 120)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

void ctl_time_text(int64_t wall_ms, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *do_help(struct ctl_req *r, int argi);

/* modbus read and scan are privileged too: some devices act on a read
 * (clear-on-read counters, a latched fault reset by reading it). */
static const struct ctl_cmd cmds[] = {
    {"show status", "", "uptime, uplink, outbox, drops, store, clock", ctl_show_status, 0, 0, false},
    {"show sensors", "", "every sensor: value, quality, level (! unacknowledged), age", ctl_show_sensors, 0, 0, false},
    {"show sensor", "NAME", "one sensor: where it is read, its limits, state and last samples", ctl_show_sensor, 1, 1,
     false},
    {"show alarms history", "[N]", "the last N alarms (50), active or not", ctl_show_alarms_history, 0, 1, false},
    {"show alarms", "", "the active alarms", ctl_show_alarms, 0, 0, false},
    {"show buses", "", "field bus statistics: requests, errors by kind, latency, busy time", ctl_show_buses, 0, 0,
     false},
    {"show bus", "NAME", "one bus, and each of its slaves", ctl_show_bus, 1, 1, false},
    {"show outputs", "", "the actions' outputs: mode, last value, state", ctl_show_outputs, 0, 0, false},
    {"show config", "", "the running config file (secrets masked)", ctl_show_config, 0, 0, false},
    {"show log", "[N]", "the last N log lines (30)", ctl_show_log, 0, 1, false},
    {"list", "sensors|buses|outputs|alarms|keys", "names, one a line", ctl_list_names, 1, 1, false},
    {"modbus read", "BUS UNIT KIND ADDR [COUNT] [TYPE [ORDER]]",
     "read registers now; 32-bit values decoded in every order", ctl_modbus_read, 4, 7, true},
    {"modbus scan", "BUS [FROM-TO]", "which unit ids answer (1-247), one request between polls", ctl_modbus_scan, 1, 2,
     true},
    {"modbus write", "BUS UNIT coil|holding ADDR VALUE", "write and read back", ctl_modbus_write, 5, 5, true},
    {"gpio get", "NAME", "the level of a gpio input (sensor) or output (action)", ctl_gpio_get, 1, 1, false},
    {"gpio set", "OUTPUT 0|1", "hold a GPIO output (until set output OUTPUT auto)", ctl_gpio_set, 2, 2, true},
    {"gpio pulse", "OUTPUT DURATION", "an output on for a while (a siren test), then automatic", ctl_gpio_pulse, 2, 2,
     true},
    {"mqtt status", "", "the uplink to the monitoring center", ctl_mqtt_status, 0, 0, false},
    {"mqtt reconnect", "", "drop the connection and connect again now", ctl_mqtt_reconnect, 0, 0, true},
    {"enable", "[PIN]", "enter privileged mode (lifelinectl asks for the PIN)", ctl_enable_cmd, 0, 1, false},
    {"disable", "", "leave privileged mode", ctl_disable, 0, 0, false},
    {"ack", "ALARM", "acknowledge an alarm", ctl_ack, 1, 1, true},
    {"maintenance", "SENSOR|bus NAME DURATION|off",
     "alarms recorded but start no action, for a time (a sensor, or every sensor of a bus)", ctl_maintenance, 2, 3,
     true},
    {"reset", "OUTPUT", "release a latched output", ctl_reset, 1, 1, true},
    {"set output", "NAME on|off|auto", "hold an output on or off (a test), or give it back to the rules",
     ctl_set_output, 2, 2, true},
    {"set sensor", "NAME KEY VALUE|default", "change a limit, delay or poll period (then config commit)",
     ctl_set_sensor, 3, 3, true},
    {"config diff", "", "the changes waiting", ctl_config_diff, 0, 0, false},
    {"config commit", "", "check, write (previous version kept) and apply the changes", ctl_config_commit, 0, 0, true},
    {"config discard", "", "forget the changes waiting", ctl_config_discard, 0, 0, false},
    {"config rollback", "", "back to the previous config version", ctl_config_rollback, 0, 0, true},
    {"passwd", "PIN", "set the console PIN (root only)", ctl_passwd, 1, 1, false},
    {"help", "[COMMAND]", "this list, or one command's", do_help, 0, 3, false},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* How many of argv match the words of cmd (all of them, or 0). */
static int match(const struct ctl_req *r, int from, const char *words)
{
    int n = 0;
    const char *w = words;

    while (*w) {
        size_t len = strcspn(w, " ");
        if (from + n >= r->argc || strlen(r->argv[from + n]) != len || strncmp(r->argv[from + n], w, len) != 0)
            return 0;
        n++;
        w += len;
        while (*w == ' ')
            w++;
    }
    return n;
}

static const char *do_help(struct ctl_req *r, int argi)
{
    cJSON *list = r->json ? ctl_jadd(r, r->j, "commands", cJSON_CreateArray()) : NULL;
    bool any = false;

    for (size_t i = 0; i < N_CMDS; i++) {
        if (argi < r->argc &&
            !(match(r, argi, cmds[i].words) || strncmp(cmds[i].words, r->argv[argi], strlen(r->argv[argi])) == 0))
            continue;
        any = true;
        if (r->json) {
            cJSON *e = ctl_jadd(r, list, NULL, cJSON_CreateObject());
            ctl_jadd(r, e, "command", cJSON_CreateString(cmds[i].words));
            ctl_jadd(r, e, "args", cJSON_CreateString(cmds[i].args));
            ctl_jadd(r, e, "help", cJSON_CreateString(cmds[i].help));
            ctl_jadd(r, e, "privileged", cJSON_CreateBool(cmds[i].privileged));
        } else {
            char usage[64];
            snprintf(usage, sizeof(usage), "%s%s%s", cmds[i].words, cmds[i].args[0] ? " " : "", cmds[i].args);
            ctl_printf(r, "%-38s %s%s\n", usage, cmds[i].help, cmds[i].privileged ? " [enable]" : "");
        }
    }
    if (!any)
        return ctl_no_such(r, "command", r->argv[argi], "help");
    if (!r->json && argi >= r->argc)
        ctl_printf(r, "[enable]: needs privileged mode (enable, then the console PIN)\n");
    return NULL;
}

/* A privileged command is logged, and sent to the center as an event
 * (through the outbox, like everything else), with who gave it. */
void ctl_record(struct ctl_req *r, const char *error)
{
    char line[CTL_LINE_MAX], payload[CTL_LINE_MAX + 512];
    size_t n = 0;

    line[0] = '\0';
    for (int i = 0; i < r->argc; i++) {
        /* the PIN of passwd is not a thing to keep */
        const char *a = i == 1 && strcmp(r->argv[0], "passwd") == 0 ? "****" : r->argv[i];
        int w = snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", a);
        if (w < 0 || (size_t)w >= sizeof(line) - n)
            break; /* (a command line is at most CTL_LINE_MAX: never) */
        n += (size_t)w;
    }
    log_info("console: %s: %s%s%s", r->s->user, line, error ? ": refused: " : "", error ? error : "");
    int len = payload_console(loop_wallclock_ms(), ctl_who(r), line, error, payload, sizeof(payload));
    if (len > 0)
        core_send(r->g, "event", payload, (size_t)len);
}

const char *ctl_dispatch(struct ctl_req *r)
{
    const struct ctl_cmd *best = NULL;
    int best_n = 0;

    for (size_t i = 0; i < N_CMDS; i++) {
        int n = match(r, 0, cmds[i].words);
        if (n > best_n) {
            best = &cmds[i];
            best_n = n;
        }
    }
    if (!best) {
        snprintf(r->err, sizeof(r->err), "unknown command '%.40s' (help lists them)", r->argv[0]);
        return r->err;
    }
    int args = r->argc - best_n;
    if (args < best->min_args || args > best->max_args) {
        snprintf(r->err, sizeof(r->err), "usage: %s%s%s (help %s)", best->words, best->args[0] ? " " : "", best->args,
                 best->words);
        return r->err;
    }
    if (best->privileged && !r->s->privileged)
        return "needs privileged mode: enable first";
    const char *error = best->fn(r, best_n);
    bool refused = error && error != CTL_PENDING;
    if (best->privileged)
        ctl_record(r, refused ? error : NULL);
    return error;
}
