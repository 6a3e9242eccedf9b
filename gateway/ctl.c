#include "ctl.h"
#include "ctl_int.h"

#include <cjson/cJSON.h>
#include <crypt.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "payload.h"

#define CTL_MAX_CLIENTS 64
#define LOCKOUT_MAX_MS (5 * 60000)
#define PIN_UIDS 16            /* users whose wrong PINs are counted at once */
#define PIN_EVENT_EVERY 5      /* wrong PINs in a row from a user: an event */
#define PIN_EVENT_GAP_MS 60000 /* at most one such event a minute, all users */

#define IN_CAP (2 * CTL_LINE_MAX + 2)
#define DIAG_ID_BASE (1ull << 62) /* the console's bus requests (actions have bit 63) */

struct client {
    struct loop_fd fd;
    struct ctl *ctl;
    struct client *next;
    char in[IN_CAP]; /* what came and is not handled yet: lines wait while a command does */
    size_t in_len;
    bool too_long;    /* discarding the rest of an overlong line */
    struct ctl_op op; /* a command waiting for its bus request */
    bool waiting;
    char *out;
    size_t out_len, out_off, out_cap;
    bool closing; /* close once the output is sent */
    struct ctl_session s;
};

struct ctl {
    struct gateway *g;
    struct loop_fd listen;
    struct client *clients;
    uint64_t next_id;
    unsigned n_clients;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    /* wrong PINs, per user: that user's enable waits out a lockout that
     * doubles with each; other users are not held up */
    struct pin_fails {
        uid_t uid;
        unsigned fails; /* in a row; 0: a free slot */
        int64_t locked_until, last_ms;
    } pins[PIN_UIDS];
    int64_t pin_event_ms;     /* the last wrong-PIN event sent; 0: none yet */
    unsigned pin_events_held; /* due but not sent within the minute */
};

/* ---- output ---- */

static bool out_put(struct client *c, const char *s, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        if (c->out_len - c->out_off + n > CTL_OUT_MAX)
            return false;
        if (c->out_off) { /* compact first */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b)
            return false;
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    return true;
}

void ctl_printf(struct ctl_req *r, const char *fmt, ...)
{
    va_list ap;
    char line[512];

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(line)) {
        strbuf_put(&r->out, line, (size_t)n);
        return;
    }
    char *big = NULL; /* a long line: config text */
    va_start(ap, fmt);
    n = vasprintf(&big, fmt, ap);
    va_end(ap);
    if (n >= 0)
        strbuf_put(&r->out, big, (size_t)n);
    else
        r->out.failed = true;
    free(big);
}

const char *ctl_who(const struct ctl_req *r)
{
    static char who[48];
    snprintf(who, sizeof(who), "console:%s", r->s->user);
    return who;
}

static void client_free(struct client *c)
{
    struct ctl *ctl = c->ctl;

    for (struct client **p = &ctl->clients; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    ctl->n_clients--;
    loop_fd_del(core_loop(ctl->g), &c->fd);
    close(c->fd.fd);
    strbuf_free(&c->op.acc);
    free(c->out);
    free(c);
}

/* No reading while a command waits and the input is full (the client is
 * told to wait by TCP, not by us dropping its lines). */
static void update_events(struct client *c)
{
    uint32_t ev = (c->waiting && c->in_len == IN_CAP) ? 0 : EPOLLIN;
    if (c->out_off < c->out_len)
        ev |= EPOLLOUT;
    loop_fd_set_events(core_loop(c->ctl->g), &c->fd, ev);
}

/* Writes what the socket takes; false when the client is gone. */
static bool flush_out(struct client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0)
            return false;
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    return !(c->closing && c->out_len == 0);
}

/* The answer: the body (each line that starts with '%' escaped) and the
 * final line. */
