/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "audit-log.h"
#include "io-util.h"
#include "time-util.h"

/* A line with room for its terminating NUL. */
#define LINE_BUF (TK_AUDIT_LINE_MAX + 1)

/* Flags for every open of the audit file. O_NOFOLLOW: a symbolic link put in its place must not
 * send the trail, or what is verified, to another file. O_NONBLOCK: a FIFO put there must not
 * hang the daemon in open(); it is then refused as not a regular file, and for a regular file
 * the flag changes nothing. */
#define AUDIT_OPEN_FLAGS (O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK)

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int sha256_hex(const void *data, size_t len, char out[TK_AUDIT_HASH_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof(md))
        return -EIO;
    /* Not snprintf(): a reader hashes every line, and 32 calls a line were a tenth of its
     * time. */
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0xf];
    }
    out[2 * sizeof(md)] = 0;
    return 0;
}

static void json_putp(json_object **o)
{
    json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static json_object *json_string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* Opens the audit file with AUDIT_OPEN_FLAGS and makes sure it is a regular file. Returns the
 * descriptor, or a negative errno with a message that says what to fix. */
static int open_audit(const char *path, int flags, TkError *error)
{
    bool writing = (flags & O_ACCMODE) != O_RDONLY, created = false;
    int fd = open(path, (flags & ~O_CREAT) | AUDIT_OPEN_FLAGS);
    if (fd < 0 && errno == ENOENT && (flags & O_CREAT)) {
        /* O_EXCL: only the process that made the file sets its mode, once. */
        fd = open(path, flags | O_EXCL | AUDIT_OPEN_FLAGS, TK_AUDIT_FILE_MODE);
        if (fd >= 0)
            created = true;
        else if (errno == EEXIST)
            fd = open(path, (flags & ~O_CREAT) | AUDIT_OPEN_FLAGS);
    }
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP)
            return tk_error_set(error, -err, TK_ERROR_FAILED,
                                "The audit file %s is a symbolic link; it must be the file "
                                "itself, so that the trail cannot be sent elsewhere.",
                                path);
        if (writing && err == ENOENT)
            return tk_error_set(error, -err, TK_ERROR_FAILED,
                                "The directory of the audit file %s does not exist; create it "
                                "or set Audit File to a path in a directory that exists.",
                                path);
        if (writing && err == EROFS)
            return tk_error_set(error, -err, TK_ERROR_FAILED,
                                "The audit file %s is on a read-only file system; make it "
                                "writable or set Audit File to a writable place.",
                                path);
        if (writing && (err == EACCES || err == EPERM))
            return tk_error_set(error, -err, TK_ERROR_FAILED,
                                "The audit file %s cannot be opened for appending (%s); check "
                                "the owner, mode and attributes of the file and its directory.",
                                path, strerror(err));
        errno = err;
        return tk_error_set(error, -err, TK_ERROR_FAILED, "Cannot open audit file %s: %m", path);
    }

    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return tk_error_set(error, -err, TK_ERROR_FAILED, "Cannot stat audit file %s: %m", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tk_error_set(error, -EBADFD, TK_ERROR_FAILED,
                            "The audit file %s is not a regular file.", path);
    }
    /* The mode open() gave has been through the umask (tokend.service's is 0077). */
    if (created && fchmod(fd, TK_AUDIT_FILE_MODE) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return tk_error_set(error, -err, TK_ERROR_FAILED,
                            "Cannot set the mode of the new audit file %s: %m", path);
    }
    return fd;
}

/* Anyone who may read the file may lock it (flock() needs no write access), and tokend writes
 * from its event loop: a lock that is held on and on must cost tokend an act it refuses, not a
 * hang. The wait is long enough for a reader to go through years of a trail. */
#define LOCK_STEP_MSEC 10

