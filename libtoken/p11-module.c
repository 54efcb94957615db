/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "p11-error.h"
#include "p11-internal.h"
#include "text-escape.h"

char *tk_p11_string(const unsigned char *s, size_t len)
{
    /* Modules that pad with NULs rather than blanks exist; the field ends at the first NUL, as
     * libp11 reads it too, so a serial compares equal whichever of the two it came from. */
    len = strnlen((const char *)s, len);
    while (len > 0 && s[len - 1] == ' ')
        len--;
    char *escaped;
    return tk_utf8_escape((const char *)s, len, &escaped) < 0 ? NULL : escaped;
}

char *tk_p11_libp11_string(const char *s)
{
    return tk_p11_string((const unsigned char *)strempty(s), strlen(strempty(s)));
}

int tk_module_load(const char *path, TkModule **ret, TkError *error)
{
    if (isempty(path) || !ret)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "No PKCS#11 module path given.");

    /* A module that is not there says so here, once: libp11 would print the loader's message
     * to standard error on every attempt (a scanner polls every few seconds). */
    if (access(path, R_OK) < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED,
                            "Cannot read the PKCS#11 module %s: %s. Check the Module= setting in "
                            "tokend.conf.",
                            path, strerror(errno));

    TkModule *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    _cleanup_(tk_module_freep) TkModule *owned = m;

    m->path = strdup(path);
    m->ctx = PKCS11_CTX_new();
    if (!m->path || !m->ctx)
        return -ENOMEM;

    /* libp11 dlopen()s the module first: the second dlopen() maps the same object, so the
     * function list belongs to the module instance libp11 initialised. */
    if (PKCS11_CTX_load(m->ctx, path) < 0 || !(m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        (void)tk_p11_last_ckr();
        return tk_error_set(error, -ENOENT, TK_ERROR_FAILED,
                            "Could not load the PKCS#11 module %s. Check that the file exists and "
                            "is a PKCS#11 module (the Module= setting in tokend.conf).",
                            path);
    }
    CK_C_GetFunctionList get_function_list =
        (CK_C_GetFunctionList)(uintptr_t)dlsym(m->dl, "C_GetFunctionList");
    if (!get_function_list || get_function_list(&m->fl) != CKR_OK || !m->fl)
        return tk_error_set(error, -ENOEXEC, TK_ERROR_FAILED,
                            "%s has no usable C_GetFunctionList. Check the Module= setting.", path);

    CK_INFO info;
    if (m->fl->C_GetInfo(&info) == CKR_OK)
        m->manufacturer = tk_p11_string(info.manufacturerID, sizeof(info.manufacturerID));

    int r = tk_module_refresh(m, error);
    if (r < 0)
        return r;

    *ret = TAKE_PTR(owned);
    return 0;
}

TkModule *tk_module_free(TkModule *m)
{
    if (!m)
        return NULL;
    if (m->ctx) {
        if (m->slots)
            PKCS11_release_all_slots(m->ctx, m->slots, m->n_slots);
        /* libp11 0.4.12 crashes unloading a context whose module never loaded. */
        if (m->fl)
            PKCS11_CTX_unload(m->ctx);
        PKCS11_CTX_free(m->ctx);
    }
    if (m->dl)
        dlclose(m->dl);
    free(m->manufacturer);
    free(m->path);
    free(m);
    return NULL;
}

const char *tk_module_path(const TkModule *m)
{
    return m->path;
}

const char *tk_module_manufacturer(const TkModule *m)
{
    return m->manufacturer ? m->manufacturer : "";
}

int tk_module_refresh(TkModule *m, TkError *error)
{
    if (m->slots)
        PKCS11_release_all_slots(m->ctx, m->slots, m->n_slots);
    m->slots = NULL;
    m->n_slots = 0;
    m->generation++;
    if (PKCS11_enumerate_slots(m->ctx, &m->slots, &m->n_slots) < 0) {
        m->slots = NULL;
        m->n_slots = 0;
        return tk_error_from_libp11(error, "list the module's slots");
    }
    return 0;
}

static TkPinState pin_state(CK_FLAGS f, CK_FLAGS locked, CK_FLAGS final_try, CK_FLAGS count_low,
                            CK_FLAGS to_be_changed)
{
    return (f & locked)          ? TK_PIN_LOCKED
           : (f & final_try)     ? TK_PIN_FINAL_TRY
           : (f & count_low)     ? TK_PIN_COUNT_LOW
           : (f & to_be_changed) ? TK_PIN_TO_BE_CHANGED
                                 : TK_PIN_OK;
}

/* The flags give an exact count only at the two ends. */
static void retries_from_state(TkPinState state, int *ret_retries, TkRetriesSource *ret_source)
{
    *ret_retries = state == TK_PIN_LOCKED ? 0 : state == TK_PIN_FINAL_TRY ? 1 : -1;
    *ret_source = *ret_retries >= 0 ? TK_RETRIES_FLAGS : TK_RETRIES_UNKNOWN;
}

