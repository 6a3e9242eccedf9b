/* lifeline-sim: a Modbus TCP slave that plays the field devices of one site
 * (gas detector, water pressure, waterlogging level, bridge inclinometer,
 * elevator controller), each at its own unit id, so `make demo`, the
 * integration tests and the benchmarks have something real to poll.
 *
 * Values are a pure function of scenario time (monotonic time since start
 * times --speed), computed just before each reply: no timers, and two runs
 * of the same scenario give the same values at the same scenario time.
 * One process, one thread, one poll loop over the listening socket and the
 * clients, as in libmodbus's tests/bandwidth-server-many-up.c.
 * See tests/sim/README.md for the register map. */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define PROG "lifeline-sim"

/* Size of each of the four tables of every unit; process values sit at the
 * bottom, the rest is plain memory a client may write and read back. */
#define SIM_TABLE_SIZE 100
#define SIM_MAX_CLIENTS 32
#define SIM_BYTE_TIMEOUT_US 100000

/* Gas detector status word (unit 1, holding 2). */
#define GAS_ST_ALARM 0x0001u /* alarm relay energised */
#define GAS_ST_FAULT 0x0002u
#define GAS_ALARM_LEL 20.0

/* Elevator controller status word (unit 5, holding 0). */
#define ELEV_RUNNING 0x0001u
#define ELEV_DOOR_OPEN 0x0002u
#define ELEV_TRAPPED 0x0004u
#define ELEV_OUT_OF_ZONE 0x0008u
#define ELEV_OVERSPEED 0x0010u
#define ELEV_POWER_LOSS 0x0020u

/* Cabinet environment monitor status word (unit 8, holding 2). */
#define CAB_WATER 0x0001u
#define CAB_DOOR 0x0002u
#define CAB_SMOKE 0x0004u
#define CAB_POWER_LOSS 0x0008u

/* What the site is doing at one instant, in engineering units: scenarios
 * fill it, devices encode it into their registers. */
struct plant {
    double gas_lel;
    bool gas_fault;
    double pressure_mpa;
    double level_m;
    double tilt_x_deg;
    double tilt_y_deg;
    uint16_t elevator; /* ELEV_* bits */
    double temps_c[8]; /* the PT100 transmitter: t1-t4 cable joints, t5 power compartment, t6 heat compartment */
    double heat_supply_c, heat_return_c, heat_flow_m3h, heat_energy_kwh;
    double heat_pressure_mpa;
    double cabinet_c, cabinet_rh;
    uint16_t cabinet; /* CAB_* bits */
};

struct scenario {
    const char *name;
    const char *desc;
    void (*fn)(double t, struct plant *p);
};

/* A device writes its process registers (holding 0..nregs-1, mirrored to
 * input registers by the caller) and any status bits as discrete inputs. */
struct device {
    int unit_id;
    const char *name;
    int nregs;
    void (*encode)(const struct plant *p, modbus_mapping_t *m);
};

struct unit {
    const struct device *dev;
    modbus_mapping_t *map;
};

struct options {
    const char *host;
    long port;
    const struct scenario *scenario;
    double speed;
    bool list;
    bool verbose;
};

static volatile sig_atomic_t stop_requested;

/* ---- scenarios --------------------------------------------------------- */

/* Linear from v0 at t0 to v1 at t1, held flat outside. */
static double ramp(double t, double t0, double t1, double v0, double v1)
{
    if (t <= t0)
        return v0;
    if (t >= t1)
        return v1;
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0);
}

/* Small deterministic ripple; periods divide the demo cycle so it wraps cleanly. */
static double ripple(double t, double amplitude, double period_s)
{
    return amplitude * sin(2.0 * M_PI * t / period_s);
}

