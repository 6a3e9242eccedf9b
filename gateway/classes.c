#include "classes.h"

#include <stddef.h>
#include <string.h>

const char *const lifeline_names[] = {"gas",   "heating", "water_supply", "drainage", "telecom",
                                      "power", "bridge",  "elevator",     NULL};