static bool answer(struct client *c, const char *body, size_t len, const char *error)
{
    bool ok = true;

    for (size_t i = 0; i < len && ok;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (body + i)) : len - i;
        if (body[i] == '%')
            ok = out_put(c, "%", 1);
        ok = ok && out_put(c, body + i, n) && out_put(c, "\n", 1);
        i += n + 1;
    }
    if (error) {
        char line[CFG_ERR_MAX + 96];
        int n = snprintf(line, sizeof(line), "%%error %s\n", error);
        for (int i = 7; i < n - 1; i++)
            if (line[i] == '\n')
                line[i] = ' ';
        ok = ok && out_put(c, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
    } else {
        ok = ok && out_put(c, "%ok\n", 4);
    }
    return ok;
}

/* ---- commands ---- */

static int split(char *line, char **argv, int max)
{
    int n = 0;
    for (char *p = line;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return n;
        if (n == max)
            return -1;
        argv[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

const char *ctl_run(struct ctl_req *r, char *line)
{
    const char *error = NULL;

    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            error = "control characters are not allowed in a command";
    int n = error ? 0 : split(line, r->argv, CTL_MAX_ARGS);
    if (n < 0)
        error = "too many words (at most 16)";
    r->argc = n > 0 ? n : 0;
    if (r->argc && (strcmp(r->argv[0], "--json") == 0 || strcmp(r->argv[0], "-j") == 0)) {
        r->json = true;
        memmove(r->argv, r->argv + 1, (size_t)(--r->argc) * sizeof(r->argv[0]));
        r->j = cJSON_CreateObject();
        if (!r->j)
            error = "out of memory";
    }
    if (!error && r->argc == 0)
        error = r->json ? "a command is missing after --json" : NULL;
    if (!error && r->argc)
        error = ctl_dispatch(r);
    return error;
}

static void run_line(struct client *c, char *line)
{
    struct ctl *ctl = c->ctl;
    struct ctl_req r = {.g = ctl->g, .ctl = ctl, .s = &c->s, .op = &c->op};
    int64_t now = loop_clock_ms();

    /* a privileged session that was idle too long drops back */
    int64_t idle_ms = core_config(ctl->g)->console.idle_ms;
    if (c->s.privileged && c->s.uid != 0 && now - c->s.active_ms > idle_ms) {
        c->s.privileged = false;
        log_info("console: %s: privileged mode ended after %llds idle", c->s.user, (long long)(idle_ms / 1000));
    }
    c->s.active_ms = now;
    const char *error = ctl_run(&r, line);
    if (error == CTL_PENDING) {
        c->waiting = true;
        c->op.json = r.json;
        cJSON_Delete(r.j);
        strbuf_free(&r.out);
        return;
    }
    if (!error && (r.oom || r.out.failed))
        error = "out of memory";
    bool ok;
    if (r.json && !error) {
        char *text = cJSON_PrintUnformatted(r.j);
        ok = text ? answer(c, text, strlen(text), NULL) : answer(c, "", 0, "out of memory");
        free(text);
    } else {
        ok = answer(c, error ? "" : r.out.p ? r.out.p : "", error ? 0 : r.out.len, error);
    }
    cJSON_Delete(r.j);
    strbuf_free(&r.out);
    if (!ok) {
        log_warn("console: %s: too far behind reading its answers; disconnected", c->s.user);
        c->closing = true;
        c->out_len = c->out_off = 0;
    }
}

/* ---- the socket ---- */

/* Handles the complete lines received, until one waits for the bus. */
static void process(struct client *c)
{
    while (!c->waiting && !c->closing) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl) {
            if (c->in_len == IN_CAP) { /* no end in sight: refused when it comes */
                c->too_long = true;
                c->in_len = 0;
            }
            return;
        }
        size_t n = (size_t)(nl - c->in);
        *nl = '\0';
        if (c->too_long || n > CTL_LINE_MAX) {
            answer(c, "", 0, "line too long (at most 4096 bytes)");
        } else if (memchr(c->in, '\0', n)) {
            answer(c, "", 0, "a NUL byte in the command");
        } else {
            if (n && c->in[n - 1] == '\r')
                c->in[n - 1] = '\0';
            run_line(c, c->in);
        }
        c->too_long = false;
        memmove(c->in, nl + 1, c->in_len - n - 1);
        c->in_len -= n + 1;
    }
}

static void on_client(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct client *c = container_of(f, struct client, fd);

    (void)l;
    if ((events & EPOLLIN) && c->in_len < IN_CAP) {
        ssize_t n = recv(c->fd.fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            client_free(c);
            return;
        }
        if (n > 0) {
            c->in_len += (size_t)n;
            /* an overlong line is dropped as it comes, up to its end */
            if (c->too_long && !c->waiting) {
                char *nl = memchr(c->in, '\n', c->in_len);
                if (!nl) {
                    c->in_len = 0;
                } else {
                    size_t skip = (size_t)(nl - c->in);
                    memmove(c->in, nl, c->in_len - skip);
                    c->in_len -= skip;
                }
            }
            process(c);
        }
    }
    if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
        client_free(c);
        return;
    }
    if (!flush_out(c)) {
        client_free(c);
        return;
    }
    update_events(c);
}

