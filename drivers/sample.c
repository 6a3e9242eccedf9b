#include "sample.h"

#include <errno.h>
#include <modbus.h>

const char *quality_name(enum quality q)
{
    static const char *const n[] = {"good", "stale", "comm_fault", "out_of_range"};
    return (unsigned)q <= Q_OUT_OF_RANGE ? n[q] : "?";
}

const char *sample_err_text(int err)
{
    if (err == -ERANGE || err == -EDOM)
        return err == -ERANGE ? "outside the valid range" : "not a number";
    return modbus_strerror(err < 0 ? -err : err);
}
