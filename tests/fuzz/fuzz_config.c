/* fuzz_config: the config parser (gateway/config*.c, inih underneath): the
 * input is a whole lifeline.conf, loaded as lifelined -c loads it. It must
 * load or be refused with a message; a refusal names the file and line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "fuzz_gw.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[300];
    char err[CFG_ERR_MAX];
    struct config cfg;
    FILE *f;

    if (!path[0]) {
        log_open(LOG_TARGET_STDERR, LOG_CRIT);
        snprintf(path, sizeof(path), "%s/lifeline.conf", fuzz_mkdtemp());
    }
    if (!(f = fopen(path, "w")) || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    err[0] = '\0';
    if (config_load(path, &cfg, err, sizeof(err)) == 0) {
        config_free(&cfg);
        return 0;
    }
    if (!err[0] || strncmp(err, path, strlen(path)) != 0)
        abort(); /* a refusal without its file (and line) */
    return 0;
}
