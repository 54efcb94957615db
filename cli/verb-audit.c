/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit-acts.h"
#include "audit-db.h"
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

/* The cells of an act's row: when (local time), who, how it ended. */
static void act_cells(UserNames *u, const AuditAct *a, char when[static 32],
                      char person[static 128], char outcome[static 128], const char **color)
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
static int add_act_cells(Table *table, const AuditAct *a, const char *person, const char *outcome,
                         const char *color)
{
    if (table_add(table, person) < 0 || table_add(table, a->operation) < 0 ||
        table_add(table, a->serial) < 0 || table_add(table, a->request) < 0 ||
        table_add_colored(table, outcome, color) < 0)
        return -ENOMEM;
    return 0;
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

/* The office's trail in its database (audit-db.h): each station's lines are its file, read with
 * the file's own reader, station by station. */

/* What one station's trail came to. */
typedef struct StationTrail {
    char *station;
    bool intact;
    TkAuditVerifyResult result;
    char *error; /* why it is damaged, NULL when intact */
    char **written_by;
    AuditActs acts; /* audit list only */
} StationTrail;

typedef struct OfficeTrail {
    bool list; /* keep the acts */
    char *database;
    StationTrail *stations;
    size_t n_stations;
    size_t n_damaged;
} OfficeTrail;

static void office_trail_done(OfficeTrail *o)
{
    for (size_t i = 0; i < o->n_stations; i++) {
        free(o->stations[i].station);
        free(o->stations[i].error);
        strv_free(o->stations[i].written_by);
        audit_acts_done(&o->stations[i].acts);
    }
    free(o->stations);
    free(o->database);
}

static char **strv_copy(char *const *l)
{
    size_t n = strv_length(l);
    char **c = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(l[i]))) {
            strv_free(c);
            return NULL;
        }
    return c;
}

/* Reads a station's bytes as its file is read; the lines the database lacks or that no file
 * has, found while they were fetched, are damage at their line as the reader's is. */
static int station_trail_read(const AuditStation *s, StationTrail *t, TkError *error)
{
    _cleanup_(tk_audit_reader_freep) TkAuditReader *reader = NULL;
    _cleanup_free_ char *name = NULL;
    TkAuditEntry entry;
    int r;

    if (asprintf(&name, _("station %s's trail in the %s"), s->name, s->database) < 0)
        return -ENOMEM;
    r = tk_audit_reader_open_memory(name, s->data ?: "", s->len, &reader, error);
    if (r < 0)
        return r;
    while ((r = tk_audit_reader_next(reader, &entry, error)) > 0)
        if (audit_acts_add(&t->acts, &entry) < 0)
            return -ENOMEM;
    if (r == 0 || r == -EBADMSG)
        tk_audit_reader_result(reader, &t->result);
    if (r == 0 && s->gap != AUDIT_STATION_WHOLE) {
        t->result.bad_line = (size_t)s->bad_line;
        t->result.head_hash[0] = 0;
        return tk_error_set(error, -EBADMSG, CLI_ERROR_AUDIT_BROKEN, "%s",
                            s->gap == AUDIT_STATION_MISSING_LINE
                                ? _("the line is missing from the database")
                                : _("the line holds a newline byte, which no line of a file "
                                    "does"));
    }
    return r;
}

static int office_station(Context *ctx, const AuditStation *s, void *userdata)
{
    OfficeTrail *o = userdata;
    TkError error = {};

    StationTrail *m = reallocarray(o->stations, o->n_stations + 1, sizeof(StationTrail));
    if (!m)
        return fail_errno(ctx, -ENOMEM, "Cannot read the audit trail from the %s", s->database);
    o->stations = m;
    StationTrail *t = &m[o->n_stations++];
    *t = (StationTrail){.station = strdup(s->name), .written_by = strv_copy(s->written_by)};
    if (!t->station || !t->written_by)
        return fail_errno(ctx, -ENOMEM, "Cannot read the audit trail from the %s", s->database);
    /* Without acts to keep, they are let go of as they are read. */
    t->acts.waiting_only = !o->list;
    int r = station_trail_read(s, t, &error);
    if (r == -EBADMSG) {
        t->error = strdup(error.message);
        if (!t->error)
            return fail_errno(ctx, -ENOMEM, "Cannot read the audit trail from the %s", s->database);
        /* The reasons end in a full stop; the messages that quote them go on after them. */
        size_t len = strlen(t->error);
        if (len > 0 && t->error[len - 1] == '.')
            t->error[len - 1] = 0;
        o->n_damaged++;
        return 0;
    }
    if (r < 0)
        return fail(ctx, CLI_ERROR_FAILED, "Cannot read the trail of the station %s in the %s: %s",
                    s->name, s->database, tk_error_is_set(&error) ? error.message : strerror(-r));
    t->intact = true;
    return 0;
}

static int office_trail_read(Context *ctx, OfficeTrail *o)
{
    return audit_db_read(ctx, ctx->database, ctx->station, &o->database, office_station, o);
}

