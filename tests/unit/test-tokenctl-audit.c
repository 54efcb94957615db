/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokenctl audit verify on files made with libtoken's writer: what it says and its exit status
 * for an intact, an interrupted and a broken trail. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "audit-log.h"
#include "format.h"
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

typedef struct Run {
    int r;
    Context ctx;
    char *out; /* what went to standard output */
} Run;

/* Runs "tokenctl [--json] audit verify FILE" in this process, standard output into a file. */
static void run_verify(Run *run, bool json)
{
    static char verify[] = "verify";
    char *args[] = {verify, path, NULL};
    *run = (Run){.ctx = {.json = json, .args = args, .n_args = 2}};

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
    interrupt_a_write();

    Run run;
    run_verify(&run, false);
    ck_assert_int_eq(run.r, EXIT_AUDIT_BROKEN);
    ck_assert_str_eq(run.ctx.error_name, CLI_ERROR_AUDIT_BROKEN);
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
    tcase_add_test(tc, tokenctl_audit_verify_json_of_an_intact_trail_is_not_interrupted);
    tcase_add_test(tc, tokenctl_audit_verify_still_exits_8_for_a_broken_chain);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(tokenctl_audit_suite())
