/* lifelinectl: the field technician's console (docs/console.md). Talks to
 * lifelined over its control socket. On a terminal without a command:
 * interactive, with line editing, history and tab completion (libedit);
 * with a command: one-shot, for scripts; with stdin not a terminal: one
 * command per line, one session. Exit status 0 when every command
 * succeeded, 1 when one failed, 2 when the daemon cannot be reached. */
#include <cjson/cJSON.h>
#include <editline/readline.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/lifeline/ctl.sock"
#define LINE_MAX_BYTES 4096

static int sock = -1;
static FILE *sock_in;
static bool json;

static int connect_daemon(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "lifelinectl: socket path too long: %s\n", path);
        return -1;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        fprintf(stderr, "lifelinectl: cannot reach lifelined at %s: %s\n", path, strerror(e));
        if (e == ENOENT || e == ECONNREFUSED)
            fprintf(stderr, "  is it running? (systemctl status lifelined; [console] socket in its config)\n");
        else if (e == EACCES)
            fprintf(stderr, "  the socket is for root and the [console] group only\n");
        return -1;
    }
    sock_in = fdopen(dup(sock), "r");
    return sock_in ? 0 : -1;
}

/* Sends one command; the answer's body goes to out (or is collected in
 * *body when body is not NULL). Returns 0 (%ok), 1 (%error, printed to
 * stderr unless quiet) or -1 (the daemon went away). */
static int request(const char *line, FILE *out, char **body, bool quiet)
{
    char buf[LINE_MAX_BYTES + 2];
    size_t used = 0, cap = 0;
    /* the daemon's limit, exactly: a longer line is refused here whole */
    int n = strlen(line) <= LINE_MAX_BYTES ? snprintf(buf, sizeof(buf), "%s\n", line) : -1;

    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        fprintf(stderr, "lifelinectl: command too long (at most %d bytes)\n", LINE_MAX_BYTES);
        return 1;
    }
    for (int done = 0; done < n;) {
        ssize_t w = send(sock, buf + done, (size_t)(n - done), MSG_NOSIGNAL);
        if (w <= 0) {
            fprintf(stderr, "lifelinectl: the daemon closed the connection\n");
            return -1;
        }
        done += (int)w;
    }
    if (body)
        *body = NULL;
    char *l = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&l, &lcap, sock_in)) > 0) {
        if (l[0] == '%' && l[1] != '%') {
            int rc = strncmp(l, "%ok", 3) == 0 ? 0 : 1;
            if (rc && !quiet)
                fprintf(stderr, "error: %s", strncmp(l, "%error ", 7) == 0 ? l + 7 : l);
            free(l);
            return rc;
        }
        const char *text = l[0] == '%' ? l + 1 : l;
        size_t tlen = (size_t)len - (l[0] == '%');
        if (body) {
            if (used + tlen + 1 > cap) {
                cap = (used + tlen + 1) * 2;
                char *b = realloc(*body, cap);
                if (!b)
                    break;
                *body = b;
            }
            memcpy(*body + used, text, tlen);
            used += tlen;
            (*body)[used] = '\0';
        } else {
            fwrite(text, 1, tlen, out);
        }
    }
    free(l);
    fprintf(stderr, "lifelinectl: the daemon closed the connection\n");
    return -1;
}

/* A PIN from the terminal, without echo. */
static int ask_secret(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;

    fputs(prompt, stderr);
    fflush(stderr);
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)len, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* watch sensors|alarms: the view again every second until a key. */
static int watch(const char *what)
{
    char cmd[64];
    struct termios old, raw;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    const char *term = getenv("TERM");
    bool clear = isatty(STDOUT_FILENO) && term && strcmp(term, "dumb") != 0;

    if (strcmp(what, "sensors") && strcmp(what, "alarms")) {
        fprintf(stderr, "error: watch sensors|alarms\n");
        return 1;
    }
    snprintf(cmd, sizeof(cmd), "show %s", what);
    if (tty) {
        raw = old;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    int rc = 0;
    for (;;) {
        char *body = NULL;
        rc = request(cmd, stdout, &body, false);
        if (rc != 0) {
            free(body);
            break;
        }
        if (clear)
            fputs("\033[H\033[2J", stdout);
        else
            fputs("----\n", stdout);
        fputs(body ? body : "", stdout);
        printf("(every second; a key stops)\n");
        fflush(stdout);
        free(body);
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, 1, 1000) > 0) {
            char c;
            (void)!read(STDIN_FILENO, &c, 1);
            break;
        }
    }
    if (tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
    return rc < 0 ? -1 : rc;
}

