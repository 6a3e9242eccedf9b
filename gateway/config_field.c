/* The drivers' view of a config: arrays of pointers to the structs the
 * config embeds for them (drivers/field.h), so a driver never reads the
 * config itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int config_field_build(struct field *f, const struct config *cfg)
{
    const struct bus_params **buses = calloc(cfg->n_buses + 1, sizeof(*buses));
    const struct point **points = calloc(cfg->n_sensors + 1, sizeof(*points));
    const char **point_names = calloc(cfg->n_sensors + 1, sizeof(*point_names));
    const struct action_output **outputs = calloc(cfg->n_actions + 1, sizeof(*outputs));
    const char **output_names = calloc(cfg->n_actions + 1, sizeof(*output_names));

    memset(f, 0, sizeof(*f));
    if (!buses || !points || !point_names || !outputs || !output_names) {
        free(buses), free(points), free(point_names), free(outputs), free(output_names);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < cfg->n_buses; i++)
        buses[i] = &cfg->buses[i].p;
    for (unsigned i = 0; i < cfg->n_sensors; i++) {
        points[i] = &cfg->sensors[i].io;
        point_names[i] = cfg->sensors[i].name;
    }
    for (unsigned i = 0; i < cfg->n_actions; i++) {
        outputs[i] = &cfg->actions[i].out;
        output_names[i] = cfg->actions[i].name;
    }
    *f = (struct field){.buses = buses,
                        .n_buses = cfg->n_buses,
                        .points = points,
                        .point_names = point_names,
                        .n_points = cfg->n_sensors,
                        .outputs = outputs,
                        .output_names = output_names,
                        .n_outputs = cfg->n_actions,
                        .board = &cfg->board.gpio,
                        .board_path = cfg->board.path};
    return 0;
}

void config_field_free(struct field *f)
{
    free((void *)f->buses);
    free((void *)f->points);
    free((void *)f->point_names);
    free((void *)f->outputs);
    free((void *)f->output_names);
    memset(f, 0, sizeof(*f));
}
