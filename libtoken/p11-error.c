/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include <libp11.h>
#include <openssl/err.h>
#include <p11-kit/pkcs11.h>

#include "p11-error.h"

typedef struct CkrMapping {
    unsigned long rv;
    const char *symbol;
    int err;
    const char *name;
    const char *advice;
} CkrMapping;

static const CkrMapping ckr_table[] = {
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", ENOLCK, TK_ERROR_PIN_INCORRECT,
     "the PIN is incorrect. Check it and try again"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", EPERM, TK_ERROR_PIN_LOCKED,
     "the PIN is locked. Have it unblocked at the helpdesk"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", EKEYREJECTED, TK_ERROR_PIN_POLICY,
     "the token refused the new PIN's characters. Choose another PIN"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", EKEYREJECTED, TK_ERROR_PIN_POLICY,
     "the PIN's length is outside what the token accepts. Choose a PIN of the length the token "
     "states"},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", EPERM, TK_ERROR_PIN_LOCKED,
     "the PIN has expired. Change it before using the token"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", ENODEV, TK_ERROR_TOKEN_REMOVED,
     "the token was removed. Insert it again and repeat"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", ENODEV, TK_ERROR_TOKEN_REMOVED,
     "the token was removed. Insert it again and repeat"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", ENODEV, TK_ERROR_TOKEN_REMOVED,
     "the token's session ended, most likely because it was removed. Insert it again and "
     "repeat"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", ENODEV, TK_ERROR_TOKEN_REMOVED,
     "the token's session ended, most likely because it was removed. Insert it again and "
     "repeat"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", ENODEV, TK_ERROR_TOKEN_REMOVED,
     "the token's slot is gone. Insert the token again and repeat"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", EIO, TK_ERROR_FAILED,
     "the token reported a device error. Reinsert it and repeat; if it persists the token may "
     "be faulty"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", ENOSPC, TK_ERROR_FAILED,
     "the token has no room left. Delete objects that are no longer needed"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", ENOMEM, TK_ERROR_FAILED, "out of memory"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", EACCES, TK_ERROR_FAILED,
     "the operation needs a PIN. Give the PIN and repeat"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", EPERM, TK_ERROR_PIN_LOCKED,
     "the token has no user PIN yet. Set one with the SO PIN first"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "the token does not support this kind of login"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", EBUSY, TK_ERROR_FAILED,
     "the token is already logged in by another operation. Repeat in a moment"},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", EBUSY,
     TK_ERROR_FAILED, "another user is logged in to the token. Repeat in a moment"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED", EROFS, TK_ERROR_FAILED,
     "the token is write-protected"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "the token does not support this algorithm. Choose another key type"},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "the token does not support this key size. Choose another key type"},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID", EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "the token does not support this curve. Choose another key type"},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "the token's module does not support this operation"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", EINVAL, TK_ERROR_INVALID_ARGUMENT,
     "the token refused the object's attributes"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", EINVAL, TK_ERROR_INVALID_ARGUMENT,
     "the token refused an attribute value"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", EINVAL, TK_ERROR_INVALID_ARGUMENT,
     "the data is too long for the token"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", EINVAL, TK_ERROR_INVALID_ARGUMENT,
     "the module refused the arguments"},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", EIO, TK_ERROR_FAILED,
     "the module lost track of the operation. Repeat it"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", EIO, TK_ERROR_FAILED,
     "the module is not initialised"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", ENOENT, TK_ERROR_FAILED,
     "the object is gone, perhaps deleted by another program. List the token's objects and "
     "repeat"},
    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", EBUSY, TK_ERROR_FAILED,
     "another program has the token open. Close it and repeat"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", EIO, TK_ERROR_FAILED,
     "the token's module reported a general error. Reinsert the token and repeat"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", EIO, TK_ERROR_FAILED,
     "the token could not carry out the operation. Reinsert it and repeat"},
};

static const CkrMapping *ckr_lookup(unsigned long rv)
{
    for (size_t i = 0; i < ELEMENTSOF(ckr_table); i++)
        if (ckr_table[i].rv == rv)
            return &ckr_table[i];
    return NULL;
}

const char *tk_ckr_to_string(unsigned long rv)
{
    const CkrMapping *m = ckr_lookup(rv);
    return m ? m->symbol : "CKR_UNKNOWN";
}

int tk_error_from_ckr(TkError *error, unsigned long rv, const char *what)
{
    const CkrMapping *m = ckr_lookup(rv);
    if (!m)
        return tk_error_set(error, -EIO, TK_ERROR_FAILED,
                            "Could not %s: the token's module failed with code 0x%08lx. Reinsert "
                            "the token and repeat; if it persists, report the code.",
                            what, rv);
    return tk_error_set(error, -m->err, m->name, "Could not %s: %s (%s).", what, m->advice,
                        m->symbol);
}

unsigned long tk_p11_last_ckr(void)
{
    unsigned long rv = CKR_GENERAL_ERROR;
    int lib = ERR_get_CKR_code();
    unsigned long e;

    /* The first PKCS#11 code in the queue is the one the module returned; later entries are
     * libp11's own follow-ups. */
    while ((e = ERR_get_error()) != 0)
        if (rv == CKR_GENERAL_ERROR && lib != 0 && ERR_GET_LIB(e) == lib)
            rv = ERR_GET_REASON(e);
    return rv;
}

int tk_error_from_libp11(TkError *error, const char *what)
{
    return tk_error_from_ckr(error, tk_p11_last_ckr(), what);
}
