/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A Token method call as tokend reads it before polkit: the leading arguments
 * (arguments_read()), the a{sv} options (options_read()) by the operation table's row, the
 * required options, and the PIN policy on a new PIN. The input is a little program that builds
 * the call with sd-bus's own API, so that every message is one sd-bus could deliver:
 *
 *   row      1 byte, an index into operations[] (modulo their number): the member, and the
 *            signature the message has, as sd-bus checks it against the vtable
 *   limits   2 bytes: the token's minimum and maximum PIN length, for the PIN policy
 *   leading  each argument before the options: s and ay as one piece (fuzz_piece())
 *   options  entries until the input ends, each:
 *              key   1 byte: below 0x80 the name of option (key % _OPTION_MAX), else a piece
 *              value 1 byte, a Value below (modulo _VALUE_MAX), then the value:
 *                    ay, s, o, g: a piece; as, aay: a count byte and that many pieces;
 *                    b: 1 byte; u, i: 4 bytes; t, d: 8 bytes; (ss): two pieces;
 *                    v: another value; a{sv}: a count byte and that many entries
 * A string that sd-bus refuses to append (not UTF-8, not a path) ends the input there; so does
 * nesting deeper than MAX_DEPTH. */
#include <string.h>

#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "arguments.h"
#include "fuzz-options.h"
#include "fuzz.h"
#include "options.h"
#include "pin-policy.h"
#include "text-escape.h"

#define MAX_DEPTH 8

/* Messages are made on a bus that has started (sd-bus makes none on one that has not), over a
 * socketpair whose other end stays open and unread for the life of the process: nothing is
 * sent. */
static sd_bus *message_bus(void)
{
    static sd_bus *bus;
    if (bus)
        return bus;
    int fds[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    FUZZ_CHECK(sd_bus_new(&bus) >= 0);
    FUZZ_CHECK(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0);
    FUZZ_CHECK(sd_bus_start(bus) >= 0);
    return bus;
}

/* A piece as a C string: it ends at a NUL, as it would for a sender. */
static char *piece_string(FuzzInput *in)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    (void)fuzz_piece(in, &p, &n);
    char *s = strndup(n > 0 ? (const char *)p : "", n);
    FUZZ_CHECK(s);
    return s;
}

static int append_piece_array(FuzzInput *in, sd_bus_message *m)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    (void)fuzz_piece(in, &p, &n);
    return sd_bus_message_append_array(m, 'y', n > 0 ? p : (const uint8_t *)"", n);
}

static int append_entry(FuzzInput *in, sd_bus_message *m, unsigned depth);

static int append_value(FuzzInput *in, sd_bus_message *m, Value v, unsigned depth)
{
    int r;
    switch (v) {
    case VALUE_BYTES:
        return append_piece_array(in, m);
    case VALUE_STRING:
    case VALUE_OBJECT_PATH:
    case VALUE_SIGNATURE: {
        _cleanup_free_ char *s = piece_string(in);
        return sd_bus_message_append_basic(m, value_signature(v)[0], s);
    }
    case VALUE_STRINGS:
    case VALUE_BLOBS: {
        r = sd_bus_message_open_container(m, 'a', v == VALUE_STRINGS ? "s" : "ay");
        for (unsigned i = 0, n = fuzz_u8(in); r >= 0 && i < n; i++)
            r = append_value(in, m, v == VALUE_STRINGS ? VALUE_STRING : VALUE_BYTES, depth);
        return r < 0 ? r : sd_bus_message_close_container(m);
    }
    case VALUE_BOOLEAN: {
        int b = fuzz_u8(in) & 1;
        return sd_bus_message_append_basic(m, 'b', &b);
    }
    case VALUE_UINT32:
    case VALUE_INT32: {
        uint32_t hi = fuzz_u16(in), u = hi << 16 | fuzz_u16(in);
        return sd_bus_message_append_basic(m, value_signature(v)[0], &u);
    }
    case VALUE_UINT64:
    case VALUE_DOUBLE: {
        uint64_t u = 0;
        for (int i = 0; i < 4; i++)
            u = u << 16 | fuzz_u16(in);
        return sd_bus_message_append_basic(m, value_signature(v)[0], &u);
    }
    case VALUE_STRUCT:
        r = sd_bus_message_open_container(m, 'r', "ss");
        if (r >= 0)
            r = append_value(in, m, VALUE_STRING, depth);
        if (r >= 0)
            r = append_value(in, m, VALUE_STRING, depth);
        return r < 0 ? r : sd_bus_message_close_container(m);
    case VALUE_VARIANT: {
        if (depth >= MAX_DEPTH)
            return -E2BIG;
        Value inner = fuzz_u8(in) % _VALUE_MAX;
        r = sd_bus_message_open_container(m, 'v', value_signature(inner));
        if (r >= 0)
            r = append_value(in, m, inner, depth + 1);
        return r < 0 ? r : sd_bus_message_close_container(m);
    }
    case VALUE_DICT:
        if (depth >= MAX_DEPTH)
            return -E2BIG;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (unsigned i = 0, n = fuzz_u8(in); r >= 0 && i < n; i++)
            r = append_entry(in, m, depth + 1);
        return r < 0 ? r : sd_bus_message_close_container(m);
    default:
        return -EINVAL;
    }
}

