/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokenctl audit verify and audit list on files made with libtoken's writer: what they say and
 * their exit status for an intact, an interrupted and a broken trail; the times --since and
 * --until take; intents and outcomes paired into acts. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "audit-acts.h"
#include "audit-log.h"
#include "format.h"
#include "time-spec.h"
/* Before tk-test.h: Check defines a macro named fail, which tokenctl.h declares. */
#include "tokenctl.h"

#include "tk-test.h"

#define N_LINES 3

static char tmpdir[64];
static char path[128];
static char out_path[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tk-audit-cli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/audit.jsonl", tmpdir);
    snprintf(out_path, sizeof(out_path), "%s/stdout", tmpdir);
    for (unsigned i = 0; i < N_LINES; i++) {
        TkAuditRecord r = {.time_usec = 1795608000000000ULL + i,
                           .operation = "unblock-pin",
                           .serial = "0011223344",
                           .request = "UNLOCK-2026-0001",
                           .result = "ok"};
        TkError e = {};
        ck_assert_msg(tk_audit_append(path, &r, NULL, &e) == 0, "%s", e.message);
    }
}

static void teardown(void)
{
    unlink(path);
    unlink(out_path);
    ck_assert_int_eq(rmdir(tmpdir), 0);
}

static off_t file_size(void)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

/* Leaves the start of a fourth line without its end, as a crash mid-write does. */
static void interrupt_a_write(void)
{
    static const char partial[] = "{\"seq\":4,\"time\":\"2026-11-25T12:00:00.000";
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, partial, strlen(partial)), (ssize_t)strlen(partial));
    ck_assert_int_eq(close(fd), 0);
}

/* Changes the reference in line 2, as an edit by hand would. */
static void edit_second_line(void)
{
    _cleanup_free_ char *text = NULL;
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    size_t cap = 0;
    ssize_t len = getdelim(&text, &cap, 0, f);
    fclose(f);
    ck_assert_int_gt(len, 0);
    char *at = strstr(text, "\"seq\":2");
    ck_assert_ptr_nonnull(at);
    at = strstr(at, "UNLOCK-2026-0001");
    at[strlen("UNLOCK-2026-000")] = '2';
    f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(text, 1, (size_t)len, f), (size_t)len);
    ck_assert_int_eq(fclose(f), 0);
}

typedef struct Run {
    int r;
    Context ctx;
    char *out; /* what went to standard output */
} Run;

/* Runs "tokenctl [--json] audit ACTION FILE" with the options in ctx in this process, standard
 * output into a file. */
static void run_audit(Run *run, const char *action, Context ctx)
{
    char *args[] = {(char *)action, path, NULL};
    ctx.args = args;
    ctx.n_args = 2;
    *run = (Run){.ctx = ctx};

    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
    close(fd);
    run->r = verb_audit(&run->ctx);
    fflush(stdout);
    ck_assert_int_ge(dup2(saved, STDOUT_FILENO), 0);
    close(saved);
    run->ctx.args = NULL;

    FILE *f = fopen(out_path, "re");
    ck_assert_ptr_nonnull(f);
    size_t cap = 0;
    if (getdelim(&run->out, &cap, 0, f) < 0) {
        /* Nothing was printed. */
        ck_assert(feof(f));
        free(run->out);
        run->out = strdup("");
    }
    fclose(f);
}

static void run_verify(Run *run, bool json)
{
    run_audit(run, "verify", (Context){.json = json});
}

static void run_done(Run *run)
{
    json_object_put(run->ctx.result);
    free(run->ctx.error_name);
    free(run->ctx.error_message);
    free(run->out);
}

