/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A card with a PUK initialised with OpenSC's pkcs15-init between an unload and a reload of
 * the PKCS#11 module, and found again by its reader. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "card-init.h"
#include "myeid-erase.h"
#include "pkcs15-personalise.h"

/* Finds the token in reader after the module was loaded afresh, and opens it. */
static int reopen_by_reader(const char *module_path, TkModule **module, TkToken **token,
                            char **serial, const char *reader, TkError *e)
{
    TkTokenInfo *infos = NULL;
    size_t n = 0;
    int r = tk_module_load(module_path, module, e);
    if (r < 0)
        return r;
    r = tk_module_list_tokens(*module, &infos, &n, e);
    if (r < 0)
        return r;
    r = tk_error_set(e, -ENODEV, TK_ERROR_TOKEN_REMOVED,
                     "The card left reader %s while it was initialised. Insert it and repeat "
                     "the initialisation.",
                     reader);
    for (size_t i = 0; i < n && r < 0; i++) {
        if (!streq(infos[i].slot_description, reader))
            continue;
        char *s = strdup(infos[i].serial);
        if (!s) {
            r = -ENOMEM;
            break;
        }
        free(*serial);
        *serial = s;
        *e = (TkError){};
        r = tk_token_open(*module, *serial, token, e);
    }
    tk_token_info_array_free(infos, n);
    return r;
}

int tk_card_initialize(const char *module_path, TkModule **module, TkToken **token, char **serial,
                       const TkSecret *so_pin, const char *label, const TkSecret *new_pin,
                       TkError *error)
{
    TkTokenInfo info = {};
    if (!new_pin)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "A smart card gets its user PIN, and the PUK that unblocks it, when "
                            "it is initialised: give the new user PIN (option \"new-pin\").");
    int r = tk_token_get_info(*token, &info, error);
    if (r < 0)
        return r;
    _cleanup_free_ char *reader = strdup(info.slot_description);
    bool initialized = info.initialized;
    tk_token_info_done(&info);
    if (!reader)
        return -ENOMEM;
    /* The SO PIN is checked here, where a wrong one gives a proper PinIncorrect with the tries
     * left, before anything is erased. */
    if (initialized) {
        r = tk_token_check_pin(*token, TK_SO, so_pin, error);
        if (r < 0)
            return r;
    }
    /* OpenSC in this process lets go of the card, and forgets what it knew of it. */
    *token = tk_token_free(*token);
    *module = tk_module_free(*module);
    /* pkcs15-init's erase of a personalised card reads the SO PIN from a terminal: a MyEID is
     * erased here with it instead, and pkcs15-init then finds a card in its creation state. */
    r = tk_myeid_erase(reader, so_pin, error);
    if (r == -EOPNOTSUPP) {
        *error = (TkError){};
        r = 0;
    }
    if (r >= 0)
        r = tk_pkcs15_personalise(reader, label, so_pin, new_pin, error);
    TkError reopen_error = {};
    int k = reopen_by_reader(module_path, module, token, serial, reader, &reopen_error);
    if (r >= 0 && k < 0) {
        *error = reopen_error;
        r = k;
    }
    return r;
}
