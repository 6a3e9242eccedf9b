/* classes: the eight lifelines a sensor belongs to. The classes themselves
 * (unit, direction, lifeline and default limits) are data: config/classes.ini. */
#ifndef LIFELINE_CLASSES_H
#define LIFELINE_CLASSES_H

#include "rules.h"

enum lifeline {
    LL_GAS,
    LL_HEATING,
    LL_WATER_SUPPLY,
    LL_DRAINAGE,
    LL_TELECOM,
    LL_POWER,
    LL_BRIDGE,
    LL_ELEVATOR,
    LL_COUNT
};

/* NULL-terminated, by enum */
extern const char *const lifeline_names[];

#endif