START_TEST(tokenctl_audit_verify_says_an_interrupted_trail_was_not_tampered_with_and_exits_0)
{
    off_t good = file_size();
    interrupt_a_write();
    Run run;
    run_verify(&run, false);
    ck_assert_msg(run.r == EXIT_OK && !run.ctx.error_name, "exit %d: %s", run.r,
                  strempty(run.ctx.error_message));
    char want[128];
    snprintf(want, sizeof(want), "ends in a partial line at byte %lld after line %d",
             (long long)good, N_LINES);
    ck_assert_msg(strstr(run.out, want), "'%s' lacks '%s'", run.out, want);
    ck_assert_msg(strstr(run.out, "the writer was interrupted (crash or full disk); this is not "
                                  "tampering"),
                  "%s", run.out);
    ck_assert_msg(strstr(run.out, "Last complete line: seq 3,"), "%s", run.out);
    run_done(&run);
}
END_TEST

START_TEST(tokenctl_audit_verify_json_marks_an_interrupted_trail)
{
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL;
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, NULL), 0);
    off_t good = file_size();
    interrupt_a_write();
    Run run;
    run_verify(&run, true);
    ck_assert_int_eq(run.r, EXIT_OK);
    json_object *doc = run.ctx.result, *v = NULL, *h = NULL;
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_object_object_get_ex(doc, "intact", &v) && json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(doc, "interrupted", &v) && json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(doc, "partial-line-offset", &v));
    ck_assert_int_eq(json_object_get_int64(v), good);
    ck_assert(json_object_object_get_ex(doc, "lines", &v));
    ck_assert_int_eq(json_object_get_int64(v), N_LINES);
    ck_assert(json_object_object_get_ex(doc, "head", &h));
    ck_assert(json_object_object_get_ex(h, "seq", &v));
    ck_assert_int_eq(json_object_get_int64(v), N_LINES);
    ck_assert(json_object_object_get_ex(h, "hash", &v));
    ck_assert_str_eq(json_object_get_string(v), head);
    run_done(&run);
}
END_TEST

START_TEST(tokenctl_audit_verify_lists_a_sealed_interruption_with_its_place_and_exits_0)
{
    off_t good = file_size();
    interrupt_a_write();
    TkAuditRecord r = {.time_usec = 1795608000000000ULL, .operation = "change-pin", .result = "ok"};
    TkError e = {};
    ck_assert_msg(tk_audit_append(path, &r, NULL, &e) == 0, "%s", e.message);

    Run run;
    run_verify(&run, false);
    ck_assert_int_eq(run.r, EXIT_OK);
    char want[128];
    snprintf(want, sizeof(want), "Interrupted write at line 4 (byte %lld, 40 bytes)",
             (long long)good);
    ck_assert_msg(strstr(run.out, want), "'%s' lacks '%s'", run.out, want);
    ck_assert_msg(strstr(run.out, "5 records and 1 sealed interrupted line, hash chain intact"),
                  "%s", run.out);
    run_done(&run);

    run_verify(&run, true);
    ck_assert_int_eq(run.r, EXIT_OK);
    json_object *doc = run.ctx.result, *v = NULL, *list = NULL;
    ck_assert(json_object_object_get_ex(doc, "interrupted", &v) && !json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(doc, "interruption-count", &v));
    ck_assert_int_eq(json_object_get_int64(v), 1);
    ck_assert(json_object_object_get_ex(doc, "interruptions", &list));
    ck_assert_uint_eq(json_object_array_length(list), 1);
    json_object *in = json_object_array_get_idx(list, 0);
    ck_assert(json_object_object_get_ex(in, "line", &v));
    ck_assert_int_eq(json_object_get_int64(v), 4);
    ck_assert(json_object_object_get_ex(in, "offset", &v));
    ck_assert_int_eq(json_object_get_int64(v), good);
    ck_assert(json_object_object_get_ex(in, "sealed", &v) && json_object_get_boolean(v));
    run_done(&run);
}
END_TEST