int ctl_bus_request(struct ctl_req *r, struct ctl_op *op, struct bus_write *w)
{
    struct ctl *ctl = r->ctl;

    w->id = DIAG_ID_BASE | (++ctl->next_id & 0xffffffffffffull);
    int rc = core_bus_request(r->g, op->bus, w);
    if (rc == 0)
        op->id = w->id;
    return rc;
}

/* The answer of a waiting command, once its request is done. */
static void finish(struct client *c, int err)
{
    struct ctl_req r = {.g = c->ctl->g, .ctl = c->ctl, .s = &c->s, .json = c->op.json, .op = &c->op};
    const char *error;

    c->op.id = 0;
    r.j = r.json ? cJSON_CreateObject() : NULL;
    error = r.json && !r.j ? "out of memory" : c->op.finish(&r, &c->op, err);
    if (error == CTL_PENDING) { /* the next step is on its way */
        cJSON_Delete(r.j);
        strbuf_free(&r.out);
        return;
    }
    if (!error && (r.oom || r.out.failed))
        error = "out of memory";
    if (r.json && !error) {
        char *text = cJSON_PrintUnformatted(r.j);
        answer(c, text ? text : "", text ? strlen(text) : 0, text ? NULL : "out of memory");
        free(text);
    } else {
        answer(c, error ? "" : r.out.p ? r.out.p : "", error ? 0 : r.out.len, error);
    }
    cJSON_Delete(r.j);
    strbuf_free(&r.out);
    strbuf_free(&c->op.acc);
    c->op = (struct ctl_op){0};
    c->waiting = false;
    process(c);
    if (!flush_out(c)) {
        client_free(c);
        return;
    }
    update_events(c);
}

bool ctl_write_done(struct ctl *ctl, unsigned bus, uint64_t id, int err)
{
    if (!ctl || !(id & DIAG_ID_BASE) || (id >> 63))
        return false;
    for (struct client *c = ctl->clients; c; c = c->next) {
        if (c->waiting && c->op.id == id && c->op.bus == bus) {
            finish(c, err);
            return true;
        }
    }
    return true; /* its client has gone */
}

void ctl_buses_gone(struct ctl *ctl)
{
    for (struct client *c = ctl ? ctl->clients : NULL, *next; c; c = next) {
        next = c->next;
        if (c->waiting && c->op.id)
            finish(c, -ECANCELED);
    }
}

/* Clients that hung up and whose EOF this loop turn has not read yet: a
 * burst of short sessions must not fill the table with the dead. */
