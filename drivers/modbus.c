/* modbus: Modbus TCP and RTU bus drivers on libmodbus. Blocking calls, in
 * the bus worker only; everything else (scheduling, retries, back-off,
 * statistics) is the same for both and lives in bus.c. */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "log.h"

static void set_timeouts(modbus_t *ctx, const struct bus_params *c)
{
    modbus_set_response_timeout(ctx, (uint32_t)(c->timeout_ms / 1000), (uint32_t)(c->timeout_ms % 1000) * 1000);
    modbus_set_byte_timeout(ctx, (uint32_t)(c->byte_timeout_ms / 1000), (uint32_t)(c->byte_timeout_ms % 1000) * 1000);
}

static int connect_ctx(struct bus *b, modbus_t *ctx)
{
    if (!ctx)
        return -errno;
    set_timeouts(ctx, b->p);
    if (modbus_connect(ctx) < 0) {
        int e = errno;
        modbus_free(ctx);
        return -e;
    }
    b->priv = ctx;
    return 0;
}

static int tcp_open(struct bus *b)
{
    char port[8];

    snprintf(port, sizeof(port), "%u", b->p->port);
    return connect_ctx(b, modbus_new_tcp_pi(b->p->host, port));
}

/* The direction of an RS-485 transceiver is switched by the kernel's RS485
 * mode, by RTS, or by the adapter itself; a port with none of the first two
 * (a USB adapter, a pty) gets a warning, once, not a failure. */
static int rtu_open(struct bus *b)
{
    const struct bus_params *c = b->p;
    modbus_t *ctx = modbus_new_rtu(c->device, c->baud, (char)c->parity, c->data_bits, c->stop_bits);
    int r = connect_ctx(b, ctx);

    if (r < 0)
        return r;
    if (c->rs485 != RS485_OFF && modbus_rtu_set_serial_mode(ctx, MODBUS_RTU_RS485) < 0) {
        if (c->rs485 == RS485_ON) {
            r = -errno;
            log_err("bus '%s': %s has no kernel RS-485 mode: %s", c->name, c->device, strerror(errno));
            modbus_close(ctx);
            modbus_free(ctx);
            b->priv = NULL;
            return r;
        }
        if (!b->warned)
            log_warn("bus '%s': %s has no kernel RS-485 mode (%s): assuming the adapter switches "
                     "direction itself",
                     c->name, c->device, strerror(errno));
        b->warned = true;
    }
    /* After a timeout or a bad reply, libmodbus waits one more response
     * timeout and flushes: a reply that comes late on a shared line is
     * thrown away, never taken as the answer to the next request. */
    modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_LINK | MODBUS_ERROR_RECOVERY_PROTOCOL);
    if (c->rts != RTS_NONE && modbus_rtu_set_rts(ctx, c->rts == RTS_UP ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN) < 0)
        log_warn("bus '%s': RTS direction control on %s: %s", c->name, c->device, strerror(errno));
    return 0;
}

static void mb_close(struct bus *b)
{
    modbus_t *ctx = b->priv;

    if (!ctx)
        return;
    modbus_close(ctx);
    modbus_free(ctx);
    b->priv = NULL;
}

/* Errors after which the stream cannot be trusted: reconnect. */
static bool connection_lost(int e)
{
    return e == ECONNRESET || e == EPIPE || e == EBADF || e == ENOTCONN || e == ECONNREFUSED || e == EIO;
}

/* After a failed request, make sure nothing of it can answer the next one.
 * TCP: a timeout or a reply that does not match means a late or foreign
 * reply may still come on this stream; reconnecting drops it (a transaction
 * id mismatch would otherwise be blamed on the next, innocent unit). RTU:
 * libmodbus's error recovery already waited a timeout and flushed the line. */
static void recover(struct bus *b, modbus_t *ctx, int e)
{
    if (connection_lost(e))
        b->broken = true;
    else if (b->p->type == BUS_TCP && bus_classify(e) != BERR_EXCEPTION)
        b->broken = true;
    else if (bus_classify(e) != BERR_EXCEPTION && bus_classify(e) != BERR_TIMEOUT)
        modbus_flush(ctx);
}

static int mb_read(struct bus *b, const struct plan_group *g, uint16_t *regs)
{
    modbus_t *ctx = b->priv;
    uint8_t *bits = (uint8_t *)regs; /* unpacked below, back to front */
    int r;

    modbus_set_slave(ctx, g->unit);
    switch (g->kind) {
    case REG_HOLDING:
        r = modbus_read_registers(ctx, g->addr, g->count, regs);
        break;
    case REG_INPUT:
        r = modbus_read_input_registers(ctx, g->addr, g->count, regs);
        break;
    case REG_COIL:
        r = modbus_read_bits(ctx, g->addr, g->count, bits);
        break;
    case REG_DISCRETE:
        r = modbus_read_input_bits(ctx, g->addr, g->count, bits);
        break;
    default:
        r = -1;
        errno = EINVAL;
        break;
    }
    if (r < 0) {
        int e = errno;
        recover(b, ctx, e);
        return -e;
    }
    if (g->kind == REG_COIL || g->kind == REG_DISCRETE)
        for (int i = g->count - 1; i >= 0; i--)
            regs[i] = bits[i];
    return 0;
}

static int mb_write(struct bus *b, const struct bus_write *w)
{
    modbus_t *ctx = b->priv;
    uint8_t bits[BUS_WRITE_MAX];
    int r;

    modbus_set_slave(ctx, w->unit);
    if (w->kind == REG_COIL) {
        for (unsigned i = 0; i < w->count; i++)
            bits[i] = w->values[i] ? 1 : 0;
        r = w->count == 1 ? modbus_write_bit(ctx, w->addr, bits[0]) : modbus_write_bits(ctx, w->addr, w->count, bits);
    } else {
        r = w->count == 1 ? modbus_write_register(ctx, w->addr, w->values[0])
                          : modbus_write_registers(ctx, w->addr, w->count, w->values);
    }
    if (r < 0) {
        int e = errno;
        recover(b, ctx, e);
        return -e;
    }
    return 0;
}

const struct bus_ops modbus_tcp_ops = {
    .type = "tcp",
    .open = tcp_open,
    .read = mb_read,
    .write = mb_write,
    .close = mb_close,
};

const struct bus_ops modbus_rtu_ops = {
    .type = "rtu",
    .open = rtu_open,
    .read = mb_read,
    .write = mb_write,
    .close = mb_close,
};