START_TEST(tokenctl_audit_verify_json_of_an_intact_trail_is_not_interrupted)
{
    Run run;
    run_verify(&run, true);
    ck_assert_int_eq(run.r, EXIT_OK);
    json_object *v = NULL;
    ck_assert(json_object_object_get_ex(run.ctx.result, "interrupted", &v) &&
              !json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(run.ctx.result, "partial-line-offset", &v) && !v);
    run_done(&run);

    run_verify(&run, false);
    ck_assert_int_eq(run.r, EXIT_OK);
    ck_assert_msg(strstr(run.out, "3 lines, hash chain intact.\nLast line: seq 3,"), "%s", run.out);
    ck_assert_msg(!strstr(run.out, "partial"), "%s", run.out);
    run_done(&run);
}
END_TEST

START_TEST(tokenctl_audit_verify_still_exits_8_for_a_broken_chain)
{
    /* An edit in the middle, with a partial line after it: the edit decides. */
    edit_second_line();
    interrupt_a_write();

    Run run;
    run_verify(&run, false);
    ck_assert_int_eq(run.r, EXIT_AUDIT_BROKEN);
    ck_assert_str_eq(run.ctx.error_name, CLI_ERROR_AUDIT_BROKEN);
    ck_assert_msg(strstr(run.ctx.error_message, "damaged at line 2"), "%s", run.ctx.error_message);
    run_done(&run);
}
END_TEST

/* 2026-11-25 12:00:00 UTC, 13:00 in Central Europe. */
#define NOW ((time_t)1795608000)
#define SEC 1000000ULL

static uint64_t when(const char *s)
{
    uint64_t t = 0;
    ck_assert_msg(parse_time_spec(s, NOW * SEC + 500000, &t) == 0, "\"%s\" refused", s);
    return t;
}

START_TEST(times_are_words_local_dates_or_spans_before_now)
{
    /* A zone with summer time, as a POSIX rule: no zone files needed. */
    ck_assert_int_eq(setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1), 0);
    tzset();
    uint64_t midnight = (NOW - 13 * 3600) * SEC;
    /* "now" and spans before it keep the microseconds: an act of this second is not after now. */
    ck_assert_uint_eq(when("now"), NOW * SEC + 500000);
    ck_assert_uint_eq(when("today"), midnight);
    ck_assert_uint_eq(when("yesterday"), midnight - 86400 * SEC);
    ck_assert_uint_eq(when("tomorrow"), midnight + 86400 * SEC);
    ck_assert_uint_eq(when("2026-11-25"), midnight);
    ck_assert_uint_eq(when("2026-11-25 08:30"), midnight + (8 * 3600 + 1800) * SEC);
    ck_assert_uint_eq(when("2026-11-25 08:30:15"), midnight + (8 * 3600 + 1815) * SEC);
    ck_assert_uint_eq(when("2026-11-25T08:30:15"), midnight + (8 * 3600 + 1815) * SEC);
    /* Summer time: two hours ahead of UTC. */
    ck_assert_uint_eq(when("2026-07-01"), (uint64_t)1782856800 * SEC);
    ck_assert_uint_eq(when("-2h"), (NOW - 7200) * SEC + 500000);
    ck_assert_uint_eq(when("-30min"), (NOW - 1800) * SEC + 500000);
    ck_assert_uint_eq(when("-30m"), (NOW - 1800) * SEC + 500000);
    ck_assert_uint_eq(when("-90s"), (NOW - 90) * SEC + 500000);
    ck_assert_uint_eq(when("-7d"), (NOW - 7 * 86400) * SEC + 500000);
    ck_assert_uint_eq(when("-1w"), (NOW - 7 * 86400) * SEC + 500000);
    ck_assert_int_eq(unsetenv("TZ"), 0);
    tzset();
}
END_TEST

START_TEST(times_refuse_what_they_cannot_read)
{
    static const char *const bad[] = {
        "",
        "Today",
        "yesterday ",
        "2026-02-30",
        "2026-13-01",
        "2026-11-25 25:00",
        "2026-11-25 08:30 ",
        "25.11.2026",
        "2h",
        "-2",
        "-2y",
        "-h",
        "--2h",
        "-99999999999999999999h",
        "-999999999w",
    };
    FOREACH_ARRAY (s, bad, ELEMENTSOF(bad)) {
        uint64_t t = 42;
        ck_assert_msg(parse_time_spec(*s, NOW * SEC, &t) == -EINVAL, "\"%s\" accepted", *s);
        ck_assert_uint_eq(t, 42);
    }
}
END_TEST

