/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* A tokend-worker process as the main process sees it: its PID, the peer-to-peer bus over the
 * socketpair, and a child watch that reports its exit. */
typedef struct Worker Worker;
typedef void (*worker_exit_cb_t)(Worker *w, const siginfo_t *si, void *userdata);

/* argv: the worker's arguments after argv[0]; env: extra NAME=value entries or NULL. */
int worker_spawn(sd_event *event, const char *path, char *const *argv, char *const *env,
                 worker_exit_cb_t cb, void *userdata, Worker **ret);
sd_bus *worker_bus(Worker *w);
pid_t worker_pid(Worker *w);
/* SIGKILLs the process by PID; the exit callback still follows. */
void worker_kill(Worker *w);
/* Closes the bus and frees w at once, without calling the exit callback. Stopping the process
 * goes on in the event loop without blocking it: SIGTERM now, SIGKILL after a grace period, and
 * the child watch reaps it; freeing the event loop first SIGKILLs and reaps it then. */
Worker *worker_free(Worker *w);
