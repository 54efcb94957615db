/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit-acts.h"
#include "audit-log.h"
#include "audit-path.h"
#include "format.h"
#include "i18n.h"
#include "table.h"
#include "time-spec.h"
#include "tokenctl.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)

/* The audit file could not be read: says so, with what a member of staff can do about it. */
static int fail_unreadable(Context *ctx, const char *path, int r, const TkError *error)
{
    if (r == -EACCES || r == -EPERM)
        return fail(ctx, CLI_ERROR_FAILED,
                    "Cannot read the audit trail %s: permission denied. Root and the members of "
                    "the group tokend-audit may read it; ask the administrator to add you "
                    "(usermod -aG tokend-audit USER, then log in again).",
                    path);
    if (r == -ENOENT)
        return fail(ctx, CLI_ERROR_FAILED,
                    "The audit trail %s does not exist: tokend has recorded no act there yet, or "
                    "it writes elsewhere ([Audit] File= in tokend.conf(5)).",
                    path);
    return fail(ctx, CLI_ERROR_FAILED, "Cannot read the audit trail %s: %s", path,
                tk_error_is_set(error) ? error->message : strerror(-r));
}

static int fail_broken(Context *ctx, const char *path, const TkAuditVerifyResult *result,
                       const TkError *error)
{
    return fail(ctx, CLI_ERROR_AUDIT_BROKEN,
                "The audit trail %s is damaged at line %zu: %s. Keep a copy of the file and "
                "report it; do not edit it.",
                path, result->bad_line,
                tk_error_is_set(error) ? error->message : _("the chain is broken"));
}

/* The file to read: FILE after the action, else the one tokend's configuration names. */
static int audit_path(Context *ctx, const char *action, char **ret)
{
    if (ctx->n_args > 2)
        return fail(ctx, CLI_ERROR_USAGE, "audit %s takes at most one FILE", action);
    if (ctx->n_args > 1 && ctx->config)
        return fail(ctx, CLI_ERROR_USAGE,
                    "audit %s takes a FILE or --config, not both: --config only says where the "
                    "audit file is",
                    action);
    if (ctx->n_args > 1)
        return (*ret = strdup(ctx->args[1]))
                   ? 0
                   : fail_errno(ctx, -ENOMEM, "Cannot read the audit trail");
    return audit_configured_file(ctx, ctx->config, ret);
}

static json_object *interruptions_json(const TkAuditVerifyResult *result)
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
static void print_interruptions(const TkAuditVerifyResult *result)
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

/* Reads the file directly rather than asking tokend: the point of verifying is to trust
 * neither the daemon nor whoever may have edited the file. */
static int audit_verify(Context *ctx)
{
    TkAuditVerifyResult result = {};
    TkError error = {};
    _cleanup_free_ char *path = NULL;
    int r;

    r = audit_path(ctx, "verify", &path);
    if (r != 0)
        return r;
    r = tk_audit_verify(path, &result, &error);
    if (r == -EBADMSG)
        return fail_broken(ctx, path, &result, &error);
    if (r < 0)
        return fail_unreadable(ctx, path, r, &error);

    /* The head comes from the same locked read as the verification, so it is the head of the
     * lines that were verified even while tokend appends. Its seq is the number of records. */
    if (ctx->json) {
        json_object *head = json_object_new_object();
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "file", json_object_new_string(path));
        json_object_object_add(ctx->result, "intact", json_object_new_boolean(true));
        json_object_object_add(ctx->result, "lines", json_object_new_int64((int64_t)result.lines));
        json_object_object_add(ctx->result, "interrupted",
                               json_object_new_boolean(result.interrupted));
        json_object_object_add(
            ctx->result, "partial-line-offset",
            result.interrupted ? json_object_new_uint64(result.interrupted_offset) : NULL);
        json_object_object_add(head, "seq", json_object_new_uint64(result.lines));
        json_object_object_add(head, "hash", json_object_new_string(result.head_hash));
        json_object_object_add(ctx->result, "head", head);
        json_object_object_add(ctx->result, "interruption-count",
                               json_object_new_uint64(result.n_interruptions));
        json_object_object_add(ctx->result, "interruptions", interruptions_json(&result));
        return 0;
    }
    if (ctx->quiet)
        return 0;
    size_t sealed = result.n_interruptions - (result.interrupted ? 1 : 0);
    if (sealed > 0)
        printf(ngettext("%s: %zu records and %zu sealed interrupted line, hash chain intact.\n",
                        "%s: %zu records and %zu sealed interrupted lines, hash chain intact.\n",
                        sealed),
               path, result.lines, sealed);
    else
        printf(ngettext("%s: %zu line, hash chain intact.\n", "%s: %zu lines, hash chain intact.\n",
                        result.lines),
               path, result.lines);
    print_interruptions(&result);
    printf(_("%s: seq %zu, SHA-256 %s\n"),
           result.interrupted ? _("Last complete line") : _("Last line"), result.lines,
           result.head_hash);
    printf(_("(Lines cut from the end are only found by comparing this with a copy kept "
             "elsewhere.)\n"));
    return 0;
}