static TkAuditEntry entry(uint64_t seq, const char *operation, uint32_t pid, const char *result,
                          const char *error)
{
    return (TkAuditEntry){
        .seq = seq,
        .time = "2026-11-25T12:00:00.000000Z",
        .record =
            {
                .time_usec = 1795608000000000ULL + seq * SEC,
                .operation = operation,
                .serial = "0011223344",
                .uid = 1000,
                .pid = pid,
                .request = streq(operation, "unblock-pin") ? "ULA-1" : NULL,
                .result = result,
                .error = error,
            },
    };
}

START_TEST(an_outcome_completes_the_act_whose_intent_it_names)
{
    TkAuditEntry trail[] = {
        entry(1, "unblock-pin", 7, "intent", NULL),
        entry(2, "unblock-pin", 7, "intent", NULL),
        entry(3, "recovery", 9, "sealed", NULL),
        /* The later act ends first: by the best match it would complete the earlier one. */
        entry(4, "unblock-pin", 7, "failed", "PinIncorrect"),
        entry(5, "start", 9, "ok", NULL),
        entry(6, "unblock-pin", 7, "interrupted", "TokendStopped"),
    };
    trail[3].record.intent = 2;
    trail[5].record.intent = 1;
    _cleanup_(audit_acts_done) AuditActs acts = {};
    FOREACH_ARRAY (e, trail, ELEMENTSOF(trail))
        ck_assert_int_eq(audit_acts_add(&acts, e), 0);

    /* Start and recovery records are no acts. */
    ck_assert_uint_eq(acts.n_acts, 2);
    const AuditAct *a = acts.acts;
    ck_assert_uint_eq(a[0].intent_seq, 1);
    ck_assert_uint_eq(a[0].outcome_seq, 6);
    ck_assert_str_eq(a[0].result, "interrupted");
    ck_assert_str_eq(a[0].error, "TokendStopped");
    ck_assert_uint_eq(a[1].intent_seq, 2);
    ck_assert_uint_eq(a[1].outcome_seq, 4);
    ck_assert_str_eq(a[1].result, "failed");
    ck_assert_uint_eq(acts.n_waiting, 0);
}
END_TEST

START_TEST(waiting_only_keeps_just_the_acts_without_an_outcome)
{
    TkAuditEntry trail[] = {
        entry(1, "unblock-pin", 7, "intent", NULL),
        entry(2, "change-pin", 8, "refused", "AccessDenied"),
        entry(3, "initialize", 9, "intent", NULL),
        entry(4, "unblock-pin", 7, "ok", NULL),
        entry(5, "change-pin", 8, "intent", NULL),
        /* An older trail's outcome, without the intent field. */
        entry(6, "initialize", 9, "failed", "PinIncorrect"),
    };
    trail[3].record.intent = 1;
    _cleanup_(audit_acts_done) AuditActs acts = {.waiting_only = true};
    FOREACH_ARRAY (e, trail, ELEMENTSOF(trail))
        ck_assert_int_eq(audit_acts_add(&acts, e), 0);
    ck_assert_uint_eq(acts.n_acts, 1);
    ck_assert_uint_eq(acts.n_waiting, 1);
    ck_assert_uint_eq(acts.acts[acts.waiting[0]].intent_seq, 5);
    ck_assert_str_eq(acts.acts[0].operation, "change-pin");
    audit_acts_done(&acts);
    ck_assert(acts.waiting_only);
}
END_TEST

