/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus-call.h"
#include "i18n.h"
#include "bus-json.h"
#include "format.h"
#include "time-util.h"
#include "token-error.h"

/* A call waits for the token as long as tokend lets it (the method's limit, from tokend's
 * OperationTimeouts) and this much more, for a person at a polkit prompt and for the calls
 * ahead of it in the token's queue, neither of which the limit counts. */
#define TOKEN_CALL_SLACK_USEC (5ULL * 60 * 1000 * 1000)
/* Without the property (an older tokend), or for a dry run, which waits only for polkit: far
 * longer than sd-bus's 25 s default. */
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

/* How often the progress line's spinner and seconds move while a call runs. */
#define PROGRESS_TICK_USEC (250ULL * 1000)

typedef struct CallState {
    Context *ctx;
    const char *what;
    sd_bus_message *reply;
    bool done;

    /* The progress line, for a person: only on a terminal, never in JSON mode. */
    bool show_progress;
    bool progress_shown;
    char *operation, *stage; /* from the last Progress signal */
    uint64_t start_usec;
    unsigned frame;
    uint64_t limit_sec; /* the method's limit, 0 when tokend did not say */
} CallState;

/* One line, rewritten in place: a spinner, the operation, its stage and the seconds since the
 * call was sent. */
static void progress_draw(CallState *s)
{
    static const char spinner[] = "-\\|/";
    _cleanup_free_ char *b1 = NULL, *b2 = NULL;
    unsigned long long seconds = (tk_now_usec(CLOCK_MONOTONIC) - s->start_usec) / 1000000;

    fputs("\r\033[K", stderr);
    fprintf(stderr, "%c %s: %s ", spinner[s->frame++ % (sizeof(spinner) - 1)],
            terminal_text(s->operation, &b1), terminal_text(s->stage, &b2));
    if (s->limit_sec > 0)
        fprintf(stderr, _("(%llu s of at most %llu s)"), seconds, (unsigned long long)s->limit_sec);
    else
        fprintf(stderr, _("(%llu s)"), seconds);
    fflush(stderr);
    s->progress_shown = true;
}

static void progress_clear(CallState *s)
{
    if (s->progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    free(s->operation);
    free(s->stage);
}

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

    if (!s->show_progress || sd_bus_message_read(m, "ss", &operation, &stage) < 0)
        return 0;
    char *o = strdup(operation), *t = strdup(stage);
    if (!o || !t) {
        free(o);
        free(t);
        return 0;
    }
    free(s->operation);
    free(s->stage);
    s->operation = o;
    s->stage = t;
    progress_draw(s);
    return 0;
}

/* The method's limit in seconds as tokend applies it (Manager.OperationTimeouts); 0 when tokend
 * does not say. */
static uint64_t method_limit_sec(sd_bus *bus, const char *member)
{
    _cleanup_bus_message_ sd_bus_message *reply = NULL;
    const char *name;
    uint64_t sec, found = 0;

    if (sd_bus_get_property(bus, TOKEND_BUS_NAME, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                            "OperationTimeouts", NULL, &reply, "a{st}") < 0 ||
        sd_bus_message_enter_container(reply, 'a', "{st}") < 0)
        return 0;
    while (sd_bus_message_read(reply, "{st}", &name, &sec) > 0)
        if (streq_ptr(name, member))
            found = sec;
    return found;
}

int reply_read_bytes(sd_bus_message *reply, uint8_t **ret, size_t *ret_len)
{
    const void *p;
    size_t n;
    int r = sd_bus_message_read_array(reply, 'y', &p, &n);
    if (r < 0)
        return r;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p, n);
    *ret = copy;
    *ret_len = n;
    return 0;
}

static uint64_t limit_to_timeout_usec(uint64_t limit_sec)
{
    return limit_sec > 0 ? limit_sec * 1000000 + TOKEN_CALL_SLACK_USEC : TOKEN_CALL_TIMEOUT_USEC;
}

uint64_t token_call_timeout_usec(sd_bus *bus, const char *member)
{
    return limit_to_timeout_usec(method_limit_sec(bus, member));
}

