/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The values of the program that fuzz-options reads (its comment has the whole format), shared
 * with the program that writes its seeds. */
#pragma once

typedef enum Value {
    VALUE_BYTES,
    VALUE_STRING,
    VALUE_STRINGS,
    VALUE_BLOBS,
    VALUE_BOOLEAN,
    VALUE_UINT32,
    VALUE_INT32,
    VALUE_UINT64,
    VALUE_DOUBLE,
    VALUE_OBJECT_PATH,
    VALUE_SIGNATURE,
    VALUE_STRUCT,
    VALUE_VARIANT,
    VALUE_DICT,
    _VALUE_MAX,
} Value;

/* The D-Bus signature of a value. */
static inline const char *value_signature(Value v)
{
    static const char *const signatures[_VALUE_MAX] = {
        [VALUE_BYTES] = "ay",      [VALUE_STRING] = "s",    [VALUE_STRINGS] = "as",
        [VALUE_BLOBS] = "aay",     [VALUE_BOOLEAN] = "b",   [VALUE_UINT32] = "u",
        [VALUE_INT32] = "i",       [VALUE_UINT64] = "t",    [VALUE_DOUBLE] = "d",
        [VALUE_OBJECT_PATH] = "o", [VALUE_SIGNATURE] = "g", [VALUE_STRUCT] = "(ss)",
        [VALUE_VARIANT] = "v",     [VALUE_DICT] = "a{sv}",
    };
    return v < _VALUE_MAX ? signatures[v] : NULL;
}
