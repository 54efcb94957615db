/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "token.h"

/* The trailing a{sv} options of every method. Secrets arrive as ay and go straight into
 * TkSecrets; the message that carried them is marked sensitive, so sd-bus wipes it. */
typedef struct Options {
    TkSecret *pin;
    TkSecret *new_pin;
    TkSecret *so_pin;
    char *label;
    uint8_t *id;
    size_t id_len;
    char **email;
    char **dns;
    char *request;
    bool force;
    TkBlob *chain; /* data owned here */
    size_t n_chain;
} Options;

void options_done(Options *o);

/* Reads an a{sv} at the message's read position. allowed is a NULL-terminated list of the
 * option names this method takes; any other name, or a known name with the wrong type, fails
 * with InvalidArgument naming it. */
int options_read(sd_bus_message *m, const char *const *allowed, Options *ret, TkError *error);
