/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "token.h"

static const char *const pin_state_names[] = {
    [TK_PIN_OK] = "ok",
    [TK_PIN_COUNT_LOW] = "count-low",
    [TK_PIN_FINAL_TRY] = "final-try",
    [TK_PIN_LOCKED] = "locked",
    [TK_PIN_TO_BE_CHANGED] = "to-be-changed",
};

static const char *const retries_source_names[] = {
    [TK_RETRIES_CARD] = "card",
    [TK_RETRIES_FLAGS] = "flags",
    [TK_RETRIES_LEDGER] = "ledger",
    [TK_RETRIES_UNKNOWN] = "unknown",
};

static const char *const key_spec_names[] = {
    [TK_KEY_RSA2048] = "rsa2048", [TK_KEY_RSA3072] = "rsa3072", [TK_KEY_RSA4096] = "rsa4096",
    [TK_KEY_EC_P256] = "ec-p256", [TK_KEY_EC_P384] = "ec-p384",
};

static const char *const object_class_names[] = {
    [TK_OBJECT_PRIVATE_KEY] = "private-key",
    [TK_OBJECT_PUBLIC_KEY] = "public-key",
    [TK_OBJECT_CERTIFICATE] = "certificate",
};

static const char *const key_type_names[] = {
    [TK_KEY_TYPE_NONE] = NULL,
    [TK_KEY_TYPE_RSA] = "rsa",
    [TK_KEY_TYPE_EC] = "ec",
};

#define NAME_OR_NULL(table, i) ((size_t)(i) < ELEMENTSOF(table) ? (table)[i] : NULL)

const char *tk_pin_state_to_string(TkPinState s)
{
    return NAME_OR_NULL(pin_state_names, s);
}

const char *tk_retries_source_to_string(TkRetriesSource s)
{
    return NAME_OR_NULL(retries_source_names, s);
}

const char *tk_key_spec_to_string(TkKeySpec spec)
{
    return NAME_OR_NULL(key_spec_names, spec);
}

int tk_key_spec_from_string(const char *s, TkKeySpec *ret)
{
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(key_spec_names); i++)
        if (strcmp(key_spec_names[i], s) == 0) {
            *ret = (TkKeySpec)i;
            return 0;
        }
    return -EINVAL;
}

const char *tk_object_class_to_string(TkObjectClass c)
{
    return NAME_OR_NULL(object_class_names, c);
}

const char *tk_key_type_to_string(TkKeyType t)
{
    return NAME_OR_NULL(key_type_names, t);
}

bool tk_slot_names_reader(const char *slot_description, const char *reader)
{
    if (!slot_description || !reader || !*slot_description)
        return false;
    if (streq(slot_description, reader))
        return true;
    if (strlen(reader) <= TK_SLOT_DESCRIPTION_MAX)
        return false;
    size_t len = strlen(slot_description), n = TK_SLOT_DESCRIPTION_MAX - 3;
    if (len == TK_SLOT_DESCRIPTION_MAX && streq(slot_description + n, "..."))
        return strncmp(slot_description, reader, n) == 0;
    n = TK_SLOT_DESCRIPTION_MAX;
    while (n > 0 && reader[n - 1] == ' ')
        n--;
    return len == n && strncmp(slot_description, reader, n) == 0;
}