/* Token info straight from C_GetTokenInfo: libp11's copy is only as fresh as its slot list. */
static int fill_info(TkModule *m, PKCS11_SLOT *slot, TkTokenInfo *ret, TkError *error)
{
    unsigned long slot_id = PKCS11_get_slotid_from_slot(slot);
    CK_TOKEN_INFO ti;
    CK_RV rv = m->fl->C_GetTokenInfo(slot_id, &ti);
    if (rv != CKR_OK)
        return tk_error_from_ckr(error, rv, "read the token's information");

    TkTokenInfo info = {
        .slot_id = slot_id,
        .initialized = ti.flags & CKF_TOKEN_INITIALIZED,
        .user_pin_initialized = ti.flags & CKF_USER_PIN_INITIALIZED,
        .protected_authentication_path = ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH,
        .read_only = ti.flags & CKF_WRITE_PROTECTED,
        .user_pin_state = pin_state(ti.flags, CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY,
                                    CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_TO_BE_CHANGED),
        .so_pin_state = pin_state(ti.flags, CKF_SO_PIN_LOCKED, CKF_SO_PIN_FINAL_TRY,
                                  CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_TO_BE_CHANGED),
        .min_pin_length = ti.ulMinPinLen,
        .max_pin_length = ti.ulMaxPinLen,
        /* PKCS#11 knows no PUK; tk_token_info_apply_retries() fills these where there is one. */
        .puk_retries = -1,
        .puk_retries_source = TK_RETRIES_UNKNOWN,
    };
    retries_from_state(info.user_pin_state, &info.user_pin_retries, &info.user_pin_retries_source);
    retries_from_state(info.so_pin_state, &info.so_pin_retries, &info.so_pin_retries_source);

    info.serial = tk_p11_string(ti.serialNumber, sizeof(ti.serialNumber));
    info.label = tk_p11_string(ti.label, sizeof(ti.label));
    info.manufacturer = tk_p11_string(ti.manufacturerID, sizeof(ti.manufacturerID));
    info.model = tk_p11_string(ti.model, sizeof(ti.model));
    info.slot_description = tk_p11_libp11_string(slot->description);
    if (!info.serial || !info.label || !info.manufacturer || !info.model ||
        !info.slot_description) {
        tk_token_info_done(&info);
        return -ENOMEM;
    }
    *ret = info;
    return 0;
}

int tk_module_list_tokens(TkModule *m, TkTokenInfo **ret, size_t *ret_n, TkError *error)
{
    int r = tk_module_refresh(m, error);
    if (r < 0)
        return r;

    TkTokenInfo *infos = calloc(m->n_slots ? m->n_slots : 1, sizeof(TkTokenInfo));
    if (!infos)
        return -ENOMEM;
    size_t n = 0;
    for (unsigned i = 0; i < m->n_slots; i++) {
        if (!m->slots[i].token)
            continue;
        r = fill_info(m, &m->slots[i], &infos[n], error);
        if (r == -ENODEV)
            continue; /* removed while we looked */
        if (r < 0) {
            tk_token_info_array_free(infos, n);
            return r;
        }
        n++;
    }
    *ret = infos;
    *ret_n = n;
    return 0;
}

void tk_token_info_done(TkTokenInfo *info)
{
    if (!info)
        return;
    free(info->serial);
    free(info->label);
    free(info->manufacturer);
    free(info->model);
    free(info->slot_description);
    memset(info, 0, sizeof(*info));
}

void tk_token_info_array_free(TkTokenInfo *infos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tk_token_info_done(&infos[i]);
    free(infos);
}

/* The slot by slot id, or by serial as tk_module_list_tokens() reports it (escaped). -ENXIO
 * when none matches. */
static int find_slot(TkModule *m, const char *serial, unsigned long slot_id, bool by_id,
                     PKCS11_SLOT **ret)
{
    for (unsigned i = 0; i < m->n_slots; i++) {
        PKCS11_SLOT *s = &m->slots[i];
        if (!s->token)
            continue;
        if (by_id) {
            if (PKCS11_get_slotid_from_slot(s) != slot_id)
                continue;
        } else {
            _cleanup_free_ char *escaped = tk_p11_libp11_string(s->token->serialnr);
            if (!escaped)
                return -ENOMEM;
            if (!streq(escaped, serial))
                continue;
        }
        *ret = s;
        return 0;
    }
    return -ENXIO;
}

static int token_new(TkModule *m, PKCS11_SLOT *slot, TkToken **ret)
{
    TkToken *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->module = m;
    t->slot = slot;
    t->generation = m->generation;
    t->slot_id = PKCS11_get_slotid_from_slot(slot);
    t->serial = tk_p11_libp11_string(slot->token->serialnr);
    if (!t->serial) {
        free(t);
        return -ENOMEM;
    }
    *ret = t;
    return 0;
}

