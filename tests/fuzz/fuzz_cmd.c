/* fuzz_cmd: the downlink command parser (docs/mqtt.md, cmd/{name}): the
 * JSON payload parsed and the command carried out against a real core, its
 * reply queued for the uplink, as a message from the broker would be. The
 * first byte picks the command's name (the ones the gateway knows and one
 * it does not); the rest is the payload, of any bytes. */
#include <stdint.h>
#include <string.h>

#include "commands.h"
#include "fuzz_gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"ack",    "get",   "set",    "maintenance", "history",
                                        "replay", "reset", "status", "reboot",      "nonesuch"};
    struct gateway *g = fuzz_gateway();

    if (size < 1)
        return -1;
    commands_on_message(g, names[data[0] % (sizeof(names) / sizeof(names[0]))], (const char *)data + 1, size - 1);
    return 0;
}
