/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "audit-log.h"
#include "tk-test.h"

#define N_RECORDS 6
#define MAX_LINES 64

static char tmpdir[64];
static char path[128];
/* A second file, for the tests that need one (a symbolic link's target). */
static char other[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tk-audit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/audit.jsonl", tmpdir);
    snprintf(other, sizeof(other), "%s/other.jsonl", tmpdir);
}

static void teardown(void)
{
    unlink(path);
    unlink(other);
    ck_assert_int_eq(rmdir(tmpdir), 0);
}

static void append(unsigned i)
{
    char op[32], serial[32];
    snprintf(op, sizeof(op), "op-%u", i);
    snprintf(serial, sizeof(serial), "SER%u", i);
    TkAuditRecord r = {
        .time_usec = 1764000000000000ULL + i * 1000001ULL,
        .operation = op,
        .serial = serial,
        .uid = 1000 + i,
        .pid = 4000 + i,
        .request = i % 2 ? "REQ-1" : NULL,
        .result = i % 3 ? "ok" : "refused",
        .error = i % 3 ? NULL : "PinPolicy",
    };
    TkError e = {};
    ck_assert_msg(tk_audit_append(path, &r, NULL, &e) == 0, "append: %s", e.message);
}

static void append_n(unsigned n)
{
    for (unsigned i = 1; i <= n; i++)
        append(i);
}

/* Reads the file as lines, each with its newline (if it had one). */
static size_t read_lines(char *lines[MAX_LINES])
{
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    char *l = NULL;
    size_t cap = 0;
    while (getline(&l, &cap, f) >= 0) {
        ck_assert_uint_lt(n, MAX_LINES);
        lines[n++] = strdup(l);
    }
    free(l);
    fclose(f);
    return n;
}

static void write_lines(char *lines[], size_t n)
{
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        if (lines[i])
            fputs(lines[i], f);
    ck_assert_int_eq(fclose(f), 0);
}

static void free_lines(char *lines[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
}

static void assert_bad_line(size_t want, const char *message_part)
{
    TkAuditVerifyResult v = {};
    TkError e = {};
    int r = tk_audit_verify(path, &v, &e);
    ck_assert_msg(r == -EBADMSG, "verify gave %d, expected -EBADMSG (%s)", r, e.message);
    ck_assert_msg(v.bad_line == want, "reported line %zu, expected %zu (%s)", v.bad_line, want,
                  e.message);
    ck_assert_uint_eq(v.lines, want - 1);
    ck_assert(!v.interrupted);
    ck_assert_msg(strstr(e.message, message_part), "message '%s' lacks '%s'", e.message,
                  message_part);
}

/* Replaces the first occurrence of from with to in line. */
static char *replaced(const char *line, const char *from, const char *to)
{
    const char *at = strstr(line, from);
    ck_assert_ptr_nonnull(at);
    char *out = malloc(strlen(line) + strlen(to) + 1);
    ck_assert_ptr_nonnull(out);
    sprintf(out, "%.*s%s%s", (int)(at - line), line, to, at + strlen(from));
    return out;
}

/* Replaces the first occurrence of from with to in line i (0-based) of the file. */
static void edit_line(size_t i, const char *from, const char *to)
{
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    ck_assert_uint_lt(i, n);
    char *edited = replaced(lines[i], from, to);
    free(lines[i]);
    lines[i] = edited;
    write_lines(lines, n);
    free_lines(lines, n);
}

/* Removes line i (0-based) from the file. */
static void delete_line(size_t i)
{
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    ck_assert_uint_lt(i, n);
    free(lines[i]);
    lines[i] = NULL;
    write_lines(lines, n);
    free_lines(lines, n);
}

START_TEST(audit_chain_of_appends_verifies)
{
    append_n(N_RECORDS);
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, N_RECORDS);
    ck_assert_uint_eq(v.bad_line, 0);
    ck_assert(!v.interrupted);

    /* The verified head is what tk_audit_head() reports. */
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL;
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, NULL), 0);
    ck_assert_uint_eq(seq, N_RECORDS);
    ck_assert_str_eq(v.head_hash, head);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, TK_AUDIT_FILE_MODE);
}
END_TEST

START_TEST(audit_line_has_every_field)
{
    append_n(3);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    ck_assert_uint_eq(n, 3);
    json_object *o = json_tokener_parse(lines[2]);
    ck_assert_ptr_nonnull(o);
    json_object *v;
    ck_assert(json_object_object_get_ex(o, "seq", &v));
    ck_assert_int_eq(json_object_get_int64(v), 3);
    ck_assert(json_object_object_get_ex(o, "time", &v));
    ck_assert_str_eq(json_object_get_string(v), "2025-11-24T16:00:03.000003Z");
    ck_assert(json_object_object_get_ex(o, "operation", &v));
    ck_assert_str_eq(json_object_get_string(v), "op-3");
    ck_assert(json_object_object_get_ex(o, "serial", &v));
    ck_assert_str_eq(json_object_get_string(v), "SER3");
    ck_assert(json_object_object_get_ex(o, "uid", &v));
    ck_assert_int_eq(json_object_get_int64(v), 1003);
    ck_assert(json_object_object_get_ex(o, "pid", &v));
    ck_assert_int_eq(json_object_get_int64(v), 4003);
    ck_assert(json_object_object_get_ex(o, "request", &v));
    ck_assert_str_eq(json_object_get_string(v), "REQ-1");
    ck_assert(json_object_object_get_ex(o, "result", &v));
    ck_assert_str_eq(json_object_get_string(v), "refused");
    ck_assert(json_object_object_get_ex(o, "error", &v));
    ck_assert_str_eq(json_object_get_string(v), "PinPolicy");
    ck_assert(json_object_object_get_ex(o, "prev", &v));
    ck_assert_int_eq(json_object_get_string_len(v), 64);
    json_object_put(o);
    free_lines(lines, n);
}
END_TEST

START_TEST(audit_first_line_chains_from_empty_hash)
{
    append_n(1);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    /* SHA-256 of zero bytes (FIPS 180-2 example). */
    ck_assert_ptr_nonnull(strstr(
        lines[0], "\"prev\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""));
    free_lines(lines, n);
}
END_TEST

START_TEST(audit_detects_edited_field)
{
    append_n(N_RECORDS);
    edit_line(2, "\"uid\":1003", "\"uid\":0");
    assert_bad_line(3, "changed");
}
END_TEST

START_TEST(audit_detects_edit_of_second_to_last_line)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *edited = replaced(lines[N_RECORDS - 2], "\"result\":\"", "\"result\":\"x");
    free(lines[N_RECORDS - 2]);
    lines[N_RECORDS - 2] = edited;
    write_lines(lines, n);
    free_lines(lines, n);
    assert_bad_line(N_RECORDS - 1, "changed");
}
END_TEST

START_TEST(audit_detects_deleted_line)
{
    append_n(N_RECORDS);
    delete_line(3);
    assert_bad_line(4, "deleted");
}
END_TEST

START_TEST(audit_detects_deleted_first_line)
{
    append_n(N_RECORDS);
    delete_line(0);
    assert_bad_line(1, "deleted");
}
END_TEST

START_TEST(audit_detects_forged_inserted_line)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    /* A forger who copies line 2, gives it the next seq and renumbers nothing else. */
    char *forged = replaced(lines[1], "\"seq\":2", "\"seq\":3");
    char *out[MAX_LINES];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        out[m++] = lines[i];
        if (i == 1)
            out[m++] = forged;
    }
    write_lines(out, m);
    free_lines(out, m);
    assert_bad_line(3, "forged");
}
END_TEST

