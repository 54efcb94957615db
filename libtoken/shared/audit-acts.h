/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail's records as acts: an intent and its outcome are one act. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit-log.h"

/* One act as people ask about it. An act has an intent record (written before the token was
 * touched), an outcome record, or both; one with an intent and no outcome was interrupted
 * (tokend stopped before it could write the outcome) or is still under way. */
typedef struct AuditAct {
    uint64_t time_usec; /* of its first record */
    char *time;         /* of its first record, ISO 8601 UTC as the trail has it */
    char *operation;
    char *serial;
    uint32_t uid;
    uint32_t pid;
    char *request;
    char *result; /* the outcome's ("interrupted" where tokend stopped), NULL while there is none */
    char *error;
    uint64_t intent_seq;  /* 0: none */
    uint64_t outcome_seq; /* 0: none */
} AuditAct;

typedef struct AuditActs {
    AuditAct *acts; /* in the order of their first records */
    size_t n_acts, allocated_acts;
    size_t *waiting; /* indexes of the acts with an intent and no outcome yet */
    size_t n_waiting, allocated_waiting;
    /* Keep only the acts still waiting for their outcome, for a reader that looks for those
     * alone (tokend at start-up): its memory is then bounded by them, not by the trail. */
    bool waiting_only;
} AuditActs;

/* Takes the next record of the trail. An intent starts an act. An outcome completes the act
 * whose intent's seq it carries (its intent field). One without that field (a trail written
 * before it) completes the earliest act still waiting whose intent has the same operation,
 * serial, uid, pid and request (a token's calls are done in the order their intents were
 * written). An outcome that completes no act is an act of its own, as for a call refused before
 * its intent (by polkit, say). Start and recovery records are no acts and are passed over. */
int audit_acts_add(AuditActs *acts, const TkAuditEntry *entry);
void audit_acts_done(AuditActs *acts);

static inline bool audit_act_interrupted(const AuditAct *a)
{
    return !a->result;
}

/* Which acts to show, by the time of their first record (since_usec to until_usec, both
 * included: 0 and UINT64_MAX for all) and what they name (NULL: anything). */
typedef struct AuditFilter {
    uint64_t since_usec;
    uint64_t until_usec;
    const char *operation;
    const char *request;
    const char *serial;
} AuditFilter;

bool audit_act_matches(const AuditAct *a, const AuditFilter *filter);