START_TEST(an_outcome_completes_the_earliest_waiting_intent_of_the_same_call)
{
    const TkAuditEntry trail[] = {
        entry(1, "unblock-pin", 7, "intent", NULL),
        /* Refused by polkit: no intent of its own. */
        entry(2, "change-pin", 8, "refused", "AccessDenied"),
        entry(3, "unblock-pin", 7, "intent", NULL),
        entry(4, "unblock-pin", 7, "failed", "PinIncorrect"),
        entry(5, "initialize", 9, "intent", NULL),
        entry(6, "unblock-pin", 7, "ok", NULL),
    };
    _cleanup_(audit_acts_done) AuditActs acts = {};
    FOREACH_ARRAY (e, trail, ELEMENTSOF(trail))
        ck_assert_int_eq(audit_acts_add(&acts, e), 0);

    ck_assert_uint_eq(acts.n_acts, 4);
    const AuditAct *a = acts.acts;
    ck_assert_uint_eq(a[0].intent_seq, 1);
    ck_assert_uint_eq(a[0].outcome_seq, 4);
    ck_assert_str_eq(a[0].result, "failed");
    ck_assert_str_eq(a[0].error, "PinIncorrect");
    ck_assert_str_eq(a[0].request, "ULA-1");
    ck_assert_uint_eq(a[0].time_usec, 1795608000000000ULL + SEC);
    ck_assert_uint_eq(a[1].intent_seq, 0);
    ck_assert_uint_eq(a[1].outcome_seq, 2);
    ck_assert_str_eq(a[1].result, "refused");
    ck_assert_uint_eq(a[2].intent_seq, 3);
    ck_assert_uint_eq(a[2].outcome_seq, 6);
    ck_assert_str_eq(a[2].result, "ok");
    ck_assert_ptr_null(a[2].error);
    /* An intent with no outcome is shown as such, never dropped. */
    ck_assert_uint_eq(a[3].intent_seq, 5);
    ck_assert_uint_eq(a[3].outcome_seq, 0);
    ck_assert(audit_act_interrupted(&a[3]));

    AuditFilter f = {.until_usec = UINT64_MAX, .operation = "unblock-pin"};
    ck_assert(audit_act_matches(&a[0], &f) && !audit_act_matches(&a[1], &f));
    f = (AuditFilter){.since_usec = 1795608000000000ULL + 3 * SEC, .until_usec = UINT64_MAX};
    ck_assert(!audit_act_matches(&a[0], &f) && audit_act_matches(&a[2], &f));
    f = (AuditFilter){.until_usec = 1795608000000000ULL + 2 * SEC, .request = "ULA-1"};
    ck_assert(audit_act_matches(&a[0], &f) && !audit_act_matches(&a[2], &f));
    f = (AuditFilter){.until_usec = UINT64_MAX, .serial = "0011223344"};
    ck_assert(audit_act_matches(&a[3], &f));
    f.serial = "001122334";
    ck_assert(!audit_act_matches(&a[3], &f));
}
END_TEST

static void append_record(const char *operation, uint32_t uid, const char *request,
                          const char *result, const char *error)
{
    TkAuditRecord r = {.time_usec = 1795608000000000ULL,
                       .operation = operation,
                       .serial = "SER\x1b[2J",
                       .uid = uid,
                       .pid = 77,
                       .request = request,
                       .result = result,
                       .error = error};
    TkError e = {};
    ck_assert_msg(tk_audit_append(path, &r, NULL, &e) == 0, "%s", e.message);
}

