/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The retry ledger on a file holding the input: a flags byte (bit 0: no ledger file at all,
 * bits 1-2: the outcome recorded, modulo 3: right, refused, answer lost), the token serial as a
 * piece, the rest the file.
 * tk_ledger_get(), tk_ledger_check() and tk_ledger_record() must agree on whether it is a
 * ledger; a ledger keeps its counts when tk_ledger_check() writes it back, and counts the
 * attempt; a file that is not one is left exactly as it was. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "retry-ledger.h"

/* The ledger's directory, made once in the scratch directory. */
static const char *ledger_dir(void)
{
    static char dir[4096];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/state", fuzz_scratch_dir());
        FUZZ_CHECK(mkdir(dir, 0700) == 0);
    }
    return dir;
}

/* The ledger file's bytes are what was put there. */
static void check_unchanged(const char *path, const uint8_t *data, size_t size)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    struct stat st;
    FUZZ_CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size == size);
    _cleanup_free_ uint8_t *buf = malloc(size + 1);
    FUZZ_CHECK(buf && read(fd, buf, size + 1) == (ssize_t)size);
    FUZZ_CHECK(size == 0 || memcmp(buf, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    const uint8_t *s = NULL;
    size_t n = 0;
    (void)fuzz_piece(&in, &s, &n);
    _cleanup_free_ char *serial = strndup(n > 0 ? (const char *)s : "", n);
    FUZZ_CHECK(serial);
    if (!*serial)
        return 0;
    bool no_file = flags & 1;
    TkLedgerOutcome outcome = (TkLedgerOutcome)((flags >> 1) % 3);

    const char *dir = ledger_dir();
    char path[4096 + sizeof(TK_LEDGER_FILE)];
    snprintf(path, sizeof(path), "%s/" TK_LEDGER_FILE, dir);
    if (no_file)
        FUZZ_CHECK(unlink(path) == 0 || errno == ENOENT);
    else {
        char name[sizeof("state/" TK_LEDGER_FILE)];
        snprintf(name, sizeof(name), "state/" TK_LEDGER_FILE);
        (void)fuzz_write_file(name, in.p, in.left);
    }

    TkLedgerCount count = {-2, -2};
    int r = tk_ledger_get(dir, serial, &count);
    FUZZ_CHECK(r == 0 || r == -EBADMSG);
    FUZZ_CHECK(r < 0 || (count.failed == -1 && count.unknown == 0) ||
               (count.failed >= 0 && count.failed <= TK_LEDGER_FAILED_MAX && count.unknown >= 0 &&
                count.unknown <= TK_LEDGER_FAILED_MAX));
    if (no_file)
        FUZZ_CHECK(r == 0 && count.failed == -1);

    TkError e = {};
    int c = tk_ledger_check(dir, &e);
    FUZZ_CHECK((c == -EBADMSG) == (r == -EBADMSG));
    if (r < 0) {
        FUZZ_CHECK(tk_ledger_record(dir, serial, outcome) == -EBADMSG);
        check_unchanged(path, in.p, in.left);
        return 0;
    }
    FUZZ_CHECK(c == 0);

    /* Written back by the check, and read again: the same count. */
    TkLedgerCount again = {-2, -2};
    FUZZ_CHECK(tk_ledger_get(dir, serial, &again) == 0 && again.failed == count.failed &&
               again.unknown == count.unknown);
    FUZZ_CHECK(tk_ledger_record(dir, serial, outcome) == 0);
    FUZZ_CHECK(tk_ledger_get(dir, serial, &again) == 0);
    TkLedgerCount next = tk_ledger_count_next(count, outcome);
    FUZZ_CHECK(again.failed == next.failed && again.unknown == next.unknown);
    /* Lost answers alone never take the last of 10 tries. */
    int f = tk_ledger_failures(again, 10);
    FUZZ_CHECK(again.failed >= 10 || f <= 9);
    return 0;
}
