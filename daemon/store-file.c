/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The retry ledger as one file in the state directory (libtoken/retry-ledger.h): the default,
 * for one station, which only this tokend writes. */
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

typedef struct FileStore {
    Store store;
    char *dir;
} FileStore;

static int file_ledger_get(Store *s, const char *serial, TkLedgerCount *ret)
{
    return tk_ledger_get(((FileStore *)s)->dir, serial, ret);
}

static int file_ledger_record(Store *s, const char *serial, TkLedgerOutcome outcome)
{
    return tk_ledger_record(((FileStore *)s)->dir, serial, outcome);
}

static int file_ledger_check(Store *s, TkError *error)
{
    return tk_ledger_check(((FileStore *)s)->dir, error);
}

static void file_free(Store *s)
{
    FileStore *f = (FileStore *)s;
    free(f->dir);
    free(s->ledger_name);
    free(f);
}

static const StoreOps file_ops = {
    .ledger_get = file_ledger_get,
    .ledger_record = file_ledger_record,
    .ledger_check = file_ledger_check,
    .free = file_free,
};

int store_file_open(const char *state_dir, Store **ret, TkError *error)
{
    FileStore *f = calloc(1, sizeof(FileStore));
    if (!f)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    f->store.ops = &file_ops;
    f->dir = strdup(state_dir);
    if (!f->dir || asprintf(&f->store.ledger_name, "%s/%s", state_dir, TK_LEDGER_FILE) < 0) {
        f->store.ledger_name = NULL;
        file_free(&f->store);
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    }
    *ret = &f->store;
    return 0;
}