START_TEST(audit_detects_swapped_lines)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *t = lines[2];
    lines[2] = lines[3];
    lines[3] = t;
    write_lines(lines, n);
    free_lines(lines, n);
    assert_bad_line(3, "reordered");
}
END_TEST

START_TEST(audit_detects_forged_first_line)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *edited = replaced(lines[0], "\"prev\":\"e3", "\"prev\":\"f3");
    free(lines[0]);
    lines[0] = edited;
    write_lines(lines, n);
    free_lines(lines, n);
    assert_bad_line(1, "genesis");
}
END_TEST

START_TEST(audit_reports_line_that_is_not_json)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    free(lines[1]);
    lines[1] = strdup("this is not json\n");
    write_lines(lines, n);
    free_lines(lines, n);
    assert_bad_line(2, "not a JSON object");
}
END_TEST

START_TEST(audit_reports_missing_field)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *edited = replaced(lines[4], "\"operation\"", "\"op\"");
    free(lines[4]);
    lines[4] = edited;
    write_lines(lines, n);
    free_lines(lines, n);
    assert_bad_line(5, "no field 'operation'");
}
END_TEST

START_TEST(audit_head_anchors_the_tail)
{
    uint64_t seq = 99;
    _cleanup_free_ char *empty_hash = NULL, *head = NULL, *after = NULL;
    append_n(N_RECORDS);
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, NULL), 0);
    ck_assert_uint_eq(seq, N_RECORDS);

    /* The recorded head is what the next line links to. */
    append(N_RECORDS + 1);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char want[80];
    snprintf(want, sizeof(want), "\"prev\":\"%s\"", head);
    ck_assert_ptr_nonnull(strstr(lines[n - 1], want));

    /* Dropping the tail leaves a valid chain; only the recorded head shows it. */
    write_lines(lines, n - 1);
    free_lines(lines, n);
    TkAuditVerifyResult v = {};
    ck_assert_int_eq(tk_audit_verify(path, &v, NULL), 0);
    ck_assert_uint_eq(v.lines, N_RECORDS);
    ck_assert_int_eq(tk_audit_head(path, &seq, &after, NULL), 0);
    ck_assert_uint_eq(seq, N_RECORDS);
    ck_assert_str_eq(after, head);
}
END_TEST

START_TEST(audit_concurrent_writers_do_not_interleave)
{
    pid_t pids[2];
    for (size_t c = 0; c < ELEMENTSOF(pids); c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            for (unsigned i = 0; i < 25; i++) {
                TkAuditRecord r = {.operation = c ? "b" : "a", .result = "ok", .pid = getpid()};
                if (tk_audit_append(path, &r, NULL, NULL) < 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (size_t c = 0; c < ELEMENTSOF(pids); c++) {
        int status;
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "line %zu: %s", v.bad_line, e.message);
    ck_assert_uint_eq(v.lines, 50);
}
END_TEST

START_TEST(audit_verify_reports_missing_file)
{
    TkError e = {};
    ck_assert_int_eq(tk_audit_verify(path, NULL, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.message, path));
}
END_TEST

static off_t file_size(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_size;
}

static void append_record(const TkAuditRecord *r, uint64_t want_seq)
{
    uint64_t seq = 0;
    TkError e = {};
    ck_assert_msg(tk_audit_append(path, r, &seq, &e) == 0, "append: %s", e.message);
    ck_assert_uint_eq(seq, want_seq);
}

static void append_bytes(const char *p, const void *data, size_t len)
{
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

/* Appends a line of `size` bytes that starts like a record: the start, then a hole (NUL bytes
 * that take no disk space), then its end and, if complete, a newline. */
static void append_huge_line(off_t size, bool complete)
{
    static const char start[] = "{\"seq\":3,\"request\":\"";
    static const char end[] = "\"}\n";
    append_bytes(path, start, strlen(start));
    ck_assert_int_eq(truncate(path, file_size(path) + size - (off_t)strlen(start) - 2), 0);
    append_bytes(path, end, complete ? 3 : 2);
}

/* Bytes this process has read so far (/proc/self/io's rchar: read(), pread() and the like), or
 * -1 when the kernel does not count them. */
static long long bytes_read(void)
{
    FILE *f = fopen("/proc/self/io", "re");
    if (!f)
        return -1;
    long long n = -1;
    char key[32];
    long long value;
    while (fscanf(f, "%31s %lld", key, &value) == 2)
        if (streq(key, "rchar:"))
            n = value;
    fclose(f);
    return n;
}

/* Hex SHA-256 of a line without its newline. */
static void line_hash(const char *line, char out[TK_AUDIT_HASH_HEX_LEN + 1])
{
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n')
        len--;
    unsigned char md[32];
    ck_assert(EVP_Digest(line, len, md, NULL, EVP_sha256(), NULL));
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Gives lines[from..n-1] the prev of the line before them as it now is, as a forger who
 * recomputes the chain would, so that only the rule under test can catch an edit. */
static void rechain(char *lines[], size_t from, size_t n)
{
    for (size_t i = from < 1 ? 1 : from; i < n; i++) {
        char *at = strstr(lines[i], "\"prev\":\"");
        ck_assert_ptr_nonnull(at);
        char hash[TK_AUDIT_HASH_HEX_LEN + 1];
        line_hash(lines[i - 1], hash);
        memcpy(at + strlen("\"prev\":\""), hash, TK_AUDIT_HASH_HEX_LEN);
    }
}

/* A fresh chain of N_RECORDS lines in which line 3 has `from` replaced by `to` and every later
 * line is rechained. */
static void write_chain_with_line_3_edited(const char *from, const char *to)
{
    unlink(path);
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *edited = replaced(lines[2], from, to);
    free(lines[2]);
    lines[2] = edited;
    rechain(lines, 3, n);
    write_lines(lines, n);
    free_lines(lines, n);
}

START_TEST(append_returns_the_seq_of_the_new_line)
{
    TkAuditRecord r = {.operation = "unblock-pin", .result = "ok"};
    for (uint64_t want = 1; want <= 3; want++)
        append_record(&r, want);
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), 0);
    TkAuditVerifyResult v = {};
    ck_assert_int_eq(tk_audit_verify(path, &v, &e), 0);
    ck_assert_uint_eq(v.lines, 4);
}
END_TEST

START_TEST(append_refuses_a_record_longer_than_a_line_and_the_chain_still_takes_the_next)
{
    append_n(3);
    off_t before = file_size(path);

    /* The 70,000-character reference that once ended a trail. */
    _cleanup_free_ char *big = malloc(70001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'R', 70000);
    big[70000] = 0;
    TkAuditRecord r = {.operation = "unblock-pin", .serial = "0011", .result = "ok"};
    r.request = big;
    uint64_t seq = 99;
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, &seq, &e), -E2BIG);
    ck_assert_uint_eq(seq, 99);
    ck_assert_msg(strstr(e.message, "field 'request'"), "%s", e.message);
    ck_assert_int_eq(file_size(path), before);

    /* What counts is the line as written: 1,000 control characters are 6,000 bytes escaped. */
    char controls[1001];
    memset(controls, '\x01', 1000);
    controls[1000] = 0;
    r.request = "UNLOCK-2026-0001";
    r.error = controls;
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -E2BIG);
    ck_assert_msg(strstr(e.message, "field 'error'"), "%s", e.message);
    ck_assert_int_eq(file_size(path), before);

    /* The trail goes on. */
    r.error = NULL;
    ck_assert_msg(tk_audit_check_appendable(path, 0, &e) == 0, "%s", e.message);
    append_record(&r, 4);
    TkAuditVerifyResult v = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, 4);
}
END_TEST

