/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "secret.h"
#include "tokenctl.h"

/* A method call on a token object. Starts with the arguments appended by the caller, then
 * the options dict built with the helpers below, then call_token_method(). */
int token_call_new(Context *ctx, const char *path, const char *method, sd_bus_message **ret);

/* Secrets go as "ay"; the message is marked sensitive so sd-bus wipes it when freed. */
int options_add_secret(sd_bus_message *m, const char *key, const TkSecret *s);
int options_add_string(sd_bus_message *m, const char *key, const char *value);
int options_add_strv(sd_bus_message *m, const char *key, char **l);
int options_add_bool(sd_bus_message *m, const char *key, bool b);
int options_add_bytes(sd_bus_message *m, const char *key, const void *p, size_t n);

/* Sends the call and waits for the reply (however long the token takes); meanwhile, on a
 * terminal and not in JSON mode, the token's Progress signals are one line on stderr that is
 * cleared when the reply comes. On a bus error, fills error and returns < 0. */
int token_call(Context *ctx, sd_bus_message *m, const char *what, sd_bus_error *error,
               sd_bus_message **ret_reply);

/* Reads an ay of the reply into a copy (*ret to be freed). */
int reply_read_bytes(sd_bus_message *reply, uint8_t **ret, size_t *ret_len);

/* How long a client waits for a call of member: tokend's limit for it and the slack for
 * authorisation and the calls queued ahead. */
uint64_t token_call_timeout_usec(sd_bus *bus, const char *member);

/* Adds a command's own options to a call's a{sv}, those that carry no secret. */
typedef int (*OptionsAdder)(Context *ctx, sd_bus_message *m, void *userdata);

/* Asks tokend whether the call begun in m (token_call_new() and its leading arguments, no
 * options yet) would be allowed, before a person is asked for any PIN: adds the dry-run
 * option, --force and --request where the command has them, and what more() adds (NULL: none),
 * and sends it. On a refusal records it with fail_bus(failed, ...) and returns its exit code; 0
 * when allowed. */
int token_dry_run(Context *ctx, sd_bus_message *m, const char *failed, OptionsAdder more,
                  void *userdata);
