/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "tokenctl.h"

/* The daemon's whole object tree (GetManagedObjects) as JSON: { path: { interface: { prop:
 * value } } }. */
int fetch_objects(Context *ctx, json_object **ret);

/* The token properties of every token object, each with "path" added, sorted by path. */
int tokens_from_objects(json_object *objects, json_object **ret);

/* Picks the token a person means by name: an object path, a serial, a label or a reader
 * name. NULL name: the only token present. Fails (through fail()) with a list of
 * candidates when the name matches none or several. Returns a new reference. */
int resolve_token(Context *ctx, const char *name, json_object **ret);

/* Pure part of resolve_token, for tests: index into the token array or -ENOENT / -ENOTUNIQ
 * (for NULL name: -ENOENT when there is none, -ENOTUNIQ when several). */
int match_token(json_object *tokens, const char *name);