START_TEST(append_takes_a_line_of_exactly_the_bound_and_refuses_one_byte_more)
{
    TkAuditRecord r = {.time_usec = 1795608000000000ULL,
                       .operation = "unblock-pin",
                       .request = "",
                       .result = "ok"};
    append_record(&r, 1);
    /* Line 2 of the same record differs only in its seq (one digit too) and prev (64 hex). */
    size_t base = (size_t)file_size(path) - 1;
    size_t n = TK_AUDIT_LINE_MAX - base;
    _cleanup_free_ char *request = malloc(n + 2);
    ck_assert_ptr_nonnull(request);
    memset(request, 'r', n + 1);
    request[n] = 0;
    r.request = request;
    off_t before = file_size(path);
    append_record(&r, 2);
    ck_assert_int_eq(file_size(path) - before, TK_AUDIT_LINE_MAX + 1);

    request[n] = 'r';
    request[n + 1] = 0;
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -E2BIG);

    /* Every reader takes a line of exactly the bound. */
    TkAuditVerifyResult v = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, 2);
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL;
    ck_assert_msg(tk_audit_head(path, &seq, &head, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(seq, 2);
    ck_assert_msg(tk_audit_check_appendable(path, 0, &e) == 0, "%s", e.message);
}
END_TEST

START_TEST(append_refuses_to_go_past_the_largest_seq)
{
    append_n(1);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    /* INT64_MAX - 1: the largest seq a line may have, since json-c reads larger numbers as
     * INT64_MAX. */
    char *last = replaced(lines[0], "\"seq\":1,", "\"seq\":9223372036854775806,");
    write_lines(&last, 1);
    free(last);
    free_lines(lines, n);
    off_t before = file_size(path);

    TkAuditRecord r = {.operation = "op", .result = "ok"};
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -EOVERFLOW);
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -EOVERFLOW);
    ck_assert_int_eq(file_size(path), before);
}
END_TEST

START_TEST(verify_reports_a_partial_last_line_as_an_interruption_not_tampering)
{
    append_n(N_RECORDS - 1);
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL, *after = NULL;
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, NULL), 0);
    off_t good = file_size(path);
    append(N_RECORDS);
    /* Cut short as a crash or a full disk leaves it: the start on disk, not the newline. */
    ck_assert_int_eq(truncate(path, good + 40), 0);

    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, N_RECORDS - 1);
    ck_assert_uint_eq(v.bad_line, 0);
    ck_assert(v.interrupted);
    ck_assert_uint_eq(v.interrupted_offset, (uint64_t)good);
    ck_assert_str_eq(v.head_hash, head);

    ck_assert_uint_eq(v.n_interruptions, 1);
    ck_assert_uint_eq(v.interruptions[0].line, N_RECORDS);
    ck_assert_uint_eq(v.interruptions[0].offset, (uint64_t)good);
    ck_assert_uint_eq(v.interruptions[0].length, 40);
    ck_assert(!v.interruptions[0].sealed);
    /* The head is the last record's, as the verifier gives it. */
    ck_assert_int_eq(tk_audit_head(path, &seq, &after, &e), 0);
    ck_assert_uint_eq(seq, N_RECORDS - 1);
    ck_assert_str_eq(after, head);
}
END_TEST

/* A chain of n records whose last line is then cut to its first `keep` bytes, as a crash
 * leaves it; returns the offset where that line starts. */
static off_t chain_with_cut_last_line(unsigned n, off_t keep)
{
    append_n(n - 1);
    off_t good = file_size(path);
    append(n);
    ck_assert_int_eq(truncate(path, good + keep), 0);
    return good;
}

START_TEST(append_seals_a_partial_last_line_with_a_recovery_record)
{
    off_t good = chain_with_cut_last_line(N_RECORDS, 40);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char fragment_hash[TK_AUDIT_HASH_HEX_LEN + 1], before_hash[TK_AUDIT_HASH_HEX_LEN + 1];
    line_hash(lines[n - 1], fragment_hash);
    line_hash(lines[n - 2], before_hash);
    free_lines(lines, n);

    TkError e = {};
    ck_assert_msg(tk_audit_check_appendable(path, 0, &e) == 0, "%s", e.message);
    TkAuditRecord r = {.operation = "op", .result = "ok", .time_usec = 1764000000000000ULL};
    /* The recovery record takes seq N_RECORDS, the new record the one after. */
    append_record(&r, N_RECORDS + 1);

    n = read_lines(lines);
    ck_assert_uint_eq(n, N_RECORDS + 2);
    ck_assert_uint_eq(strlen(lines[N_RECORDS - 1]), 41);
    json_object *o = json_tokener_parse(lines[N_RECORDS]);
    ck_assert_ptr_nonnull(o);
    static const struct {
        const char *key, *value;
    } want[] = {
        {"operation", "recovery"}, {"result", "sealed"}, {"serial", NULL},
        {"request", NULL},         {"error", NULL},      {"intent", NULL},
    };
    for (size_t i = 0; i < ELEMENTSOF(want); i++) {
        json_object *v = NULL;
        ck_assert_msg(json_object_object_get_ex(o, want[i].key, &v), "%s", want[i].key);
        if (want[i].value)
            ck_assert_str_eq(json_object_get_string(v), want[i].value);
        else
            ck_assert_ptr_null(v);
    }
    ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "seq")), N_RECORDS);
    ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "fragment_offset")), good);
    ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "fragment_length")), 40);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "fragment_sha256")),
                     fragment_hash);
    /* Chained to the last record before the cut-off line, which nothing else would carry. */
    ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "prev")), before_hash);
    json_object_put(o);
    free_lines(lines, n);

    TkAuditVerifyResult v = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, N_RECORDS + 1);
    ck_assert(!v.interrupted);
    ck_assert_uint_eq(v.n_interruptions, 1);
    ck_assert_uint_eq(v.interruptions[0].line, N_RECORDS);
    ck_assert_uint_eq(v.interruptions[0].offset, (uint64_t)good);
    ck_assert_uint_eq(v.interruptions[0].length, 40);
    ck_assert(v.interruptions[0].sealed);

    /* The reader passes over the cut-off line and gives its recovery record. */
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    ck_assert_int_eq(tk_audit_reader_open(path, &a, NULL), 0);
    TkAuditEntry entry;
    for (unsigned i = 1; i < N_RECORDS; i++)
        ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_uint_eq(entry.seq, N_RECORDS);
    ck_assert_str_eq(entry.record.operation, "recovery");
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_str_eq(entry.record.operation, "op");
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 0);
    a = tk_audit_reader_free(a);

    /* A second interruption is sealed the same way. */
    off_t second = file_size(path);
    append(9);
    ck_assert_int_eq(truncate(path, second + 7), 0);
    append(10);
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.n_interruptions, 2);
    ck_assert_uint_eq(v.interruptions[1].line, N_RECORDS + 3);
    ck_assert_uint_eq(v.interruptions[1].offset, (uint64_t)second);
    ck_assert_uint_eq(v.lines, N_RECORDS + 3);
}
END_TEST