static void plant_resting(struct plant *p)
{
    *p = (struct plant){
        .gas_lel = 0.0,
        .gas_fault = false,
        .pressure_mpa = 0.35,
        .level_m = 0.05,
        .tilt_x_deg = 0.10,
        .tilt_y_deg = -0.05,
        .elevator = ELEV_RUNNING,
        .temps_c = {32.0, 33.5, 31.0, 34.0, 26.0, 29.0, 21.0, 21.0},
        .heat_supply_c = 95.0,
        .heat_return_c = 55.0,
        .heat_flow_m3h = 120.0,
        .heat_energy_kwh = 1234567.0,
        .heat_pressure_mpa = 1.20,
        .cabinet_c = 24.0,
        .cabinet_rh = 55.0,
    };
}

static void scenario_steady(double t, struct plant *p)
{
    (void)t;
    plant_resting(p);
}

#define DEMO_CYCLE_S 90.0

static void scenario_demo(double t, struct plant *p)
{
    double c = fmod(t, DEMO_CYCLE_S);

    plant_resting(p);
    p->gas_lel = c < 45.0 ? ramp(c, 5.0, 45.0, 0.0, 60.0) : ramp(c, 45.0, 85.0, 60.0, 0.0);
    p->level_m = c < 50.0 ? ramp(c, 10.0, 50.0, 0.05, 0.60) : ramp(c, 50.0, 85.0, 0.60, 0.05);
    /* A burst main: pressure falls well below the service minimum. */
    p->pressure_mpa = (c >= 60.0 && c < 75.0 ? 0.12 : 0.35) + ripple(c, 0.005, 6.0);
    p->tilt_x_deg = 0.10 + ripple(c, 0.02, 18.0);
    p->tilt_y_deg = -0.05 + ripple(c, 0.02, 30.0);
    /* A car stopped between floors with someone inside. */
    if (c >= 30.0 && c < 45.0)
        p->elevator = ELEV_TRAPPED | ELEV_OUT_OF_ZONE;
}

/* The events of the pipe-gallery section and of the city, staggered over a
 * 120 s cycle so each is seen on its own. */
#define CITY_CYCLE_S 120.0

static void tunnel_events(double c, struct plant *p)
{
    /* gas compartment: a leak */
    p->gas_lel = c < 35.0 ? ramp(c, 5.0, 35.0, 0.0, 55.0) : ramp(c, 35.0, 60.0, 55.0, 0.0);
    /* power compartment: cable joint t2 overheats */
    p->temps_c[1] = c < 55.0 ? ramp(c, 20.0, 55.0, 33.5, 86.0) : ramp(c, 55.0, 90.0, 86.0, 33.5);
    /* heat compartment: the supply pipe leaks, pressure falls 0.3 MPa in 20 s */
    p->heat_pressure_mpa = c < 60.0 ? ramp(c, 40.0, 60.0, 1.20, 0.90) : ramp(c, 90.0, 110.0, 0.90, 1.20);
    /* a telecom cabinet's door opens, then water gets in */
    if (c >= 65.0 && c < 80.0)
        p->cabinet |= CAB_DOOR;
    if (c >= 70.0 && c < 85.0)
        p->cabinet |= CAB_WATER;
    /* the drainage sump fills */
    p->level_m = c < 95.0 ? ramp(c, 75.0, 95.0, 0.05, 0.45) : ramp(c, 95.0, 115.0, 0.45, 0.05);
}

static void scenario_tunnel(double t, struct plant *p)
{
    plant_resting(p);
    tunnel_events(fmod(t, CITY_CYCLE_S), p);
}

static void scenario_city(double t, struct plant *p)
{
    double c = fmod(t, CITY_CYCLE_S);

    plant_resting(p);
    tunnel_events(c, p);
    /* water supply: a burst main */
    p->pressure_mpa = (c >= 85.0 && c < 100.0 ? 0.12 : 0.35) + ripple(c, 0.005, 6.0);
    /* bridge: the inclinometer's X axis beyond its design tilt */
    p->tilt_x_deg = c < 30.0 ? ramp(c, 10.0, 30.0, 0.10, 0.62) : ramp(c, 30.0, 50.0, 0.62, 0.10);
    /* elevator: a passenger trapped between floors */
    if (c >= 100.0 && c < 115.0)
        p->elevator = ELEV_TRAPPED | ELEV_OUT_OF_ZONE;
}

