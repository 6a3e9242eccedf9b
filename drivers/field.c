#include "field.h"

#include <stddef.h>
#include <string.h>

const char *field_gpio_line(const struct board_gpio *board, const char *name, const struct board_line **from)
{
    for (unsigned i = 0; i < board->n_lines; i++) {
        if (strcmp(board->lines[i].name, name) == 0) {
            if (from)
                *from = &board->lines[i];
            return board->lines[i].spec;
        }
    }
    if (from)
        *from = NULL;
    return name;
}