static int append_entry(FuzzInput *in, sd_bus_message *m, unsigned depth)
{
    uint8_t key = fuzz_u8(in);
    _cleanup_free_ char *name =
        key < 0x80 ? strdup(option_spec((OptionId)(key % _OPTION_MAX))->name) : piece_string(in);
    FUZZ_CHECK(name);
    Value v = fuzz_u8(in) % _VALUE_MAX;
    int r = sd_bus_message_open_container(m, 'e', "sv");
    if (r >= 0)
        r = sd_bus_message_append_basic(m, 's', name);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'v', value_signature(v));
    if (r >= 0)
        r = append_value(in, m, v, depth);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r < 0 ? r : sd_bus_message_close_container(m);
}

/* The call for row op: its leading arguments as its signature has them, then the options. */
static int build_call(FuzzInput *in, const Operation *op, sd_bus_message **ret)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    int r = sd_bus_message_new_method_call(message_bus(), &m, "org.tokend.Tokend1",
                                           "/org/tokend/Tokend1/token/fuzz",
                                           "org.tokend.Tokend1.Token", op->member);
    FUZZ_CHECK(r >= 0);
    for (const char *s = op->signature; r >= 0 && !streq(s, "a{sv}");) {
        bool text = *s == 's';
        r = text ? append_value(in, m, VALUE_STRING, 0) : append_piece_array(in, m);
        s += text ? 1 : strlen("ay");
    }
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    while (r >= 0 && in->left > 0)
        r = append_entry(in, m, 0);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return r;
    FUZZ_CHECK(sd_bus_message_seal(m, 1, 0) >= 0);
    *ret = TAKE_PTR(m);
    return 0;
}

static bool text_in(const char *s, size_t min, size_t max)
{
    return tk_text_check(s, min, max) == 0;
}

static bool secret_in(const TkSecret *s, const OptionSpec *spec)
{
    return !s || (s->len >= spec->min_len && s->len <= spec->max_len &&
                  tk_utf8_check_no_controls(s->data, s->len) == 0);
}

/* What options_read() promises of what it accepts: only the row's options, each within the
 * limits of its spec. */
static void check_accepted(const Operation *op, const Options *o)
{
    FUZZ_CHECK((o->given & ~op->options) == 0);
    FUZZ_CHECK(secret_in(o->pin, option_spec(OPTION_PIN)));
    FUZZ_CHECK(secret_in(o->new_pin, option_spec(OPTION_NEW_PIN)));
    FUZZ_CHECK(secret_in(o->so_pin, option_spec(OPTION_SO_PIN)));
    FUZZ_CHECK(!o->label || text_in(o->label, 1, option_spec(OPTION_LABEL)->max_len));
    FUZZ_CHECK(!o->request || text_in(o->request, 1, option_spec(OPTION_REQUEST)->max_len));
    FUZZ_CHECK(!o->id || (o->id_len >= 1 && o->id_len <= option_spec(OPTION_ID)->max_len));
    FUZZ_CHECK(strv_length(o->email) <= option_spec(OPTION_EMAIL)->max_items);
    STRV_FOREACH (s, o->email)
        FUZZ_CHECK(text_in(*s, 3, option_spec(OPTION_EMAIL)->max_len));
    FUZZ_CHECK(strv_length(o->dns) <= option_spec(OPTION_DNS)->max_items);
    STRV_FOREACH (s, o->dns)
        FUZZ_CHECK(text_in(*s, 1, option_spec(OPTION_DNS)->max_len));
    FUZZ_CHECK(o->n_chain <= option_spec(OPTION_CHAIN)->max_items);
    for (size_t i = 0; i < o->n_chain; i++)
        FUZZ_CHECK(o->chain[i].len >= 1 && o->chain[i].len <= option_spec(OPTION_CHAIN)->max_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = {data, size};
    const Operation *row = &operations[fuzz_u8(&in) % n_operations];
    unsigned token_min = fuzz_u8(&in), token_max = fuzz_u8(&in);
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    if (build_call(&in, row, &m) < 0)
        return 0;

    /* As call_start() reads it. */
    sd_bus_message_sensitive(m);
    const Operation *op = NULL;
    TkError e = {};
    int r = arguments_read(m, sd_bus_message_get_member(m), &op, &e);
    if (r < 0) {
        FUZZ_CHECK(e.name[0]);
        return 0;
    }
    FUZZ_CHECK(op && streq(op->member, row->member));

    _cleanup_(options_done) Options o = {};
    r = options_read(m, op, &o, &e);
    if (r < 0) {
        FUZZ_CHECK(streq(e.name, TK_ERROR_INVALID_ARGUMENT));
        return 0;
    }
    check_accepted(op, &o);
    FUZZ_CHECK(sd_bus_message_at_end(m, true) > 0);

    for (int derived = 0; derived <= 1; derived++) {
        e = (TkError){};
        r = options_check_required(op, &o, derived, &e);
        FUZZ_CHECK(r == 0 || streq(e.name, TK_ERROR_INVALID_ARGUMENT));
    }
    if (o.new_pin) {
        const TkPinPolicy policy = {.site_min_length = 6, .reject_trivial = true};
        e = (TkError){};
        r = tk_pin_policy_check(&policy, token_min, token_max, o.new_pin,
                                streq(op->member, "ChangePin") ? o.pin : NULL, &e);
        FUZZ_CHECK(r == 0 || streq(e.name, TK_ERROR_PIN_POLICY));
    }
    return 0;
}