static int lock_audit(int fd, int operation, const char *path, TkError *error)
{
    for (unsigned waited = 0;; waited += LOCK_STEP_MSEC) {
        if (flock(fd, operation | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot lock audit file %s: %m",
                                path);
        if (waited >= TK_AUDIT_LOCK_WAIT_MSEC)
            return tk_error_set(error, -EBUSY, TK_ERROR_FAILED,
                                "The audit file %s has been locked by another process for %d "
                                "seconds (a reader that does not finish, such as a stopped "
                                "tokenctl audit list?); nothing was read or written.",
                                path, TK_AUDIT_LOCK_WAIT_MSEC / 1000);
        (void)nanosleep(&(struct timespec){.tv_nsec = LOCK_STEP_MSEC * 1000000L}, NULL);
    }
}

/* The file opened for reading under a shared lock, which lasts as long as the descriptor: a
 * writer never leaves a reader a half-written last line. */
static int open_audit_shared(const char *path, TkError *error)
{
    _cleanup_close_ int fd = open_audit(path, O_RDONLY, error);
    if (fd < 0)
        return fd;
    int r = lock_audit(fd, LOCK_SH, path, error);
    return r < 0 ? r : TAKE_FD(fd);
}

/* What each line must carry. Integers must lie in [min, max]; INT64_MAX is never in range
 * because json-c reads every larger number (and INT64_MIN every smaller one) as that value,
 * so such a number cannot be told from a huge one. An optional field may be missing: intent
 * came later, and the lines written before it have none. */
static const struct {
    const char *name;
    json_type type;
    bool nullable, optional;
    int64_t min, max;
} fields[] = {
    {"seq", json_type_int, false, false, 1, INT64_MAX - 1},
    {"time", json_type_string, false, false, 0, 0},
    {"time_usec", json_type_int, false, false, 0, INT64_MAX - 1},
    {"operation", json_type_string, false, false, 0, 0},
    {"serial", json_type_string, true, false, 0, 0},
    {"uid", json_type_int, false, false, 0, UINT32_MAX},
    {"pid", json_type_int, false, false, 0, UINT32_MAX},
    {"request", json_type_string, true, false, 0, 0},
    {"result", json_type_string, false, false, 0, 0},
    {"error", json_type_string, true, false, 0, 0},
    {"intent", json_type_int, true, true, 1, INT64_MAX - 1},
    {"prev", json_type_string, false, false, 0, 0},
};

/* What a recovery record carries besides: where the line it seals begins, its length and its
 * hash. */
static const struct {
    const char *name;
    json_type type;
    int64_t min, max;
} recovery_fields[] = {
    {"fragment_offset", json_type_int, 0, INT64_MAX - 1},
    {"fragment_length", json_type_int, 1, TK_AUDIT_LINE_MAX},
    {"fragment_sha256", json_type_string, 0, 0},
};

static bool is_hash_hex(json_object *v)
{
    if (!json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) != TK_AUDIT_HASH_HEX_LEN)
        return false;
    const char *s = json_object_get_string(v);
    for (size_t i = 0; i < TK_AUDIT_HASH_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A field of type type, in [min, max] if an integer. */
static bool field_valid(json_object *v, json_type type, int64_t min, int64_t max)
{
    if (!json_object_is_type(v, type))
        return false;
    if (type != json_type_int)
        return true;
    int64_t n = json_object_get_int64(v);
    return n >= min && n <= max;
}

static int64_t record_seq(json_object *o)
{
    return json_object_get_int64(json_object_object_get(o, "seq"));
}

static const char *record_prev(json_object *o)
{
    return json_object_get_string(json_object_object_get(o, "prev"));
}

/* Checks that line (len bytes, no newline) is one record: a single JSON object and nothing
 * else, every field there with its type and range, prev 64 lowercase hex. Returns 0 and the
 * object, or -EBADMSG with why = what is wrong, to follow "Line N" or "The last line". */
static int parse_record(const char *line, size_t len, json_object **ret, char *why, size_t why_size)
{
    if (memchr(line, 0, len)) {
        snprintf(why, why_size, "contains a NUL byte");
        return -EBADMSG;
    }

    /* Strict: no trailing commas, leading zeros or the like; and the object must take the
     * whole line, so that nothing hides after it. */
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, line, (int)len);
    bool whole = o && json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!whole || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        snprintf(why, why_size, "is not a JSON object");
        return -EBADMSG;
    }

    for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, fields[i].name, &v)) {
            if (fields[i].optional)
                continue;
            snprintf(why, why_size, "has no field '%s'", fields[i].name);
            goto bad;
        }
        if (!v && fields[i].nullable)
            continue;
        if (!json_object_is_type(v, fields[i].type)) {
            snprintf(why, why_size, "has a field '%s' that is not %s%s", fields[i].name,
                     fields[i].type == json_type_int ? "an integer" : "a string",
                     fields[i].nullable ? " or null" : "");
            goto bad;
        }
        if (!field_valid(v, fields[i].type, fields[i].min, fields[i].max)) {
            snprintf(why, why_size, "has a field '%s' out of range", fields[i].name);
            goto bad;
        }
    }

    if (!is_hash_hex(json_object_object_get(o, "prev"))) {
        snprintf(why, why_size, "has a field 'prev' that is not %d lowercase hex digits",
                 TK_AUDIT_HASH_HEX_LEN);
        goto bad;
    }
    /* An outcome follows its intent. */
    json_object *intent = json_object_object_get(o, "intent");
    if (intent && json_object_get_int64(intent) >= record_seq(o)) {
        snprintf(why, why_size, "has a field 'intent' that is not an earlier record's seq");
        goto bad;
    }
    if (streq(json_object_get_string(json_object_object_get(o, "operation")), TK_AUDIT_RECOVERY)) {
        if (!streq(json_object_get_string(json_object_object_get(o, "result")),
                   TK_AUDIT_RECOVERY_RESULT)) {
            snprintf(why, why_size, "is a recovery record whose result is not '%s'",
                     TK_AUDIT_RECOVERY_RESULT);
            goto bad;
        }
        for (size_t i = 0; i < ELEMENTSOF(recovery_fields); i++) {
            json_object *v = NULL;
            bool ok = json_object_object_get_ex(o, recovery_fields[i].name, &v) &&
                      field_valid(v, recovery_fields[i].type, recovery_fields[i].min,
                                  recovery_fields[i].max);
            if (ok && recovery_fields[i].type == json_type_string)
                ok = is_hash_hex(v);
            if (!ok) {
                snprintf(why, why_size, "is a recovery record without a valid field '%s'",
                         recovery_fields[i].name);
                goto bad;
            }
        }
    }

    *ret = o;
    return 0;

