/* classes: sensor classes and the eight lifelines. A class gives a sensor its
 * default unit, alarm direction and lifeline; the sensor may override each.
 * (Default limits per class come with config/classes.ini, issue #4.) */
#ifndef LIFELINE_CLASSES_H
#define LIFELINE_CLASSES_H

#include "rules.h"

enum lifeline {
    LL_GAS, LL_HEATING, LL_WATER_SUPPLY, LL_DRAINAGE,
    LL_TELECOM, LL_POWER, LL_BRIDGE, LL_ELEVATOR, LL_COUNT
};

struct sensor_class {
    const char *name;
    enum lifeline lifeline;
    const char *unit;
    enum direction dir;
};

const struct sensor_class *class_find(const char *name);
/* NULL-terminated, by enum */
extern const char *const lifeline_names[];

#endif