START_TEST(append_completes_a_partial_line_that_lacks_only_its_newline)
{
    append_n(N_RECORDS);
    ck_assert_int_eq(truncate(path, file_size(path) - 1), 0);
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert(v.interrupted);
    append(N_RECORDS + 1);
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, N_RECORDS + 1);
    ck_assert_uint_eq(v.n_interruptions, 0);
}
END_TEST

/* A sealed chain, then edit of line i (0-based) from → to. */
static void sealed_chain_edited(size_t i, const char *from, const char *to)
{
    chain_with_cut_last_line(4, 30);
    append(5);
    append(6);
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, NULL, &e) == 0, "%s", e.message);
    edit_line(i, from, to);
}

START_TEST(verify_finds_an_edited_sealed_line)
{
    /* Line 4 is the cut-off line: its first 30 bytes, '{"seq":4,"time":"2025-11-24T1'. */
    sealed_chain_edited(3, "\"seq\":4", "\"seq\":7");
    assert_bad_line(4, "recovery record on line 5");
}
END_TEST

START_TEST(verify_finds_an_edited_recovery_record)
{
    char *lines[MAX_LINES];
    sealed_chain_edited(4, "\"fragment_length\":30", "\"fragment_length\":31");
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_int_eq(tk_audit_verify(path, &v, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "length differs"), "%s", e.message);
    ck_assert_uint_eq(v.bad_line, 4);

    /* Even with the chain after it recomputed, the record must match the line it seals. */
    unlink(path);
    sealed_chain_edited(4, "\"fragment_offset\":", "\"fragment_offset\":1");
    size_t n = read_lines(lines);
    rechain(lines, 5, n);
    write_lines(lines, n);
    free_lines(lines, n);
    ck_assert_int_eq(tk_audit_verify(path, &v, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "offset differs"), "%s", e.message);

    /* Without the line it sealed, a recovery record is a forgery. */
    unlink(path);
    sealed_chain_edited(0, "", "");
    delete_line(3);
    assert_bad_line(4, "no cut-off line");
}
END_TEST

START_TEST(verify_refuses_a_bad_line_that_no_recovery_record_seals)
{
    /* A damaged line in the middle is damage, whatever follows it. */
    append_n(5);
    edit_line(3, "\"seq\":4,", "\"seq\":4");
    assert_bad_line(4, "not a JSON object");
}
END_TEST

/* Appends a record in a child process whose writes past `limit` bytes fail with EFBIG, as they
 * fail with ENOSPC on a full file system: a file size limit needs no privilege, and with SIGXFSZ
 * ignored the write fails instead of killing the process. Asserts that the append failed with
 * a message naming the file and the cause, and left the file as it was. */
static void append_past_a_file_size_limit(off_t limit)
{
    off_t before = file_size(path);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = (rlim_t)limit, .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0 || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
            _exit(2);
        TkAuditRecord r = {.operation = "op", .result = "ok"};
        TkError e = {};
        int ret = tk_audit_append(path, &r, NULL, &e);
        bool named = strstr(e.message, path) && strstr(e.message, strerror(EFBIG));
        _exit(ret == -EFBIG && named && file_size(path) == before ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    ck_assert_int_eq(file_size(path), before);
}

START_TEST(a_failed_write_is_cut_back_and_leaves_no_partial_line)
{
    append_n(3);
    /* Room for the line's first 20 bytes only. */
    append_past_a_file_size_limit(file_size(path) + 20);

    /* Nothing is left to seal: the next append follows line 3. */
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert(!v.interrupted);
    append(4);
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, 4);
    ck_assert_uint_eq(v.n_interruptions, 0);
}
END_TEST

START_TEST(a_failed_seal_is_cut_back_to_the_partial_line)
{
    off_t good = chain_with_cut_last_line(4, 30);
    /* Room for the newline and part of the recovery record. */
    append_past_a_file_size_limit(file_size(path) + 50);
    /* Still the one partial line, sealed by the next append that can write. */
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert(v.interrupted);
    ck_assert_uint_eq(v.interrupted_offset, (uint64_t)good);
    append(5);
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.n_interruptions, 1);
    ck_assert(v.interruptions[0].sealed);
}
END_TEST

START_TEST(outcome_carries_the_seq_of_its_intent_and_old_lines_without_it_verify)
{
    TkAuditRecord intent = {.operation = "unblock-pin", .result = "intent"};
    append_record(&intent, 1);
    TkAuditRecord outcome = {.operation = "unblock-pin", .result = "ok", .intent = 1};
    append_record(&outcome, 2);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    ck_assert_ptr_nonnull(strstr(lines[0], "\"intent\":null"));
    ck_assert_ptr_nonnull(strstr(lines[1], "\"intent\":1,"));
    free_lines(lines, n);

    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    ck_assert_int_eq(tk_audit_reader_open(path, &a, NULL), 0);
    TkAuditEntry entry;
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_uint_eq(entry.record.intent, 0);
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_uint_eq(entry.record.intent, 1);
    a = tk_audit_reader_free(a);

    /* No link to a record that is not there yet. */
    TkAuditRecord ahead = {.operation = "op", .result = "ok", .intent = 3};
    ck_assert_int_eq(tk_audit_append(path, &ahead, NULL, NULL), -EINVAL);
    TkAuditRecord recovery = {.operation = "recovery", .result = "sealed"};
    ck_assert_int_eq(tk_audit_append(path, &recovery, NULL, NULL), -EINVAL);

    /* A trail written before the field: lines without it. */
    unlink(path);
    append_n(3);
    n = read_lines(lines);
    for (size_t i = 0; i < n; i++) {
        char *without = replaced(lines[i], "\"intent\":null,", "");
        free(lines[i]);
        lines[i] = without;
    }
    rechain(lines, 1, n);
    write_lines(lines, n);
    free_lines(lines, n);
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, 3);

    write_chain_with_line_3_edited("\"intent\":null", "\"intent\":3");
    assert_bad_line(3, "'intent'");
}
END_TEST

