/* ctl: the control socket lifelinectl talks to (docs/console.md), served
 * from the core loop without ever blocking it: non-blocking sockets, a
 * bounded input line and a bounded output buffer per client; a client that
 * sends a line too long gets an error, one that stops reading is dropped.
 * The console's commands (ctl_int.h) are adapters over the core (core.h).
 *
 * Protocol: the client sends one command per line ("show sensors",
 * "--json show sensors"); the answer is zero or more lines of text (or one
 * line of JSON) followed by a line "%ok" or "%error MESSAGE". A body line
 * that would start with '%' is sent with another '%' in front. */
#ifndef LIFELINE_CTL_H
#define LIFELINE_CTL_H

#include <stdbool.h>
#include <stdint.h>

struct ctl;
struct gateway;

/* Binds [console] socket (mode 0660, group [console] group). */
int ctl_open(struct ctl **out, struct gateway *g);
void ctl_close(struct ctl *c);
/* A SAMPLE_WRITE_DONE from a bus: true when it was the console's. */
bool ctl_write_done(struct ctl *c, unsigned bus, uint64_t id, int err);
/* The buses are being restarted: requests in flight will not come back. */
void ctl_buses_gone(struct ctl *c);

#endif
