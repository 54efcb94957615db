/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit-acts.h"
#include "audit-log.h"
#include "audit-path.h"
#include "audit-show.h"
#include "format.h"
#include "i18n.h"
#include "table.h"
#include "time-spec.h"
#include "time-util.h"
#include "tokenctl.h"
#include "verb-audit-db.h"

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
    uint64_t now = tk_now_usec(CLOCK_REALTIME);
    int r;

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
    if (ctx->database)
        return audit_list_database(ctx, &filter);
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
        char when[32], person[128], outcome[128];
        const char *color;

        if (!audit_act_matches(a, &filter))
            continue;
        act_cells(&users, a, when, person, outcome, &color);
        if (table_add(table, when) < 0 || add_act_cells(table, a, person, outcome, color) < 0)
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
    if (ctx->database && (ctx->n_args > 1 || ctx->config))
        return fail(ctx, CLI_ERROR_USAGE,
                    "audit %s takes a FILE, --config FILE or --database CONNINFO, not two of "
                    "them: --database reads the office's trail instead of a file",
                    ctx->args[0]);
    if (ctx->station && !ctx->database)
        return fail(ctx, CLI_ERROR_USAGE,
                    "--station chooses a station of the office's trail in its database: give "
                    "--database CONNINFO too");
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
        return ctx->database ? audit_verify_database(ctx) : audit_verify(ctx);
    }
    return audit_list(ctx);
}
