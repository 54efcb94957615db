/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "bus-call.h"
#include "bus-json.h"

/* A token operation may wait for a person at a polkit prompt and then for an RSA key on a
 * slow card: give it far longer than sd-bus's 25 s default. */
#define TOKEN_CALL_TIMEOUT_USEC (15ULL * 60 * 1000 * 1000)

int token_call_new(Context *ctx, const char *path, const char *method, sd_bus_message **ret)
{
    _cleanup_bus_message_ sd_bus_message *m = NULL;
    sd_bus *bus;
    int r;

    r = context_bus(ctx, &bus);
    if (r != 0)
        return -EIO;
    r = sd_bus_message_new_method_call(bus, &m, TOKEND_BUS_NAME, path, TOKEND_TOKEN_IFACE, method);
    if (r < 0)
        return r;
    r = sd_bus_message_set_allow_interactive_authorization(m, ctx->interactive);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(m);
    return 0;
}

static int option_open(sd_bus_message *m, const char *key, const char *sig)
{
    int r = sd_bus_message_open_container(m, 'e', "sv");
    if (r < 0)
        return r;
    r = sd_bus_message_append_basic(m, 's', key);
    if (r < 0)
        return r;
    return sd_bus_message_open_container(m, 'v', sig);
}

static int option_close(sd_bus_message *m)
{
    int r = sd_bus_message_close_container(m);
    if (r < 0)
        return r;
    return sd_bus_message_close_container(m);
}

int options_add_secret(sd_bus_message *m, const char *key, const TkSecret *s)
{
    int r = sd_bus_message_sensitive(m);
    if (r < 0)
        return r;
    r = option_open(m, key, "ay");
    if (r < 0)
        return r;
    r = sd_bus_message_append_array(m, 'y', s->data, s->len);
    if (r < 0)
        return r;
    return option_close(m);
}

int options_add_bytes(sd_bus_message *m, const char *key, const void *p, size_t n)
{
    int r = option_open(m, key, "ay");
    if (r < 0)
        return r;
    r = sd_bus_message_append_array(m, 'y', p, n);
    if (r < 0)
        return r;
    return option_close(m);
}

int options_add_string(sd_bus_message *m, const char *key, const char *value)
{
    int r = option_open(m, key, "s");
    if (r < 0)
        return r;
    r = sd_bus_message_append_basic(m, 's', value);
    if (r < 0)
        return r;
    return option_close(m);
}

int options_add_strv(sd_bus_message *m, const char *key, char **l)
{
    int r = option_open(m, key, "as");
    if (r < 0)
        return r;
    r = sd_bus_message_append_strv(m, l);
    if (r < 0)
        return r;
    return option_close(m);
}

int options_add_bool(sd_bus_message *m, const char *key, bool b)
{
    int v = b;
    int r = option_open(m, key, "b");
    if (r < 0)
        return r;
    r = sd_bus_message_append_basic(m, 'b', &v);
    if (r < 0)
        return r;
    return option_close(m);
}

typedef struct CallState {
    Context *ctx;
    const char *what;
    sd_bus_message *reply;
    bool done;
    bool progress_shown;
} CallState;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    CallState *s = userdata;
    s->reply = sd_bus_message_ref(m);
    s->done = true;
    return 0;
}

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    CallState *s = userdata;
    const char *operation, *stage;

    if (sd_bus_message_read(m, "ss", &operation, &stage) < 0)
        return 0;
    if (s->ctx->json)
        return 0;
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\r\033[K%s: %s…", operation, stage);
        s->progress_shown = true;
    } else
        fprintf(stderr, "%s: %s\n", operation, stage);
    return 0;
}

int token_call(Context *ctx, sd_bus_message *m, const char *what, sd_bus_error *error,
               sd_bus_message **ret_reply)
{
    _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *call = NULL;
    CallState s = {.ctx = ctx, .what = what};
    sd_bus *bus = sd_bus_message_get_bus(m);
    const char *path = sd_bus_message_get_path(m);
    int r;

    /* Subscribe before sending, so no Progress signal is missed. A failure here costs only
     * the progress line. */
    if (!streq_ptr(sd_bus_message_get_member(m), "ListObjects"))
        (void)sd_bus_match_signal(bus, &match, TOKEND_BUS_NAME, path, TOKEND_TOKEN_IFACE,
                                  "Progress", on_progress, &s);

    r = sd_bus_call_async(bus, &call, m, on_reply, &s, TOKEN_CALL_TIMEOUT_USEC);
    if (r < 0)
        return sd_bus_error_set_errno(error, r);

    while (!s.done) {
        r = sd_bus_process(bus, NULL);
        if (r < 0)
            break;
        if (r > 0)
            continue;
        r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR)
            break;
    }
    if (s.progress_shown)
        fputs("\r\033[K", stderr);
    if (!s.done)
        return sd_bus_error_set_errno(error, r);

    _cleanup_bus_message_ sd_bus_message *reply = s.reply;
    if (sd_bus_message_is_method_error(reply, NULL)) {
        sd_bus_error_copy(error, sd_bus_message_get_error(reply));
        return -sd_bus_message_get_errno(reply) ?: -EIO;
    }
    *ret_reply = TAKE_PTR(reply);
    return 0;
}