/* Commands the client handles itself first; the rest go as they are. */
static int run(const char *line)
{
    char cmd[LINE_MAX_BYTES + 32], pin[128], again[128];
    char w1[32] = "", w2[32] = "";
    int words = sscanf(line, "%31s %31s", w1, w2);

    if (words >= 1 && strcmp(w1, "watch") == 0)
        return watch(words == 2 ? w2 : "");
    if (words == 1 && strcmp(w1, "enable") == 0 && isatty(STDIN_FILENO)) {
        if (ask_secret("PIN: ", pin, sizeof(pin)) < 0)
            return 1;
        snprintf(cmd, sizeof(cmd), "enable %s", pin); /* cmd holds any pin */
        memset(pin, 0, sizeof(pin));
        int rc = request(cmd, stdout, NULL, false);
        memset(cmd, 0, sizeof(cmd));
        return rc;
    }
    if (words == 1 && strcmp(w1, "passwd") == 0 && isatty(STDIN_FILENO)) {
        if (ask_secret("new console PIN: ", pin, sizeof(pin)) < 0 || ask_secret("again: ", again, sizeof(again)) < 0)
            return 1;
        if (strcmp(pin, again) != 0) {
            fprintf(stderr, "error: the two PINs differ; nothing changed\n");
            return 1;
        }
        snprintf(cmd, sizeof(cmd), "passwd %s", pin);
        memset(pin, 0, sizeof(pin));
        memset(again, 0, sizeof(again));
        int rc = request(cmd, stdout, NULL, false);
        memset(cmd, 0, sizeof(cmd));
        return rc;
    }
    if (json) {
        /* truncated, it would be another command: refused whole instead */
        int n = snprintf(cmd, sizeof(cmd), "--json %s", line);
        if (n < 0 || (size_t)n >= sizeof(cmd)) {
            fprintf(stderr, "lifelinectl: command too long (at most %d bytes)\n", LINE_MAX_BYTES);
            return 1;
        }
        return request(cmd, stdout, NULL, false);
    }
    return request(line, stdout, NULL, false);
}

/* ---- interactive ---- */

static char **completions;
static size_t n_completions;

static void set_completions(char *body)
{
    for (size_t i = 0; i < n_completions; i++)
        free(completions[i]);
    free(completions);
    completions = NULL;
    n_completions = 0;
    for (char *l = body ? strtok(body, "\n") : NULL; l; l = strtok(NULL, "\n")) {
        char **c = realloc(completions, (n_completions + 1) * sizeof(*c));
        if (!c)
            break;
        completions = c;
        completions[n_completions++] = strdup(l);
    }
}

static char *next_completion(const char *text, int state)
{
    static size_t i;
    size_t len = strlen(text);

    if (state == 0)
        i = 0;
    while (i < n_completions) {
        const char *c = completions[i++];
        if (c && strncmp(c, text, len) == 0)
            return strdup(c);
    }
    return NULL;
}

/* The words a command line can go on with, after what is typed so far. */
static void candidates(const char *before)
{
    static const char *const tree[][2] = {
        {"", "show watch list modbus gpio mqtt enable disable ack maintenance reset set config passwd help quit"},
        {"modbus", "read scan write"},
        {"gpio", "get set pulse"},
        {"show", "status sensors sensor alarms buses bus outputs config log"},
        {"show alarms", "history"},
        {"watch", "sensors alarms"},
        {"list", "sensors buses outputs alarms keys"},
        {"mqtt", "status reconnect"},
        {"set", "sensor output"},
        {"config", "diff commit discard rollback"},
    };
    static const char *const names[][2] = {
        {"show sensor", "sensors"}, {"set sensor", "sensors"}, {"maintenance", "sensors"}, {"show bus", "buses"},
        {"set output", "outputs"},  {"reset", "outputs"},      {"ack", "alarms"},          {"modbus read", "buses"},
        {"modbus scan", "buses"},   {"modbus write", "buses"}, {"gpio get", "sensors"},    {"gpio set", "outputs"},
        {"gpio pulse", "outputs"},
    };
    char words[256];
    size_t n = 0;

    /* the complete words typed so far, single-spaced */
    words[0] = '\0';
    for (const char *p = before; *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        if (!l || !p[l])
            break; /* the last one is being typed */
        int w = snprintf(words + n, sizeof(words) - n, "%s%.*s", n ? " " : "", (int)l, p);
        if (w < 0 || (size_t)w >= sizeof(words) - n) {
            set_completions(NULL); /* longer than any command: nothing goes on it */
            return;
        }
        n += (size_t)w;
        p += l;
    }
    for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++) {
        if (strcmp(words, tree[i][0]) == 0) {
            char *copy = strdup(tree[i][1]);
            char *list = copy ? strdup(copy) : NULL;
            for (char *p = list; p && *p; p++)
                if (*p == ' ')
                    *p = '\n';
            set_completions(list);
            free(list);
            free(copy);
            return;
        }
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(words, names[i][0]) == 0) {
            char cmd[64], *body = NULL;
            snprintf(cmd, sizeof(cmd), "list %s", names[i][1]);
            if (request(cmd, stdout, &body, true) == 0)
                set_completions(body);
            free(body);
            return;
        }
    }
    /* set sensor NAME KEY */
    if (strncmp(words, "set sensor ", 11) == 0 && !strchr(words + 11, ' ')) {
        char *body = NULL;
        if (request("list keys", stdout, &body, true) == 0)
            set_completions(body);
        free(body);
        return;
    }
    set_completions(NULL);
}

