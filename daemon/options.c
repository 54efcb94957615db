/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

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

static bool name_in(const char *name, const char *const *l)
{
    for (; l && *l; l++)
        if (streq(*l, name))
            return true;
    return false;
}

static int read_bytes(sd_bus_message *m, const void **ret, size_t *ret_len)
{
    return sd_bus_message_read_array(m, 'y', ret, ret_len);
}

static int read_secret(sd_bus_message *m, TkSecret **field)
{
    const void *p;
    size_t n;
    int r = read_bytes(m, &p, &n);
    if (r < 0)
        return r;
    tk_secret_free(*field);
    *field = NULL;
    return tk_secret_new(p, n, field);
}

static int read_value(sd_bus_message *m, const char *name, Options *o)
{
    int r;

    if (streq(name, "pin"))
        return read_secret(m, &o->pin);
    if (streq(name, "new-pin"))
        return read_secret(m, &o->new_pin);
    if (streq(name, "so-pin"))
        return read_secret(m, &o->so_pin);
    if (streq(name, "label") || streq(name, "request")) {
        const char *s;
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r < 0)
            return r;
        char **field = streq(name, "label") ? &o->label : &o->request;
        free(*field);
        *field = strdup(s);
        return *field ? 0 : -ENOMEM;
    }
    if (streq(name, "id")) {
        const void *p;
        size_t n;
        r = read_bytes(m, &p, &n);
        if (r < 0)
            return r;
        free(o->id);
        o->id = malloc(n ? n : 1);
        if (!o->id)
            return -ENOMEM;
        memcpy(o->id, p, n);
        o->id_len = n;
        return 0;
    }
    if (streq(name, "email") || streq(name, "dns")) {
        char ***field = streq(name, "email") ? &o->email : &o->dns;
        strv_free(*field);
        *field = NULL;
        return sd_bus_message_read_strv(m, field);
    }
    if (streq(name, "force")) {
        int b;
        r = sd_bus_message_read_basic(m, 'b', &b);
        o->force = b;
        return r;
    }
    if (streq(name, "chain")) {
        r = sd_bus_message_enter_container(m, 'a', "ay");
        if (r < 0)
            return r;
        for (;;) {
            const void *p;
            size_t n;
            r = read_bytes(m, &p, &n);
            if (r < 0)
                return r;
            if (r == 0)
                break;
            TkBlob *c = realloc(o->chain, sizeof(TkBlob) * (o->n_chain + 1));
            if (!c)
                return -ENOMEM;
            o->chain = c;
            uint8_t *d = malloc(n ? n : 1);
            if (!d)
                return -ENOMEM;
            memcpy(d, p, n);
            o->chain[o->n_chain++] = (TkBlob){d, n};
        }
        return sd_bus_message_exit_container(m);
    }
    return -EINVAL;
}

static const char *option_signature(const char *name)
{
    static const struct {
        const char *name, *sig;
    } table[] = {
        {"pin", "ay"}, {"new-pin", "ay"}, {"so-pin", "ay"}, {"label", "s"}, {"request", "s"},
        {"id", "ay"},  {"email", "as"},   {"dns", "as"},    {"force", "b"}, {"chain", "aay"},
    };
    for (size_t i = 0; i < ELEMENTSOF(table); i++)
        if (streq(table[i].name, name))
            return table[i].sig;
    return NULL;
}

int options_read(sd_bus_message *m, const char *const *allowed, Options *ret, TkError *error)
{
    Options o = {};
    int r;

    r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        goto bad;
    for (;;) {
        const char *name, *contents, *sig;

        r = sd_bus_message_enter_container(m, 'e', "sv");
        if (r < 0)
            goto bad;
        if (r == 0)
            break;
        r = sd_bus_message_read_basic(m, 's', &name);
        if (r < 0)
            goto bad;
        sig = option_signature(name);
        if (!sig || !name_in(name, allowed)) {
            options_done(&o);
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Unknown option \"%s\" for this method.", name);
        }
        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
            goto bad;
        if (!streq(contents, sig)) {
            options_done(&o);
            return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Option \"%s\" must be of type %s, not %s.", name, sig, contents);
        }
        r = sd_bus_message_enter_container(m, 'v', sig);
        if (r < 0)
            goto bad;
        r = read_value(m, name, &o);
        if (r == -EINVAL) {
            options_done(&o);
            return tk_error_set(error, r, TK_ERROR_INVALID_ARGUMENT,
                                "Option \"%s\" has an invalid value (a PIN must not contain a "
                                "NUL byte).",
                                name);
        }
        if (r < 0)
            goto bad;
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
    options_done(&o);
    return tk_error_set(error, r, TK_ERROR_INVALID_ARGUMENT, "Malformed options: %s", strerror(-r));
}