START_TEST(verify_reports_a_file_that_is_only_a_partial_line_as_an_interruption)
{
    static const char partial[] = "{\"seq\":1,\"time\":\"2026-";
    append_bytes(path, partial, strlen(partial));
    TkAuditVerifyResult v = {};
    TkError e = {};
    ck_assert_msg(tk_audit_verify(path, &v, &e) == 0, "%s", e.message);
    ck_assert_uint_eq(v.lines, 0);
    ck_assert(v.interrupted);
    ck_assert_uint_eq(v.interrupted_offset, 0);
    ck_assert_str_eq(v.head_hash,
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(verify_refuses_a_partial_last_line_longer_than_a_line)
{
    /* No writer makes a line this long, so no interrupted write leaves one. */
    append_n(2);
    append_huge_line(2 * TK_AUDIT_LINE_MAX, false);
    assert_bad_line(3, "longer than");
}
END_TEST

START_TEST(verify_blames_an_edited_line_even_when_a_partial_line_follows)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *edited = replaced(lines[3], "\"uid\":1004", "\"uid\":0");
    free(lines[3]);
    lines[3] = edited;
    lines[5][20] = 0;
    write_lines(lines, n);
    free_lines(lines, n);
    /* Line 5 is genuine: only the cut-short line 6 could have told, and it says nothing. */
    assert_bad_line(4, "changed");
}
END_TEST

START_TEST(verify_refuses_an_overlong_line_without_reading_it_whole)
{
    append_n(2);
    append_huge_line(64 << 20, true);
    long long before = bytes_read();
    assert_bad_line(3, "longer than");
    long long after = bytes_read();
    /* Without the kernel's count, only the verdict can be checked. */
    if (before >= 0)
        ck_assert_msg(after - before < (1 << 20), "verify read %lld bytes", after - before);
}
END_TEST

START_TEST(head_refuses_an_overlong_last_line_without_reading_it_whole)
{
    append_n(2);
    append_huge_line(64 << 20, true);
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL;
    TkError e = {};
    long long before = bytes_read();
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, &e), -EBADMSG);
    long long after = bytes_read();
    ck_assert_msg(strstr(e.message, "longer than"), "%s", e.message);
    if (before >= 0)
        ck_assert_msg(after - before < (1 << 20), "head read %lld bytes", after - before);
}
END_TEST

START_TEST(verify_refuses_a_seq_that_overflows)
{
    static const struct {
        const char *seq, *why;
    } cases[] = {
        /* json-c reads both as INT64_MAX, and INT64_MAX itself is therefore not trusted. */
        {"18446744073709551619", "field 'seq' out of range"},
        {"9223372036854775811", "field 'seq' out of range"},
        {"9223372036854775807", "field 'seq' out of range"},
        /* 3 in 32 bits. */
        {"4294967299", "sequence number 4294967299 where 3"},
        {"-3", "field 'seq' out of range"},
        {"3.0", "field 'seq' that is not an integer"},
        {"\"3\"", "field 'seq' that is not an integer"},
        /* Not JSON: a leading zero. */
        {"03", "not a JSON object"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        char to[64];
        snprintf(to, sizeof(to), "\"seq\":%s,", cases[i].seq);
        write_chain_with_line_3_edited("\"seq\":3,", to);
        assert_bad_line(3, cases[i].why);
    }
}
END_TEST

START_TEST(verify_refuses_fields_of_the_wrong_type)
{
    static const struct {
        const char *from, *to, *why;
    } cases[] = {
        {"\"uid\":1003", "\"uid\":\"1003\"", "field 'uid' that is not an integer"},
        {"\"uid\":1003", "\"uid\":4294967296", "field 'uid' out of range"},
        {"\"pid\":4003", "\"pid\":-1", "field 'pid' out of range"},
        {"\"time_usec\":", "\"time_usec\":-", "field 'time_usec' out of range"},
        {"\"time\":\"2025-11-24T16:00:03.000003Z\"", "\"time\":null",
         "field 'time' that is not a string"},
        {"\"operation\":\"op-3\"", "\"operation\":null", "field 'operation' that is not a string"},
        {"\"serial\":\"SER3\"", "\"serial\":3", "field 'serial' that is not a string or null"},
        {"\"result\":\"refused\"", "\"result\":[]", "field 'result' that is not a string"},
        {"\"error\":\"PinPolicy\"", "\"error\":{}", "field 'error' that is not a string or null"},
        {"\"prev\":\"", "\"prev\":1,\"was\":\"", "field 'prev' that is not a string"},
        {"\"prev\":\"", "\"prev\":\"0", "field 'prev' that is not 64 lowercase hex"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        write_chain_with_line_3_edited(cases[i].from, cases[i].to);
        assert_bad_line(3, cases[i].why);
    }
}
END_TEST

START_TEST(verify_refuses_a_prev_in_capitals)
{
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    char *at = strstr(lines[2], "\"prev\":\"") + strlen("\"prev\":\"");
    for (size_t i = 0; i < TK_AUDIT_HASH_HEX_LEN; i++)
        at[i] = (char)toupper((unsigned char)at[i]);
    rechain(lines, 3, n);
    write_lines(lines, n);
    free_lines(lines, n);
    assert_bad_line(3, "field 'prev' that is not 64 lowercase hex");
}
END_TEST

START_TEST(verify_refuses_a_line_that_is_more_than_one_json_object)
{
    static const struct {
        const char *from, *to;
    } cases[] = {
        {"\"}\n", "\"} x\n"},
        {"\"}\n", "\"}{}\n"},
        {"\"}\n", "\",}\n"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        write_chain_with_line_3_edited(cases[i].from, cases[i].to);
        assert_bad_line(3, "not a JSON object");
    }

    /* A NUL byte would hide what follows it from a reader that stops there. */
    unlink(path);
    append_n(N_RECORDS);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    unlink(path);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        if (i == 2) {
            append_bytes(path, lines[i], len - 3);
            append_bytes(path, "\0", 1);
            append_bytes(path, lines[i] + len - 3, 3);
        } else
            append_bytes(path, lines[i], len);
    }
    free_lines(lines, n);
    assert_bad_line(3, "NUL byte");
}
END_TEST

START_TEST(append_refuses_to_chain_onto_a_last_line_that_is_not_a_record)
{
    append_n(3);
    append_bytes(path, "{\"seq\":4}\n", 10);
    off_t before = file_size(path);
    TkAuditRecord r = {.operation = "op", .result = "ok"};
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "has no field 'time'") &&
                      strstr(e.message, "not a valid record"),
                  "%s", e.message);
    ck_assert_int_eq(file_size(path), before);
}
END_TEST

START_TEST(check_appendable_accepts_a_missing_an_empty_and_a_sound_file)
{
    TkError e = {};
    ck_assert_msg(tk_audit_check_appendable(path, 65536, &e) == 0, "%s", e.message);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert_int_eq(st.st_mode & 07777, TK_AUDIT_FILE_MODE);
    ck_assert_msg(tk_audit_check_appendable(path, 65536, &e) == 0, "%s", e.message);
    append_n(3);
    ck_assert_msg(tk_audit_check_appendable(path, 65536, &e) == 0, "%s", e.message);
}
END_TEST

START_TEST(check_appendable_refuses_a_damaged_tail)
{
    static const struct {
        const char *tail, *why;
    } cases[] = {
        {"not a record\n", "not a valid record"},
        {"{\"seq\":4}\n", "not a valid record"},
        {"\n", "not a valid record"},
    };
    TkAuditRecord r = {.operation = "op", .result = "ok"};
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        unlink(path);
        append_n(3);
        append_bytes(path, cases[i].tail, strlen(cases[i].tail));
        off_t before = file_size(path);
        TkError e = {};
        ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -EBADMSG);
        ck_assert_msg(strstr(e.message, path), "%s", e.message);
        ck_assert_msg(strstr(e.message, cases[i].why), "'%s' lacks '%s'", e.message, cases[i].why);
        /* What the check refuses the writer refuses too. */
        ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -EBADMSG);
        ck_assert_int_eq(file_size(path), before);
    }

    unlink(path);
    append_n(2);
    append_huge_line(64 << 10, true);
    TkError e = {};
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "longer than"), "%s", e.message);

    /* A partial line longer than a line is damage, not an interruption: nothing seals it. */
    unlink(path);
    append_n(2);
    append_huge_line(2 * TK_AUDIT_LINE_MAX, false);
    off_t before = file_size(path);
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "partial last line") && strstr(e.message, "longer than"), "%s",
                  e.message);
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -EBADMSG);
    ck_assert_int_eq(file_size(path), before);

    /* So is a damaged complete line before a partial one. */
    unlink(path);
    append_n(2);
    append_bytes(path, "not a record\n{\"seq\":", 20);
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "last complete line"), "%s", e.message);
}
END_TEST

