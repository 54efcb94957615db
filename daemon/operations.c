/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "macro.h"
#include "operations.h"
#include "token-error.h"

/* Limits are what a token can use, with room: PKCS#11 PINs are short, CKA_ID and labels are a
 * few dozen bytes, a certificate a few KiB, a CA chain a handful of certificates. Anything
 * beyond is refused while the options are read, before polkit is asked. */
static const OptionSpec option_specs[_OPTION_MAX] = {
    [OPTION_PIN] = {"pin", OPTION_KIND_SECRET, "ay", 1, 64, 0},
    [OPTION_NEW_PIN] = {"new-pin", OPTION_KIND_SECRET, "ay", 1, 64, 0},
    [OPTION_SO_PIN] = {"so-pin", OPTION_KIND_SECRET, "ay", 1, 64, 0},
    [OPTION_LABEL] = {"label", OPTION_KIND_TEXT, "s", 1, 64, 0},
    [OPTION_ID] = {"id", OPTION_KIND_BYTES, "ay", 1, 64, 0},
    [OPTION_EMAIL] = {"email", OPTION_KIND_TEXTS, "as", 3, 254, 8},
    [OPTION_DNS] = {"dns", OPTION_KIND_TEXTS, "as", 1, 253, 32},
    [OPTION_REQUEST] = {"request", OPTION_KIND_TEXT, "s", 1, 64, 0},
    [OPTION_FORCE] = {"force", OPTION_KIND_BOOLEAN, "b", 0, 0, 0},
    [OPTION_CHAIN] = {"chain", OPTION_KIND_BLOBS, "aay", 1, 64 * 1024, 8},
    [OPTION_DRY_RUN] = {"dry-run", OPTION_KIND_BOOLEAN, "b", 0, 0, 0},
};

const OptionSpec *option_spec(OptionId id)
{
    return id >= 0 && id < _OPTION_MAX ? &option_specs[id] : NULL;
}

const OptionSpec *option_spec_by_name(const char *name, OptionId *ret_id)
{
    for (int i = 0; name && i < _OPTION_MAX; i++)
        if (streq(option_specs[i].name, name)) {
            if (ret_id)
                *ret_id = (OptionId)i;
            return &option_specs[i];
        }
    return NULL;
}

/* Each row's limit is what the slowest token in use takes for it, with room. PIN acts and
 * listing are a few card commands: 60 s. A request is one signature (seconds for RSA-4096 on a
 * card), a deletion a few objects: 120 s. An import writes up to 9 certificates of up to 64 KiB
 * to a card that writes a few KiB a second: 300 s. Key generation is RSA-4096 on the card,
 * which older cards take minutes over (the row's limit covers every key type: one figure per
 * row), and initialisation erases and personalises the whole card: 600 s, the limit every call
 * had before the table had one. */