/* User names by uid, looked up once each. */
typedef struct UserName {
    uint32_t uid;
    char *name; /* NULL: the uid has none */
} UserName;

typedef struct UserNames {
    UserName *names;
    size_t n;
} UserNames;

static void user_names_done(UserNames *u)
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

static void add_string(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static json_object *act_json(UserNames *u, const AuditAct *a)
{
    json_object *o = json_object_new_object();
    add_string(o, "time", a->time);
    json_object_object_add(o, "time-usec", json_object_new_uint64(a->time_usec));
    add_string(o, "operation", a->operation);
    add_string(o, "serial", a->serial);
    json_object_object_add(o, "uid", json_object_new_uint64(a->uid));
    add_string(o, "user", user_name(u, a->uid));
    json_object_object_add(o, "pid", json_object_new_uint64(a->pid));
    add_string(o, "request", a->request);
    add_string(o, "result", act_result(a));
    add_string(o, "error", a->error);
    json_object_object_add(o, "intent-seq",
                           a->intent_seq ? json_object_new_uint64(a->intent_seq) : NULL);
    json_object_object_add(o, "outcome-seq",
                           a->outcome_seq ? json_object_new_uint64(a->outcome_seq) : NULL);
    return o;
}

static int parse_time_option(Context *ctx, const char *option, const char *value, uint64_t now,
                             uint64_t *ret)
{
    if (parse_time_spec(value, now, ret) == 0)
        return 0;
    _cleanup_free_ char *shown = NULL;
    return fail(ctx, CLI_ERROR_USAGE,
                "--%s \"%s\" is not a time: give today, yesterday, YYYY-MM-DD, "
                "\"YYYY-MM-DD HH:MM[:SS]\" (local time), or a span before now such as -2h, -30min, "
                "-7d",
                option, terminal_text(value, &shown));
}

/* The filter from --since, --until, --operation, --request and --token. */
static int list_filter(Context *ctx, AuditFilter *ret)
{
    struct timespec ts;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;

    *ret = (AuditFilter){
        .until_usec = UINT64_MAX,
        .operation = ctx->operation,
        .request = ctx->request,
        .serial = ctx->token_serial,
    };
    if (ctx->since && (r = parse_time_option(ctx, "since", ctx->since, now, &ret->since_usec)))
        return r;
    if (ctx->until && (r = parse_time_option(ctx, "until", ctx->until, now, &ret->until_usec)))
        return r;
    if (ret->since_usec > ret->until_usec)
        return fail(ctx, CLI_ERROR_USAGE, "--since is later than --until: no act lies between");
    if (ctx->operation &&
        (isempty(ctx->operation) ||
         strspn(ctx->operation, "abcdefghijklmnopqrstuvwxyz-") != strlen(ctx->operation)))
        return fail(ctx, CLI_ERROR_USAGE,
                    "--operation takes an operation's name as the trail has it, such as "
                    "unblock-pin or change-pin (tokend(8) lists them)");
    return 0;
}

/* Reads the whole trail into acts. The lock on the file is held only while it is read, not
 * while the listing is written to a terminal or a pipe that may wait. */
static int read_acts(Context *ctx, const char *path, AuditActs *acts,
                     TkAuditVerifyResult *ret_result)
{
    _cleanup_(tk_audit_reader_freep) TkAuditReader *reader = NULL;
    TkAuditEntry entry;
    TkError error = {};
    int r;

    r = tk_audit_reader_open(path, &reader, &error);
    if (r < 0)
        return fail_unreadable(ctx, path, r, &error);
    while ((r = tk_audit_reader_next(reader, &entry, &error)) > 0)
        if (audit_acts_add(acts, &entry) < 0)
            return fail_errno(ctx, -ENOMEM, "Cannot read the audit trail %s", path);
    /* A damaged trail is shown not at all: the records before the damage are sound, but a
     * listing that stops there would read as the whole story. */
    if (r == -EBADMSG) {
        tk_audit_reader_result(reader, ret_result);
        return fail_broken(ctx, path, ret_result, &error);
    }
    if (r < 0)
        return fail_unreadable(ctx, path, r, &error);
    tk_audit_reader_result(reader, ret_result);
    return 0;
}

static int audit_list(Context *ctx)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_(audit_acts_done) AuditActs acts = {};
    _cleanup_(user_names_done) UserNames users = {};
    TkAuditVerifyResult result = {};
    AuditFilter filter;
    int r;

    r = list_filter(ctx, &filter);
    if (r != 0)
        return r;
    r = audit_path(ctx, "list", &path);
    if (r != 0)
        return r;
    r = read_acts(ctx, path, &acts, &result);
    if (r != 0)
        return r;

    if (ctx->json) {
        ctx->result = json_object_new_array();
        for (size_t i = 0; i < acts.n_acts; i++)
            if (audit_act_matches(&acts.acts[i], &filter))
                json_object_array_add(ctx->result, act_json(&users, &acts.acts[i]));
        return 0;
    }

    static const char *const headers[] = {N_("TIME"),  N_("USER"),    N_("OPERATION"),
                                          N_("TOKEN"), N_("REQUEST"), N_("RESULT")};
    _cleanup_(table_freep) Table *table = table_new(ELEMENTSOF(headers), headers);
    if (!table)
        return fail_errno(ctx, -ENOMEM, "Cannot show the audit trail");
    for (size_t i = 0; i < acts.n_acts; i++) {
        const AuditAct *a = &acts.acts[i];
        char when[32] = "?", person[128], outcome[128];
        const char *color;
        time_t t = (time_t)(a->time_usec / 1000000);
        struct tm tm;

        if (!audit_act_matches(a, &filter))
            continue;
        if (localtime_r(&t, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        person_text(&users, a->uid, person, sizeof(person));
        result_text(a, outcome, sizeof(outcome), &color);
        /* Serials and references are the card's and the caller's: the table escapes them. */
        if (table_add(table, when) < 0 || table_add(table, person) < 0 ||
            table_add(table, a->operation) < 0 || table_add(table, a->serial) < 0 ||
            table_add(table, a->request) < 0 || table_add_colored(table, outcome, color) < 0)
            return fail_errno(ctx, -ENOMEM, "Cannot show the audit trail");
    }
    _cleanup_free_ char *shown = NULL;
    context_pager(ctx);
    if (table_rows(table) == 0 && acts.n_acts == 0)
        printf(_("No acts recorded in %s.\n"), terminal_text(path, &shown));
    else if (table_rows(table) == 0)
        printf(_("No acts in %s match.\n"), terminal_text(path, &shown));
    else if (table_print(table, stdout, ctx->color, !ctx->no_legend) < 0)
        return fail_errno(ctx, -EIO, "Cannot show the audit trail");
    if (result.interrupted)
        fprintf(stderr,
                _("The audit trail ends in a partial line after line %zu: a write was cut short "
                  "(crash or full disk). tokend seals it with its next record; see tokenctl audit "
                  "verify.\n"),
                result.lines);
    return 0;
}

int verb_audit(Context *ctx)
{
    bool list = ctx->n_args > 0 && streq(ctx->args[0], "list");

    if (ctx->n_args < 1 || (!list && !streq(ctx->args[0], "verify")))
        return fail(ctx, CLI_ERROR_USAGE,
                    "audit knows two actions: tokenctl audit verify [FILE] and tokenctl audit "
                    "list [FILE]");
    if (!list) {
        const char *option = ctx->since          ? "--since"
                             : ctx->until        ? "--until"
                             : ctx->operation    ? "--operation"
                             : ctx->request      ? "--request"
                             : ctx->token_serial ? "--token"
                                                 : NULL;
        if (option)
            return fail(ctx, CLI_ERROR_USAGE,
                        "audit verify does not take %s, which chooses what audit list shows",
                        option);
        return audit_verify(ctx);
    }
    return audit_list(ctx);
}
