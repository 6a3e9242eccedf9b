/* gateway: the core. Owns the loop, the config, the store, the uplink, the
 * bus workers and every sensor's runtime state, and runs the data flow:
 * sample -> store reading -> rules -> alarm event (store, then outbox)
 * -> uplink, all on the core thread. */
#ifndef LIFELINE_GATEWAY_H
#define LIFELINE_GATEWAY_H

#include "config.h"

#define GATEWAY_RESTART (-1)

/* Runs until SIGTERM/SIGINT; SIGHUP reloads cfg->path. Takes ownership of
 * *cfg. Returns the process exit status, or GATEWAY_RESTART when the center
 * asked for a restart (cmd/reboot): everything is closed, exec again. */
int gateway_run(struct config *cfg);

/* gateway_run's two halves, for harnesses that drive one part of the core
 * without its loop running (tests/fuzz): open starts everything gateway_run
 * starts (store, uplink, buses, control socket) and takes ownership of
 * *cfg; *out is set even on failure, for gateway_close. */
struct gateway;
int gateway_open(struct config *cfg, struct gateway **out);
void gateway_close(struct gateway *g);
/* Its control socket, for a harness that plays a console client. */
struct ctl *gateway_ctl(struct gateway *g);

#endif