static void scenario_gas_leak(double t, struct plant *p)
{
    plant_resting(p);
    p->gas_lel = ramp(t, 0.0, 40.0, 0.0, 60.0);
}

static void scenario_flood(double t, struct plant *p)
{
    plant_resting(p);
    p->level_m = ramp(t, 0.0, 60.0, 0.05, 0.60);
}

static const struct scenario scenarios[] = {
    {"demo", "90 s cycle: gas leak, waterlogging, burst main, trapped passenger; repeats", scenario_demo},
    {"steady", "every device at its normal resting value, constant (tests, benchmarks)", scenario_steady},
    {"gas-leak", "gas rises 0 -> 60 %LEL over 40 s and stays; others steady", scenario_gas_leak},
    {"flood", "water level rises 0.05 -> 0.60 m over 60 s and stays; others steady", scenario_flood},
    {"tunnel",
     "120 s cycle of a pipe-gallery section: gas leak, cable joint overheats, heat pipe leaks, "
     "cabinet door opens and water gets in, sump fills; repeats",
     scenario_tunnel},
    {"city",
     "120 s cycle with an event on each of the eight lifelines (the tunnel's, a burst main, a bridge "
     "tilt, a trapped passenger); repeats",
     scenario_city},
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static const struct scenario *scenario_find(const char *name)
{
    for (size_t i = 0; i < N_SCENARIOS; i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

/* ---- register encoding ------------------------------------------------- */

/* Encoded by hand: libmodbus 3.1.6's modbus_set_float_* swap bytes wrongly
 * on little-endian hosts (README.md); its getters are right, and the
 * gateway decodes with them. */
static uint32_t float_bits(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof(u));
    return u;
}

static void put_float_abcd(uint16_t *regs, double v)
{
    uint32_t u = float_bits((float)v);

    regs[0] = (uint16_t)(u >> 16);
    regs[1] = (uint16_t)(u & 0xffffu);
}

static void put_float_cdab(uint16_t *regs, double v)
{
    uint32_t u = float_bits((float)v);

    regs[0] = (uint16_t)(u & 0xffffu);
    regs[1] = (uint16_t)(u >> 16);
}

/* Signed 16-bit with a decimal scale (raw 350 at scale 0.001 = 0.350),
 * saturating like a transmitter at the end of its range. */
static uint16_t int16_scaled(double v, double scale)
{
    long raw = lround(v / scale);

    if (raw > INT16_MAX)
        raw = INT16_MAX;
    if (raw < INT16_MIN)
        raw = INT16_MIN;
    return (uint16_t)(int16_t)raw;
}

static void put_bits(uint8_t *bits, unsigned word, int n)
{
    for (int i = 0; i < n; i++)
        bits[i] = (word >> i) & 1u ? 1 : 0;
}

static void encode_gas(const struct plant *p, modbus_mapping_t *m)
{
    unsigned status = (p->gas_lel >= GAS_ALARM_LEL ? GAS_ST_ALARM : 0u) | (p->gas_fault ? GAS_ST_FAULT : 0u);

    put_float_cdab(&m->tab_registers[0], p->gas_lel);
    m->tab_registers[2] = (uint16_t)status;
    put_bits(m->tab_input_bits, status, 2);
}

static void encode_pressure(const struct plant *p, modbus_mapping_t *m)
{
    m->tab_registers[0] = int16_scaled(p->pressure_mpa, 0.001);
}

static void encode_level(const struct plant *p, modbus_mapping_t *m)
{
    put_float_abcd(&m->tab_registers[0], p->level_m);
}

static void encode_tilt(const struct plant *p, modbus_mapping_t *m)
{
    m->tab_registers[0] = int16_scaled(p->tilt_x_deg, 0.01);
    m->tab_registers[1] = int16_scaled(p->tilt_y_deg, 0.01);
}

static void encode_elevator(const struct plant *p, modbus_mapping_t *m)
{
    m->tab_registers[0] = p->elevator;
    put_bits(m->tab_input_bits, p->elevator, 6);
}

static void encode_temp8(const struct plant *p, modbus_mapping_t *m)
{
    for (int i = 0; i < 8; i++)
        m->tab_registers[i] = int16_scaled(p->temps_c[i], 0.1);
}

static void put_u32_cdab(uint16_t *regs, double v)
{
    uint32_t u = v <= 0 ? 0u : v >= 4294967295.0 ? 0xffffffffu : (uint32_t)llround(v);

    regs[0] = (uint16_t)(u & 0xffffu);
    regs[1] = (uint16_t)(u >> 16);
}

static void encode_heat_meter(const struct plant *p, modbus_mapping_t *m)
{
    put_float_cdab(&m->tab_registers[0], p->heat_supply_c);
    put_float_cdab(&m->tab_registers[2], p->heat_return_c);
    put_float_cdab(&m->tab_registers[4], p->heat_flow_m3h);
    put_u32_cdab(&m->tab_registers[6], p->heat_energy_kwh);
}

static void encode_cabinet(const struct plant *p, modbus_mapping_t *m)
{
    m->tab_registers[0] = int16_scaled(p->cabinet_c, 0.1);
    m->tab_registers[1] = int16_scaled(p->cabinet_rh, 0.1);
    m->tab_registers[2] = p->cabinet;
    put_bits(m->tab_input_bits, p->cabinet, 4);
}

static void encode_heat_pressure(const struct plant *p, modbus_mapping_t *m)
{
    m->tab_registers[0] = int16_scaled(p->heat_pressure_mpa, 0.001);
}

static void encode_none(const struct plant *p, modbus_mapping_t *m)
{
    (void)p, (void)m;
}

static const struct device devices[] = {
    {1, "gas detector (%LEL float32 CDAB, status)", 3, encode_gas},
    {2, "water pressure (MPa int16 x0.001)", 1, encode_pressure},
    {3, "waterlogging level (m float32 ABCD)", 2, encode_level},
    {4, "bridge inclinometer (deg int16 x0.01, X and Y)", 2, encode_tilt},
    {5, "elevator controller (status word)", 1, encode_elevator},
    {6, "8-channel PT100 transmitter (degC int16 x0.1, input 0-7)", 8, encode_temp8},
    {7, "heat meter (supply/return degC, flow m3/h float32 CDAB, energy kWh uint32 CDAB)", 8, encode_heat_meter},
    {8, "cabinet environment monitor (degC, %RH int16 x0.1, status word)", 3, encode_cabinet},
    {9, "heat pipe pressure transmitter (MPa int16 x0.001)", 1, encode_heat_pressure},
    {10, "8 DI / 8 DO module (coils 0-7: fan, pump relays; plain memory)", 0, encode_none},
};

#define N_DEVICES (sizeof(devices) / sizeof(devices[0]))

/* ---- the server -------------------------------------------------------- */

struct sim {
    modbus_t *ctx;
    int listen_fd;
    const struct options *opt;
    struct timespec start;
    struct unit units[N_DEVICES];
    /* pfd[0] is the listening socket, pfd[1..nclients] the clients. */
    struct pollfd pfd[1 + SIM_MAX_CLIENTS];
    int nclients;
};

static double scenario_time(const struct sim *s)
{
    struct timespec now;

    /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - s->start.tv_sec) + (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
    return el * s->opt->speed;
}

static struct unit *unit_find(struct sim *s, int unit_id)
{
    for (size_t i = 0; i < N_DEVICES; i++)
        if (s->units[i].dev->unit_id == unit_id)
            return &s->units[i];
    return NULL;
}

static void unit_refresh(const struct sim *s, struct unit *u)
{
    struct plant p;
    modbus_mapping_t *m = u->map;

    s->opt->scenario->fn(scenario_time(s), &p);
    u->dev->encode(&p, m);
    memcpy(m->tab_input_registers, m->tab_registers, (size_t)u->dev->nregs * sizeof(uint16_t));
}

static void log_request(const uint8_t *q, int len, int hdr, bool served)
{
    int unit = q[hdr - 1];
    int fn = q[hdr];
    const char *tail = served ? "" : " (unit not served, no reply)";

    /* Reads and writes all carry address then count (or value) after the code. */
    if (len >= hdr + 5 && (fn <= 0x06 || fn == 0x0f || fn == 0x10)) {
        int addr = q[hdr + 1] << 8 | q[hdr + 2];
        int count = (fn == 0x05 || fn == 0x06) ? 1 : (q[hdr + 3] << 8 | q[hdr + 4]);
        fprintf(stderr, PROG ": request: unit %d function 0x%02x address %d count %d%s\n", unit, fn, addr, count, tail);
    } else {
        fprintf(stderr, PROG ": request: unit %d function 0x%02x%s\n", unit, fn, tail);
    }
}

/* Serves one request from a readable client. Returns -1 when the client is
 * gone or broken and must be closed. */
static int serve_client(struct sim *s, int fd)
{
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    int hdr = modbus_get_header_length(s->ctx);

    if (modbus_set_socket(s->ctx, fd) < 0)
        return -1;
    int len = modbus_receive(s->ctx, q);
    if (len == 0)
        return 0; /* libmodbus says: not for us, ignore */
    if (len < 0) {
        /* ECONNRESET is how libmodbus reports an orderly close. */
        if (s->opt->verbose && errno != ECONNRESET)
            fprintf(stderr, PROG ": client fd %d: receive: %s, closing\n", fd, modbus_strerror(errno));
        return -1;
    }
    if (len <= hdr)
        return -1;

    struct unit *u = unit_find(s, q[hdr - 1]);
    if (s->opt->verbose)
        log_request(q, len, hdr, u != NULL);
    /* Silence, like a dead slave behind a serial gateway: the client times out. */
    if (u == NULL)
        return 0;

    unit_refresh(s, u);
    if (modbus_reply(s->ctx, q, len, u->map) < 0) {
        if (s->opt->verbose)
            fprintf(stderr, PROG ": client fd %d: reply: %s, closing\n", fd, modbus_strerror(errno));
        return -1;
    }
    return 0;
}

static void accept_client(struct sim *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
        return;
    }
    /* Refuse rather than leave it queued: a queued connection keeps the
     * listening socket readable and the loop would spin. */
    if (s->nclients >= SIM_MAX_CLIENTS) {
        fprintf(stderr, PROG ": too many clients (%d), refusing one\n", SIM_MAX_CLIENTS);
        close(fd);
        return;
    }
    s->nclients++;
    s->pfd[s->nclients] = (struct pollfd){.fd = fd, .events = POLLIN};
    if (s->opt->verbose)
        fprintf(stderr, PROG ": client fd %d connected (%d open)\n", fd, s->nclients);
}

static void drop_client(struct sim *s, int i)
{
    if (s->opt->verbose)
        fprintf(stderr, PROG ": client fd %d closed\n", s->pfd[i].fd);
    close(s->pfd[i].fd);
    s->pfd[i] = s->pfd[s->nclients];
    s->nclients--;
}

/* Waits with SIGINT/SIGTERM unblocked only inside ppoll, so a signal can
 * neither be missed between the flag test and the wait nor interrupt
 * libmodbus halfway through a frame. */
static int run(struct sim *s, const sigset_t *waitmask)
{
    while (!stop_requested) {
        int n = ppoll(s->pfd, (nfds_t)(1 + s->nclients), NULL, waitmask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, PROG ": ppoll: %s\n", strerror(errno));
            return -1;
        }
        /* Backwards, so dropping client i (last one moves into i) is safe. */
        for (int i = s->nclients; i >= 1; i--) {
            if (s->pfd[i].revents == 0)
                continue;
            if (serve_client(s, s->pfd[i].fd) < 0)
                drop_client(s, i);
        }
        if (s->pfd[0].revents & POLLIN)
            accept_client(s);
    }
    return 0;
}

