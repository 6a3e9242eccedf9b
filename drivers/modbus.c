/* modbus: Modbus TCP bus driver on libmodbus (blocking calls, in the bus
 * worker only). RTU joins this file as a second bus_ops (issue #3). */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "log.h"

static int tcp_open(struct bus *b)
{
    char port[8];
    modbus_t *ctx;
    int64_t to = b->bcfg->timeout_ms;

    snprintf(port, sizeof(port), "%u", b->bcfg->port);
    ctx = modbus_new_tcp_pi(b->bcfg->host, port);
    if (!ctx)
        return -errno;
    modbus_set_response_timeout(ctx, (uint32_t)(to / 1000), (uint32_t)(to % 1000) * 1000);
    if (modbus_connect(ctx) < 0) {
        int e = errno;
        modbus_free(ctx);
        return -e;
    }
    b->priv = ctx;
    return 0;
}

static void tcp_close(struct bus *b)
{
    modbus_t *ctx = b->priv;

    if (!ctx)
        return;
    modbus_close(ctx);
    modbus_free(ctx);
    b->priv = NULL;
}

/* Errors after which the TCP stream cannot be trusted: reconnect. */
static bool connection_lost(int e)
{
    return e == ECONNRESET || e == EPIPE || e == EBADF || e == ENOTCONN ||
           e == ECONNREFUSED || e == EMBBADDATA || e == EMBBADEXC ||
           e == EMBBADSLAVE || e == EMBMDATA;
}

static enum quality tcp_read(struct bus *b, const struct cfg_sensor *s, double *value, int *err)
{
    modbus_t *ctx = b->priv;
    const struct reg_format *f = &s->reg;
    uint16_t regs[4] = {0};
    uint8_t bit = 0;
    int n = (int)decode_width(f->type), r;

    modbus_set_slave(ctx, s->unit_id);
    switch (f->kind) {
    case REG_HOLDING: r = modbus_read_registers(ctx, f->addr, n, regs); break;
    case REG_INPUT: r = modbus_read_input_registers(ctx, f->addr, n, regs); break;
    case REG_COIL: r = modbus_read_bits(ctx, f->addr, 1, &bit); regs[0] = bit; break;
    case REG_DISCRETE: r = modbus_read_input_bits(ctx, f->addr, 1, &bit); regs[0] = bit; break;
    default: r = -1; errno = EINVAL; break;
    }
    if (r < 0) {
        *err = errno;
        /* A reply that arrives after the timeout would be taken as the answer
         * to the next request: flush it, and drop a connection whose framing
         * (transaction id, length) no longer matches rather than desynchronise. */
        if (connection_lost(*err))
            b->broken = true;
        else if (*err == ETIMEDOUT)
            modbus_flush(ctx);
        return Q_COMM_FAULT;
    }
    if (decode_value(f, regs, value) < 0)
        return Q_OUT_OF_RANGE;
    return Q_GOOD;
}

const struct bus_ops modbus_tcp_ops = {
    .type = "tcp",
    .open = tcp_open,
    .read = tcp_read,
    .close = tcp_close,
};
