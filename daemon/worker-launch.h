/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a socket-activated worker learns what to do. tokend connects to the worker socket, where
 * systemd starts one tokend-worker per connection under an identity of its own; before the
 * peer-to-peer bus starts on that connection, tokend sends one launch frame: the worker's
 * arguments and the text of its private OpenSC configuration, as a JSON object behind a 4-byte
 * big-endian length. A worker started by tokend itself gets the same as its command line and
 * environment instead. */
#pragma once

#include <stddef.h>

/* A frame is at most this long: arguments and an OpenSC configuration of a few hundred
 * readers fit in it many times over. */
#define WORKER_LAUNCH_FRAME_MAX (256u * 1024u)

/* Writes the frame: argv (NULL-terminated, without argv[0]) and opensc_conf (NULL: none). */
int worker_launch_write(int fd, char *const *argv, const char *opensc_conf);

/* Reads one frame, bounded, and returns its arguments (a NULL-terminated strv) and OpenSC
 * configuration (NULL where none was sent). -EBADMSG for a frame that is too long, cut short or
 * not the expected JSON. */
int worker_launch_read(int fd, char ***ret_argv, char **ret_opensc_conf);