bad:
    json_object_put(o);
    return -EBADMSG;
}

/* The end of the chain as the writer finds it under its lock. */
typedef struct ChainEnd {
    off_t size;                           /* of the file */
    int64_t seq;                          /* of the last record: 0 for none */
    char hash[TK_AUDIT_HASH_HEX_LEN + 1]; /* of its line: the genesis hash for none */
    /* The file ends in a partial line (no newline): where it starts, how long it is, its hash,
     * and whether it is a whole record that continues the chain, short of its newline only. */
    bool partial, partial_is_record;
    uint64_t partial_offset;
    size_t partial_len;
    char partial_hash[TK_AUDIT_HASH_HEX_LEN + 1];
} ChainEnd;

static int too_long(const char *path, const char *what, TkError *error)
{
    return tk_error_set(error, -EBADMSG, TK_ERROR_FAILED,
                        "The %s of audit file %s is longer than %d bytes, which no writer makes; "
                        "check the file with 'tokenctl audit verify %s'.",
                        what, path, TK_AUDIT_LINE_MAX, path);
}

/* Parses the last complete line (len bytes at line) as a record: its seq and hash. */
static int tail_record(const char *path, const char *line, size_t len, ChainEnd *end,
                       TkError *error)
{
    _cleanup_json_ json_object *o = NULL;
    char why[128];
    int r = parse_record(line, len, &o, why, sizeof(why));
    if (r == -EBADMSG)
        return tk_error_set(error, r, TK_ERROR_FAILED,
                            "The last %sline of audit file %s %s, so it is not a valid record; "
                            "check the file with 'tokenctl audit verify %s'.",
                            end->partial ? "complete " : "", path, why, path);
    if (r < 0)
        return r;
    end->seq = record_seq(o);
    return sha256_hex(line, len, end->hash);
}

/* Reads the end of the open file, no more than the bound allows: the last complete line, which
 * must be a valid record, and the partial line after it if there is one. */
static int read_tail(int fd, const char *path, ChainEnd *ret, TkError *error)
{
    ChainEnd end = {};
    struct stat st;
    if (fstat(fd, &st) < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot stat audit file %s: %m", path);
    end.size = st.st_size;
    int r = sha256_hex("", 0, end.hash);
    if (r < 0)
        return r;
    if (st.st_size == 0) {
        *ret = end;
        return 0;
    }

    /* A partial line, the complete line before it with its newline, and the newline before
     * that. */
    char buf[2 * TK_AUDIT_LINE_MAX + 2];
    size_t want = st.st_size > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)st.st_size;
    off_t base = st.st_size - (off_t)want;
    ssize_t k = pread(fd, buf, want, base);
    if (k != (ssize_t)want)
        return tk_error_set(error, k < 0 ? -errno : -EIO, TK_ERROR_FAILED,
                            "Cannot read audit file %s.", path);

    /* complete: the end of the last complete line's newline, 0 for none within reach. */
    size_t complete = want;
    if (buf[want - 1] != '\n') {
        const char *nl = memrchr(buf, '\n', want);
        size_t start = nl ? (size_t)(nl - buf) + 1 : 0;
        if ((!nl && base > 0) || want - start > TK_AUDIT_LINE_MAX)
            return too_long(path, "partial last line", error);
        end.partial = true;
        end.partial_offset = (uint64_t)base + start;
        end.partial_len = want - start;
        r = sha256_hex(buf + start, end.partial_len, end.partial_hash);
        if (r < 0)
            return r;
        complete = start;
    }
    if (complete > 0) {
        const char *nl = complete > 1 ? memrchr(buf, '\n', complete - 1) : NULL;
        size_t start = nl ? (size_t)(nl - buf) + 1 : 0;
        size_t len = complete - 1 - start;
        if ((!nl && base > 0) || len > TK_AUDIT_LINE_MAX)
            return too_long(path, end.partial ? "last complete line" : "last line", error);
        r = tail_record(path, buf + start, len, &end, error);
        if (r < 0)
            return r;
    }

    if (end.partial) {
        /* Cut short by its newline only: complete it rather than seal it. */
        const char *line = buf + (end.partial_offset - (uint64_t)base);
        _cleanup_json_ json_object *o = NULL;
        char ignored[128];
        end.partial_is_record =
            parse_record(line, end.partial_len, &o, ignored, sizeof(ignored)) == 0 &&
            record_seq(o) == end.seq + 1 && streq(record_prev(o), end.hash);
    }
    *ret = end;
    return 0;
}

/* The seq the next record gets. Writer and checker both use it, so that what the checker
 * accepts the writer can chain onto. */
static int next_seq(const ChainEnd *end, const char *path, int64_t *ret_seq, TkError *error)
{
    /* A recovery record or a completed partial record comes first. */
    int64_t seq = end->seq + (end->partial ? 1 : 0);
    if (seq >= INT64_MAX - 1)
        return tk_error_set(error, -EOVERFLOW, TK_ERROR_FAILED,
                            "The audit file %s has reached the largest sequence number; start a "
                            "new file.",
                            path);
    *ret_seq = seq + 1;
    return 0;
}

