/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs tokenctl's PIN prompt on the controlling terminal and prints what it read as hex, so
 * a test driving a pty can check the PIN arrived without the PIN text ever being shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "pin-input.h"

int main(int argc, char *argv[])
{
    TkSecret *s = NULL;
    int r;

    if (argc > 1 && strcmp(argv[1], "new") == 0)
        /* new MIN: a site minimum of MIN characters */
        r = pin_read_tty_new(
            "New PIN: ", "Repeat new PIN: ", argc > 2 ? strtoul(argv[2], NULL, 10) : 0, 0, &s);
    else
        r = pin_read_tty("PIN: ", &s);
    if (r < 0) {
        printf("error %d\n", r);
        return 1;
    }
    char *hex = hex_string((const uint8_t *)s->data, s->len);
    printf("got %s\n", hex);
    free(hex);
    tk_secret_free(s);
    return 0;
}
