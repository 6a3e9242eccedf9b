/* sim: a bus with no device behind it. Each sensor follows a waveform
 * between sim_min and sim_max over sim_period, from the worker's start,
 * for the demo, soak tests and benchmarks without Modbus in the way. */
#include <math.h>

#include "bus.h"
#include "loop.h"

static int sim_open(struct bus *b)
{
    (void)b;
    return 0;
}

static void sim_close(struct bus *b)
{
    (void)b;
}

static enum quality sim_value(struct bus *b, const struct point *s, double *value)
{
    const struct sim_params *w = &s->sim;
    double phase = (double)((loop_clock_ms() - b->t0_ms) % w->period_ms) / (double)w->period_ms;
    double span = w->max - w->min, x;

    switch (w->wave) {
    case WAVE_TRIANGLE:
        x = phase < 0.5 ? 2 * phase : 2 - 2 * phase;
        break;
    case WAVE_SINE:
        x = 0.5 - 0.5 * cos(2 * M_PI * phase);
        break;
    case WAVE_SQUARE:
        x = phase < 0.5 ? 0 : 1;
        break;
    case WAVE_RAMP:
        x = phase;
        break;
    case WAVE_CONST:
    default:
        x = 0;
        break;
    }
    *value = w->min + span * x;
    return Q_GOOD;
}

const struct bus_ops sim_ops = {
    .type = "sim",
    .open = sim_open,
    .value = sim_value,
    .close = sim_close,
};