START_TEST(check_appendable_refuses_a_full_file_system)
{
    append_n(2);
    TkError e = {};
    ck_assert_int_eq(tk_audit_check_appendable(path, UINT64_MAX / 2, &e), -ENOSPC);
    ck_assert_msg(strstr(e.message, path) && strstr(e.message, "free"), "%s", e.message);
    ck_assert_msg(tk_audit_check_appendable(path, 64 * 1024, &e) == 0, "%s", e.message);
}
END_TEST

START_TEST(check_appendable_refuses_a_symlink)
{
    /* The link's target is a sound trail: only the link is wrong. */
    snprintf(path, sizeof(path), "%s", other);
    append_n(2);
    snprintf(path, sizeof(path), "%s/audit.jsonl", tmpdir);
    ck_assert_int_eq(symlink(other, path), 0);
    TkError e = {};
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -ELOOP);
    ck_assert_msg(strstr(e.message, path) && strstr(e.message, "symbolic link"), "%s", e.message);
}
END_TEST

START_TEST(append_verify_and_head_refuse_a_symlink)
{
    snprintf(path, sizeof(path), "%s", other);
    append_n(2);
    snprintf(path, sizeof(path), "%s/audit.jsonl", tmpdir);
    ck_assert_int_eq(symlink(other, path), 0);
    off_t before = file_size(other);

    TkAuditRecord r = {.operation = "op", .result = "ok"};
    TkAuditVerifyResult v = {};
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -ELOOP);
    ck_assert_int_eq(file_size(other), before);
    ck_assert_int_eq(tk_audit_verify(path, &v, &e), -ELOOP);
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, &e), -ELOOP);
}
END_TEST

START_TEST(check_append_verify_and_head_refuse_a_fifo_without_hanging)
{
    /* Opening a FIFO for reading would wait for a writer that never comes. */
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    TkAuditRecord r = {.operation = "op", .result = "ok"};
    TkAuditVerifyResult v = {};
    uint64_t seq = 0;
    _cleanup_free_ char *head = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, &e), -EBADFD);
    ck_assert_msg(strstr(e.message, "not a regular file"), "%s", e.message);
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -EBADFD);
    ck_assert_int_eq(tk_audit_verify(path, &v, &e), -EBADFD);
    ck_assert_int_eq(tk_audit_head(path, &seq, &head, &e), -EBADFD);
}
END_TEST

typedef struct ReadOnlyOutcome {
    int setup_errno; /* why no read-only file could be made, or 0 */
    int r;
    char message[sizeof(((TkError *)NULL)->message)];
} ReadOnlyOutcome;

START_TEST(check_appendable_refuses_a_read_only_file)
{
    append_n(2);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ReadOnlyOutcome out = {};
        /* Root writes a file whatever its mode, so for root the file is made read-only as on a
         * read-only /var: the test's directory is bind-mounted read-only onto itself, in a
         * private mount namespace of this child alone, which goes when the child exits.
         * Anyone else gets a file of mode 0400. */
        if (geteuid() == 0) {
            /* "none" where the kernel ignores source and type: valgrind checks them as strings. */
            if (unshare(CLONE_NEWNS) < 0 ||
                mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
                mount(tmpdir, tmpdir, "none", MS_BIND, NULL) < 0 ||
                mount("none", tmpdir, "none", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
                out.setup_errno = errno;
        } else if (chmod(path, 0400) < 0)
            out.setup_errno = errno;
        if (!out.setup_errno) {
            TkError e = {};
            out.r = tk_audit_check_appendable(path, 0, &e);
            memcpy(out.message, e.message, sizeof(out.message));
        }
        _exit(write(fds[1], &out, sizeof(out)) == sizeof(out) ? 0 : 1);
    }
    close(fds[1]);
    ReadOnlyOutcome out = {};
    ck_assert_int_eq(read(fds[0], &out, sizeof(out)), sizeof(out));
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ck_assert_msg(out.setup_errno == 0, "cannot make a read-only file: %s",
                  strerror(out.setup_errno));
    ck_assert_int_eq(out.r, geteuid() == 0 ? -EROFS : -EACCES);
    ck_assert_msg(strstr(out.message, path), "%s", out.message);
    if (geteuid() == 0)
        ck_assert_msg(strstr(out.message, "read-only file system"), "%s", out.message);
}
END_TEST

START_TEST(check_appendable_refuses_a_file_in_a_missing_directory)
{
    char missing[192];
    snprintf(missing, sizeof(missing), "%s/no-such-dir/audit.jsonl", tmpdir);
    TkError e = {};
    ck_assert_int_eq(tk_audit_check_appendable(missing, 0, &e), -ENOENT);
    ck_assert_msg(strstr(e.message, missing) && strstr(e.message, "does not exist"), "%s",
                  e.message);
}
END_TEST

START_TEST(reader_gives_each_record_with_its_fields_then_the_end)
{
    append_n(N_RECORDS);
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    TkError e = {};
    ck_assert_msg(tk_audit_reader_open(path, &a, &e) == 0, "%s", e.message);
    for (unsigned i = 1; i <= N_RECORDS; i++) {
        TkAuditEntry entry;
        char op[32], serial[32];
        snprintf(op, sizeof(op), "op-%u", i);
        snprintf(serial, sizeof(serial), "SER%u", i);
        ck_assert_msg(tk_audit_reader_next(a, &entry, &e) == 1, "%s", e.message);
        ck_assert_uint_eq(entry.seq, i);
        ck_assert_uint_eq(entry.record.time_usec, 1764000000000000ULL + i * 1000001ULL);
        ck_assert_ptr_nonnull(strstr(entry.time, "2025-11-24T"));
        ck_assert_str_eq(entry.record.operation, op);
        ck_assert_str_eq(entry.record.serial, serial);
        ck_assert_uint_eq(entry.record.uid, 1000 + i);
        ck_assert_uint_eq(entry.record.pid, 4000 + i);
        if (i % 2)
            ck_assert_str_eq(entry.record.request, "REQ-1");
        else
            ck_assert_ptr_null(entry.record.request);
        ck_assert_str_eq(entry.record.result, i % 3 ? "ok" : "refused");
        if (i % 3)
            ck_assert_ptr_null(entry.record.error);
        else
            ck_assert_str_eq(entry.record.error, "PinPolicy");
    }
    TkAuditEntry entry;
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, &e), 0);
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, &e), 0);

    TkAuditVerifyResult got = {}, want = {};
    tk_audit_reader_result(a, &got);
    ck_assert_int_eq(tk_audit_verify(path, &want, NULL), 0);
    ck_assert_uint_eq(got.lines, N_RECORDS);
    ck_assert(!got.interrupted);
    ck_assert_str_eq(got.head_hash, want.head_hash);
}
END_TEST

