/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* Long text output through a pager, as systemd's tools do: only when standard output is a
 * terminal that TERM names and that is not "dumb", and never while anything is asked, so a verb
 * starts it after its prompts and bus calls, just before it prints. The pager is $TOKENCTL_PAGER,
 * else $PAGER, else less (with LESS=FRXMK unless LESS is set, so one screen of text just prints),
 * else more; an empty value or "cat" means none. Returns the pager's pid, or 0 when there is none.
 */
pid_t pager_start(void);

/* Ends standard output to the pager and waits for it (a person reads until they quit it). */
void pager_stop(pid_t pid);
