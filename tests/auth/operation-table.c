/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints tokend's operation table as JSON, for the test that holds it against the
 * introspection XML and the polkit policy. */
#include <stdio.h>

#include <json-c/json.h>

#include "operations.h"

int main(void)
{
    json_object *rows = json_object_new_array();

    for (size_t i = 0; i < n_operations; i++) {
        const Operation *op = &operations[i];
        json_object *o = json_object_new_object(), *options = json_object_new_array();
        json_object_object_add(o, "member", json_object_new_string(op->member));
        json_object_object_add(o, "variant",
                               op->variant ? json_object_new_string(op->variant) : NULL);
        json_object_object_add(o, "name", json_object_new_string(op->name));
        json_object_object_add(o, "signature", json_object_new_string(op->signature));
        json_object_object_add(o, "result", json_object_new_string(op->result));
        json_object_object_add(o, "action", op->action ? json_object_new_string(op->action) : NULL);
        json_object_object_add(o, "message_id",
                               op->message_id ? json_object_new_string(op->message_id) : NULL);
        json_object_object_add(o, "audited", json_object_new_boolean(operation_audited(op)));
        json_object_object_add(o, "presents", json_object_new_int(op->presents));
        json_object_object_add(o, "timeout_sec", json_object_new_int((int)op->timeout_sec));
        for (int id = 0; id < _OPTION_MAX; id++)
            if (op->options & OPT(id))
                json_object_array_add(options, json_object_new_string(option_spec(id)->name));
        json_object_object_add(o, "options", options);
        json_object_array_add(rows, o);
    }
    puts(json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PRETTY));
    json_object_put(rows);
    return 0;
}