int token_call(Context *ctx, sd_bus_message *m, const char *what, sd_bus_error *error,
               sd_bus_message **ret_reply)
{
    _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *call = NULL;
    CallState s = {
        .ctx = ctx,
        .what = what,
        .show_progress = !ctx->json && !ctx->quiet && isatty(STDERR_FILENO),
        .start_usec = tk_now_usec(CLOCK_MONOTONIC),
    };
    sd_bus *bus = sd_bus_message_get_bus(m);
    const char *path = sd_bus_message_get_path(m), *member = sd_bus_message_get_member(m);
    int r;

    s.limit_sec = method_limit_sec(bus, member);
    uint64_t timeout_usec = limit_to_timeout_usec(s.limit_sec);

    /* Subscribe before sending, so no Progress signal is missed. A failure here costs only
     * the progress line. */
    if (s.show_progress && !streq_ptr(sd_bus_message_get_member(m), "ListObjects"))
        (void)sd_bus_match_signal(bus, &match, TOKEND_BUS_NAME, path, TOKEND_TOKEN_IFACE,
                                  "Progress", on_progress, &s);

    r = sd_bus_call_async(bus, &call, m, on_reply, &s, timeout_usec);
    if (r < 0)
        return sd_bus_error_set_errno(error, r);

    while (!s.done) {
        r = sd_bus_process(bus, NULL);
        if (r < 0)
            break;
        if (r > 0)
            continue;
        r = sd_bus_wait(bus, s.progress_shown ? PROGRESS_TICK_USEC : UINT64_MAX);
        if (r < 0 && r != -EINTR)
            break;
        if (r == 0 && s.progress_shown)
            progress_draw(&s);
    }
    progress_clear(&s);
    if (!s.done)
        return sd_bus_error_set_errno(error, r);

    _cleanup_bus_message_ sd_bus_message *reply = s.reply;
    /* sd-bus's own time-out says only "Method call timed out": say which call, and how long. */
    if (sd_bus_message_is_method_error(reply, SD_BUS_ERROR_NO_REPLY) &&
        tk_now_usec(CLOCK_MONOTONIC) - s.start_usec >= timeout_usec) {
        unsigned long long waited = timeout_usec / 1000000;
        if (s.limit_sec > 0)
            sd_bus_error_setf(error, TK_ERROR_TIMEOUT,
                              _("tokend did not answer %s within %llu s (the method's limit of "
                                "%llu s, and %llu s for authorisation and the calls ahead of "
                                "it). The token may still be busy: see tokenctl status."),
                              member, waited, (unsigned long long)s.limit_sec,
                              TOKEN_CALL_SLACK_USEC / 1000000);
        else
            sd_bus_error_setf(error, TK_ERROR_TIMEOUT,
                              _("tokend did not answer %s within %llu s. The token may still be "
                                "busy: see tokenctl status."),
                              member, waited);
        return -ETIME;
    }
    if (sd_bus_message_is_method_error(reply, NULL)) {
        sd_bus_error_copy(error, sd_bus_message_get_error(reply));
        return -sd_bus_message_get_errno(reply) ?: -EIO;
    }
    *ret_reply = TAKE_PTR(reply);
    return 0;
}

int token_dry_run(Context *ctx, sd_bus_message *m, const char *failed, OptionsAdder more,
                  void *userdata)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *reply = NULL;
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = options_add_bool(m, "dry-run", true);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0 && ctx->request && streq_ptr(sd_bus_message_get_member(m), "UnblockPin"))
        r = options_add_string(m, "request", ctx->request);
    if (r >= 0 && more)
        r = more(ctx, m, userdata);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    r = sd_bus_call(sd_bus_message_get_bus(m), m, TOKEN_CALL_TIMEOUT_USEC, &error, &reply);
    if (r >= 0)
        return 0;
    r = fail_bus(ctx, failed, &error);
    /* A dry run reads only the arguments and options: what it calls invalid is the command
     * line's (a missing --request), a usage error. The real call's InvalidArgument may be the
     * token's answer (no object with that id) and stays an other failure. */
    if (sd_bus_error_has_name(&error, TK_ERROR_INVALID_ARGUMENT) &&
        streq_ptr(ctx->error_name, TK_ERROR_INVALID_ARGUMENT))
        r = ctx->exit_code = EXIT_USAGE;
    return r;
}