static char **complete(const char *text, int start, int end)
{
    char before[512];

    (void)end;
    snprintf(before, sizeof(before), "%.*s", start, rl_line_buffer);
    candidates(before);
    rl_attempted_completion_over = 1;
    return rl_completion_matches(text, next_completion);
}

static void prompt(char *buf, size_t len)
{
    char *body = NULL, id[64] = "lifeline";
    int alarms = -1;

    if (request("--json show status", stdout, &body, true) == 0 && body) {
        cJSON *st = cJSON_Parse(body);
        const cJSON *gw = cJSON_GetObjectItemCaseSensitive(st, "gateway");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(st, "active_alarms");
        if (cJSON_IsString(gw))
            snprintf(id, sizeof(id), "%s", gw->valuestring);
        if (cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 1e6)
            alarms = (int)n->valuedouble;
        cJSON_Delete(st);
    }
    free(body);
    if (alarms > 0)
        snprintf(buf, len, "%s (%d alarm%s)> ", id, alarms, alarms == 1 ? "" : "s");
    else
        snprintf(buf, len, "%s> ", id);
}

static int interactive(void)
{
    char p[128], hist[512] = "";
    const char *home = getenv("HOME");

    if (home)
        snprintf(hist, sizeof(hist), "%s/.lifelinectl_history", home);
    using_history();
    if (hist[0])
        read_history(hist);
    rl_attempted_completion_function = complete;
    printf("lifelinectl: help lists the commands, Tab completes, quit leaves.\n");
    for (;;) {
        prompt(p, sizeof(p));
        char *line = readline(p);
        if (!line)
            break;
        char *t = line + strspn(line, " \t");
        if (!*t) {
            free(line);
            continue;
        }
        add_history(t);
        if (strcmp(t, "quit") == 0 || strcmp(t, "exit") == 0) {
            free(line);
            break;
        }
        int rc = run(t);
        free(line);
        if (rc < 0)
            return 2;
    }
    if (hist[0])
        write_history(hist);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lifelinectl [-s SOCKET] [--json] [COMMAND...]\n"
            "  without a command on a terminal: interactive (help lists the commands)\n"
            "  with a command: runs it and exits (0 ok, 1 refused, 2 no daemon)\n"
            "  with stdin not a terminal: one command per line, in one session\n"
            "  -s, --socket PATH  the control socket (default %s, or $LIFELINE_CTL)\n"
            "  -j, --json         answers as JSON\n",
            DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = getenv("LIFELINE_CTL") ? getenv("LIFELINE_CTL") : DEFAULT_SOCKET;
    int c;

    while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (connect_daemon(path) < 0)
        return 2;
    if (optind < argc) {
        char line[LINE_MAX_BYTES + 1];
        size_t n = 0;
        for (int i = optind; i < argc; i++) {
            int w = snprintf(line + n, sizeof(line) - n, "%s%s", i > optind ? " " : "", argv[i]);
            if (w < 0 || (size_t)w >= sizeof(line) - n) {
                fprintf(stderr, "lifelinectl: command too long (at most %d bytes)\n", LINE_MAX_BYTES);
                return 1;
            }
            n += (size_t)w;
        }
        int rc = run(line);
        return rc < 0 ? 2 : rc;
    }
    if (isatty(STDIN_FILENO))
        return interactive();
    /* a script on stdin: every line, in one session */
    char *line = NULL;
    size_t cap = 0;
    int status = 0;
    while (getline(&line, &cap, stdin) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        char *t = line + strspn(line, " \t");
        if (!*t || *t == '#')
            continue;
        int rc = run(t);
        if (rc < 0) {
            status = 2;
            break;
        }
        if (rc)
            status = 1;
    }
    free(line);
    return status;
}
