/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-json.h"
#include "format.h"
#include "i18n.h"
#include "resolve.h"

int fetch_objects(Context *ctx, json_object **ret)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *reply = NULL;
    sd_bus *bus;
    int r;

    r = context_bus(ctx, &bus);
    if (r != 0)
        return r;
    r = sd_bus_call_method(bus, TOKEND_BUS_NAME, TOKEND_ROOT_PATH,
                           "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &error,
                           &reply, "");
    if (r < 0)
        return fail_bus(ctx, "Cannot list tokens", &error);
    r = bus_message_read_json(reply, ret);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot parse the daemon's object list");
    return 0;
}

static int compare_path(const void *a, const void *b)
{
    json_object *const *x = a, *const *y = b;
    return strcmp(strempty(json_get_string(*x, "path")), strempty(json_get_string(*y, "path")));
}

int tokens_from_objects(json_object *objects, json_object **ret)
{
    _cleanup_json_ json_object *tokens = json_object_new_array();

    if (!tokens)
        return -ENOMEM;
    json_object_object_foreach(objects, path, ifaces)
    {
        json_object *props;
        if (!json_object_object_get_ex(ifaces, TOKEND_TOKEN_IFACE, &props))
            continue;
        json_object *t = json_object_get(props);
        json_object_object_add(t, "path", json_object_new_string(path));
        json_object_array_add(tokens, t);
    }
    json_object_array_sort(tokens, compare_path);
    *ret = TAKE_PTR(tokens);
    return 0;
}

int match_token(json_object *tokens, const char *name)
{
    size_t n = json_object_array_length(tokens);
    int found = -ENOENT;

    if (!name) {
        if (n == 0)
            return -ENOENT;
        return n == 1 ? 0 : -ENOTUNIQ;
    }

    /* An exact object path names one token. A serial should, but two present tokens may claim
     * one (tokend marks them); labels and reader names may repeat. */
    for (size_t i = 0; i < n; i++)
        if (streq_ptr(json_get_string(json_object_array_get_idx(tokens, i), "path"), name))
            return (int)i;
    for (size_t i = 0; i < n; i++)
        if (streq_ptr(json_get_string(json_object_array_get_idx(tokens, i), "Serial"), name)) {
            if (found >= 0)
                return -ENOTUNIQ;
            found = (int)i;
        }
    if (found >= 0)
        return found;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(tokens, i);
        if (streq_ptr(json_get_string(t, "Label"), name) ||
            streq_ptr(json_get_string(t, "Reader"), name)) {
            if (found >= 0)
                return -ENOTUNIQ;
            found = (int)i;
        }
    }
    return found;
}

static size_t match_serial_count(json_object *tokens, const char *serial)
{
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(tokens); i++)
        n += streq_ptr(json_get_string(json_object_array_get_idx(tokens, i), "Serial"), serial);
    return n;
}

static char *describe_candidates(json_object *tokens, const char *name)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    if (!f)
        return NULL;
    for (size_t i = 0; i < json_object_array_length(tokens); i++) {
        json_object *t = json_object_array_get_idx(tokens, i);
        if (name && !streq_ptr(json_get_string(t, "Label"), name) &&
            !streq_ptr(json_get_string(t, "Reader"), name) &&
            !streq_ptr(json_get_string(t, "Serial"), name))
            continue;
        const char *reader = json_get_string(t, "Reader");
        fprintf(f, _("\n  serial %s, label \"%s\""), strempty(json_get_string(t, "Serial")),
                strempty(json_get_string(t, "Label")));
        if (!isempty(reader))
            fprintf(f, _(", in reader \"%s\""), reader);
        /* Two tokens with one serial: only the object path tells them apart for certain. */
        if (json_get_bool(t, "SerialConflict", 0))
            fprintf(f, _(", object %s"), strempty(json_get_string(t, "path")));
    }
    fclose(f);
    return buf;
}

int resolve_token(Context *ctx, const char *name, json_object **ret)
{
    _cleanup_json_ json_object *objects = NULL, *tokens = NULL;
    int r, i;

    r = fetch_objects(ctx, &objects);
    if (r != 0)
        return r;
    r = tokens_from_objects(objects, &tokens);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the token list");

    i = match_token(tokens, name);
    if (i == -ENOENT) {
        _cleanup_free_ char *all = describe_candidates(tokens, NULL);
        if (!name)
            return fail(ctx, CLI_ERROR_NO_TOKEN,
                        "No token is present. Insert a token or check the reader.");
        return fail(ctx, CLI_ERROR_NO_TOKEN,
                    "No token matches \"%s\" (by serial, label, reader or object path).%s%s", name,
                    isempty(all) ? _(" No token is present.") : _(" Tokens present:"),
                    strempty(all));
    }
    if (i == -ENOTUNIQ) {
        _cleanup_free_ char *some = describe_candidates(tokens, name);
        if (!name)
            return fail(ctx, CLI_ERROR_AMBIGUOUS,
                        "Several tokens are present; name one by its serial:%s", strempty(some));
        if (match_serial_count(tokens, name) > 1)
            return fail(ctx, CLI_ERROR_AMBIGUOUS,
                        "Several present tokens have the serial number %s; name one by its "
                        "reader or object path:%s",
                        name, strempty(some));
        return fail(ctx, CLI_ERROR_AMBIGUOUS,
                    "\"%s\" matches several tokens; name one by its serial:%s", name,
                    strempty(some));
    }
    if (i < 0)
        return fail_errno(ctx, i, "Cannot choose a token");
    *ret = json_object_get(json_object_array_get_idx(tokens, (size_t)i));
    return 0;
}
