/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "worker-protocol.h"

int worker_append_info(sd_bus_message *m, const TkTokenInfo *i, const WorkerRetries *retries)
{
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = sd_bus_message_append(
            m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "serial", "s", strempty(i->serial), "label",
            "s", strempty(i->label), "manufacturer", "s", strempty(i->manufacturer), "model", "s",
            strempty(i->model), "slot-description", "s", strempty(i->slot_description), "slot-id",
            "t", (uint64_t)i->slot_id, "initialized", "b", (int)i->initialized,
            "user-pin-initialized", "b", (int)i->user_pin_initialized,
            "protected-authentication-path", "b", (int)i->protected_authentication_path);
    if (r >= 0)
        r = sd_bus_message_append(
            m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "read-only", "b", (int)i->read_only,
            "user-pin-state", "u", (uint32_t)i->user_pin_state, "so-pin-state", "u",
            (uint32_t)i->so_pin_state, "user-pin-retries", "i", (int32_t)i->user_pin_retries,
            "so-pin-retries", "i", (int32_t)i->so_pin_retries, "user-pin-retries-source", "u",
            (uint32_t)i->user_pin_retries_source, "so-pin-retries-source", "u",
            (uint32_t)i->so_pin_retries_source, "min-pin-length", "u", (uint32_t)i->min_pin_length,
            "max-pin-length", "u", (uint32_t)i->max_pin_length);
    if (r >= 0 && retries)
        r = sd_bus_message_append(
            m, "{sv}{sv}{sv}{sv}", "card-user-retries", "i", (int32_t)retries->card.user,
            "card-so-retries", "i", (int32_t)retries->card.so, "card-puk-retries", "i",
            (int32_t)retries->card.puk, "so-max-tries", "u", (uint32_t)retries->so_max_tries);
    if (r < 0)
        return r;
    return sd_bus_message_close_container(m);
}

static int read_string(sd_bus_message *m, char **field)
{
    const char *s;
    int r = sd_bus_message_read(m, "v", "s", &s);
    if (r < 0)
        return r;
    free(*field);
    *field = strdup(s);
    return *field ? 0 : -ENOMEM;
}

static int read_bool(sd_bus_message *m, bool *field)
{
    int b, r = sd_bus_message_read(m, "v", "b", &b);
    if (r >= 0)
        *field = b;
    return r;
}

static int read_u32(sd_bus_message *m, unsigned *field)
{
    uint32_t u;
    int r = sd_bus_message_read(m, "v", "u", &u);
    if (r >= 0)
        *field = u;
    return r;
}

int worker_read_info(sd_bus_message *m, TkTokenInfo *ret, WorkerRetries *ret_retries)
{
    TkTokenInfo i = {.user_pin_retries = -1,
                     .so_pin_retries = -1,
                     .puk_retries = -1,
                     .puk_retries_source = TK_RETRIES_UNKNOWN};
    WorkerRetries retries = WORKER_RETRIES_NONE;
    int r;

    r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *k;
        unsigned u = 0;
        r = sd_bus_message_read_basic(m, 's', &k);
        if (r < 0)
            goto fail;
        if (streq(k, "serial"))
            r = read_string(m, &i.serial);
        else if (streq(k, "label"))
            r = read_string(m, &i.label);
        else if (streq(k, "manufacturer"))
            r = read_string(m, &i.manufacturer);
        else if (streq(k, "model"))
            r = read_string(m, &i.model);
        else if (streq(k, "slot-description"))
            r = read_string(m, &i.slot_description);
        else if (streq(k, "slot-id")) {
            uint64_t t;
            r = sd_bus_message_read(m, "v", "t", &t);
            i.slot_id = t;
        } else if (streq(k, "initialized"))
            r = read_bool(m, &i.initialized);
        else if (streq(k, "user-pin-initialized"))
            r = read_bool(m, &i.user_pin_initialized);
        else if (streq(k, "protected-authentication-path"))
            r = read_bool(m, &i.protected_authentication_path);
        else if (streq(k, "read-only"))
            r = read_bool(m, &i.read_only);
        else if (streq(k, "user-pin-state")) {
            r = read_u32(m, &u);
            i.user_pin_state = u;
        } else if (streq(k, "so-pin-state")) {
            r = read_u32(m, &u);
            i.so_pin_state = u;
        } else if (streq(k, "user-pin-retries"))
            r = sd_bus_message_read(m, "v", "i", &i.user_pin_retries);
        else if (streq(k, "so-pin-retries"))
            r = sd_bus_message_read(m, "v", "i", &i.so_pin_retries);
        else if (streq(k, "user-pin-retries-source")) {
            r = read_u32(m, &u);
            i.user_pin_retries_source = u;
        } else if (streq(k, "so-pin-retries-source")) {
            r = read_u32(m, &u);
            i.so_pin_retries_source = u;
        } else if (streq(k, "min-pin-length"))
            r = read_u32(m, &i.min_pin_length);
        else if (streq(k, "max-pin-length"))
            r = read_u32(m, &i.max_pin_length);
        else if (streq(k, "card-user-retries"))
            r = sd_bus_message_read(m, "v", "i", &retries.card.user);
        else if (streq(k, "card-so-retries"))
            r = sd_bus_message_read(m, "v", "i", &retries.card.so);
        else if (streq(k, "card-puk-retries"))
            r = sd_bus_message_read(m, "v", "i", &retries.card.puk);
        else if (streq(k, "so-max-tries"))
            r = read_u32(m, &retries.so_max_tries);
        else
            r = sd_bus_message_skip(m, "v");
        if (r < 0)
            goto fail;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            goto fail;
    }
    if (r < 0)
        goto fail;
    r = sd_bus_message_exit_container(m);
    if (r < 0)
        goto fail;
    *ret = i;
    if (ret_retries)
        *ret_retries = retries;
    return 0;
fail:
    tk_token_info_done(&i);
    return r;
}

bool worker_info_equal(const TkTokenInfo *a, const TkTokenInfo *b)
{
    return streq_ptr(a->serial, b->serial) && streq_ptr(a->label, b->label) &&
           streq_ptr(a->manufacturer, b->manufacturer) && streq_ptr(a->model, b->model) &&
           streq_ptr(a->slot_description, b->slot_description) &&
           a->initialized == b->initialized && a->user_pin_initialized == b->user_pin_initialized &&
           a->protected_authentication_path == b->protected_authentication_path &&
           a->user_pin_state == b->user_pin_state && a->so_pin_state == b->so_pin_state &&
           a->user_pin_retries == b->user_pin_retries && a->so_pin_retries == b->so_pin_retries &&
           a->user_pin_retries_source == b->user_pin_retries_source &&
           a->so_pin_retries_source == b->so_pin_retries_source && a->has_puk == b->has_puk &&
           a->puk_state == b->puk_state && a->puk_retries == b->puk_retries &&
           a->puk_retries_source == b->puk_retries_source &&
           a->min_pin_length == b->min_pin_length && a->max_pin_length == b->max_pin_length;
}
