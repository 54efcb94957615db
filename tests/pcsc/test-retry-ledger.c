/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "retry-ledger.h"
#include "tk-test.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tk-ledger-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* The refused attempts of serial's record (-1: none). */
static int get_failed(const char *d, const char *serial, int *failed)
{
    TkLedgerCount count = {.failed = -2, .unknown = -2};
    int r = tk_ledger_get(d, serial, &count);
    if (r >= 0)
        *failed = count.failed;
    return r;
}

START_TEST(ledger_without_file_has_no_record)
{
    int failed = 42;
    ck_assert_int_eq(get_failed(dir, "0001", &failed), 0);
    ck_assert_int_eq(failed, -1);
}
END_TEST

START_TEST(ledger_counts_failures_per_serial)
{
    int failed;
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "BBBB", TK_LEDGER_FAILED), 0);

    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), 0);
    ck_assert_int_eq(failed, 2);
    ck_assert_int_eq(get_failed(dir, "BBBB", &failed), 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(get_failed(dir, "CCCC", &failed), 0);
    ck_assert_int_eq(failed, -1);
}
END_TEST

START_TEST(ledger_success_resets_only_that_serial)
{
    int failed;
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "BBBB", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_SUCCESS), 0);

    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), 0);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(get_failed(dir, "BBBB", &failed), 0);
    ck_assert_int_eq(failed, 1);

    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), 0);
    ck_assert_int_eq(failed, 1);
}
END_TEST

START_TEST(ledger_file_is_private_json_and_no_temp_left)
{
    ck_assert_int_eq(tk_ledger_record(dir, "SER\"IAL/1", TK_LEDGER_FAILED), 0);

    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, TK_LEDGER_FILE);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);

    json_object *root = json_object_from_file(path);
    ck_assert_ptr_nonnull(root);
    json_object *tokens, *entry, *failed;
    ck_assert(json_object_object_get_ex(root, "tokens", &tokens));
    ck_assert(json_object_object_get_ex(tokens, "SER\"IAL/1", &entry));
    ck_assert(json_object_object_get_ex(entry, "failed", &failed));
    ck_assert_int_eq(json_object_get_int(failed), 1);
    json_object_put(root);

    /* Only the ledger and its lock file: no temp file survives a write. */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 2", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(ledger_leaves_a_file_that_is_not_a_ledger_as_it_is)
{
    int failed;
    write_file(TK_LEDGER_FILE, "this is not json");
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), -EBADMSG);
    /* Starting anew would forget every count in it: a person decides. */
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), -EBADMSG);

    char path[128], text[64] = {};
    snprintf(path, sizeof(path), "%s/%s", dir, TK_LEDGER_FILE);
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
    fclose(f);
    ck_assert_str_eq(text, "this is not json");
}
END_TEST

START_TEST(one_bad_entry_makes_the_whole_ledger_damaged)
{
    int failed;
    write_file(TK_LEDGER_FILE, "{\"version\":1,\"tokens\":{\"AAAA\":{\"failed\":2},"
                               "\"BBBB\":{\"failed\":\"many\"}}}");
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), -EBADMSG);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_SUCCESS), -EBADMSG);
}
END_TEST

START_TEST(check_creates_a_ledger_that_counts_nothing_yet)
{
    TkError e = {};
    int failed = 42;
    ck_assert_int_eq(tk_ledger_check(dir, &e), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, TK_LEDGER_FILE);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), 0);
    ck_assert_int_eq(failed, -1);
}
END_TEST

START_TEST(check_keeps_the_counts)
{
    TkError e = {};
    int failed;
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_check(dir, &e), 0);
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), 0);
    ck_assert_int_eq(failed, 2);
}
END_TEST

START_TEST(check_names_the_file_and_the_reason)
{
    TkError e = {};
    write_file(TK_LEDGER_FILE, "[]");
    ck_assert_int_eq(tk_ledger_check(dir, &e), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(e.message, dir));
    ck_assert_ptr_nonnull(strstr(e.message, TK_LEDGER_FILE));
    ck_assert_ptr_nonnull(strstr(e.message, "damaged"));

    /* A regular file where the directory should be. */
    char file[128];
    snprintf(file, sizeof(file), "%s/%s", dir, TK_LEDGER_FILE);
    TkError not_dir = {};
    ck_assert_int_eq(tk_ledger_check(file, &not_dir), -ENOTDIR);
    ck_assert_ptr_nonnull(strstr(not_dir.message, file));
    ck_assert_ptr_nonnull(strstr(not_dir.message, strerror(ENOTDIR)));
}
END_TEST

