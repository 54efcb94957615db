/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>

#include "pcsc-error.h"

typedef struct PcscErrorMap {
    LONG rv;
    int err;
    const char *name;
    const char *message;
} PcscErrorMap;

static const PcscErrorMap pcsc_error_map[] = {
    {SCARD_E_NO_SERVICE, -ECONNREFUSED, TK_ERROR_FAILED,
     "The PC/SC service (pcscd) is not running"},
    {SCARD_E_SERVICE_STOPPED, -ECONNRESET, TK_ERROR_FAILED,
     "The PC/SC service (pcscd) stopped; try again once it is back"},
    {SCARD_E_NO_READERS_AVAILABLE, -ENXIO, TK_ERROR_TOKEN_NOT_FOUND,
     "No smart-card reader is connected"},
    {SCARD_E_UNKNOWN_READER, -ENXIO, TK_ERROR_TOKEN_NOT_FOUND,
     "The reader is not known to the PC/SC service; was it unplugged?"},
    {SCARD_E_READER_UNAVAILABLE, -ENXIO, TK_ERROR_TOKEN_NOT_FOUND,
     "The reader is not available; was it unplugged?"},
    {SCARD_W_REMOVED_CARD, -ENODEV, TK_ERROR_TOKEN_REMOVED,
     "The token was removed from the reader"},
    {SCARD_E_NO_SMARTCARD, -ENODEV, TK_ERROR_TOKEN_REMOVED, "There is no token in the reader"},
    {SCARD_W_RESET_CARD, -EAGAIN, TK_ERROR_FAILED,
     "The token was reset by another program; try again"},
    {SCARD_W_UNPOWERED_CARD, -EIO, TK_ERROR_FAILED, "The token is not powered; reinsert it"},
    {SCARD_W_UNRESPONSIVE_CARD, -EIO, TK_ERROR_FAILED,
     "The token does not answer; reinsert it or try another reader"},
    {SCARD_W_UNSUPPORTED_CARD, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "The reader cannot talk to this token"},
    {SCARD_E_CARD_UNSUPPORTED, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "The reader cannot talk to this token"},
    {SCARD_E_SHARING_VIOLATION, -EBUSY, TK_ERROR_FAILED,
     "Another program holds the token exclusively; try again when it is done"},
    {SCARD_E_TIMEOUT, -ETIMEDOUT, TK_ERROR_FAILED, "The PC/SC service did not answer in time"},
    {SCARD_E_CANCELLED, -ECANCELED, TK_ERROR_FAILED, "The operation was cancelled"},
    {SCARD_E_INVALID_HANDLE, -EBADF, TK_ERROR_FAILED,
     "The PC/SC connection is no longer valid; was pcscd restarted?"},
    {SCARD_E_INVALID_PARAMETER, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
     "Invalid parameter in a PC/SC call"},
    {SCARD_E_INVALID_VALUE, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "Invalid value in a PC/SC call"},
    {SCARD_E_INSUFFICIENT_BUFFER, -ENOBUFS, TK_ERROR_FAILED,
     "The PC/SC answer did not fit the buffer"},
    {SCARD_E_NO_MEMORY, -ENOMEM, TK_ERROR_FAILED, "Out of memory"},
    {SCARD_E_NOT_TRANSACTED, -EIO, TK_ERROR_FAILED,
     "The command did not reach the token; reinsert it and try again"},
    {SCARD_E_PROTO_MISMATCH, -EPROTO, TK_ERROR_UNSUPPORTED,
     "The token does not speak the requested protocol"},
    {SCARD_F_COMM_ERROR, -ECOMM, TK_ERROR_FAILED, "Communication with the PC/SC service failed"},
    {SCARD_E_UNSUPPORTED_FEATURE, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
     "The reader does not support this operation"},
    {SCARD_W_WRONG_CHV, -ENOLCK, TK_ERROR_PIN_INCORRECT, "The PIN is incorrect"},
    {SCARD_W_CHV_BLOCKED, -EPERM, TK_ERROR_PIN_LOCKED, "The PIN is locked"},
};

static const PcscErrorMap *pcsc_error_lookup(LONG rv)
{
    FOREACH_ARRAY (m, pcsc_error_map, ELEMENTSOF(pcsc_error_map))
        if (m->rv == rv)
            return m;
    return NULL;
}

int tk_pcsc_error_to_errno(LONG rv)
{
    if (rv == SCARD_S_SUCCESS)
        return 0;
    const PcscErrorMap *m = pcsc_error_lookup(rv);
    return m ? m->err : -EIO;
}

const char *tk_pcsc_error_to_name(LONG rv)
{
    if (rv == SCARD_S_SUCCESS)
        return NULL;
    const PcscErrorMap *m = pcsc_error_lookup(rv);
    return m ? m->name : TK_ERROR_FAILED;
}

int tk_pcsc_error_set(TkError *error, LONG rv, const char *what)
{
    if (rv == SCARD_S_SUCCESS)
        return 0;
    const PcscErrorMap *m = pcsc_error_lookup(rv);
    if (!m)
        return tk_error_set(error, -EIO, TK_ERROR_FAILED, "PC/SC error while %s: %s (0x%08lX)",
                            what, pcsc_stringify_error(rv), (unsigned long)rv);
    return tk_error_set(error, m->err, m->name, "%s (while %s)", m->message, what);
}

bool tk_pcsc_error_is_service_gone(LONG rv)
{
    return rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED ||
           rv == SCARD_E_INVALID_HANDLE || rv == SCARD_F_COMM_ERROR;
}