START_TEST(tokenctl_audit_list_shows_one_line_per_act_and_an_interrupted_one_as_such)
{
    /* An unknown uid is shown as the number. */
    append_record("unblock-pin", 4000000000u, "ULA-7", "intent", NULL);
    append_record("unblock-pin", 4000000000u, "ULA-7", "ok", NULL);
    append_record("change-pin", 0, NULL, "intent", NULL);

    Run run;
    run_audit(&run, "list", (Context){});
    ck_assert_msg(run.r == EXIT_OK, "%s", strempty(run.ctx.error_message));
    /* Messages name what is missing: the output's lines would break the TAP stream. */
    ck_assert_msg(strstr(run.out, "TIME "), "no header");
    /* N_LINES acts of the fixture, then the two here. */
    size_t lines = 0;
    for (const char *p = run.out; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_uint_eq(lines, 1 + N_LINES + 2);
    const char *row = strstr(run.out, "  4000000000  unblock-pin  SER\\x1b[2J  ULA-7 ");
    ck_assert_msg(row, "no row of the unknown uid's unblock");
    const char *ok = strstr(row, " ok\n");
    ck_assert_msg(ok && ok < strchr(row, '\n'), "the unblock is not ok");
    ck_assert_msg(strstr(run.out, "  root (0)  "), "no root (0)");
    ck_assert_msg(strstr(run.out, "  change-pin   SER"), "no change-pin");
    ck_assert_msg(strstr(run.out, "interrupted: no outcome recorded\n"), "no interrupted act");
    ck_assert_ptr_null(strchr(run.out, '\x1b'));
    run_done(&run);

    run_audit(&run, "list", (Context){.json = true, .operation = "change-pin"});
    ck_assert_int_eq(run.r, EXIT_OK);
    ck_assert_uint_eq(json_object_array_length(run.ctx.result), 1);
    json_object *act = json_object_array_get_idx(run.ctx.result, 0), *v = NULL;
    ck_assert(json_object_object_get_ex(act, "result", &v));
    ck_assert_str_eq(json_object_get_string(v), "interrupted");
    ck_assert(json_object_object_get_ex(act, "user", &v));
    ck_assert_str_eq(json_object_get_string(v), "root");
    ck_assert(json_object_object_get_ex(act, "intent-seq", &v));
    ck_assert_int_eq(json_object_get_int64(v), N_LINES + 3);
    ck_assert(json_object_object_get_ex(act, "outcome-seq", &v) && !v);
    ck_assert(json_object_object_get_ex(act, "request", &v) && !v);
    run_done(&run);
}
END_TEST

START_TEST(tokenctl_audit_list_shows_nothing_of_a_broken_trail_and_exits_8)
{
    edit_second_line();

    Run run;
    run_audit(&run, "list", (Context){});
    ck_assert_int_eq(run.r, EXIT_AUDIT_BROKEN);
    ck_assert_str_eq(run.out, "");
    ck_assert_msg(strstr(run.ctx.error_message, "damaged at line 2"), "%s", run.ctx.error_message);
    run_done(&run);
}
END_TEST

static Suite *tokenctl_audit_suite(void)
{
    Suite *s = suite_create("tokenctl-audit");
    TCase *tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(
        tc, tokenctl_audit_verify_says_an_interrupted_trail_was_not_tampered_with_and_exits_0);
    tcase_add_test(tc, tokenctl_audit_verify_json_marks_an_interrupted_trail);
    tcase_add_test(tc,
                   tokenctl_audit_verify_lists_a_sealed_interruption_with_its_place_and_exits_0);
    tcase_add_test(tc, tokenctl_audit_verify_json_of_an_intact_trail_is_not_interrupted);
    tcase_add_test(tc, tokenctl_audit_verify_still_exits_8_for_a_broken_chain);
    tcase_add_test(tc, tokenctl_audit_list_shows_one_line_per_act_and_an_interrupted_one_as_such);
    tcase_add_test(tc, tokenctl_audit_list_shows_nothing_of_a_broken_trail_and_exits_8);
    suite_add_tcase(s, tc);
    tc = tcase_create("list");
    tcase_add_test(tc, times_are_words_local_dates_or_spans_before_now);
    tcase_add_test(tc, times_refuse_what_they_cannot_read);
    tcase_add_test(tc, an_outcome_completes_the_earliest_waiting_intent_of_the_same_call);
    tcase_add_test(tc, an_outcome_completes_the_act_whose_intent_it_names);
    tcase_add_test(tc, waiting_only_keeps_just_the_acts_without_an_outcome);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(tokenctl_audit_suite())
