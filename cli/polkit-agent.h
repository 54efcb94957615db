/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* Starts pkttyagent for this terminal, as systemctl does, and waits until it has registered
 * (it closes the notify descriptor then). Returns 0 with *ret_pid = 0 when no agent could be
 * started: the call then goes on without one and polkit answers for itself. */
int polkit_agent_start(pid_t *ret_pid);
/* Stops the agent by its PID and reaps it. */
void polkit_agent_stop(pid_t pid);
