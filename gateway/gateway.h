/* gateway: the core. Owns the loop, the config, the store, the uplink, the
 * bus workers and every sensor's runtime state, and runs the data flow:
 * sample -> store reading -> rules -> alarm event (store, then outbox)
 * -> uplink, all on the core thread. */
#ifndef LIFELINE_GATEWAY_H
#define LIFELINE_GATEWAY_H

#include "config.h"

/* Runs until SIGTERM/SIGINT; SIGHUP reloads cfg->path. Takes ownership of
 * *cfg. Returns the process exit status. */
int gateway_run(struct config *cfg);

#endif
