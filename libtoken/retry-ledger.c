/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io-util.h"
#include "macro.h"
#include "retry-ledger.h"

#define LEDGER_LOCK_FILE ".retry-ledger.lock"
#define LEDGER_VERSION   1

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static int ledger_lock(int dirfd, int operation, int *ret_fd)
{
    /* A reader opens the lock file read-only, so that a ledger on a read-only file system can
     * still be read. */
    int mode = operation == LOCK_SH ? O_RDONLY : O_RDWR;
    _cleanup_close_ int fd =
        openat(dirfd, LEDGER_LOCK_FILE, mode | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, operation) < 0)
        return -errno;
    *ret_fd = TAKE_FD(fd);
    return 0;
}

static int entry_number(json_object *entry, const char *key, bool required, int *ret)
{
    json_object *v;
    if (!json_object_object_get_ex(entry, key, &v)) {
        *ret = 0;
        return required ? -EBADMSG : 0;
    }
    if (!json_object_is_type(v, json_type_int))
        return -EBADMSG;
    int64_t n = json_object_get_int64(v);
    if (n < 0 || n > TK_LEDGER_FAILED_MAX)
        return -EBADMSG;
    *ret = (int)n;
    return 0;
}

/* An entry: "failed", and "unknown" where an answer was lost (a ledger of an older tokend has
 * none). */
static int entry_count(json_object *entry, TkLedgerCount *ret)
{
    if (!json_object_is_type(entry, json_type_object))
        return -EBADMSG;
    int r = entry_number(entry, "failed", true, &ret->failed);
    if (r >= 0)
        r = entry_number(entry, "unknown", false, &ret->unknown);
    return r;
}

static int ledger_entry(json_object *root, const char *serial, TkLedgerCount *ret)
{
    json_object *tokens, *entry;
    if (!json_object_object_get_ex(root, "tokens", &tokens) ||
        !json_object_object_get_ex(tokens, serial, &entry)) {
        *ret = TK_LEDGER_NO_RECORD;
        return 0;
    }
    return entry_count(entry, ret);
}

TkLedgerCount tk_ledger_count_next(TkLedgerCount count, TkLedgerOutcome outcome)
{
    switch (outcome) {
    case TK_LEDGER_SUCCESS:
        return (TkLedgerCount){};
    case TK_LEDGER_FAILED:
        count.failed = tk_ledger_next(count.failed, false);
        return count;
    case TK_LEDGER_UNKNOWN:
    default:
        if (count.failed < 0)
            count.failed = 0;
        count.unknown = tk_ledger_next(count.unknown, false);
        return count;
    }
}

int tk_ledger_failures(TkLedgerCount count, unsigned max_tries)
{
    if (count.failed < 0)
        return -1;
    long all = (long)count.failed + count.unknown;
    if (max_tries > 0 && (unsigned)count.failed < max_tries && all >= (long)max_tries)
        return (int)max_tries - 1;
    return all < TK_LEDGER_FAILED_MAX ? (int)all : TK_LEDGER_FAILED_MAX;
}

/* Reads the ledger into *ret (a new empty one when there is none). -EBADMSG when the file is
 * there but is not a ledger, or any entry in it is not one. */
static int ledger_load(int dirfd, json_object **ret)
{
    _cleanup_close_ int fd = openat(dirfd, TK_LEDGER_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT)
            return -errno;
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        if (!root ||
            json_object_object_add(root, "version", json_object_new_int(LEDGER_VERSION)) < 0 ||
            json_object_object_add(root, "tokens", json_object_new_object()) < 0)
            return -ENOMEM;
        *ret = TAKE_PTR(root);
        return 0;
    }

    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024)
        return -EBADMSG;

    _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return -ENOMEM;
    size_t have = 0;
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    buf[have] = '\0';

    _cleanup_(json_object_putp) json_object *root = json_tokener_parse(buf);
    json_object *version, *tokens;
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "version", &version) ||
        json_object_get_int(version) != LEDGER_VERSION ||
        !json_object_object_get_ex(root, "tokens", &tokens) ||
        !json_object_is_type(tokens, json_type_object))
        return -EBADMSG;
    /* One bad entry makes the whole file suspect: no count in it is trusted. */
    json_object_object_foreach(tokens, serial, entry)
    {
        TkLedgerCount count;
        (void)serial;
        if (entry_count(entry, &count) < 0)
            return -EBADMSG;
    }

    *ret = TAKE_PTR(root);
    return 0;
}

static int ledger_save(int dirfd, json_object *root)
{
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text)
        return -ENOMEM;

    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", TK_LEDGER_FILE, (long)getpid());

    _cleanup_close_ int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;

    int r = tk_write_all(fd, text, strlen(text));
    if (r >= 0)
        r = tk_write_all(fd, "\n", 1);
    /* The mode is fixed here too: umask could have narrowed it, never widened it, but a file
     * left by an older run may carry other bits. */
    if (r >= 0 && fchmod(fd, 0600) < 0)
        r = -errno;
    if (r >= 0 && fsync(fd) < 0)
        r = -errno;
    if (r >= 0 && renameat(dirfd, tmp, dirfd, TK_LEDGER_FILE) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlinkat(dirfd, tmp, 0);
        return r;
    }
    /* The rename itself must reach the disk, or a crash could bring back the old count. */
    if (fsync(dirfd) < 0)
        return -errno;
    return 0;
}