START_TEST(reader_ends_at_a_partial_last_line_and_says_so)
{
    append_n(2);
    off_t good = file_size(path);
    append(3);
    ck_assert_int_eq(truncate(path, good + 20), 0);

    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    ck_assert_int_eq(tk_audit_reader_open(path, &a, NULL), 0);
    TkAuditEntry entry;
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_uint_eq(entry.seq, 2);
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 0);
    TkAuditVerifyResult v = {};
    tk_audit_reader_result(a, &v);
    ck_assert_uint_eq(v.lines, 2);
    ck_assert(v.interrupted);
    ck_assert_uint_eq(v.interrupted_offset, (uint64_t)good);
}
END_TEST

START_TEST(reader_stops_at_a_broken_link_and_names_the_changed_line)
{
    append_n(N_RECORDS);
    edit_line(2, "\"uid\":1003", "\"uid\":0");

    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    ck_assert_int_eq(tk_audit_reader_open(path, &a, NULL), 0);
    TkAuditEntry entry;
    /* The changed line itself reads as a record: only the line after it shows the change. */
    for (unsigned i = 1; i <= 3; i++)
        ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), 1);
    ck_assert_uint_eq(entry.record.uid, 0);
    TkError e = {};
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "Line 3 does not match"), "%s", e.message);
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, NULL), -EBADMSG);
    TkAuditVerifyResult v = {};
    tk_audit_reader_result(a, &v);
    ck_assert_uint_eq(v.bad_line, 3);
    ck_assert_uint_eq(v.lines, 2);
}
END_TEST

START_TEST(a_new_file_is_readable_by_its_group_whatever_the_umask_and_an_old_one_keeps_its_mode)
{
    mode_t saved = umask(0077);
    append(1);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0640);

    ck_assert_int_eq(chmod(path, 0600), 0);
    append(2);
    ck_assert_int_eq(tk_audit_check_appendable(path, 0, NULL), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    umask(saved);
}
END_TEST

/* Verifies with a reader (on the file or on its bytes in memory): its result, its return and
 * its first error's message. */
static int verify_with(TkAuditReader *a, TkAuditVerifyResult *v, char *message, size_t size)
{
    TkAuditEntry entry;
    TkError e = {};
    int r;
    while ((r = tk_audit_reader_next(a, &entry, &e)) > 0)
        ;
    tk_audit_reader_result(a, v);
    snprintf(message, size, "%s", tk_error_is_set(&e) ? e.message : "");
    return r;
}

/* The file's bytes read from memory give what the file gives. */
static void assert_memory_reads_as_file(void)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "re");
    ck_assert_ptr_nonnull(f);
    FILE *m = open_memstream(&data, &len);
    ck_assert_ptr_nonnull(m);
    for (int c; (c = getc(f)) != EOF;)
        fputc(c, m);
    fclose(f);
    ck_assert_int_eq(fclose(m), 0);

    TkAuditVerifyResult vf = {}, vm = {};
    char ef[512], em[512];
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL, *b = NULL;
    ck_assert_int_eq(tk_audit_reader_open(path, &a, NULL), 0);
    ck_assert_int_eq(tk_audit_reader_open_memory("the trail in memory", data, len, &b, NULL), 0);
    ck_assert_int_eq(verify_with(a, &vf, ef, sizeof(ef)), verify_with(b, &vm, em, sizeof(em)));
    ck_assert_str_eq(ef, em);
    ck_assert_uint_eq(vf.lines, vm.lines);
    ck_assert_uint_eq(vf.bad_line, vm.bad_line);
    ck_assert_int_eq(vf.interrupted, vm.interrupted);
    ck_assert_uint_eq(vf.interrupted_offset, vm.interrupted_offset);
    ck_assert_uint_eq(vf.n_interruptions, vm.n_interruptions);
    for (size_t i = 0; i < vf.n_interruptions && i < TK_AUDIT_INTERRUPTIONS_LISTED; i++) {
        ck_assert_uint_eq(vf.interruptions[i].line, vm.interruptions[i].line);
        ck_assert_uint_eq(vf.interruptions[i].offset, vm.interruptions[i].offset);
        ck_assert_uint_eq(vf.interruptions[i].length, vm.interruptions[i].length);
        ck_assert_int_eq(vf.interruptions[i].sealed, vm.interruptions[i].sealed);
    }
    ck_assert_str_eq(vf.head_hash, vm.head_hash);
}

START_TEST(a_trail_in_memory_reads_as_its_file)
{
    /* Empty, intact, with a sealed interruption, ending in a partial line, then edited. */
    ck_assert_int_eq(close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)), 0);
    assert_memory_reads_as_file();
    append_n(N_RECORDS);
    assert_memory_reads_as_file();
    FILE *f = fopen(path, "ae");
    ck_assert_ptr_nonnull(f);
    fputs("{\"seq\":7,\"cut", f);
    ck_assert_int_eq(fclose(f), 0);
    assert_memory_reads_as_file();
    append(N_RECORDS + 1);
    assert_memory_reads_as_file();
    f = fopen(path, "ae");
    ck_assert_ptr_nonnull(f);
    fputs("{\"partial", f);
    ck_assert_int_eq(fclose(f), 0);
    assert_memory_reads_as_file();
    edit_line(2, "\"uid\":1003", "\"uid\":0");
    assert_memory_reads_as_file();

    /* The bytes may hold a NUL; they are the caller's, never written to. */
    static const char nul[] = "{\"seq\":1}\0x\n";
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    ck_assert_int_eq(tk_audit_reader_open_memory("bytes", nul, sizeof(nul) - 1, &a, NULL), 0);
    TkAuditEntry entry;
    TkError e = {};
    ck_assert_int_eq(tk_audit_reader_next(a, &entry, &e), -EBADMSG);
    ck_assert_msg(strstr(e.message, "Line 1 contains a NUL byte"), "%s", e.message);
    ck_assert_int_eq(tk_audit_reader_open_memory("", nul, 1, &a, NULL), -EINVAL);
    ck_assert_int_eq(tk_audit_reader_open_memory("none", NULL, 1, &a, NULL), -EINVAL);
}
END_TEST

START_TEST(a_lock_held_by_a_reader_makes_append_fail_after_a_while_instead_of_hanging)
{
    append_n(2);
    off_t before = file_size(path);
    /* A reader's lock: a shared one, which an open for reading suffices for. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_SH), 0);

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    TkAuditRecord r = {.operation = "op", .result = "ok"};
    TkError e = {};
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, &e), -EBUSY);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double waited = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    ck_assert_msg(waited >= TK_AUDIT_LOCK_WAIT_MSEC / 1000.0 && waited < 15, "waited %.2f s",
                  waited);
    ck_assert_msg(strstr(e.message, "locked by another process"), "%s", e.message);
    ck_assert_int_eq(file_size(path), before);

    /* Readers still share it; once it is let go, writing goes on. */
    ck_assert_int_eq(tk_audit_verify(path, NULL, NULL), 0);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(tk_audit_append(path, &r, NULL, NULL), 0);
}
END_TEST

typedef struct CopiedLines {
    char text[8192];
    size_t len;
    size_t n;
    uint64_t next_offset; /* the offset after the last line given */
} CopiedLines;