/* The field whose JSON text is longest, to say which one made a record too long. */
static const char *longest_field(json_object *o, size_t *ret_len)
{
    const char *name = "?";
    size_t longest = 0;
    json_object_object_foreach(o, key, value)
    {
        const char *text = json_object_to_json_string_ext(value, JSON_FLAGS);
        size_t len = text ? strlen(text) : 0;
        if (len > longest) {
            longest = len;
            name = key;
        }
    }
    *ret_len = longest;
    return name;
}

/* The trail opened for appending (made if missing) and locked (LOCK_EX or LOCK_SH; the lock goes
 * with the descriptor), with its end and the sequence number the next record must carry. Returns
 * the descriptor. */
static int open_chain_end(const char *path, int lock, ChainEnd *ret_end, int64_t *ret_seq,
                          TkError *error)
{
    _cleanup_close_ int fd = open_audit(path, O_RDWR | O_APPEND | O_CREAT, error);
    if (fd < 0)
        return fd;
    int r = lock_audit(fd, lock, path, error);
    if (r >= 0)
        r = read_tail(fd, path, ret_end, error);
    if (r >= 0)
        r = next_seq(ret_end, path, ret_seq, error);
    if (r < 0)
        return r;
    return TAKE_FD(fd);
}

/* The record's JSON object, with the seq and prev it gets. */
static int record_object(const TkAuditRecord *rec, int64_t seq, const char *prev, json_object **ret)
{
    char when[32];
    time_t t = (time_t)(rec->time_usec / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -EINVAL;
    char iso[48];
    snprintf(iso, sizeof(iso), "%s.%06" PRIu64 "Z", when, rec->time_usec % 1000000);

    json_object *o = json_object_new_object();
    if (!o)
        return -ENOMEM;
    json_object_object_add(o, "seq", json_object_new_int64(seq));
    json_object_object_add(o, "time", json_object_new_string(iso));
    json_object_object_add(o, "time_usec", json_object_new_int64((int64_t)rec->time_usec));
    json_object_object_add(o, "operation", json_object_new_string(rec->operation));
    json_object_object_add(o, "serial", json_string_or_null(rec->serial));
    json_object_object_add(o, "uid", json_object_new_int64(rec->uid));
    json_object_object_add(o, "pid", json_object_new_int64(rec->pid));
    json_object_object_add(o, "request", json_string_or_null(rec->request));
    json_object_object_add(o, "result", json_object_new_string(rec->result));
    json_object_object_add(o, "error", json_string_or_null(rec->error));
    json_object_object_add(o, "intent",
                           rec->intent ? json_object_new_int64((int64_t)rec->intent) : NULL);
    json_object_object_add(o, "prev", json_object_new_string(prev));
    *ret = o;
    return 0;
}

/* The recovery record that seals the file's partial line, chained to the record before it: its
 * fragment fields are covered by its own hash, which the next record carries, so an edit of the
 * cut-off line or of this record is found. */
static int recovery_object(const ChainEnd *end, json_object **ret)
{
    const TkAuditRecord rec = {
        .time_usec = tk_now_usec(CLOCK_REALTIME),
        .operation = TK_AUDIT_RECOVERY,
        .uid = (uint32_t)getuid(),
        .pid = (uint32_t)getpid(),
        .result = TK_AUDIT_RECOVERY_RESULT,
    };
    _cleanup_json_ json_object *o = NULL;
    int r = record_object(&rec, end->seq + 1, end->hash, &o);
    if (r < 0)
        return r;
    /* Before prev, which stays the last field as in every record. */
    json_object *prev = json_object_get(json_object_object_get(o, "prev"));
    json_object_object_del(o, "prev");
    json_object_object_add(o, "fragment_offset",
                           json_object_new_int64((int64_t)end->partial_offset));
    json_object_object_add(o, "fragment_length", json_object_new_int64((int64_t)end->partial_len));
    json_object_object_add(o, "fragment_sha256", json_object_new_string(end->partial_hash));
    json_object_object_add(o, "prev", prev);
    *ret = TAKE_PTR(o);
    return 0;
}

/* Adds the object's line and its newline to *buf (*len bytes so far), and its hash to hash. */
static int add_line(json_object *o, char **buf, size_t *len, char hash[TK_AUDIT_HASH_HEX_LEN + 1],
                    TkError *error)
{
    const char *text = json_object_to_json_string_ext(o, JSON_FLAGS);
    if (!text)
        return -ENOMEM;
    size_t n = strlen(text);
    /* Refused here, before anything is written: a line over the bound would be refused by
     * every later reader, this writer included, and so end the trail. */
    if (n > TK_AUDIT_LINE_MAX) {
        size_t field_len = 0;
        const char *field = longest_field(o, &field_len);
        return tk_error_set(error, -E2BIG, TK_ERROR_INVALID_ARGUMENT,
                            "The audit record would be a line of %zu bytes, more than the %d a "
                            "line may hold, so it was not written: its field '%s' alone is %zu "
                            "bytes.",
                            n, TK_AUDIT_LINE_MAX, field, field_len);
    }
    char *m = realloc(*buf, *len + n + 2);
    if (!m)
        return -ENOMEM;
    memcpy(m + *len, text, n);
    m[*len + n] = '\n';
    m[*len + n + 1] = 0;
    *buf = m;
    int r = hash ? sha256_hex(m + *len, n, hash) : 0;
    *len += n + 1;
    return r;
}

/* Writes and syncs the bytes; on failure cuts the file back to size, which the exclusive lock
 * makes safe, so that what could not be written leaves no partial line. */
static int write_undoable(int fd, const char *path, off_t size, const char *data, size_t len,
                          TkError *error)
{
    const char *what = "write";
    int r = tk_write_all(fd, data, len);
    if (r >= 0 && fsync(fd) < 0) {
        r = -errno;
        what = "sync";
    }
    if (r >= 0)
        return 0;
    if (ftruncate(fd, size) < 0 || fsync(fd) < 0) {
        int undo = errno;
        return tk_error_set(error, r, TK_ERROR_FAILED,
                            "Cannot %s audit file %s: %s; nor cut it back to %lld bytes (%s): "
                            "the record is not written, and the next append seals what is left "
                            "of it.",
                            what, path, strerror(-r), (long long)size, strerror(undo));
    }
    return tk_error_set(error, r, TK_ERROR_FAILED,
                        "Cannot %s audit file %s: %s; the record is not written, and the file is "
                        "as it was.",
                        what, path, strerror(-r));
}

int tk_audit_append(const char *path, const TkAuditRecord *rec, uint64_t *ret_seq, TkError *error)
{
    if (isempty(path) || !rec || isempty(rec->operation) || isempty(rec->result) ||
        streq(rec->operation, TK_AUDIT_RECOVERY))
        return -EINVAL;
    /* The verifier takes time_usec as a JSON integer below INT64_MAX (see fields[]), and intent
     * as the seq of an earlier record. */
    if (rec->time_usec >= INT64_MAX || rec->intent >= INT64_MAX - 1)
        return -EINVAL;

    ChainEnd end;
    int64_t seq = 0;
    _cleanup_close_ int fd = open_chain_end(path, LOCK_EX, &end, &seq, error);
    if (fd < 0)
        return fd;
    if (rec->intent >= (uint64_t)seq)
        return -EINVAL;

    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    char prev[TK_AUDIT_HASH_HEX_LEN + 1];
    memcpy(prev, end.hash, sizeof(prev));
    int r;
    if (end.partial) {
        /* The cut-off line gets its newline; one that is not a whole record is sealed. */
        if (!(buf = strdup("\n")))
            return -ENOMEM;
        len = 1;
        if (end.partial_is_record)
            memcpy(prev, end.partial_hash, sizeof(prev));
        else {
            _cleanup_json_ json_object *recovery = NULL;
            r = recovery_object(&end, &recovery);
            if (r >= 0)
                r = add_line(recovery, &buf, &len, prev, error);
            if (r < 0)
                return r;
        }
    }

    _cleanup_json_ json_object *o = NULL;
    r = record_object(rec, seq, prev, &o);
    if (r >= 0)
        r = add_line(o, &buf, &len, NULL, error);
    if (r >= 0)
        r = write_undoable(fd, path, end.size, buf, len, error);
    if (r < 0)
        return r;
    if (ret_seq)
        *ret_seq = (uint64_t)seq;
    return 0;
}

int tk_audit_check_appendable(const char *path, uint64_t min_free_bytes, TkError *error)
{
    if (isempty(path))
        return -EINVAL;

    /* Opened as the writer opens it, so that what fails here would fail there; locked shared,
     * like a reader: it only waits for a writer to finish its line. */
    ChainEnd end;
    int64_t seq = 0;
    _cleanup_close_ int fd = open_chain_end(path, LOCK_SH, &end, &seq, error);
    if (fd < 0)
        return fd;

    struct statvfs sv;
    if (fstatvfs(fd, &sv) < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED,
                            "Cannot find the free space for audit file %s: %m", path);
    uint64_t avail;
    if (__builtin_mul_overflow((uint64_t)sv.f_bavail, (uint64_t)sv.f_frsize, &avail))
        avail = UINT64_MAX;
    if (avail < min_free_bytes)
        return tk_error_set(error, -ENOSPC, TK_ERROR_FAILED,
                            "The file system of the audit file %s has %" PRIu64
                            " bytes free, less than the %" PRIu64
                            " needed to record an act; free some space there.",
                            path, avail, min_free_bytes);
    return 0;
}

typedef struct LineReader {
    FILE *f;
    uint64_t offset; /* of the next byte to be read */
} LineReader;

enum {
    LINE_END,      /* nothing more */
    LINE_COMPLETE, /* a line and its newline */
    LINE_PARTIAL,  /* the file ends before a newline */
    LINE_TOO_LONG, /* more than TK_AUDIT_LINE_MAX bytes before a newline */
};

/* Reads the next line (without its newline) into line. Stops after TK_AUDIT_LINE_MAX + 1 bytes
 * without a newline, so that a hostile file costs no more memory or time than an honest one. */
static int read_line(LineReader *rd, char line[static LINE_BUF], size_t *ret_len)
{
    size_t n = 0;
    for (;;) {
        int c = getc_unlocked(rd->f);
        if (c == EOF) {
            if (ferror(rd->f))
                return -EIO;
            line[n] = 0;
            *ret_len = n;
            return n == 0 ? LINE_END : LINE_PARTIAL;
        }
        rd->offset++;
        if (c == '\n') {
            line[n] = 0;
            *ret_len = n;
            return LINE_COMPLETE;
        }
        if (n == TK_AUDIT_LINE_MAX)
            return LINE_TOO_LONG;
        line[n++] = (char)c;
    }
}

struct TkAuditReader {
    char *path;
    FILE *f;
    LineReader rd;
    size_t lineno;      /* lines read */
    int64_t seq;        /* of the last record read, 0 before the first */
    size_t record_line; /* its line number */
    /* The hash of that record's line: the link that the next record must carry. */
    char hash[TK_AUDIT_HASH_HEX_LEN + 1];
    /* The record last returned, whose strings the caller borrows. */
    json_object *current;
    /* Filled in at the end or at a bad line; the interruptions as they are found. */
    TkAuditVerifyResult res;
    int state; /* 0 reading, 1 at the end, -EBADMSG broken */
    char line[LINE_BUF], next[LINE_BUF];
};

TkAuditReader *tk_audit_reader_free(TkAuditReader *a)
{
    if (!a)
        return NULL;
    json_object_put(a->current);
    if (a->f)
        fclose(a->f);
    free(a->path);
    free(a);
    return NULL;
}

/* A reader of name, before its stream is opened. */
static int reader_new(const char *name, TkAuditReader **ret)
{
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->path = strdup(name);
    if (!a->path)
        return -ENOMEM;
    int r = sha256_hex("", 0, a->hash);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(a);
    return 0;
}

int tk_audit_reader_open(const char *path, TkAuditReader **ret, TkError *error)
{
    if (isempty(path) || !ret)
        return -EINVAL;

    /* The lock is held while the reader lives. */
    _cleanup_close_ int fd = open_audit_shared(path, error);
    if (fd < 0)
        return fd;

    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    int r = reader_new(path, &a);
    if (r < 0)
        return r;
    a->f = fdopen(fd, "re");
    if (!a->f)
        return -errno;
    TAKE_FD(fd);
    a->rd.f = a->f;
    *ret = TAKE_PTR(a);
    return 0;
}

int tk_audit_reader_open_memory(const char *name, const void *data, size_t len, TkAuditReader **ret,
                                TkError *error)
{
    /* fmemopen() wants a buffer even for no bytes. */
    static const char empty[1];

    if (isempty(name) || (!data && len > 0) || !ret)
        return -EINVAL;
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    int r = reader_new(name, &a);
    if (r < 0)
        return r;
    /* Read only: the stream never writes to the caller's bytes, which it does not copy. */
    a->f = fmemopen((void *)(len > 0 ? data : empty), len, "r");
    if (!a->f)
        return tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot read %s: %m", name);
    a->rd.f = a->f;
    *ret = TAKE_PTR(a);
    return 0;
}

static void add_interruption(TkAuditReader *a, size_t line, uint64_t offset, size_t length,
                             bool sealed)
{
    if (a->res.n_interruptions < TK_AUDIT_INTERRUPTIONS_LISTED)
        a->res.interruptions[a->res.n_interruptions] = (TkAuditInterruption){
            .line = line,
            .offset = offset,
            .length = length,
            .sealed = sealed,
        };
    a->res.n_interruptions++;
}

static int reader_bad_line(TkAuditReader *a, size_t bad, TkError *error, const char *fmt, ...)
    _printf_(4, 5);

static int reader_bad_line(TkAuditReader *a, size_t bad, TkError *error, const char *fmt, ...)
{
    /* The records before the bad line: the last one read is blamed, or the line after it. */
    a->res.lines = (size_t)a->seq - (bad == a->record_line && a->seq > 0 ? 1 : 0);
    a->res.bad_line = bad;
    a->res.interrupted = false;
    a->res.interrupted_offset = 0;
    a->res.head_hash[0] = 0;
    a->state = -EBADMSG;
    va_list ap;
    va_start(ap, fmt);
    tk_error_setv(error, -EBADMSG, TK_ERROR_FAILED, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

/* The link into line `lineno` is broken: either the record before was changed, or this one was
 * forged. If this line links correctly to the next one (next_kind, next), it is genuine and the
 * record before was changed; otherwise this one is the odd one out. With no next line (or only
 * a partial one) there is nothing to tell them apart; the record before is named. hash is this
 * line's. */
static int reader_broken_link(TkAuditReader *a, const char *hash, int next_kind, size_t next_len,
                              TkError *error)
{
    size_t lineno = a->lineno, bad = lineno, before = a->record_line;
    if (a->seq > 0) {
        if (next_kind == LINE_END || next_kind == LINE_PARTIAL)
            bad = before;
        else if (next_kind == LINE_COMPLETE) {
            _cleanup_json_ json_object *no = NULL;
            char ignored[128];
            if (parse_record(a->next, next_len, &no, ignored, sizeof(ignored)) == 0 &&
                record_seq(no) == a->seq + 2 && streq(record_prev(no), hash))
                bad = before;
        }
    }
    if (bad == lineno && a->seq == 0)
        return reader_bad_line(a, bad, error,
                               "Line %zu does not start the chain (its 'prev' is not the "
                               "genesis hash): lines before it were removed, or it was "
                               "forged.",
                               lineno);
    if (bad == lineno)
        return reader_bad_line(a, bad, error,
                               "Line %zu does not carry the hash of line %zu: it was forged "
                               "or changed.",
                               lineno, before);
    return reader_bad_line(a, bad, error,
                           "Line %zu does not match the hash recorded in line %zu: it was "
                           "changed.",
                           before, lineno);
}

static const char *record_string(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static void entry_from_record(json_object *o, TkAuditEntry *ret)
{
    json_object *intent = json_object_object_get(o, "intent");
    *ret = (TkAuditEntry){
        .seq = (uint64_t)record_seq(o),
        .time = record_string(o, "time"),
        .record =
            {
                .time_usec =
                    (uint64_t)json_object_get_int64(json_object_object_get(o, "time_usec")),
                .operation = record_string(o, "operation"),
                .serial = record_string(o, "serial"),
                .uid = (uint32_t)json_object_get_int64(json_object_object_get(o, "uid")),
                .pid = (uint32_t)json_object_get_int64(json_object_object_get(o, "pid")),
                .request = record_string(o, "request"),
                .result = record_string(o, "result"),
                .error = record_string(o, "error"),
                .intent = intent ? (uint64_t)json_object_get_int64(intent) : 0,
            },
    };
}

static bool is_recovery(json_object *o)
{
    return streq_ptr(record_string(o, "operation"), TK_AUDIT_RECOVERY);
}

/* Whether the next line (a->next) is the recovery record that seals line (len bytes from
 * offset start): 1 with the record, 0 when it is no recovery record, or -EBADMSG when it is one
 * whose fragment fields do not match, with the field that differs in what. */
static int reader_sealed(TkAuditReader *a, size_t len, uint64_t start, size_t next_len,
                         json_object **ret, const char **what)
{
    _cleanup_json_ json_object *o = NULL;
    char ignored[128], hash[TK_AUDIT_HASH_HEX_LEN + 1];
    int r = parse_record(a->next, next_len, &o, ignored, sizeof(ignored));
    if (r == -EBADMSG || (r == 0 && !is_recovery(o)))
        return 0;
    if (r < 0)
        return r;
    r = sha256_hex(a->line, len, hash);
    if (r < 0)
        return r;
    *what = json_object_get_int64(json_object_object_get(o, "fragment_offset")) != (int64_t)start
                ? "offset"
            : json_object_get_int64(json_object_object_get(o, "fragment_length")) != (int64_t)len
                ? "length"
            : !streq(record_string(o, "fragment_sha256"), hash) ? "hash"
            : record_seq(o) != a->seq + 1                       ? "sequence number"
            : !streq(record_prev(o), a->hash)                   ? "link to the record before"
                                                                : NULL;
    if (*what)
        return -EBADMSG;
    *ret = TAKE_PTR(o);
    return 1;
}

/* Takes o (the line just read) as the next record. */
static int reader_take(TkAuditReader *a, json_object *o, const char *line, size_t len,
                       TkAuditEntry *ret)
{
    int r = sha256_hex(line, len, a->hash);
    if (r < 0) {
        json_object_put(o);
        return r;
    }
    a->seq = record_seq(o);
    a->record_line = a->lineno;
    a->current = o;
    entry_from_record(a->current, ret);
    return 1;
}

int tk_audit_reader_next(TkAuditReader *a, TkAuditEntry *ret, TkError *error)
{
    if (!a || !ret)
        return -EINVAL;
    if (a->state < 0)
        return tk_error_set(error, a->state, TK_ERROR_FAILED,
                            "The audit file %s is damaged at line %zu.", a->path, a->res.bad_line);
    if (a->state > 0)
        return 0;

    json_object_put(TAKE_PTR(a->current));
    uint64_t start = a->rd.offset;
    size_t len = 0;
    int k = read_line(&a->rd, a->line, &len);
    if (k < 0)
        return tk_error_set(error, k, TK_ERROR_FAILED, "Cannot read audit file %s.", a->path);
    if (k == LINE_END || k == LINE_PARTIAL) {
        /* Only the end of a write can be missing: a writer appends whole lines under its lock,
         * so a crash or a full disk can cut short only the last. */
        if (k == LINE_PARTIAL)
            add_interruption(a, a->lineno + 1, start, len, false);
        a->res.lines = (size_t)a->seq;
        a->res.interrupted = k == LINE_PARTIAL;
        a->res.interrupted_offset = k == LINE_PARTIAL ? start : 0;
        memcpy(a->res.head_hash, a->hash, sizeof(a->hash));
        a->state = 1;
        return 0;
    }
    size_t lineno = ++a->lineno;
    if (k == LINE_TOO_LONG)
        return reader_bad_line(a, lineno, error,
                               "Line %zu is longer than %d bytes, which no writer makes.", lineno,
                               TK_AUDIT_LINE_MAX);

    _cleanup_json_ json_object *o = NULL;
    char why[128], hash[TK_AUDIT_HASH_HEX_LEN + 1];
    int r = parse_record(a->line, len, &o, why, sizeof(why));
    if (r < 0 && r != -EBADMSG)
        return r;
    bool valid = r == 0, in_sequence = valid && record_seq(o) == a->seq + 1,
         linked = in_sequence && streq(record_prev(o), a->hash);
    if (valid && linked && !is_recovery(o))
        return reader_take(a, TAKE_PTR(o), a->line, len, ret);

    /* A line that does not continue the chain, or a recovery record with no cut-off line
     * before it; the next line decides whether it is a sealed interruption. */
    size_t next_len = 0;
    int nk = read_line(&a->rd, a->next, &next_len);
    if (nk < 0)
        return tk_error_set(error, nk, TK_ERROR_FAILED, "Cannot read audit file %s.", a->path);
    if (nk == LINE_COMPLETE && !(valid && linked)) {
        json_object *recovery = NULL;
        const char *what = NULL;
        r = reader_sealed(a, len, start, next_len, &recovery, &what);
        if (r == -EBADMSG)
            return reader_bad_line(a, lineno, error,
                                   "Line %zu is not the line that the recovery record on line %zu "
                                   "sealed (its %s differs): one of them was changed.",
                                   lineno, lineno + 1, what);
        if (r < 0)
            return r;
        if (r > 0) {
            add_interruption(a, lineno, start, len, true);
            a->lineno++;
            return reader_take(a, recovery, a->next, next_len, ret);
        }
    }

    if (!valid)
        return reader_bad_line(a, lineno, error, "Line %zu %s.", lineno, why);
    int64_t s = record_seq(o), want = a->seq + 1;
    if (!in_sequence)
        return reader_bad_line(
            a, lineno, error,
            "Line %zu has sequence number %" PRId64 " where %" PRId64 " was expected: %s.", lineno,
            s, want,
            s > want ? "a line before it was deleted, or lines were reordered"
                     : "a line was inserted or duplicated, or lines were reordered");
    r = sha256_hex(a->line, len, hash);
    if (r < 0)
        return r;
    if (!linked)
        return reader_broken_link(a, hash, nk, next_len, error);
    return reader_bad_line(a, lineno, error,
                           "Line %zu is a recovery record, but no cut-off line comes before it: "
                           "it was forged, or the line it sealed was removed.",
                           lineno);
}

void tk_audit_reader_result(const TkAuditReader *a, TkAuditVerifyResult *ret)
{
    *ret = a->res;
    if (a->state == 0) {
        ret->lines = (size_t)a->seq;
        memcpy(ret->head_hash, a->hash, sizeof(a->hash));
    }
}

int tk_audit_verify(const char *path, TkAuditVerifyResult *result, TkError *error)
{
    _cleanup_(tk_audit_reader_freep) TkAuditReader *a = NULL;
    TkAuditEntry entry;

    int r = tk_audit_reader_open(path, &a, error);
    if (r < 0)
        return r;
    while ((r = tk_audit_reader_next(a, &entry, error)) > 0)
        ;
    if ((r == 0 || r == -EBADMSG) && result)
        tk_audit_reader_result(a, result);
    return r;
}

int tk_audit_head(const char *path, uint64_t *ret_seq, char **ret_hash_hex, TkError *error)
{
    if (isempty(path) || !ret_seq || !ret_hash_hex)
        return -EINVAL;
    _cleanup_close_ int fd = open_audit_shared(path, error);
    if (fd < 0)
        return fd;

    ChainEnd end;
    int r = read_tail(fd, path, &end, error);
    if (r < 0)
        return r;
    char *hex = strdup(end.hash);
    if (!hex)
        return -ENOMEM;
    *ret_seq = (uint64_t)end.seq;
    *ret_hash_hex = hex;
    return 0;
}

int tk_audit_read_lines(const char *path, uint64_t offset, size_t max_lines, TkAuditLineFn fn,
                        void *userdata, TkError *error)
{
    if (isempty(path) || !fn)
        return -EINVAL;
    _cleanup_close_ int fd = open_audit_shared(path, error);
    if (fd < 0)
        return fd;
    if (lseek(fd, (off_t)offset, SEEK_SET) < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED, "Cannot read audit file %s: %m", path);
    FILE *f = fdopen(fd, "re");
    if (!f)
        return -errno;
    TAKE_FD(fd);
    LineReader rd = {.f = f, .offset = offset};
    char line[LINE_BUF];
    size_t n = 0, len;
    int r = 0;
    while (n < max_lines) {
        uint64_t start = rd.offset;
        int kind = read_line(&rd, line, &len);
        if (kind < 0) {
            r = tk_error_set(error, kind, TK_ERROR_FAILED, "Cannot read audit file %s: %s", path,
                             strerror(-kind));
            break;
        }
        if (kind == LINE_TOO_LONG) {
            r = tk_error_set(error, -EBADMSG, TK_ERROR_FAILED,
                             "The audit file %s has a line longer than %d bytes at byte %" PRIu64,
                             path, TK_AUDIT_LINE_MAX, start);
            break;
        }
        /* A line without its newline is still being written, or was cut short: it is read
         * once it is sealed. */
        if (kind != LINE_COMPLETE)
            break;
        r = fn(line, len, start, userdata);
        if (r != 0)
            break;
        n++;
    }
    fclose(f);
    return r < 0 ? r : (int)n;
}