int tk_token_open(TkModule *m, const char *serial, TkToken **ret, TkError *error)
{
    if (isempty(serial))
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "No token serial number given.");
    int r = tk_module_refresh(m, error);
    if (r < 0)
        return r;
    PKCS11_SLOT *slot;
    r = find_slot(m, serial, 0, false, &slot);
    if (r == -ENXIO)
        return tk_error_set(error, -ENXIO, TK_ERROR_TOKEN_NOT_FOUND,
                            "No token with serial number %s is present. Check that it is "
                            "inserted, and list the present tokens.",
                            serial);
    if (r < 0)
        return r;
    return token_new(m, slot, ret);
}

int tk_token_open_slot(TkModule *m, unsigned long slot_id, TkToken **ret, TkError *error)
{
    int r = tk_module_refresh(m, error);
    if (r < 0)
        return r;
    PKCS11_SLOT *slot;
    if (find_slot(m, NULL, slot_id, true, &slot) < 0)
        return tk_error_set(error, -ENXIO, TK_ERROR_TOKEN_NOT_FOUND,
                            "No token is present in slot %lu. Check that it is inserted.", slot_id);
    return token_new(m, slot, ret);
}

TkToken *tk_token_free(TkToken *t)
{
    if (!t)
        return NULL;
    tk_token_logout(t);
    free(t->serial);
    free(t);
    return NULL;
}

/* Whether the token in the slot still has this serial, asked of the module directly. */
static bool token_still_there(TkToken *t)
{
    CK_TOKEN_INFO ti;
    if (t->generation != t->module->generation ||
        t->module->fl->C_GetTokenInfo(t->slot_id, &ti) != CKR_OK)
        return false;
    _cleanup_free_ char *serial = tk_p11_string(ti.serialNumber, sizeof(ti.serialNumber));
    return serial && streq(serial, t->serial);
}

int tk_token_slot(TkToken *t, PKCS11_SLOT **ret_slot, TkError *error)
{
    if (!token_still_there(t)) {
        int r = tk_module_refresh(t->module, error);
        if (r < 0)
            return r;
        /* A token without a serial (an uninitialised SoftHSM2 slot) is kept by its slot. */
        PKCS11_SLOT *slot;
        r = isempty(t->serial) ? find_slot(t->module, NULL, t->slot_id, true, &slot)
                               : find_slot(t->module, t->serial, 0, false, &slot);
        if (r == -ENXIO)
            return tk_error_set(error, -ENODEV, TK_ERROR_TOKEN_REMOVED,
                                "The token %s was removed. Insert it again and repeat.", t->serial);
        if (r < 0)
            return r;
        t->slot = slot;
        t->generation = t->module->generation;
        t->slot_id = PKCS11_get_slotid_from_slot(slot);
    }
    *ret_slot = t->slot;
    return 0;
}

int tk_token_get_info(TkToken *t, TkTokenInfo *ret, TkError *error)
{
    PKCS11_SLOT *slot;
    int r = tk_token_slot(t, &slot, error);
    if (r < 0)
        return r;
    return fill_info(t->module, slot, ret, error);
}

int tk_token_open_session(TkToken *t, bool rw, CK_SESSION_HANDLE *ret, TkError *error)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = t->module->fl->C_OpenSession(t->slot_id, flags, NULL, NULL, ret);
    if (rv != CKR_OK)
        return tk_error_from_ckr(error, rv, "open a session on the token");
    return 0;
}

static bool token_gone(TkToken *t)
{
    /* pcscd notices a pulled card on its next poll of the reader (about 400 ms): ask for a
     * little longer than that before calling a failure anything else. */
    for (int i = 0; i < 8; i++) {
        CK_SLOT_INFO si;
        CK_RV rv = t->module->fl->C_GetSlotInfo(t->slot_id, &si);
        if (rv == CKR_SLOT_ID_INVALID || rv == CKR_DEVICE_REMOVED)
            return true;
        if (rv == CKR_OK && !(si.flags & CKF_TOKEN_PRESENT))
            return true;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int tk_token_error_from_ckr(TkToken *t, TkError *error, unsigned long rv, const char *what)
{
    int r = tk_error_from_ckr(error, rv, what);
    /* Modules report a card pulled mid-command as whatever the failing APDU left behind,
     * often a general error; the slot tells what really happened. */
    if ((rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED || rv == CKR_DEVICE_ERROR) &&
        token_gone(t))
        return tk_error_set(error, -ENODEV, TK_ERROR_TOKEN_REMOVED,
                            "The token was removed while trying to %s. Insert it again, check "
                            "what is on it, and repeat.",
                            what);
    return r;
}

int tk_token_error_from_libp11(TkToken *t, TkError *error, const char *what)
{
    return tk_token_error_from_ckr(t, error, tk_p11_last_ckr(), what);
}
