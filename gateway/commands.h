/* commands: the center's commands (cmd/NAME, docs/mqtt.md), answered on
 * reply/NAME through the outbox. An adapter over the core (core.h). */
#ifndef LIFELINE_COMMANDS_H
#define LIFELINE_COMMANDS_H

#include <stddef.h>

/* An uplink_cmd_fn: ctx is the struct gateway. */
void commands_on_message(void *ctx, const char *name, const char *payload, size_t len);

#endif