static int copy_line(const char *line, size_t len, uint64_t offset, void *userdata)
{
    CopiedLines *c = userdata;
    ck_assert_uint_eq(offset, c->next_offset ? c->next_offset : offset);
    ck_assert_uint_lt(c->len + len + 1, sizeof(c->text));
    memcpy(c->text + c->len, line, len);
    c->text[c->len + len] = '\n';
    c->len += len + 1;
    c->n++;
    c->next_offset = offset + len + 1;
    return 0;
}

START_TEST(read_lines_gives_complete_lines_from_an_offset_and_not_a_partial_one)
{
    append_n(3);
    off_t whole = file_size(path);
    CopiedLines c = {};
    TkError e = {};
    ck_assert_int_eq(tk_audit_read_lines(path, 0, SIZE_MAX, copy_line, &c, &e), 3);
    ck_assert_uint_eq(c.len, (size_t)whole);
    char *lines[MAX_LINES];
    size_t n = read_lines(lines);
    ck_assert_uint_eq(n, 3);
    ck_assert(strncmp(c.text, lines[0], strlen(lines[0])) == 0);

    /* From the second line on, at most one line. */
    CopiedLines one = {.next_offset = strlen(lines[0])};
    ck_assert_int_eq(tk_audit_read_lines(path, strlen(lines[0]), 1, copy_line, &one, &e), 1);
    ck_assert_uint_eq(one.len, strlen(lines[1]));
    ck_assert(memcmp(one.text, lines[1], one.len) == 0);
    free_lines(lines, n);

    /* A line still being written (no newline yet) is not given. */
    append_bytes(path, "{\"seq\":4", 8);
    CopiedLines after = {.next_offset = (uint64_t)whole};
    ck_assert_int_eq(tk_audit_read_lines(path, (uint64_t)whole, SIZE_MAX, copy_line, &after, &e),
                     0);
    ck_assert_uint_eq(after.n, 0);
}
END_TEST

START_TEST(read_lines_refuses_an_overlong_line_and_a_link)
{
    append_huge_line(TK_AUDIT_LINE_MAX + 10, true);
    CopiedLines c = {};
    TkError e = {};
    ck_assert_int_eq(tk_audit_read_lines(path, 0, SIZE_MAX, copy_line, &c, &e), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(e.message, "longer than"));
    ck_assert_int_eq(symlink(path, other), 0);
    ck_assert_int_eq(tk_audit_read_lines(other, 0, SIZE_MAX, copy_line, &c, &e), -ELOOP);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit-log");
    TCase *tc = tcase_create("chain");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, audit_chain_of_appends_verifies);
    tcase_add_test(tc, audit_line_has_every_field);
    tcase_add_test(tc, audit_first_line_chains_from_empty_hash);
    tcase_add_test(tc, audit_detects_edited_field);
    tcase_add_test(tc, audit_detects_edit_of_second_to_last_line);
    tcase_add_test(tc, audit_detects_deleted_line);
    tcase_add_test(tc, audit_detects_deleted_first_line);
    tcase_add_test(tc, audit_detects_forged_inserted_line);
    tcase_add_test(tc, audit_detects_swapped_lines);
    tcase_add_test(tc, audit_detects_forged_first_line);
    tcase_add_test(tc, audit_reports_line_that_is_not_json);
    tcase_add_test(tc, audit_reports_missing_field);
    tcase_add_test(tc, audit_head_anchors_the_tail);
    tcase_add_test(tc, audit_concurrent_writers_do_not_interleave);
    tcase_add_test(tc, audit_verify_reports_missing_file);
    tcase_add_test(tc, append_returns_the_seq_of_the_new_line);
    tcase_add_test(tc, append_seals_a_partial_last_line_with_a_recovery_record);
    tcase_add_test(tc, append_completes_a_partial_line_that_lacks_only_its_newline);
    tcase_add_test(tc, verify_finds_an_edited_sealed_line);
    tcase_add_test(tc, verify_finds_an_edited_recovery_record);
    tcase_add_test(tc, verify_refuses_a_bad_line_that_no_recovery_record_seals);
    tcase_add_test(tc, a_failed_write_is_cut_back_and_leaves_no_partial_line);
    tcase_add_test(tc, a_failed_seal_is_cut_back_to_the_partial_line);
    tcase_add_test(tc, outcome_carries_the_seq_of_its_intent_and_old_lines_without_it_verify);
    tcase_add_test(tc,
                   append_refuses_a_record_longer_than_a_line_and_the_chain_still_takes_the_next);
    tcase_add_test(tc, append_takes_a_line_of_exactly_the_bound_and_refuses_one_byte_more);
    tcase_add_test(tc, append_refuses_to_go_past_the_largest_seq);
    tcase_add_test(tc, verify_reports_a_partial_last_line_as_an_interruption_not_tampering);
    tcase_add_test(tc, verify_reports_a_file_that_is_only_a_partial_line_as_an_interruption);
    tcase_add_test(tc, verify_refuses_a_partial_last_line_longer_than_a_line);
    tcase_add_test(tc, verify_blames_an_edited_line_even_when_a_partial_line_follows);
    tcase_add_test(tc, verify_refuses_an_overlong_line_without_reading_it_whole);
    tcase_add_test(tc, head_refuses_an_overlong_last_line_without_reading_it_whole);
    tcase_add_test(tc, verify_refuses_a_seq_that_overflows);
    tcase_add_test(tc, verify_refuses_fields_of_the_wrong_type);
    tcase_add_test(tc, verify_refuses_a_prev_in_capitals);
    tcase_add_test(tc, verify_refuses_a_line_that_is_more_than_one_json_object);
    tcase_add_test(tc, append_refuses_to_chain_onto_a_last_line_that_is_not_a_record);
    tcase_add_test(tc, check_appendable_accepts_a_missing_an_empty_and_a_sound_file);
    tcase_add_test(tc, check_appendable_refuses_a_damaged_tail);
    tcase_add_test(tc, check_appendable_refuses_a_full_file_system);
    tcase_add_test(tc, check_appendable_refuses_a_symlink);
    tcase_add_test(tc, append_verify_and_head_refuse_a_symlink);
    tcase_add_test(tc, check_append_verify_and_head_refuse_a_fifo_without_hanging);
    tcase_add_test(tc, check_appendable_refuses_a_read_only_file);
    tcase_add_test(tc, check_appendable_refuses_a_file_in_a_missing_directory);
    tcase_add_test(
        tc, a_new_file_is_readable_by_its_group_whatever_the_umask_and_an_old_one_keeps_its_mode);
    tcase_add_test(tc, reader_gives_each_record_with_its_fields_then_the_end);
    tcase_add_test(tc, reader_ends_at_a_partial_last_line_and_says_so);
    tcase_add_test(tc, reader_stops_at_a_broken_link_and_names_the_changed_line);
    tcase_add_test(tc, a_trail_in_memory_reads_as_its_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("lock");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_lock_held_by_a_reader_makes_append_fail_after_a_while_instead_of_hanging);
    tcase_add_test(tc, read_lines_gives_complete_lines_from_an_offset_and_not_a_partial_one);
    tcase_add_test(tc, read_lines_refuses_an_overlong_line_and_a_link);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(audit_suite())
