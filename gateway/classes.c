#include "classes.h"

#include <stddef.h>
#include <string.h>

const char *const lifeline_names[] = {"gas", "heating", "water_supply", "drainage",
                                      "telecom", "power", "bridge", "elevator", NULL};

/* The lifeline a class belongs to when the sensor does not say; classes shared
 * by several lifelines (temperature, digital) default to the one they are most
 * often installed for and are overridden per sensor with `lifeline =`. */
static const struct sensor_class classes[] = {
    {"gas", LL_GAS, "%LEL", DIR_HIGH},
    {"oxygen", LL_GAS, "%vol", DIR_LOW},
    {"h2s", LL_GAS, "ppm", DIR_HIGH},
    {"water_pressure", LL_WATER_SUPPLY, "MPa", DIR_LOW},
    {"water_flow", LL_WATER_SUPPLY, "m3/h", DIR_HIGH},
    {"water_level", LL_DRAINAGE, "m", DIR_HIGH},
    {"bridge_strain", LL_BRIDGE, "ue", DIR_HIGH},
    {"bridge_tilt", LL_BRIDGE, "deg", DIR_HIGH},
    {"bridge_vibration", LL_BRIDGE, "mm/s", DIR_HIGH},
    {"bridge_deflection", LL_BRIDGE, "mm", DIR_HIGH},
    {"elevator", LL_ELEVATOR, "", DIR_HIGH},
    {"temperature", LL_HEATING, "degC", DIR_HIGH},
    {"digital", LL_POWER, "", DIR_HIGH},
};

const struct sensor_class *class_find(const char *name)
{
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strcmp(classes[i].name, name) == 0)
            return &classes[i];
    return NULL;
}
