/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "operations.h"
#include "token.h"

/* The trailing a{sv} options of every method, read by tokend and again by the worker with the
 * same rules (the operation table's). Secrets arrive as ay and go straight into TkSecrets; the
 * message that carried them is marked sensitive, so sd-bus wipes it. */
typedef struct Options {
    unsigned given; /* OPT() bits of the options present */
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
    bool dry_run;
    TkBlob *chain; /* data owned here */
    size_t n_chain;
} Options;

void options_done(Options *o);

/* Reads an a{sv} at the message's read position for the operation op. An option op does not
 * take, a value of the wrong type, a string that is not printable UTF-8 (or is blank), a secret
 * that is not UTF-8 or holds a control character, or a value beyond the option's limits fails with
 * -EINVAL and an InvalidArgument error naming the option. Arrays are counted while they are read,
 * so an oversized one costs no more than its limit. */
int options_read(sd_bus_message *m, const Operation *op, Options *ret, TkError *error);

/* Every option op requires is there; with so_pin_derived the SO PIN may be missing (tokend
 * adds the one it derives). -EINVAL with an InvalidArgument error naming the first missing. */
int options_check_required(const Operation *op, const Options *o, bool so_pin_derived,
                           TkError *error);

/* The row of a ListObjects call, whose authorisation depends on its options: with a pin it
 * presents the PIN ("login"). Reads the options' names and rewinds the message to its start. */
int options_list_objects_row(sd_bus_message *m, const Operation **ret);
