/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "text-escape.h"

void options_done(Options *o)
{
    tk_secret_free(o->pin);
    tk_secret_free(o->new_pin);
    tk_secret_free(o->so_pin);
    free(o->label);
    free(o->id);
    strv_free(o->email);
    strv_free(o->dns);
    free(o->request);
    for (size_t i = 0; i < o->n_chain; i++)
        free((void *)o->chain[i].data);
    free(o->chain);
    *o = (Options){};
}

static int bad_text(TkError *error, const OptionSpec *spec, int r)
{
    if (r == -E2BIG)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Option \"%s\" is too long: at most %zu characters.", spec->name,
                            spec->max_len);
    if (r == -ENODATA)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Option \"%s\" must have %zu to %zu characters and not be blank.",
                            spec->name, spec->min_len, spec->max_len);
    return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                        "Option \"%s\" must be printable UTF-8 text, without control characters "
                        "such as a newline.",
                        spec->name);
}

static int bad_length(TkError *error, const OptionSpec *spec, const char *unit)
{
    return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                        "Option \"%s\" must have %zu to %zu %s.", spec->name, spec->min_len,
                        spec->max_len, unit);
}

static int read_secret(sd_bus_message *m, const OptionSpec *spec, TkSecret **field, TkError *error)
{
    const void *p;
    size_t n;
    int r = sd_bus_message_read_array(m, 'y', &p, &n);
    if (r < 0)
        return r;
    if (n < spec->min_len || n > spec->max_len)
        return bad_length(error, spec, "bytes");
    /* A PIN typed on a keyboard has no control character: one in a PIN is a mistake (a pasted
     * newline) or a probe, and would reach the card's PIN pad or a log unseen. The message
     * never shows the value. */
    if (tk_utf8_check_no_controls(p, n) < 0)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Option \"%s\" must be UTF-8 text without control characters (no "
                            "NUL, newline or escape).",
                            spec->name);
    tk_secret_free(*field);
    *field = NULL;
    return tk_secret_new(p, n, field);
}

static int read_text(sd_bus_message *m, const OptionSpec *spec, char **field, TkError *error)
{
    const char *s;
    int r = sd_bus_message_read_basic(m, 's', &s);
    if (r < 0)
        return r;
    r = tk_text_check(s, spec->min_len, spec->max_len);
    if (r < 0)
        return bad_text(error, spec, r);
    free(*field);
    *field = strdup(s);
    return *field ? 0 : -ENOMEM;
}

static int read_texts(sd_bus_message *m, const OptionSpec *spec, char ***field, TkError *error)
{
    _cleanup_strv_free_ char **l = NULL;
    size_t n = 0;
    int r = sd_bus_message_enter_container(m, 'a', "s");
    if (r < 0)
        return r;
    for (;;) {
        const char *s;
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        if (n >= spec->max_items)
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Option \"%s\" takes at most %zu entries.", spec->name,
                                spec->max_items);
        r = tk_text_check(s, spec->min_len, spec->max_len);
        if (r < 0)
            return bad_text(error, spec, r);
        char **k = realloc(l, sizeof(char *) * (n + 2));
        if (!k)
            return -ENOMEM;
        l = k;
        l[n] = strdup(s);
        if (!l[n])
            return -ENOMEM;
        l[++n] = NULL;
    }
    r = sd_bus_message_exit_container(m);
    if (r < 0)
        return r;
    strv_free(*field);
    *field = TAKE_PTR(l);
    return 0;
}

static int read_blobs(sd_bus_message *m, const OptionSpec *spec, Options *o, TkError *error)
{
    int r = sd_bus_message_enter_container(m, 'a', "ay");
    if (r < 0)
        return r;
    for (;;) {
        const void *p;
        size_t n;
        r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        if (o->n_chain >= spec->max_items)
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Option \"%s\" takes at most %zu certificates.", spec->name,
                                spec->max_items);
        if (n < spec->min_len || n > spec->max_len)
            return bad_length(error, spec, "bytes per certificate");
        TkBlob *c = realloc(o->chain, sizeof(TkBlob) * (o->n_chain + 1));
        if (!c)
            return -ENOMEM;
        o->chain = c;
        uint8_t *d = malloc(n);
        if (!d)
            return -ENOMEM;
        memcpy(d, p, n);
        o->chain[o->n_chain++] = (TkBlob){d, n};
    }
    return sd_bus_message_exit_container(m);
}