START_TEST(ledger_rejects_bad_counts)
{
    int failed;
    write_file(TK_LEDGER_FILE, "{\"version\":1,\"tokens\":{\"AAAA\":{\"failed\":-3}}}");
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), -EBADMSG);
    write_file(TK_LEDGER_FILE, "{\"version\":2,\"tokens\":{}}");
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), -EBADMSG);
}
END_TEST

START_TEST(ledger_count_stops_at_its_largest)
{
    /* One more failure than the reader takes would make the whole ledger unreadable. */
    int failed;
    write_file(TK_LEDGER_FILE, "{\"version\":1,\"tokens\":{\"AAAA\":{\"failed\":1000000}}}");
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(get_failed(dir, "AAAA", &failed), 0);
    ck_assert_int_eq(failed, TK_LEDGER_FAILED_MAX);
    ck_assert_int_eq(tk_ledger_next(TK_LEDGER_FAILED_MAX, false), TK_LEDGER_FAILED_MAX);
    ck_assert_int_eq(tk_ledger_next(TK_LEDGER_FAILED_MAX, true), 0);
}
END_TEST

START_TEST(ledger_keeps_lost_answers_apart_until_a_right_attempt)
{
    const TkLedgerOutcome outcomes[] = {TK_LEDGER_UNKNOWN, TK_LEDGER_FAILED, TK_LEDGER_UNKNOWN};
    for (size_t i = 0; i < ELEMENTSOF(outcomes); i++)
        ck_assert_int_eq(tk_ledger_record(dir, "AAAA", outcomes[i]), 0);
    TkLedgerCount count;
    ck_assert_int_eq(tk_ledger_get(dir, "AAAA", &count), 0);
    ck_assert_int_eq(count.failed, 1);
    ck_assert_int_eq(count.unknown, 2);

    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_SUCCESS), 0);
    ck_assert_int_eq(tk_ledger_get(dir, "AAAA", &count), 0);
    ck_assert_int_eq(count.failed, 0);
    ck_assert_int_eq(count.unknown, 0);

    /* A ledger written before lost answers were kept apart has none. */
    write_file(TK_LEDGER_FILE, "{\"version\":1,\"tokens\":{\"BBBB\":{\"failed\":2}}}");
    ck_assert_int_eq(tk_ledger_get(dir, "BBBB", &count), 0);
    ck_assert_int_eq(count.failed, 2);
    ck_assert_int_eq(count.unknown, 0);
    write_file(TK_LEDGER_FILE,
               "{\"version\":1,\"tokens\":{\"BBBB\":{\"failed\":2,\"unknown\":-1}}}");
    ck_assert_int_eq(tk_ledger_get(dir, "BBBB", &count), -EBADMSG);
}
END_TEST

START_TEST(lost_answers_alone_never_spend_the_last_try)
{
    /* 10 tries: refused attempts count in full; lost answers count too, but only the card's
     * refusals take the last try. */
    ck_assert_int_eq(tk_ledger_failures((TkLedgerCount){.failed = 2, .unknown = 3}, 10), 5);
    ck_assert_int_eq(tk_ledger_failures((TkLedgerCount){.failed = 0, .unknown = 12}, 10), 9);
    ck_assert_int_eq(tk_ledger_failures((TkLedgerCount){.failed = 9, .unknown = 4}, 10), 9);
    ck_assert_int_eq(tk_ledger_failures((TkLedgerCount){.failed = 10, .unknown = 0}, 10), 10);
    ck_assert_int_eq(tk_ledger_failures((TkLedgerCount){.failed = 11, .unknown = 2}, 10), 13);
    /* No start value known: nothing to keep back. */
    ck_assert_int_eq(tk_ledger_failures((TkLedgerCount){.failed = 1, .unknown = 12}, 0), 13);
    ck_assert_int_eq(tk_ledger_failures(TK_LEDGER_NO_RECORD, 10), -1);
    /* A lost answer on a token with no record yet starts one. */
    TkLedgerCount c = tk_ledger_count_next(TK_LEDGER_NO_RECORD, TK_LEDGER_UNKNOWN);
    ck_assert_int_eq(c.failed, 0);
    ck_assert_int_eq(c.unknown, 1);
}
END_TEST