static int sim_open(struct sim *s, const struct options *opt)
{
    *s = (struct sim){.opt = opt, .listen_fd = -1};
    for (size_t i = 0; i < N_DEVICES; i++) {
        s->units[i].dev = &devices[i];
        s->units[i].map = modbus_mapping_new(SIM_TABLE_SIZE, SIM_TABLE_SIZE, SIM_TABLE_SIZE, SIM_TABLE_SIZE);
        if (s->units[i].map == NULL) {
            fprintf(stderr, PROG ": mapping for unit %d: %s\n", devices[i].unit_id, modbus_strerror(errno));
            return -1;
        }
    }
    s->ctx = modbus_new_tcp(opt->host, (int)opt->port);
    if (s->ctx == NULL) {
        fprintf(stderr, PROG ": modbus_new_tcp %s:%ld: %s\n", opt->host, opt->port, modbus_strerror(errno));
        return -1;
    }
    /* One thread serves everyone: a client that sends half a frame stalls
     * the others for this long (libmodbus's default is 500 ms). */
    if (modbus_set_byte_timeout(s->ctx, 0, SIM_BYTE_TIMEOUT_US) < 0) {
        fprintf(stderr, PROG ": byte timeout: %s\n", modbus_strerror(errno));
        return -1;
    }
    s->listen_fd = modbus_tcp_listen(s->ctx, SIM_MAX_CLIENTS);
    if (s->listen_fd < 0) {
        fprintf(stderr, PROG ": listen on %s:%ld: %s\n", opt->host, opt->port, modbus_strerror(errno));
        return -1;
    }
    s->pfd[0] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    if (clock_gettime(CLOCK_MONOTONIC, &s->start) < 0) {
        fprintf(stderr, PROG ": clock_gettime: %s\n", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < N_DEVICES; i++)
        unit_refresh(s, &s->units[i]);
    return 0;
}

/* Accepts a half-opened sim: every failure path of sim_open ends here. */
static void sim_close(struct sim *s)
{
    while (s->nclients > 0)
        drop_client(s, s->nclients);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    if (s->ctx != NULL) {
        /* Its socket was a client's, closed above: modbus_free must not see it. */
        (void)modbus_set_socket(s->ctx, -1);
        modbus_free(s->ctx);
        s->ctx = NULL;
    }
    for (size_t i = 0; i < N_DEVICES; i++) {
        modbus_mapping_free(s->units[i].map); /* accepts NULL */
        s->units[i].map = NULL;
    }
}

/* With --port 0 the kernel picks the port; tests read it from this line. */
static void print_listening(const struct sim *s)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    long port = s->opt->port;

    if (getsockname(s->listen_fd, (struct sockaddr *)&sa, &salen) == 0 && sa.sin_family == AF_INET)
        port = ntohs(sa.sin_port);
    fprintf(stderr, PROG ": listening on %s:%ld scenario %s\n", s->opt->host, port, s->opt->scenario->name);
    if (!s->opt->verbose)
        return;
    fprintf(stderr, PROG ": speed %g\n", s->opt->speed);
    for (size_t i = 0; i < N_DEVICES; i++)
        fprintf(stderr, PROG ": unit %d: %s\n", devices[i].unit_id, devices[i].name);
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --port N [--host 127.0.0.1] [--scenario NAME] [--speed X]"
               " [--list] [-v]\n"
               "  --port N         TCP port to listen on (0: any free port, printed at start)\n"
               "  --host ADDR      numeric IPv4 address to listen on (0.0.0.0: all)\n"
               "  --scenario NAME  what the devices do (default demo; --list shows all)\n"
               "  --speed X        run scenario time X times faster (default 1)\n"
               "  --list           list scenarios and exit\n"
               "  -v, --verbose    log every request on stderr\n");
}