/* clang-format off */
const Operation operations[] = {
    {
        .member = "ListObjects", .name = "list-objects",
        .signature = "a{sv}", .result = "aa{sv}",
        .options = OPTIONS_ALWAYS,
        .what = "list a token's objects",
        .reads = true,
        .timeout_sec = 60,
    },
    {
        .member = "ListObjects", .variant = "login", .name = "list-objects",
        .signature = "a{sv}", .result = "aa{sv}",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN), .required = OPT(OPTION_PIN),
        .action = "org.tokend.login",
        .message_id = "5676aef5dfff42b5a16791f6a02dfee9",
        .what = "present a token's PIN", .verb = "PIN presentation",
        .reads = true, .presents = SECRET_USER_PIN,
        .timeout_sec = 60,
    },
    {
        .member = "GenerateKeyPair", .name = "generate-key",
        .signature = "sa{sv}", .result = "ays",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN) | OPT(OPTION_LABEL) | OPT(OPTION_ID) | OPT(OPTION_FORCE),
        .action = "org.tokend.generate-key",
        .message_id = "bfee0245518d4924bb4e698c7312cd2b",
        .what = "generate keys on tokens", .verb = "key generation",
        .changes_token = true, .presents = SECRET_USER_PIN,
        .timeout_sec = 600,
    },
    {
        .member = "CreateRequest", .name = "create-request",
        .signature = "aysa{sv}", .result = "s",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN) | OPT(OPTION_EMAIL) | OPT(OPTION_DNS),
        .action = "org.tokend.generate-key",
        .message_id = "b5e7f42e69044626a1b8da25e0de7dc3",
        .what = "create certificate requests", .verb = "certificate request",
        .reads = true, .presents = SECRET_USER_PIN,
        .timeout_sec = 120,
    },
    {
        .member = "ImportCertificate", .name = "import-certificate",
        .signature = "aya{sv}", .result = "ay",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN) | OPT(OPTION_CHAIN) | OPT(OPTION_FORCE),
        .action = "org.tokend.import-certificate",
        .message_id = "d2680dc7db9c4469adb9f94ab89bd573",
        .what = "import certificates", .verb = "certificate import",
        .changes_token = true, .presents = SECRET_USER_PIN,
        .timeout_sec = 300,
    },
    {
        .member = "ChangePin", .variant = "user", .name = "change-pin",
        .signature = "sa{sv}", .result = "",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN) | OPT(OPTION_NEW_PIN) | OPT(OPTION_FORCE),
        .required = OPT(OPTION_PIN) | OPT(OPTION_NEW_PIN),
        .action = "org.tokend.change-pin",
        .message_id = "8cca01deed014dc3a1908e05cdd3213b",
        .what = "change PINs", .verb = "PIN change",
        .changes_token = true, .presents = SECRET_USER_PIN,
        .timeout_sec = 60,
    },
    {
        .member = "ChangePin", .variant = "so", .name = "change-so-pin",
        .signature = "sa{sv}", .result = "",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN) | OPT(OPTION_NEW_PIN) | OPT(OPTION_FORCE),
        .required = OPT(OPTION_PIN) | OPT(OPTION_NEW_PIN),
        .action = "org.tokend.change-so-pin",
        .message_id = "a26dd33e7d304980bd264eb2b7f5c7c2",
        .what = "change SO PINs", .verb = "SO PIN change",
        .changes_token = true, .presents = SECRET_SO_PIN,
        .timeout_sec = 60,
    },
    {
        .member = "UnblockPin", .name = "unblock-pin",
        .signature = "a{sv}", .result = "",
        .options = OPTIONS_ALWAYS | OPT(OPTION_SO_PIN) | OPT(OPTION_NEW_PIN) | OPT(OPTION_REQUEST) |
                   OPT(OPTION_FORCE),
        .required = OPT(OPTION_SO_PIN) | OPT(OPTION_NEW_PIN),
        .action = "org.tokend.unblock-pin",
        .message_id = "4e5da7636a214470b985c28241570f8f",
        .what = "unblock PINs", .verb = "PIN unblock",
        .changes_token = true, .presents = SECRET_SO_PIN, .so_pin_derived = true,
        .ledger = LEDGER_JUDGED,
        .timeout_sec = 60,
    },
    {
        .member = "Initialize", .name = "initialize",
        .signature = "sa{sv}", .result = "",
        .options = OPTIONS_ALWAYS | OPT(OPTION_SO_PIN) | OPT(OPTION_NEW_PIN) | OPT(OPTION_FORCE),
        .required = OPT(OPTION_SO_PIN),
        .action = "org.tokend.initialize",
        .message_id = "b6adccc15dbe4d1c86e47ba00614c140",
        .what = "initialise tokens", .verb = "token initialisation",
        .changes_token = true, .presents = SECRET_SO_PIN, .so_pin_derived = true,
        .ledger = LEDGER_RESET,
        .timeout_sec = 600,
    },
    {
        .member = "DeleteObject", .name = "delete-object",
        .signature = "saya{sv}", .result = "",
        .options = OPTIONS_ALWAYS | OPT(OPTION_PIN) | OPT(OPTION_FORCE),
        .action = "org.tokend.delete-object",
        .message_id = "49d3e48a74e64fb8a883094874e12fda",
        .what = "delete keys and certificates", .verb = "object deletion",
        .changes_token = true, .presents = SECRET_USER_PIN,
        .timeout_sec = 120,
    },
};
/* clang-format on */

const size_t n_operations = ELEMENTSOF(operations);

const Operation *operation_find(const char *member, const char *variant)
{
    for (size_t i = 0; member && i < n_operations; i++)
        if (streq(operations[i].member, member) && streq_ptr(operations[i].variant, variant))
            return &operations[i];
    return NULL;
}

const Operation *operation_find_member(const char *member)
{
    for (size_t i = 0; member && i < n_operations; i++)
        if (streq(operations[i].member, member))
            return &operations[i];
    return NULL;
}

uint64_t operation_timeout_usec(const Operation *op, uint64_t ceiling_usec)
{
    uint64_t usec = (uint64_t)op->timeout_sec * 1000000u;
    return ceiling_usec > 0 && ceiling_usec < usec ? ceiling_usec : usec;
}

uint64_t operation_member_timeout_usec(const char *member, uint64_t ceiling_usec)
{
    uint64_t usec = 0;
    for (size_t i = 0; member && i < n_operations; i++)
        if (streq(operations[i].member, member)) {
            uint64_t u = operation_timeout_usec(&operations[i], ceiling_usec);
            if (u > usec)
                usec = u;
        }
    return usec;
}

const Operation *operation_find_recorded(const char *name)
{
    for (size_t i = 0; name && i < n_operations; i++)
        if (operations[i].message_id && streq(operations[i].name, name))
            return &operations[i];
    return NULL;
}

bool operation_ledger_outcome(const Operation *op, const char *error_name, TkLedgerOutcome *ret)
{
    switch (op->ledger) {
    case LEDGER_JUDGED:
        /* Refused before the card was asked (locked, final try, busy, a bad argument): nothing
         * to count. Cut off with the card's answer lost (the token pulled, the worker gone, the
         * time limit): the card may have judged the secret and spent a try, which the guard
         * reckons with (tk_ledger_failures()); a right PUK resets the count. */
        if (!error_name)
            *ret = TK_LEDGER_SUCCESS;
        else if (streq(error_name, TK_ERROR_PIN_INCORRECT))
            *ret = TK_LEDGER_FAILED;
        else if (streq(error_name, TK_ERROR_TOKEN_REMOVED) || streq(error_name, TK_ERROR_TIMEOUT) ||
                 streq(error_name, TK_ERROR_FAILED))
            *ret = TK_LEDGER_UNKNOWN;
        else
            return false;
        return true;
    case LEDGER_RESET:
        if (error_name)
            return false;
        *ret = TK_LEDGER_SUCCESS;
        return true;
    case LEDGER_NONE:
    default:
        return false;
    }
}