static const StationTrail *first_damaged(const OfficeTrail *o)
{
    for (size_t i = 0; i < o->n_stations; i++)
        if (!o->stations[i].intact)
            return &o->stations[i];
    return NULL;
}

/* Two roles writing one station's lines is no break in its chain, but is not how an office is
 * set up: a person looks at it. */
static void warn_writers(const OfficeTrail *o)
{
    for (size_t i = 0; i < o->n_stations; i++) {
        const StationTrail *t = &o->stations[i];
        if (strv_length(t->written_by) < 2)
            continue;
        _cleanup_free_ char *roles = NULL, *shown = NULL, *shown_roles = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&roles, &len);
        if (!f)
            continue;
        STRV_FOREACH (w, t->written_by)
            fprintf(f, "%s%s", w == t->written_by ? "" : ", ", *w);
        if (fclose(f) != 0)
            continue;
        fprintf(stderr,
                _("Warning: the lines of the station %s were written by more than one role (%s): "
                  "two stations may be configured with one name, or one station's role wrote "
                  "another station's lines.\n"),
                terminal_text(t->station, &shown), terminal_text(roles, &shown_roles));
    }
}

static json_object *strv_json(char *const *l)
{
    json_object *a = json_object_new_array();
    STRV_FOREACH (s, l)
        json_object_array_add(a, json_object_new_string(*s));
    return a;
}

static json_object *station_json(const StationTrail *t)
{
    json_object *o = json_object_new_object(), *head = NULL;
    if (t->intact) {
        head = json_object_new_object();
        json_object_object_add(head, "seq", json_object_new_uint64(t->result.lines));
        json_object_object_add(head, "hash", json_object_new_string(t->result.head_hash));
    }
    json_object_object_add(o, "station", json_object_new_string(t->station));
    json_object_object_add(o, "intact", json_object_new_boolean(t->intact));
    json_object_object_add(o, "lines", json_object_new_uint64(t->result.lines));
    json_object_object_add(o, "bad-line",
                           t->intact ? NULL : json_object_new_uint64(t->result.bad_line));
    add_string(o, "error", t->error);
    json_object_object_add(o, "head", head);
    json_object_object_add(o, "interruption-count",
                           json_object_new_uint64(t->result.n_interruptions));
    json_object_object_add(o, "interruptions", interruptions_json(&t->result));
    json_object_object_add(o, "written-by", strv_json(t->written_by));
    return o;
}

static int fail_station_broken(Context *ctx, const OfficeTrail *o, const StationTrail *t, bool list)
{
    if (list)
        return fail(ctx, CLI_ERROR_AUDIT_BROKEN,
                    "The trail of the station %s in the %s is damaged at line %zu: %s. Nothing is "
                    "listed: without that station's acts the listing would read as the office's "
                    "whole trail. List the other stations with --station NAME, and see tokenctl "
                    "audit verify --database.",
                    t->station, o->database, t->result.bad_line, t->error);
    return fail(ctx, CLI_ERROR_AUDIT_BROKEN,
                "The trail of the station %s in the %s is damaged at line %zu: %s. Keep a copy of "
                "its lines and report it; do not change them.",
                t->station, o->database, t->result.bad_line, t->error);
}

/* audit verify --database: every station's chain, each as its file's would be. With --json the
 * result is printed when a station is damaged too (exit status 8), for it says which. */
static int audit_verify_database(Context *ctx)
{
    _cleanup_(office_trail_done) OfficeTrail o = {};

    int r = office_trail_read(ctx, &o);
    if (r != 0)
        return r;
    const StationTrail *damaged = first_damaged(&o);

    if (ctx->json) {
        json_object *stations = json_object_new_array();
        for (size_t i = 0; i < o.n_stations; i++)
            json_object_array_add(stations, station_json(&o.stations[i]));
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "database", json_object_new_string(o.database));
        json_object_object_add(ctx->result, "intact", json_object_new_boolean(!damaged));
        json_object_object_add(ctx->result, "stations", stations);
        return damaged ? EXIT_AUDIT_BROKEN : 0;
    }

    warn_writers(&o);
    for (size_t i = 0; !ctx->quiet && i < o.n_stations; i++) {
        const StationTrail *t = &o.stations[i];
        _cleanup_free_ char *shown = NULL;
        const char *name = terminal_text(t->station, &shown);
        size_t sealed = t->result.n_interruptions;
        if (!t->intact)
            printf(_("%s: damaged at line %zu: %s.\n"), name, t->result.bad_line, t->error);
        else if (sealed > 0)
            printf(ngettext("%s: %zu records and %zu sealed interrupted line, hash chain intact; "
                            "seq %zu, SHA-256 %s\n",
                            "%s: %zu records and %zu sealed interrupted lines, hash chain intact; "
                            "seq %zu, SHA-256 %s\n",
                            sealed),
                   name, t->result.lines, sealed, t->result.lines, t->result.head_hash);
        else
            printf(ngettext("%s: %zu record, hash chain intact; seq %zu, SHA-256 %s\n",
                            "%s: %zu records, hash chain intact; seq %zu, SHA-256 %s\n",
                            t->result.lines),
                   name, t->result.lines, t->result.lines, t->result.head_hash);
        if (t->intact)
            print_interruptions(&t->result);
    }
    if (!ctx->quiet) {
        _cleanup_free_ char *shown = NULL;
        const char *database = terminal_text(o.database, &shown);
        if (o.n_stations == 0)
            printf(_("The %s holds no station's trail yet.\n"), database);
        else if (!damaged)
            printf(ngettext("%zu station in the %s: its hash chain is intact.\n",
                            "%zu stations in the %s: every hash chain is intact.\n", o.n_stations),
                   o.n_stations, database);
        else
            printf(ngettext("%zu of %zu station in the %s damaged.\n",
                            "%zu of %zu stations in the %s damaged.\n", o.n_stations),
                   o.n_damaged, o.n_stations, database);
        printf(_("(Lines cut from the end of a station's trail are only found by comparing its "
                 "head with the station's own file or a copy kept elsewhere.)\n"));
    }
    return damaged ? fail_station_broken(ctx, &o, damaged, false) : 0;
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

