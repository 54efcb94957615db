/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit-acts.h"
#include "audit-db.h"
#include "audit-log.h"
#include "audit-show.h"
#include "format.h"
#include "i18n.h"
#include "table.h"
#include "tokenctl.h"
#include "verb-audit-db.h"

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
    add_json_string(o, "error", t->error);
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
int audit_verify_database(Context *ctx)
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
int audit_list_database(Context *ctx, const AuditFilter *filter)
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