__attribute__((format(printf, 1, 2))) static int bad_arg(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(stderr);
    return -1;
}

/* strtol/strtod skip leading blanks and take a sign; a port or a speed
 * written that way is a typo, so the first character must be a digit. */
static int parse_port(const char *s, long *out)
{
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

static int parse_speed(const char *s, double *out)
{
    char *end;

    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0.0)
        return -1;
    *out = v;
    return 0;
}

static int parse_one(struct options *o, int c, const char *arg)
{
    struct in_addr ia;

    switch (c) {
    case 'p':
        if (parse_port(arg, &o->port) < 0)
            return bad_arg("--port: '%s' is not a port number (0-65535)", arg);
        return 0;
    case 'H':
        /* libmodbus 3.1.6 binds with inet_addr(): only a numeric IPv4 works. */
        if (inet_pton(AF_INET, arg, &ia) != 1)
            return bad_arg("--host: '%s' is not a numeric IPv4 address", arg);
        o->host = arg;
        return 0;
    case 's':
        o->scenario = scenario_find(arg);
        if (o->scenario == NULL)
            return bad_arg("--scenario: unknown scenario '%s' (see --list)", arg);
        return 0;
    case 'x':
        if (parse_speed(arg, &o->speed) < 0)
            return bad_arg("--speed: '%s' is not a number greater than 0", arg);
        return 0;
    case 'l':
        o->list = true;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    default:
        return -1;
    }
}

