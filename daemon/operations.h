/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "retry-ledger.h"

/* The one table of what tokend's Token methods are: every handler, the worker, authorisation,
 * the audit trail and the tests read it (operations.c). */

/* The options a method may take, as bits of Operation.options. */
typedef enum OptionId {
    OPTION_PIN,
    OPTION_NEW_PIN,
    OPTION_SO_PIN,
    OPTION_LABEL,
    OPTION_ID,
    OPTION_EMAIL,
    OPTION_DNS,
    OPTION_REQUEST,
    OPTION_FORCE,
    OPTION_CHAIN,
    OPTION_DRY_RUN,
    _OPTION_MAX,
} OptionId;

#define OPT(id) (1u << (id))

/* Every method takes dry-run (b): tokend answers after the options are read and polkit has
 * decided, without the token, the site key, the secrets or the audit trail, so that a client
 * learns whether the act is allowed before it asks a person for a PIN. */
#define OPTIONS_ALWAYS OPT(OPTION_DRY_RUN)

typedef enum OptionKind {
    OPTION_KIND_SECRET,  /* ay, UTF-8 without control characters, wiped */
    OPTION_KIND_TEXT,    /* s, printable UTF-8 */
    OPTION_KIND_BYTES,   /* ay */
    OPTION_KIND_TEXTS,   /* as, each printable UTF-8 */
    OPTION_KIND_BOOLEAN, /* b */
    OPTION_KIND_BLOBS,   /* aay */
} OptionKind;

typedef struct OptionSpec {
    const char *name;
    OptionKind kind;
    const char *signature;
    size_t min_len;   /* s: characters, ay: bytes; for as/aay: of each element */
    size_t max_len;   /* likewise */
    size_t max_items; /* as, aay: elements */
} OptionSpec;

const OptionSpec *option_spec(OptionId id);
/* NULL for a name that is no option of any method. */
const OptionSpec *option_spec_by_name(const char *name, OptionId *ret_id);

/* Which secret a call presents to the token. The SO PIN stands for the PUK too, where the
 * token's unblock takes the PUK (OpenSC cards). */
typedef enum Secret {
    SECRET_NONE,
    SECRET_USER_PIN,
    SECRET_SO_PIN,
} Secret;

/* What the outcome of a call tells tokend's retry ledger, its count of failed SO PIN/PUK
 * attempts on tokens whose counter cannot be read. */
typedef enum LedgerEffect {
    LEDGER_NONE,
    /* The call presents the secret the counter counts: done resets the count, a wrong one
     * (PinIncorrect) counts one more failure. */
    LEDGER_JUDGED,
    /* Done, the token starts with fresh counters. A wrong SO PIN here is the SO PIN's own,
     * never the PUK's, so it is not counted. */
    LEDGER_RESET,
} LedgerEffect;

typedef struct Operation {
    const char *member;  /* the method of org.tokend.Tokend1.Token */
    const char *variant; /* NULL; or "login" (ListObjects with a PIN), "user"/"so" (ChangePin) */
    const char *name;    /* in the audit trail, the journal and Progress signals */
    const char *signature;
    const char *result;
    unsigned options;       /* OPT() bits */
    unsigned required;      /* options the worker cannot do without */
    const char *action;     /* polkit action; NULL: open to everyone */
    const char *message_id; /* journal MESSAGE_ID, NULL for calls that are not recorded */
    const char *what;       /* "unblock PINs", for "Not authorised to …" */
    const char *verb;       /* "PIN unblock", for the journal's MESSAGE */
    bool changes_token;
    bool reads; /* only reads: never spends a final try, not even with force */
    Secret presents;
    bool so_pin_derived; /* the SO PIN comes from the site key when configured */
    LedgerEffect ledger;
    /* How long the token may take once the call reaches its worker: tokend's timer, the
     * worker's own deadline and tokenctl's bus timeout follow it. */
    unsigned timeout_sec;
} Operation;

/* Every row, for the tests and for walking. */
extern const Operation operations[];
extern const size_t n_operations;

/* The row for a member and variant; NULL when there is none (the call is refused). */
const Operation *operation_find(const char *member, const char *variant);
/* The row whose acts the audit trail records under name ("unblock-pin"): the one with a
 * MESSAGE_ID (ListObjects without a PIN shares its name and is not recorded); NULL for none. */
const Operation *operation_find_recorded(const char *name);
/* The first row of a member, whatever its variant. */
const Operation *operation_find_member(const char *member);

/* A call's limit in microseconds: the row's, or ceiling_usec where that is shorter (tokend's
 * --worker-timeout; 0: none). */
uint64_t operation_timeout_usec(const Operation *op, uint64_t ceiling_usec);
/* The longest limit of a member's rows (its variants may differ), for whoever knows only the
 * method: the worker's deadline, the Manager's OperationTimeouts. 0 for no such member. */
uint64_t operation_member_timeout_usec(const char *member, uint64_t ceiling_usec);

/* Whether the outcome of a call of op changes the retry ledger's count, and if so how: a success
 * (the count goes to 0), one more failure, or an attempt whose answer was lost. error_name: the
 * call's error, NULL when it was done. */
bool operation_ledger_outcome(const Operation *op, const char *error_name, TkLedgerOutcome *ret);

/* Whether a call of this row leaves a record in the audit trail: it changes the token or
 * presents a secret to it. */
static inline bool operation_audited(const Operation *op)
{
    return op->changes_token || op->presents != SECRET_NONE;
}