/* One act of the office's, for the listing merged by time. */
typedef struct OfficeAct {
    const AuditAct *act;
    const char *station;
    size_t station_index, index;
} OfficeAct;

/* By time; acts of one time by station, and within a station in their trail's order. */
static int office_act_compare(const void *a, const void *b)
{
    const OfficeAct *x = a, *y = b;
    if (x->act->time_usec != y->act->time_usec)
        return x->act->time_usec < y->act->time_usec ? -1 : 1;
    if (x->station_index != y->station_index)
        return x->station_index < y->station_index ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* audit list --database: the acts of every station, each station's paired in its own trail
 * (seqs are per station), then merged by their times. A damaged station is not listed, and then
 * neither are the others, as a damaged file is not listed at all: a listing without one
 * station's acts would read as the office's whole trail. --station lists one. */
static int audit_list_database(Context *ctx, const AuditFilter *filter)
{
    _cleanup_(office_trail_done) OfficeTrail o = {.list = true};
    _cleanup_(user_names_done) UserNames users = {};
    _cleanup_free_ OfficeAct *acts = NULL;
    size_t n = 0, all = 0;

    int r = office_trail_read(ctx, &o);
    if (r != 0)
        return r;
    const StationTrail *damaged = first_damaged(&o);
    if (damaged) {
        for (size_t i = 0; !ctx->json && i < o.n_stations; i++) {
            _cleanup_free_ char *shown = NULL;
            if (!o.stations[i].intact && &o.stations[i] != damaged)
                fprintf(stderr, _("The trail of the station %s is damaged at line %zu too.\n"),
                        terminal_text(o.stations[i].station, &shown),
                        o.stations[i].result.bad_line);
        }
        return fail_station_broken(ctx, &o, damaged, true);
    }

    for (size_t i = 0; i < o.n_stations; i++)
        all += o.stations[i].acts.n_acts;
    acts = calloc(all ?: 1, sizeof(OfficeAct));
    if (!acts)
        return fail_errno(ctx, -ENOMEM, "Cannot show the audit trail");
    for (size_t i = 0; i < o.n_stations; i++)
        for (size_t j = 0; j < o.stations[i].acts.n_acts; j++)
            if (audit_act_matches(&o.stations[i].acts.acts[j], filter))
                acts[n++] = (OfficeAct){&o.stations[i].acts.acts[j], o.stations[i].station, i, j};
    qsort(acts, n, sizeof(OfficeAct), office_act_compare);

    if (ctx->json) {
        ctx->result = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *a = act_json(&users, acts[i].act);
            json_object_object_add(a, "station", json_object_new_string(acts[i].station));
            json_object_array_add(ctx->result, a);
        }
        return 0;
    }

    warn_writers(&o);
    static const char *const headers[] = {N_("TIME"),  N_("STATION"), N_("USER"),  N_("OPERATION"),
                                          N_("TOKEN"), N_("REQUEST"), N_("RESULT")};
    _cleanup_(table_freep) Table *table = table_new(ELEMENTSOF(headers), headers);
    if (!table)
        return fail_errno(ctx, -ENOMEM, "Cannot show the audit trail");
    for (size_t i = 0; i < n; i++) {
        char when[32], person[128], outcome[128];
        const char *color;
        act_cells(&users, acts[i].act, when, person, outcome, &color);
        if (table_add(table, when) < 0 || table_add(table, acts[i].station) < 0 ||
            add_act_cells(table, acts[i].act, person, outcome, color) < 0)
            return fail_errno(ctx, -ENOMEM, "Cannot show the audit trail");
    }
    _cleanup_free_ char *shown = NULL;
    context_pager(ctx);
    if (o.n_stations == 0 || all == 0)
        printf(_("No acts recorded in the %s.\n"), terminal_text(o.database, &shown));
    else if (n == 0)
        printf(_("No acts in the %s match.\n"), terminal_text(o.database, &shown));
    else if (table_print(table, stdout, ctx->color, !ctx->no_legend) < 0)
        return fail_errno(ctx, -EIO, "Cannot show the audit trail");
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
