/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pairs the trail's intent and outcome records into acts, and picks the acts a listing shows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit-acts.h"
#include "macro.h"

static int dup_or_null(const char *s, char **ret)
{
    *ret = NULL;
    if (s && !(*ret = strdup(s)))
        return -ENOMEM;
    return 0;
}

static void act_done(AuditAct *a)
{
    free(a->time);
    free(a->operation);
    free(a->serial);
    free(a->request);
    free(a->result);
    free(a->error);
}

static bool same_call(const AuditAct *a, const TkAuditRecord *r)
{
    return streq_ptr(a->operation, r->operation) && streq_ptr(a->serial, r->serial) &&
           a->uid == r->uid && a->pid == r->pid && streq_ptr(a->request, r->request);
}

static int set_outcome(AuditAct *a, const TkAuditEntry *e)
{
    a->outcome_seq = e->seq;
    if (dup_or_null(e->record.result, &a->result) < 0 ||
        dup_or_null(e->record.error, &a->error) < 0)
        return -ENOMEM;
    return 0;
}

/* Room for one more of n items of size bytes in *array, which holds *allocated. */
static int grow(void *array, size_t n, size_t *allocated, size_t size)
{
    if (n < *allocated)
        return 0;
    size_t more = *allocated ? *allocated * 2 : 16;
    void *m = reallocarray(*(void **)array, more, size);
    if (!m)
        return -ENOMEM;
    *(void **)array = m;
    *allocated = more;
    return 0;
}

static int new_act(AuditActs *acts, const TkAuditEntry *e, AuditAct **ret)
{
    if (grow(&acts->acts, acts->n_acts, &acts->allocated_acts, sizeof(AuditAct)) < 0)
        return -ENOMEM;
    AuditAct *a = &acts->acts[acts->n_acts++];
    *a = (AuditAct){
        .time_usec = e->record.time_usec,
        .uid = e->record.uid,
        .pid = e->record.pid,
    };
    if (dup_or_null(e->time, &a->time) < 0 || dup_or_null(e->record.operation, &a->operation) < 0 ||
        dup_or_null(e->record.serial, &a->serial) < 0 ||
        dup_or_null(e->record.request, &a->request) < 0)
        return -ENOMEM;
    *ret = a;
    return 0;
}

/* The act waiting for the outcome e: the one whose intent it names, else (a trail written before
 * outcomes named their intents) the earliest of the same call. Returns its index in waiting, or
 * n_waiting for none. */
static size_t waiting_act(const AuditActs *acts, const TkAuditEntry *e)
{
    size_t i = 0;
    for (; i < acts->n_waiting; i++) {
        const AuditAct *a = &acts->acts[acts->waiting[i]];
        if (e->record.intent ? a->intent_seq == e->record.intent : same_call(a, &e->record))
            break;
    }
    return i;
}

/* Forgets the completed act acts[k]. */
static void drop_act(AuditActs *acts, size_t k)
{
    act_done(&acts->acts[k]);
    memmove(acts->acts + k, acts->acts + k + 1, (acts->n_acts - k - 1) * sizeof(AuditAct));
    acts->n_acts--;
    for (size_t j = 0; j < acts->n_waiting; j++)
        if (acts->waiting[j] > k)
            acts->waiting[j]--;
}

int audit_acts_add(AuditActs *acts, const TkAuditEntry *e)
{
    AuditAct *a;
    int r;

    if (streq_ptr(e->record.operation, TK_AUDIT_START) ||
        streq_ptr(e->record.operation, TK_AUDIT_RECOVERY))
        return 0;

    if (streq_ptr(e->record.result, "intent")) {
        if (grow(&acts->waiting, acts->n_waiting, &acts->allocated_waiting, sizeof(size_t)) < 0)
            return -ENOMEM;
        r = new_act(acts, e, &a);
        if (r < 0)
            return r;
        a->intent_seq = e->seq;
        acts->waiting[acts->n_waiting++] = acts->n_acts - 1;
        return 0;
    }

    size_t i = waiting_act(acts, e);
    if (i < acts->n_waiting) {
        size_t k = acts->waiting[i];
        memmove(acts->waiting + i, acts->waiting + i + 1,
                (acts->n_waiting - i - 1) * sizeof(size_t));
        acts->n_waiting--;
        if (!acts->waiting_only)
            return set_outcome(&acts->acts[k], e);
        drop_act(acts, k);
        return 0;
    }
    if (acts->waiting_only)
        return 0;
    r = new_act(acts, e, &a);
    if (r < 0)
        return r;
    return set_outcome(a, e);
}

void audit_acts_done(AuditActs *acts)
{
    bool waiting_only = acts->waiting_only;
    for (size_t i = 0; i < acts->n_acts; i++)
        act_done(&acts->acts[i]);
    free(acts->acts);
    free(acts->waiting);
    *acts = (AuditActs){.waiting_only = waiting_only};
}

bool audit_act_matches(const AuditAct *a, const AuditFilter *f)
{
    return a->time_usec >= f->since_usec && a->time_usec <= f->until_usec &&
           (!f->operation || streq_ptr(a->operation, f->operation)) &&
           (!f->request || streq_ptr(a->request, f->request)) &&
           (!f->serial || streq_ptr(a->serial, f->serial));
}
