/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "tokenctl.h"

/* A provisioning manifest (tokenctl provision MANIFEST): what every token gets. Templates may
 * name {serial} (the token's serial) and {request} (the request reference). */
typedef struct Manifest {
    char *token_label; /* [Token] Label=, a template */
    char *key_type;    /* [Key] Type= */
    char *key_label;   /* [Key] Label=, a template; NULL: none */
    char *subject;     /* [Request] Subject=, a template (RFC 4514) */
    char *request;     /* [Request] Reference=; --request overrides it; NULL: none */
    char *output;      /* [Request] Output=, a directory; relative to the manifest's own */
} Manifest;

void manifest_done(Manifest *m);

/* Reads the manifest at path. Every fault (no such file, a syntax error, an unknown section or
 * key, a missing or empty key, an unknown key type or placeholder) fails through fail() with
 * the file, the line where there is one, and the key. */
int manifest_load(Context *ctx, const char *path, Manifest *ret);

/* The template with its placeholders filled in. In a subject (dn true) a serial with a
 * character that RFC 4514 gives a meaning to is refused rather than escaped: a serial is a
 * token's word, and the name must be the one the manifest means. -ENXIO when {request} has no
 * value (no reference given), -EINVAL when a serial cannot go into a name or a brace is no
 * placeholder. */
int manifest_expand(const char *template, const char *serial, const char *request, bool dn,
                    char **ret);
