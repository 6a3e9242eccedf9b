/* fuzz_ctl: the control socket's command parser (docs/console.md): one
 * line, split, matched against the command table and carried out against a
 * real core, as lifelinectl's line would be. The first byte picks the
 * session: bit 0 privileged (after enable), bit 1 root. A command that
 * waits for the bus is dropped, as a client that goes away would be. */
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl_int.h"
#include "fuzz_gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gateway *g = fuzz_gateway();
    struct ctl_session s = {.uid = 1000, .pid = 1};
    struct ctl_op op = {0};
    struct ctl_req r = {.g = g, .ctl = gateway_ctl(g), .s = &s, .op = &op};
    char line[CTL_LINE_MAX];

    if (size < 1 || size > CTL_LINE_MAX)
        return -1;
    s.privileged = data[0] & 1;
    s.uid = data[0] & 2 ? 0 : 1000;
    strcpy(s.user, s.uid ? "tech" : "root");
    memcpy(line, data + 1, size - 1); /* the socket's reader stops a line at '\n' */
    line[size - 1] = '\0';
    ctl_run(&r, line);
    cJSON_Delete(r.j);
    strbuf_free(&r.out);
    strbuf_free(&op.acc);
    return 0;
}
