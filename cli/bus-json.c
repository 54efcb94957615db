/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "macro.h"
#include "bus-json.h"
#include "format.h"

static int read_basic_json(sd_bus_message *m, char type, json_object **ret)
{
    union {
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
        int h;
    } v;
    json_object *o;
    int r;

    r = sd_bus_message_read_basic(m, type, &v);
    if (r < 0)
        return r;
    switch (type) {
    case 'y':
        o = json_object_new_int(v.y);
        break;
    case 'b':
        o = json_object_new_boolean(v.b);
        break;
    case 'n':
        o = json_object_new_int(v.n);
        break;
    case 'q':
        o = json_object_new_int(v.q);
        break;
    case 'i':
        o = json_object_new_int(v.i);
        break;
    case 'u':
        o = json_object_new_int64(v.u);
        break;
    case 'x':
        o = json_object_new_int64(v.x);
        break;
    case 't':
        o = json_object_new_uint64(v.t);
        break;
    case 'd':
        o = json_object_new_double(v.d);
        break;
    case 's':
    case 'o':
    case 'g':
        o = json_object_new_string(v.s);
        break;
    default:
        /* File descriptors and other odd types carry nothing a script could use. */
        *ret = NULL;
        return 0;
    }
    if (!o)
        return -ENOMEM;
    *ret = o;
    return 0;
}

static int key_text(sd_bus_message *m, char type, char **ret)
{
    _cleanup_json_ json_object *k = NULL;
    int r = read_basic_json(m, type, &k);
    if (r < 0)
        return r;
    char *s = strdup(json_object_get_string(k));
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

int bus_message_read_json(sd_bus_message *m, json_object **ret)
{
    const char *contents = NULL;
    char type;
    int r;

    r = sd_bus_message_peek_type(m, &type, &contents);
    if (r < 0)
        return r;
    if (r == 0)
        return -ENXIO;

    switch (type) {
    case 'v': {
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
            return r;
        r = bus_message_read_json(m, ret);
        if (r < 0)
            return r;
        return sd_bus_message_exit_container(m);
    }
    case 'a': {
        if (streq(contents, "y")) {
            const void *p;
            size_t n;
            r = sd_bus_message_read_array(m, 'y', &p, &n);
            if (r < 0)
                return r;
            _cleanup_free_ char *hex = hex_string(p, n);
            if (!hex)
                return -ENOMEM;
            *ret = json_object_new_string(hex);
            return *ret ? 0 : -ENOMEM;
        }
        bool dict = contents[0] == '{';
        _cleanup_json_ json_object *o = dict ? json_object_new_object() : json_object_new_array();
        if (!o)
            return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', contents);
        if (r < 0)
            return r;
        for (;;) {
            if (dict) {
                _cleanup_free_ char *key = NULL;
                _cleanup_json_ json_object *val = NULL;
                _cleanup_free_ char *entry = strndup(contents + 1, strlen(contents) - 2);
                if (!entry)
                    return -ENOMEM;
                r = sd_bus_message_enter_container(m, 'e', entry);
                if (r < 0)
                    return r;
                if (r == 0)
                    break;
                r = key_text(m, entry[0], &key);
                if (r < 0)
                    return r;
                r = bus_message_read_json(m, &val);
                if (r < 0)
                    return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                    return r;
                json_object_object_add(o, key, TAKE_PTR(val));
            } else {
                _cleanup_json_ json_object *val = NULL;
                r = sd_bus_message_at_end(m, false);
                if (r < 0)
                    return r;
                if (r > 0)
                    break;
                r = bus_message_read_json(m, &val);
                if (r < 0)
                    return r;
                json_object_array_add(o, TAKE_PTR(val));
            }
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            return r;
        *ret = TAKE_PTR(o);
        return 0;
    }
    case 'r': {
        _cleanup_json_ json_object *o = json_object_new_array();
        if (!o)
            return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'r', contents);
        if (r < 0)
            return r;
        for (;;) {
            _cleanup_json_ json_object *val = NULL;
            r = sd_bus_message_at_end(m, false);
            if (r < 0)
                return r;
            if (r > 0)
                break;
            r = bus_message_read_json(m, &val);
            if (r < 0)
                return r;
            json_object_array_add(o, TAKE_PTR(val));
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            return r;
        *ret = TAKE_PTR(o);
        return 0;
    }
    default:
        return read_basic_json(m, type, ret);
    }
}

const char *json_get_string(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int64_t json_get_int(json_object *o, const char *key, int64_t def)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return def;
    return json_object_get_int64(v);
}

int json_get_bool(json_object *o, const char *key, int def)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
        return def;
    return json_object_get_boolean(v);
}
