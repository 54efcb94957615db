/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints tokenctl's JSON documents; every document a script reads leaves through here. */
#include <errno.h>
#include <stdio.h>

#include "format.h"
#include "json-output.h"
#include "macro.h"

int json_mode_parse(const char *value, bool stdout_is_terminal, bool *ret_json, bool *ret_pretty)
{
    bool json = true, pretty;

    /* systemd's tools take --json=pretty|short|off only; a bare --json is kept for the scripts
     * that use it, and chooses as systemd would for a person or a pipe. */
    if (!value)
        pretty = stdout_is_terminal;
    else if (streq(value, "pretty"))
        pretty = true;
    else if (streq(value, "short"))
        pretty = false;
    else if (streq(value, "off"))
        json = pretty = false;
    else
        return -EINVAL;
    *ret_json = json;
    *ret_pretty = pretty;
    return 0;
}

json_object *json_error_new(const char *name, const char *message, int exit_code)
{
    json_object *doc = json_object_new_object(), *e = json_object_new_object();

    if (!doc || !e) {
        json_object_put(doc);
        json_object_put(e);
        return NULL;
    }
    json_object_object_add(e, "name", json_object_new_string(strempty(name)));
    json_object_object_add(e, "message", json_object_new_string(strempty(message)));
    json_object_object_add(e, "exit-code", json_object_new_int(exit_code));
    json_object_object_add(doc, "error", e);
    return doc;
}

int json_print(FILE *f, json_object *doc, bool pretty)
{
    int flags =
        JSON_C_TO_STRING_NOSLASHESCAPE |
        (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
    _cleanup_free_ char *text = NULL;
    int r;

    const char *json = json_object_to_json_string_ext(doc, flags);
    if (!json)
        return -ENOMEM;
    r = json_text_for_terminal(json, &text);
    if (r < 0)
        return r;
    if (fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0)
        return -errno ?: -EIO;
    return 0;
}
