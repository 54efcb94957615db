/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit-show.h"
#include "format.h"
#include "i18n.h"

void user_names_done(UserNames *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->names[i].name);
    free(u->names);
}

/* The user name of uid, or NULL when it has none here. */
static const char *user_name(UserNames *u, uint32_t uid)
{
    for (size_t i = 0; i < u->n; i++)
        if (u->names[i].uid == uid)
            return u->names[i].name;
    UserName *m = reallocarray(u->names, u->n + 1, sizeof(UserName));
    if (!m)
        return NULL;
    u->names = m;
    const struct passwd *pw = getpwuid((uid_t)uid);
    m[u->n].uid = uid;
    m[u->n].name = pw && pw->pw_name ? strdup(pw->pw_name) : NULL;
    return m[u->n++].name;
}

/* "alice (1001)", or "1001" for a uid with no name here. */
static void person_text(UserNames *u, uint32_t uid, char *buf, size_t size)
{
    const char *name = user_name(u, uid);
    if (name)
        snprintf(buf, size, "%s (%" PRIu32 ")", name, uid);
    else
        snprintf(buf, size, "%" PRIu32, uid);
}

static const char *act_result(const AuditAct *a)
{
    return audit_act_interrupted(a) ? "interrupted" : a->result;
}

static void result_text(const AuditAct *a, char *buf, size_t size, const char **color)
{
    const char *result = act_result(a);
    *color = streq(result, "ok") ? ANSI_GREEN : streq(result, "refused") ? ANSI_YELLOW : ANSI_RED;
    if (audit_act_interrupted(a))
        snprintf(buf, size, _("interrupted: no outcome recorded"));
    else if (a->error)
        snprintf(buf, size, "%s (%s)", result, a->error);
    else
        snprintf(buf, size, "%s", result);
}

void act_cells(UserNames *u, const AuditAct *a, char when[static 32], char person[static 128],
               char outcome[static 128], const char **color)
{
    time_t t = (time_t)(a->time_usec / 1000000);
    struct tm tm;

    snprintf(when, 32, "?");
    if (localtime_r(&t, &tm))
        strftime(when, 32, "%Y-%m-%d %H:%M:%S", &tm);
    person_text(u, a->uid, person, 128);
    result_text(a, outcome, 128, color);
}

/* The row's cells from USER on. Serials and references are the card's and the caller's: the
 * table escapes them, as it does the station's name. */
int add_act_cells(Table *table, const AuditAct *a, const char *person, const char *outcome,
                  const char *color)
{
    if (table_add(table, person) < 0 || table_add(table, a->operation) < 0 ||
        table_add(table, a->serial) < 0 || table_add(table, a->request) < 0 ||
        table_add_colored(table, outcome, color) < 0)
        return -ENOMEM;
    return 0;
}

void add_json_string(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

json_object *act_json(UserNames *u, const AuditAct *a)
{
    json_object *o = json_object_new_object();
    add_json_string(o, "time", a->time);
    json_object_object_add(o, "time-usec", json_object_new_uint64(a->time_usec));
    add_json_string(o, "operation", a->operation);
    add_json_string(o, "serial", a->serial);
    json_object_object_add(o, "uid", json_object_new_uint64(a->uid));
    add_json_string(o, "user", user_name(u, a->uid));
    json_object_object_add(o, "pid", json_object_new_uint64(a->pid));
    add_json_string(o, "request", a->request);
    add_json_string(o, "result", act_result(a));
    add_json_string(o, "error", a->error);
    json_object_object_add(o, "intent-seq",
                           a->intent_seq ? json_object_new_uint64(a->intent_seq) : NULL);
    json_object_object_add(o, "outcome-seq",
                           a->outcome_seq ? json_object_new_uint64(a->outcome_seq) : NULL);
    return o;
}

json_object *interruptions_json(const TkAuditVerifyResult *result)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < result->n_interruptions && i < TK_AUDIT_INTERRUPTIONS_LISTED; i++) {
        const TkAuditInterruption *in = &result->interruptions[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "line", json_object_new_uint64(in->line));
        json_object_object_add(o, "offset", json_object_new_uint64(in->offset));
        json_object_object_add(o, "length", json_object_new_uint64(in->length));
        json_object_object_add(o, "sealed", json_object_new_boolean(in->sealed));
        json_object_array_add(list, o);
    }
    return list;
}

/* Interrupted writes are not edits (see TkAuditVerifyResult), so they are no failure; they are
 * shown for a person to look at the lines. */
void print_interruptions(const TkAuditVerifyResult *result)
{
    for (size_t i = 0; i < result->n_interruptions && i < TK_AUDIT_INTERRUPTIONS_LISTED; i++) {
        const TkAuditInterruption *in = &result->interruptions[i];
        if (in->sealed)
            printf(_("Interrupted write at line %zu (byte %llu, %zu bytes): cut short by a crash "
                     "or a full disk and sealed by the recovery record after it; this is not "
                     "tampering.\n"),
                   in->line, (unsigned long long)in->offset, in->length);
    }
    if (result->n_interruptions > TK_AUDIT_INTERRUPTIONS_LISTED)
        printf(_("%zu interrupted writes in all; the first %d are shown.\n"),
               result->n_interruptions, TK_AUDIT_INTERRUPTIONS_LISTED);
    if (result->interrupted)
        printf(_("The audit trail ends in a partial line at byte %llu after line %zu: the writer "
                 "was interrupted (crash or full disk); this is not tampering. tokend seals it "
                 "with a recovery record when it next writes; keep a copy of the file.\n"),
               (unsigned long long)result->interrupted_offset, result->lines);
}
