/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcsc-error.h"
#include "pcsc-readers.h"
#include "text-escape.h"

void tk_reader_info_array_free(TkReaderInfo *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        free(r[i].name);
    free(r);
}

static void pcsc_context_releasep(SCARDCONTEXT *ctx)
{
    if (*ctx)
        (void)SCardReleaseContext(*ctx);
}

int tk_pcsc_list_readers(TkReaderInfo **ret, size_t *ret_n, TkError *error)
{
    _cleanup_(pcsc_context_releasep) SCARDCONTEXT ctx = 0;
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS) {
        ctx = 0;
        return tk_pcsc_error_set(error, rv, "connecting to the PC/SC service");
    }

    /* The list can change between the size query and the read: retry on a short buffer. */
    _cleanup_free_ char *names = NULL;
    DWORD len = 0;
    for (unsigned attempt = 0;; attempt++) {
        rv = SCardListReaders(ctx, NULL, NULL, &len);
        if (rv == SCARD_E_NO_READERS_AVAILABLE) {
            *ret = NULL;
            *ret_n = 0;
            return 0;
        }
        if (rv != SCARD_S_SUCCESS)
            return tk_pcsc_error_set(error, rv, "listing readers");
        free(names);
        names = malloc(len);
        if (!names)
            return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
        rv = SCardListReaders(ctx, NULL, names, &len);
        if (rv == SCARD_E_INSUFFICIENT_BUFFER && attempt < 3)
            continue;
        if (rv == SCARD_E_NO_READERS_AVAILABLE) {
            *ret = NULL;
            *ret_n = 0;
            return 0;
        }
        if (rv != SCARD_S_SUCCESS)
            return tk_pcsc_error_set(error, rv, "listing readers");
        break;
    }

    size_t n = 0;
    for (const char *p = names; p < names + len && *p; p += strlen(p) + 1)
        n++;
    if (n == 0) {
        *ret = NULL;
        *ret_n = 0;
        return 0;
    }

    _cleanup_free_ SCARD_READERSTATE *states = calloc(n, sizeof(SCARD_READERSTATE));
    TkReaderInfo *infos = calloc(n, sizeof(TkReaderInfo));
    if (!states || !infos) {
        free(infos);
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    }

    /* pcscd is asked by the names it gave; callers get them escaped, as a reader name is
     * text from a driver and goes onto the bus, and as OpenSC's slot description of the same
     * reader is escaped too (tk_module_list_tokens()), so the two still compare equal. */
    size_t i = 0;
    for (const char *p = names; i < n; p += strlen(p) + 1, i++) {
        if (tk_utf8_escape(p, strlen(p), &infos[i].name) < 0) {
            tk_reader_info_array_free(infos, n);
            return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
        }
        states[i].szReader = p;
        states[i].dwCurrentState = SCARD_STATE_UNAWARE;
    }

    /* With every state UNAWARE the call returns at once with the current state. */
    rv = SCardGetStatusChange(ctx, 0, states, (DWORD)n);
    if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
        tk_reader_info_array_free(infos, n);
        return tk_pcsc_error_set(error, rv, "reading reader states");
    }

    for (i = 0; i < n; i++) {
        infos[i].card_present = (states[i].dwEventState & SCARD_STATE_PRESENT) &&
                                !(states[i].dwEventState & SCARD_STATE_MUTE);
        if (infos[i].card_present) {
            size_t l = states[i].cbAtr;
            if (l > TK_ATR_MAX)
                l = TK_ATR_MAX;
            memcpy(infos[i].atr, states[i].rgbAtr, l);
            infos[i].atr_len = l;
        }
    }

    *ret = infos;
    *ret_n = n;
    return 0;
}