/* Returns 0 to run, 1 when --help was answered, -1 on a bad argument. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},     {"host", required_argument, NULL, 'H'},
        {"scenario", required_argument, NULL, 's'}, {"speed", required_argument, NULL, 'x'},
        {"list", no_argument, NULL, 'l'},           {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    bool have_port = false;
    int c;

    *o = (struct options){.host = "127.0.0.1", .scenario = &scenarios[0], .speed = 1.0};
    opterr = 0; /* our own messages name the argument */
    while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == '?')
            return bad_arg("unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return bad_arg("option '%s' needs a value", argv[optind - 1]);
        if (parse_one(o, c, optarg) < 0)
            return -1;
        have_port = have_port || c == 'p';
    }
    if (optind < argc)
        return bad_arg("unexpected argument '%s'", argv[optind]);
    if (!have_port && !o->list)
        return bad_arg("%s is required", "--port");
    return 0;
}

static void list_scenarios(void)
{
    for (size_t i = 0; i < N_SCENARIOS; i++)
        printf("%-10s %s\n", scenarios[i].name, scenarios[i].desc);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Blocks SIGINT/SIGTERM outside ppoll (see run) and hands back the mask to
 * wait with; a peer closing mid-reply must not kill us with SIGPIPE. */
static int setup_signals(sigset_t *waitmask)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigset_t block;

    if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return -1;
    if (sigemptyset(&block) < 0 || sigaddset(&block, SIGINT) < 0 || sigaddset(&block, SIGTERM) < 0)
        return -1;
    return sigprocmask(SIG_BLOCK, &block, waitmask);
}

int main(int argc, char **argv)
{
    struct options opt;
    struct sim sim;
    sigset_t waitmask;

    int rc = parse_args(argc, argv, &opt);
    if (rc != 0)
        return rc > 0 ? EXIT_SUCCESS : EX_USAGE;
    if (opt.list) {
        list_scenarios();
        return EXIT_SUCCESS;
    }
    if (setup_signals(&waitmask) < 0) {
        fprintf(stderr, PROG ": signals: %s\n", strerror(errno));
        return EXIT_FAILURE;
    }

    rc = EXIT_FAILURE;
    if (sim_open(&sim, &opt) < 0)
        goto out;
    print_listening(&sim);
    if (run(&sim, &waitmask) == 0)
        rc = EXIT_SUCCESS;
out:
    sim_close(&sim);
    return rc;
}
