/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit trail's readers on a file holding the input: tk_audit_verify() (what
 * `tokenctl audit verify` runs), tk_audit_head(), and the writer's own reading of the last line
 * in tk_audit_check_appendable() and tk_audit_append(). They must agree: a trail that verifies
 * is one the writer chains onto, and after the append it verifies with one record more, or two
 * when the writer first seals (or completes) a partial last line. The reader on the same bytes
 * in memory (what `tokenctl audit verify --database` runs on a station's lines) finds what the
 * file's reader finds, and the line copier (tokend's copy of the trail into the database) gives
 * exactly the file's complete lines. */
#include <string.h>

#include "audit-log.h"
#include "fuzz.h"

static bool hex_hash(const char *s)
{
    return strlen(s) == TK_AUDIT_HASH_HEX_LEN &&
           strspn(s, "0123456789abcdef") == TK_AUDIT_HASH_HEX_LEN;
}

/* The memory reader's verdict on the same bytes: the file's. */
static void check_memory_reader(const uint8_t *data, size_t size, int r,
                                const TkAuditVerifyResult *res)
{
    _cleanup_(tk_audit_reader_freep) TkAuditReader *reader = NULL;
    TkAuditVerifyResult mem = {};
    TkAuditEntry entry;
    TkError e = {};
    FUZZ_CHECK(tk_audit_reader_open_memory("the trail in memory", data, size, &reader, &e) == 0);
    int m;
    while ((m = tk_audit_reader_next(reader, &entry, &e)) > 0)
        ;
    FUZZ_CHECK(m == r);
    tk_audit_reader_result(reader, &mem);
    FUZZ_CHECK(mem.lines == res->lines && mem.bad_line == res->bad_line &&
               mem.interrupted == res->interrupted && mem.n_interruptions == res->n_interruptions &&
               streq(mem.head_hash, res->head_hash));
}

typedef struct Copied {
    size_t lines, bytes;
    bool contiguous;
} Copied;

static int copied_line(const char *line, size_t len, uint64_t offset, void *userdata)
{
    Copied *c = userdata;
    c->contiguous = c->contiguous && offset == c->bytes && !memchr(line, '\n', len);
    c->lines++;
    c->bytes += len + 1;
    return 0;
}

/* The copier gives the complete lines in order, each once, and stops at an overlong one. */
static void check_line_copier(const char *path, const uint8_t *data, size_t size)
{
    Copied c = {.contiguous = true};
    TkError e = {};
    int r = tk_audit_read_lines(path, 0, SIZE_MAX, copied_line, &c, &e);
    FUZZ_CHECK(c.contiguous);
    FUZZ_CHECK(r == -EBADMSG || (r >= 0 && (size_t)r == c.lines));
    size_t newlines = 0, last = 0;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n') {
            newlines++;
            last = i + 1;
        }
    if (r >= 0)
        FUZZ_CHECK(c.lines == newlines && c.bytes == last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("audit.jsonl", data, size);
    TkAuditVerifyResult res = {};
    TkError e = {};
    int r = tk_audit_verify(path, &res, &e);
    FUZZ_CHECK(r == 0 || r == -EBADMSG);
    check_memory_reader(data, size, r, &res);
    check_line_copier(path, data, size);
    size_t listed = res.n_interruptions < TK_AUDIT_INTERRUPTIONS_LISTED
                        ? res.n_interruptions
                        : TK_AUDIT_INTERRUPTIONS_LISTED;
    if (r < 0) {
        /* The lines before the bad one are records and sealed lines. */
        FUZZ_CHECK(res.bad_line >= 1 && res.lines + res.n_interruptions == res.bad_line - 1 &&
                   e.message[0]);
        return 0;
    }
    FUZZ_CHECK(res.bad_line == 0 && hex_hash(res.head_hash));
    size_t newlines = 0;
    for (size_t i = 0; i < size; i++)
        newlines += data[i] == '\n';
    /* Every complete line is a record, or a cut-off line that a recovery record seals. */
    size_t sealed = res.n_interruptions - (res.interrupted ? 1 : 0);
    FUZZ_CHECK(res.lines + sealed == newlines);
    for (size_t i = 0; i < listed; i++) {
        const TkAuditInterruption *in = &res.interruptions[i];
        FUZZ_CHECK(in->offset < size && in->length >= (in->sealed ? 1u : 0u) &&
                   in->length <= TK_AUDIT_LINE_MAX && in->offset + in->length <= size);
        FUZZ_CHECK(!memchr(data + in->offset, '\n', in->length));
        FUZZ_CHECK(in->sealed ? data[in->offset + in->length] == '\n'
                              : in->offset + in->length == size);
        FUZZ_CHECK(in->offset == 0 || data[in->offset - 1] == '\n');
    }
    if (res.interrupted) {
        /* The partial line is the end of the file: no newline, within the bound. */
        FUZZ_CHECK(res.interrupted_offset < size);
        FUZZ_CHECK(size - res.interrupted_offset <= TK_AUDIT_LINE_MAX);
        FUZZ_CHECK(!memchr(data + res.interrupted_offset, '\n', size - res.interrupted_offset));
    }

    uint64_t seq = 0;
    _cleanup_free_ char *hash = NULL;
    FUZZ_CHECK(tk_audit_head(path, &seq, &hash, &e) == 0);
    FUZZ_CHECK(seq == res.lines && streq(hash, res.head_hash));

    FUZZ_CHECK(tk_audit_check_appendable(path, 0, &e) == 0);
    const TkAuditRecord rec = {
        .time_usec = 1767225600000000,
        .operation = "unblock-pin",
        .serial = "0123456789",
        .uid = 1000,
        .pid = 4242,
        .request = "UA-2026-000123",
        .result = "ok",
    };
    uint64_t appended = 0;
    FUZZ_CHECK(tk_audit_append(path, &rec, &appended, &e) == 0);
    size_t added = res.interrupted ? 2 : 1;
    FUZZ_CHECK(appended == res.lines + added);
    TkAuditVerifyResult after = {};
    FUZZ_CHECK(tk_audit_verify(path, &after, &e) == 0);
    FUZZ_CHECK(after.lines == res.lines + added && !after.interrupted);
    /* A partial line is sealed (one more sealed interruption) or was a whole record. */
    FUZZ_CHECK(after.n_interruptions == sealed ||
               (res.interrupted && after.n_interruptions == sealed + 1));
    return 0;
}
