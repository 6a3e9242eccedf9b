/* ctl_config: the console's config changes: set sensor keys (waiting in
 * the session until config commit), see and drop them, commit them through
 * the core (checked whole, written atomically, applied without a restart),
 * roll back to the previous file, and set the console PIN. */
#include <cjson/cJSON.h>
#include <crypt.h>
#include <stdio.h>
#include <string.h>

#include "ctl_int.h"

const char *ctl_set_sensor(struct ctl_req *r, int argi)
{
    struct ctl_session *s = r->s;
    const char *name = r->argv[argi], *key = r->argv[argi + 1], *value = r->argv[argi + 2];

    if (core_sensor_index(r->g, name) < 0)
        return ctl_no_such(r, "sensor", name, "show sensors");
    if (!core_settable(key)) {
        snprintf(r->err, sizeof(r->err), "'%s' cannot be set here (list keys shows those that can)", key);
        return r->err;
    }
    unsigned k;
    for (k = 0; k < s->n_pending; k++)
        if (!strcmp(s->pending[k].sensor, name) && !strcmp(s->pending[k].key, key))
            break;
    if (k == s->n_pending && s->n_pending == CONFCHANGE_MAX)
        return "too many changes waiting: config commit or config discard first";
    if (strlen(value) >= sizeof(s->pending[0].value))
        return "value too long";
    snprintf(s->pending[k].sensor, sizeof(s->pending[k].sensor), "%s", name);
    snprintf(s->pending[k].key, sizeof(s->pending[k].key), "%s", key);
    snprintf(s->pending[k].value, sizeof(s->pending[k].value), "%s", value);
    s->pending[k].remove = strcmp(value, "default") == 0;
    if (k == s->n_pending)
        s->n_pending++;
    if (!r->json)
        ctl_printf(r, "%s %s = %s: waiting (config diff shows, config commit applies)\n", name, key, value);
    return NULL;
}

const char *ctl_config_diff(struct ctl_req *r, int argi)
{
    struct ctl_session *s = r->s;
    cJSON *list = r->json ? ctl_jadd(r, r->j, "changes", cJSON_CreateArray()) : NULL;

    (void)argi;
    for (unsigned k = 0; k < s->n_pending; k++) {
        if (r->json) {
            cJSON *e = ctl_jadd(r, list, NULL, cJSON_CreateObject());
            ctl_jadd(r, e, "sensor", cJSON_CreateString(s->pending[k].sensor));
            ctl_jadd(r, e, "key", cJSON_CreateString(s->pending[k].key));
            ctl_jadd(r, e, "value",
                     s->pending[k].remove ? cJSON_CreateNull() : cJSON_CreateString(s->pending[k].value));
        } else {
            ctl_printf(r, "[sensor %s] %s = %s\n", s->pending[k].sensor, s->pending[k].key,
                       s->pending[k].remove ? "(the class's or profile's)" : s->pending[k].value);
        }
    }
    if (!r->json && !s->n_pending)
        ctl_printf(r, "(no change waiting)\n");
    return NULL;
}

const char *ctl_config_commit(struct ctl_req *r, int argi)
{
    struct ctl_session *s = r->s;
    struct sensor_edit e[CONFCHANGE_MAX];

    (void)argi;
    if (!s->n_pending)
        return "no change waiting (set sensor NAME KEY VALUE first)";
    for (unsigned k = 0; k < s->n_pending; k++)
        e[k] = (struct sensor_edit){s->pending[k].sensor, s->pending[k].key,
                                    s->pending[k].remove ? NULL : s->pending[k].value};
    if (core_config_change(r->g, e, s->n_pending, ctl_who(r), r->err, sizeof(r->err)) < 0)
        return r->err;
    if (!r->json)
        ctl_printf(r, "%u change%s written to %s (previous kept as %s.prev) and applied\n", s->n_pending,
                   s->n_pending == 1 ? "" : "s", core_config(r->g)->path, core_config(r->g)->path);
    s->n_pending = 0;
    return NULL;
}

const char *ctl_config_discard(struct ctl_req *r, int argi)
{
    (void)argi;
    if (!r->json)
        ctl_printf(r, "%u change%s discarded\n", r->s->n_pending, r->s->n_pending == 1 ? "" : "s");
    r->s->n_pending = 0;
    return NULL;
}

const char *ctl_config_rollback(struct ctl_req *r, int argi)
{
    (void)argi;
    if (core_config_rollback(r->g, ctl_who(r), r->err, sizeof(r->err)) < 0)
        return r->err;
    if (!r->json)
        ctl_printf(r, "the previous config is back in %s and applied\n", core_config(r->g)->path);
    return NULL;
}

const char *ctl_passwd(struct ctl_req *r, int argi)
{
    static struct crypt_data cd;
    const char *pin = r->argv[argi];
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];

    if (r->s->uid != 0)
        return "only root sets the console PIN";
    size_t n = strlen(pin);
    /* a 4-digit PIN's hash falls to an offline search in seconds */
    if (n < 6 || n > 64)
        return "a PIN of 6 to 64 characters";
    if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)))
        return "no random salt (crypt_gensalt)";
    const char *hash = crypt_rn(pin, salt, &cd, sizeof(cd));
    if (!hash || hash[0] != '$')
        return "crypt failed";
    if (core_config_console_pin(r->g, hash, ctl_who(r), r->err, sizeof(r->err)) < 0)
        return r->err;
    ctl_record(r, NULL);
    if (!r->json)
        ctl_printf(r, "console PIN set ([console] pin in %s)\n", core_config(r->g)->path);
    return NULL;
}
