/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* A tokend-worker process as the main process sees it: the peer-to-peer bus to it and how its
 * end is noticed. tokend either starts it itself (a child with a socketpair on fd 3, watched
 * by PID) or connects to the worker socket, where systemd starts one per connection under an
 * identity of its own (socket activation); such a worker is not tokend's child and cannot be
 * signalled by it: it goes when its connection closes, and its end is that connection's. */
typedef struct Worker Worker;
/* how: "exit status 1", "signal 9", "connection closed". */
typedef void (*worker_exit_cb_t)(Worker *w, const char *how, void *userdata);

/* argv: the worker's arguments after argv[0]; env: extra NAME=value entries or NULL. */
int worker_spawn(sd_event *event, const char *path, char *const *argv, char *const *env,
                 worker_exit_cb_t cb, void *userdata, Worker **ret);
/* Connects to the worker socket at socket_path and sends the launch frame (argv, and the text
 * of the worker's OpenSC configuration or NULL). */
int worker_connect(sd_event *event, const char *socket_path, char *const *argv,
                   const char *opensc_conf, worker_exit_cb_t cb, void *userdata, Worker **ret);
sd_bus *worker_bus(Worker *w);
pid_t worker_pid(Worker *w);
/* SIGKILLs a child by PID, or closes a socket worker's connection (it exits when its current
 * call is over, or when the call's own time limit ends it); the exit callback still follows. */
void worker_kill(Worker *w);
/* Closes the bus and frees w at once, without calling the exit callback. Stopping the process
 * goes on in the event loop without blocking it: SIGTERM now, SIGKILL after a grace period, and
 * the child watch reaps it; freeing the event loop first SIGKILLs and reaps it then. */
Worker *worker_free(Worker *w);
