/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokenctl's JSON on standard output: the --json=MODE choice, the error document, and the
 * printing, pretty or short, of one document. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

/* --json's value: "pretty", "short" or "off"; NULL (a bare --json) is pretty when standard
 * output is a terminal and short otherwise. -EINVAL for any other value. */
int json_mode_parse(const char *value, bool stdout_is_terminal, bool *ret_json, bool *ret_pretty);

/* { "error": { "name": NAME, "message": TEXT, "exit-code": N } } */
json_object *json_error_new(const char *name, const char *message, int exit_code);

/* Writes doc and a newline to f, pretty (indented) or short (one line), with DEL and the C1
 * controls written as \u00NN (json_text_for_terminal()), and flushes f. Negative errno when
 * f could not be written. */
int json_print(FILE *f, json_object *doc, bool pretty);
