/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The times that audit list's --since and --until take. */
#pragma once

#include <stdint.h>

/* TIME as microseconds since the epoch: "now"; "today", "yesterday", "tomorrow" (that day's
 * midnight, local time); "YYYY-MM-DD" (its midnight), "YYYY-MM-DD HH:MM" or
 * "YYYY-MM-DD HH:MM:SS" (a "T" for the space too), local time; or "-N" followed by a unit, s,
 * min (or m), h, d or w, that long before now ("-2h", "-30min"). now_usec is the present, in
 * microseconds since the epoch. Returns 0, or -EINVAL for anything else (a day that does not
 * exist included). */
int parse_time_spec(const char *s, uint64_t now_usec, uint64_t *ret_usec);