START_TEST(ledger_refuses_bad_arguments)
{
    int failed;
    ck_assert_int_eq(get_failed(dir, "", &failed), -EINVAL);
    ck_assert_int_eq(tk_ledger_record(NULL, "A", TK_LEDGER_FAILED), -EINVAL);
    ck_assert_int_eq(get_failed("/nonexistent/dir", "A", &failed), -ENOENT);
    ck_assert_int_eq(tk_ledger_record("/nonexistent/dir", "A", TK_LEDGER_FAILED), -ENOENT);
}
END_TEST

START_TEST(ledger_concurrent_writers_lose_no_failure)
{
    enum { WRITERS = 4, EACH = 25 };
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            for (int k = 0; k < EACH; k++)
                if (tk_ledger_record(dir, "SHARED", TK_LEDGER_FAILED) < 0)
                    _exit(1);
            _exit(0);
        }
    }
    for (int i = 0; i < WRITERS; i++) {
        int status;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int failed;
    ck_assert_int_eq(get_failed(dir, "SHARED", &failed), 0);
    ck_assert_int_eq(failed, WRITERS * EACH);
}
END_TEST

typedef struct Listed {
    char serials[4][16];
    TkLedgerCount counts[4];
    size_t n;
} Listed;

static int list_entry(const char *serial, TkLedgerCount count, void *userdata)
{
    Listed *l = userdata;
    ck_assert_uint_lt(l->n, 4);
    snprintf(l->serials[l->n], sizeof(l->serials[0]), "%s", serial);
    l->counts[l->n++] = count;
    return 0;
}

START_TEST(foreach_gives_every_record_and_nothing_without_a_file)
{
    Listed l = {};
    ck_assert_int_eq(tk_ledger_foreach(dir, list_entry, &l), 0);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_FAILED), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "AAAA", TK_LEDGER_UNKNOWN), 0);
    ck_assert_int_eq(tk_ledger_record(dir, "BBBB", TK_LEDGER_SUCCESS), 0);
    ck_assert_int_eq(tk_ledger_foreach(dir, list_entry, &l), 0);
    ck_assert_uint_eq(l.n, 2);
    size_t a = streq(l.serials[0], "AAAA") ? 0 : 1;
    ck_assert_str_eq(l.serials[a], "AAAA");
    ck_assert_str_eq(l.serials[1 - a], "BBBB");
    ck_assert_int_eq(l.counts[a].failed, 1);
    ck_assert_int_eq(l.counts[a].unknown, 1);
    ck_assert_int_eq(l.counts[1 - a].failed, 0);

    write_file(TK_LEDGER_FILE, "{\"version\":1,\"tokens\":{\"A\":{\"failed\":\"x\"}}}");
    ck_assert_int_eq(tk_ledger_foreach(dir, list_entry, &l), -EBADMSG);
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("retry-ledger");
    TCase *tc = tcase_create("ledger");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ledger_without_file_has_no_record);
    tcase_add_test(tc, ledger_counts_failures_per_serial);
    tcase_add_test(tc, ledger_success_resets_only_that_serial);
    tcase_add_test(tc, ledger_file_is_private_json_and_no_temp_left);
    tcase_add_test(tc, ledger_leaves_a_file_that_is_not_a_ledger_as_it_is);
    tcase_add_test(tc, one_bad_entry_makes_the_whole_ledger_damaged);
    tcase_add_test(tc, check_creates_a_ledger_that_counts_nothing_yet);
    tcase_add_test(tc, check_keeps_the_counts);
    tcase_add_test(tc, check_names_the_file_and_the_reason);
    tcase_add_test(tc, ledger_rejects_bad_counts);
    tcase_add_test(tc, ledger_count_stops_at_its_largest);
    tcase_add_test(tc, ledger_keeps_lost_answers_apart_until_a_right_attempt);
    tcase_add_test(tc, lost_answers_alone_never_spend_the_last_try);
    tcase_add_test(tc, ledger_refuses_bad_arguments);
    tcase_add_test(tc, ledger_concurrent_writers_lose_no_failure);
    tcase_add_test(tc, foreach_gives_every_record_and_nothing_without_a_file);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(ledger_suite())
