/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The test side of a running card simulator, as the test harness describes it in the
 * environment: TOKEND_SIM_CONTROL_<n> (its control socket), TOKEND_SIM_READER_<n> (its reader)
 * and TOKEND_SIM_PIN / _PUK / _SO_PIN (what the card was personalised with). */

/* The harness's value for name, or NULL when the test is not run under the harness. */
const char *sim_env(const char *name);
/* Sends one command to simulator n; reply gets its answer line. 0 when the answer is "ok …". */
int sim_control(unsigned n, const char *command, char *reply, size_t size);
/* The card's own counters for PIN reference ref: tries left, and tries left of its PUK. */
int sim_pin_counters(unsigned n, int ref, int *ret_tries, int *ret_puk_tries);
