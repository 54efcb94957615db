/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "secret.h"

/* Reads a PIN from the first line of a file: a path, "-" for standard input, or /dev/fd/N.
 * The trailing newline (and a carriage return before it) is stripped. An empty first line
 * is refused with -ENODATA. */
int pin_read_file(const char *path, TkSecret **ret);

/* Reads a PIN from the controlling terminal with echo off. Returns -ENXIO when there is no
 * terminal. An empty answer gives an empty secret (callers decide what that means). */
int pin_read_tty(const char *prompt, TkSecret **ret);

/* Asks twice for a new PIN; on a mismatch it says so and asks again, up to three rounds,
 * then fails with -EBADMSG. A first answer shorter than min bytes, or longer than max (0: no
 * limit), is refused at once, naming the limit, and costs a round. */
int pin_read_tty_new(const char *prompt, const char *again, size_t min, size_t max, TkSecret **ret);

/* Reads one line, echoed, from the controlling terminal, for a question that is no secret. An
 * answer too long for buf is an empty one. -ENXIO when there is no terminal. */
int tty_read_answer(const char *prompt, char *buf, size_t size);

/* Whether a terminal is there to ask on. */
bool pin_tty_available(void);
