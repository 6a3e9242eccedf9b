#include "sample.h"

const char *quality_name(enum quality q)
{
    static const char *const n[] = {"good", "stale", "comm_fault", "out_of_range"};
    return (unsigned)q <= Q_OUT_OF_RANGE ? n[q] : "?";
}