/* The ledger in dir, read under a shared lock: *ret NULL when there is no ledger file. */
static int ledger_read(const char *dir, json_object **ret)
{
    _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;

    /* Without a ledger file there is nothing to lock and nothing to read. */
    *ret = NULL;
    if (faccessat(dirfd, TK_LEDGER_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;

    _cleanup_close_ int lockfd = -EBADF;
    int r = ledger_lock(dirfd, LOCK_SH, &lockfd);
    if (r < 0)
        return r;
    return ledger_load(dirfd, ret);
}

int tk_ledger_get(const char *dir, const char *serial, TkLedgerCount *ret)
{
    if (!dir || !serial || !*serial || !ret)
        return -EINVAL;

    _cleanup_(json_object_putp) json_object *root = NULL;
    int r = ledger_read(dir, &root);
    if (r < 0)
        return r;
    if (!root) {
        *ret = TK_LEDGER_NO_RECORD;
        return 0;
    }
    TkLedgerCount count;
    r = ledger_entry(root, serial, &count);
    if (r < 0)
        return r;
    *ret = count;
    return 0;
}

int tk_ledger_record(const char *dir, const char *serial, TkLedgerOutcome outcome)
{
    if (!dir || !serial || !*serial)
        return -EINVAL;

    _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;

    _cleanup_close_ int lockfd = -EBADF;
    int r = ledger_lock(dirfd, LOCK_EX, &lockfd);
    if (r < 0)
        return r;

    _cleanup_(json_object_putp) json_object *root = NULL;
    r = ledger_load(dirfd, &root);
    TkLedgerCount count = TK_LEDGER_NO_RECORD;
    if (r >= 0)
        r = ledger_entry(root, serial, &count);
    if (r < 0)
        return r;

    json_object *tokens;
    if (!json_object_object_get_ex(root, "tokens", &tokens))
        return -EBADMSG;

    _cleanup_(json_object_putp) json_object *entry = json_object_new_object();
    if (!entry)
        return -ENOMEM;
    count = tk_ledger_count_next(count, outcome);
    if (json_object_object_add(entry, "failed", json_object_new_int(count.failed)) < 0 ||
        (count.unknown > 0 &&
         json_object_object_add(entry, "unknown", json_object_new_int(count.unknown)) < 0) ||
        json_object_object_add(entry, "updated", json_object_new_int64((int64_t)time(NULL))) < 0)
        return -ENOMEM;
    if (json_object_object_add(tokens, serial, TAKE_PTR(entry)) < 0)
        return -ENOMEM;

    return ledger_save(dirfd, root);
}

int tk_ledger_check(const char *dir, TkError *error)
{
    if (!dir)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "No state directory.");

    _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED,
                            "Cannot open the state directory %s: %s", dir, strerror(errno));

    _cleanup_close_ int lockfd = -EBADF;
    int r = ledger_lock(dirfd, LOCK_EX, &lockfd);
    if (r < 0)
        return tk_error_set(error, r, TK_ERROR_FAILED,
                            "Cannot lock the retry ledger %s/%s (with %s): %s", dir, TK_LEDGER_FILE,
                            LEDGER_LOCK_FILE, strerror(-r));

    _cleanup_(json_object_putp) json_object *root = NULL;
    r = ledger_load(dirfd, &root);
    if (r == -EBADMSG)
        return tk_error_set(error, r, TK_ERROR_FAILED,
                            "The retry ledger %s/%s is damaged (not a ledger); look at it, then "
                            "move it aside to count afresh",
                            dir, TK_LEDGER_FILE);
    if (r < 0)
        return tk_error_set(error, r, TK_ERROR_FAILED, "Cannot read the retry ledger %s/%s: %s",
                            dir, TK_LEDGER_FILE, strerror(-r));

    r = ledger_save(dirfd, root);
    if (r < 0)
        return tk_error_set(error, r, TK_ERROR_FAILED, "Cannot write the retry ledger %s/%s: %s",
                            dir, TK_LEDGER_FILE, strerror(-r));
    return 0;
}

int tk_ledger_foreach(const char *dir, TkLedgerEntryFn fn, void *userdata)
{
    if (!dir || !fn)
        return -EINVAL;

    _cleanup_(json_object_putp) json_object *root = NULL;
    int r = ledger_read(dir, &root);
    json_object *tokens;
    if (r < 0 || !root || !json_object_object_get_ex(root, "tokens", &tokens))
        return r;
    json_object_object_foreach(tokens, serial, entry)
    {
        TkLedgerCount count;
        r = entry_count(entry, &count);
        if (r >= 0)
            r = fn(serial, count, userdata);
        if (r < 0)
            return r;
    }
    return 0;
}