static void reap_closed(struct ctl *ctl)
{
    for (struct client *c = ctl->clients, *next; c; c = next) {
        char b;
        next = c->next;
        if (!c->waiting && recv(c->fd.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            client_free(c);
    }
}

static void on_accept(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct ctl *ctl = container_of(f, struct ctl, listen);

    (void)events;
    for (;;) {
        int fd = accept4(f->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warn("console: accept: %s", strerror(errno));
            return;
        }
        if (ctl->n_clients >= CTL_MAX_CLIENTS)
            reap_closed(ctl);
        if (ctl->n_clients >= CTL_MAX_CLIENTS) {
            static const char busy[] = "%error too many console clients (64)\n";
            (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        struct client *c = calloc(1, sizeof(*c));
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (!c) {
            close(fd);
            continue;
        }
        c->ctl = ctl;
        c->fd = (struct loop_fd){.fd = fd, .events = EPOLLIN, .cb = on_client};
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            c->s.uid = cred.uid;
            c->s.pid = cred.pid;
        } else {
            c->s.uid = (uid_t)-1;
        }
        struct passwd pw, *res = NULL;
        char pwbuf[1024];
        if (getpwuid_r(c->s.uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
            snprintf(c->s.user, sizeof(c->s.user), "%s", pw.pw_name);
        else
            snprintf(c->s.user, sizeof(c->s.user), "uid%u", (unsigned)c->s.uid);
        c->s.privileged = c->s.uid == 0; /* root may edit the files anyway */
        c->s.active_ms = l->now_ms;
        if (loop_fd_add(l, &c->fd) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = ctl->clients;
        ctl->clients = c;
        ctl->n_clients++;
    }
}

/* A socket file left by a daemon that died is removed; one a daemon still
 * answers on is not. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
    struct stat sb;

    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(sb.st_mode)) {
        log_err("console: %s exists and is not a socket", path);
        return -EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
        close(fd);
        log_err("console: another daemon answers on %s", path);
        return -EADDRINUSE;
    }
    if (fd >= 0)
        close(fd);
    return unlink(path) < 0 ? -errno : 0;
}

int ctl_open(struct ctl **out, struct gateway *g)
{
    const struct cfg_console *cc = &core_config(g)->console;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ctl *ctl;
    gid_t gid = (gid_t)-1;
    char dir[sizeof(sa.sun_path)];
    int fd, r;

    if (strlen(cc->socket) >= sizeof(sa.sun_path)) {
        log_err("console: socket path too long: %s", cc->socket);
        return -ENAMETOOLONG;
    }
    if (cc->group[0]) {
        struct group gr, *res = NULL;
        char buf[2048];
        if (getgrnam_r(cc->group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
            log_err("console: [console] group '%s': no such group", cc->group);
            return -ENOENT;
        }
        gid = gr.gr_gid;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cc->socket);
    snprintf(dir, sizeof(dir), "%s", cc->socket);
    if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST) {
        log_err("console: cannot make %s: %s", dir, strerror(errno));
        return -errno;
    }
    if ((r = clear_stale(cc->socket, &sa)) < 0)
        return r;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    mode_t old = umask(0117); /* srw-rw---- from the start, no window */
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || (gid != (gid_t)-1 && chown(cc->socket, (uid_t)-1, gid) < 0) || listen(fd, 16) < 0) {
        r = -errno;
        log_err("console: %s: %s", cc->socket, strerror(errno));
        close(fd);
        return r;
    }
    ctl = calloc(1, sizeof(*ctl));
    if (!ctl) {
        close(fd);
        return -ENOMEM;
    }
    ctl->g = g;
    snprintf(ctl->path, sizeof(ctl->path), "%s", cc->socket);
    ctl->listen = (struct loop_fd){.fd = fd, .events = EPOLLIN, .cb = on_accept};
    if ((r = loop_fd_add(core_loop(g), &ctl->listen)) < 0) {
        close(fd);
        free(ctl);
        return r;
    }
    log_info("console: listening on %s", cc->socket);
    *out = ctl;
    return 0;
}

void ctl_close(struct ctl *ctl)
{
    if (!ctl)
        return;
    while (ctl->clients)
        client_free(ctl->clients);
    loop_fd_del(core_loop(ctl->g), &ctl->listen);
    close(ctl->listen.fd);
    unlink(ctl->path);
    free(ctl);
}

/* ---- privilege ---- */

/* The wrong-PIN record of uid; with create, a new one in a free slot, or
 * in place of the one quiet longest. */
static struct pin_fails *pin_fails(struct ctl *ctl, uid_t uid, bool create)
{
    struct pin_fails *oldest = &ctl->pins[0];

    for (size_t i = 0; i < PIN_UIDS; i++) {
        struct pin_fails *p = &ctl->pins[i];
        if (p->fails && p->uid == uid)
            return p;
        if (!p->fails || (oldest->fails && p->last_ms < oldest->last_ms))
            oldest = p;
    }
    if (!create)
        return NULL;
    *oldest = (struct pin_fails){.uid = uid};
    return oldest;
}

/* Every PIN_EVENT_EVERY wrong PINs in a row from a user, an event to the
 * center; at most one a minute, so that guessing cannot flood the outbox
 * (the ones held back are counted in the next). */
static void pin_event(struct ctl_req *r, const struct pin_fails *p, int64_t now)
{
    struct ctl *ctl = r->ctl;
    char payload[512];

    if (p->fails % PIN_EVENT_EVERY)
        return;
    if (ctl->pin_event_ms && now - ctl->pin_event_ms < PIN_EVENT_GAP_MS) {
        ctl->pin_events_held++;
        log_warn("console: %u wrong PINs in a row from %s: event held back (one a minute)", p->fails, r->s->user);
        return;
    }
    int len = payload_console_pin(loop_wallclock_ms(), ctl_who(r), (long long)r->s->uid, p->fails,
                                  (p->locked_until - now + 999) / 1000, ctl->pin_events_held, payload, sizeof(payload));
    if (len > 0 && core_send(r->g, "event", payload, (size_t)len) == 0) {
        ctl->pin_event_ms = now;
        ctl->pin_events_held = 0;
    }
}

const char *ctl_enable(struct ctl_req *r, const char *pin)
{
    static struct crypt_data cd; /* 32 KB: not on the stack; core thread only */
    struct ctl *ctl = r->ctl;
    const char *hash = core_config(r->g)->console.pin;
    int64_t now = loop_clock_ms();
    struct pin_fails *p = pin_fails(ctl, r->s->uid, false);

    if (r->s->privileged)
        return NULL;
    if (!hash[0])
        return "no console PIN is set: root sets one with `lifelinectl passwd`";
    if (p && now < p->locked_until) {
        snprintf(r->err, sizeof(r->err), "locked after wrong PINs: try again in %llds",
                 (long long)((p->locked_until - now + 999) / 1000));
        return r->err;
    }
    const char *got = pin ? crypt_rn(pin, hash, &cd, sizeof(cd)) : NULL;
    if (!got || strcmp(got, hash) != 0) {
        if (!p)
            p = pin_fails(ctl, r->s->uid, true);
        p->fails++;
        p->last_ms = now;
        int64_t lock = 1000LL << (p->fails < 9 ? p->fails - 1 : 8);
        p->locked_until = now + (lock < LOCKOUT_MAX_MS ? lock : LOCKOUT_MAX_MS);
        log_warn("console: wrong PIN from %s (uid %u, pid %d), %u in a row: enable locked for %llds", r->s->user,
                 (unsigned)r->s->uid, (int)r->s->pid, p->fails, (long long)((p->locked_until - now) / 1000));
        pin_event(r, p, now);
        return "wrong PIN";
    }
    if (p)
        *p = (struct pin_fails){0};
    r->s->privileged = true;
    log_info("console: %s: privileged mode", r->s->user);
    return NULL;
}