static int read_value(sd_bus_message *m, OptionId id, const OptionSpec *spec, Options *o,
                      TkError *error)
{
    switch (id) {
    case OPTION_PIN:
        return read_secret(m, spec, &o->pin, error);
    case OPTION_NEW_PIN:
        return read_secret(m, spec, &o->new_pin, error);
    case OPTION_SO_PIN:
        return read_secret(m, spec, &o->so_pin, error);
    case OPTION_LABEL:
        return read_text(m, spec, &o->label, error);
    case OPTION_REQUEST:
        return read_text(m, spec, &o->request, error);
    case OPTION_EMAIL:
        return read_texts(m, spec, &o->email, error);
    case OPTION_DNS:
        return read_texts(m, spec, &o->dns, error);
    case OPTION_CHAIN:
        return read_blobs(m, spec, o, error);
    case OPTION_ID: {
        const void *p;
        size_t n;
        int r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r < 0)
            return r;
        if (n < spec->min_len || n > spec->max_len)
            return bad_length(error, spec, "bytes");
        free(o->id);
        o->id = malloc(n);
        if (!o->id)
            return -ENOMEM;
        memcpy(o->id, p, n);
        o->id_len = n;
        return 0;
    }
    case OPTION_FORCE:
    case OPTION_DRY_RUN: {
        int b;
        int r = sd_bus_message_read_basic(m, 'b', &b);
        *(id == OPTION_FORCE ? &o->force : &o->dry_run) = b;
        return r;
    }
    default:
        return -EINVAL;
    }
}

int options_read(sd_bus_message *m, const Operation *op, Options *ret, TkError *error)
{
    Options o = {};
    int r;

    r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        goto bad;
    for (;;) {
        const char *name, *contents;
        OptionId id;

        r = sd_bus_message_enter_container(m, 'e', "sv");
        if (r < 0)
            goto bad;
        if (r == 0)
            break;
        r = sd_bus_message_read_basic(m, 's', &name);
        if (r < 0)
            goto bad;
        const OptionSpec *spec = option_spec_by_name(name, &id);
        if (!spec || !(op->options & OPT(id))) {
            r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "Unknown option \"%.64s\" for %s.", name, op->member);
            goto refused;
        }
        if (o.given & OPT(id)) {
            r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "Option \"%s\" is given twice.", name);
            goto refused;
        }
        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
            goto bad;
        if (!streq(contents, spec->signature)) {
            r = tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "Option \"%s\" must be of type %s, not %.16s.", name, spec->signature,
                             contents);
            goto refused;
        }
        r = sd_bus_message_enter_container(m, 'v', spec->signature);
        if (r < 0)
            goto bad;
        TkError value_error = {};
        r = read_value(m, id, spec, &o, &value_error);
        if (tk_error_is_set(&value_error)) {
            if (error)
                *error = value_error;
            r = -EINVAL;
            goto refused;
        }
        if (r < 0)
            goto bad;
        o.given |= OPT(id);
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            goto bad;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            goto bad;
    }
    r = sd_bus_message_exit_container(m);
    if (r < 0)
        goto bad;
    *ret = o;
    return 0;

bad:
    tk_error_set(error, r, TK_ERROR_INVALID_ARGUMENT, "Malformed options: %s", strerror(-r));
refused:
    options_done(&o);
    return r;
}

int options_check_required(const Operation *op, const Options *o, bool so_pin_derived,
                           TkError *error)
{
    for (int id = 0; id < _OPTION_MAX; id++) {
        if (!(op->required & OPT(id)) || (o->given & OPT(id)))
            continue;
        if (id == OPTION_SO_PIN && so_pin_derived)
            continue;
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "%s needs option \"%s\".",
                            op->member, option_spec(id)->name);
    }
    return 0;
}

static int peek_has(sd_bus_message *m, const char *name)
{
    int found = 0, r;

    /* Reading the dictionary's keys without their values costs a skip per entry. */
    r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    for (;;) {
        const char *key;
        r = sd_bus_message_enter_container(m, 'e', "sv");
        if (r <= 0)
            break;
        r = sd_bus_message_read_basic(m, 's', &key);
        if (r < 0)
            break;
        if (streq(key, name))
            found = 1;
        r = sd_bus_message_skip(m, "v");
        if (r < 0)
            break;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            break;
    }
    return r < 0 ? r : found;
}

int options_list_objects_row(sd_bus_message *m, const Operation **ret)
{
    int login = peek_has(m, "pin");
    if (login < 0)
        return login;
    int r = sd_bus_message_rewind(m, true);
    if (r < 0)
        return r;
    *ret = operation_find("ListObjects", login ? "login" : NULL);
    return 0;
}
