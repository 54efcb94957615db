/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "bus-call.h"
#include "bus-json.h"
#include "format.h"
#include "i18n.h"
#include "resolve.h"
#include "secrets.h"
#include "table.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)

static void add_string(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

/* Absent values are null in the documented output: an empty reader name or ATR says "none". */
static void add_string_or_null(json_object *o, const char *key, const char *value)
{
    add_string(o, key, isempty(value) ? NULL : value);
}

/* from's value for key as it is, or null: every documented key is there in every object. */
static void copy_key(json_object *to, const char *key, json_object *from)
{
    json_object *v = NULL;
    json_object_object_add(to, key,
                           json_object_object_get_ex(from, key, &v) ? json_object_get(v) : NULL);
}

/* prefix names the bus properties: _("UserPin"), "SoPin" or "Puk". */
static json_object *pin_json(json_object *t, const char *prefix)
{
    char state[32], retries[32], source[40];
    json_object *o = json_object_new_object();

    snprintf(state, sizeof(state), "%sState", prefix);
    snprintf(retries, sizeof(retries), "%sRetries", prefix);
    snprintf(source, sizeof(source), "%sRetriesSource", prefix);
    add_string(o, "state", json_get_string(t, state));
    json_object_object_add(o, "retries", json_object_new_int((int)json_get_int(t, retries, -1)));
    add_string(o, "retries-source", json_get_string(t, source));
    return o;
}

/* The token as scripts see it: documented field names, not the bus property names, so the
 * bus API can grow without breaking a script. */
static json_object *token_json(json_object *t)
{
    json_object *o = json_object_new_object();

    add_string(o, "path", json_get_string(t, "path"));
    add_string(o, "serial", json_get_string(t, "Serial"));
    add_string(o, "label", json_get_string(t, "Label"));
    add_string(o, "manufacturer", json_get_string(t, "Manufacturer"));
    add_string(o, "model", json_get_string(t, "Model"));
    add_string_or_null(o, "reader", json_get_string(t, "Reader"));
    add_string(o, "module", json_get_string(t, "Module"));
    json_object_object_add(o, "initialized",
                           json_object_new_boolean(json_get_bool(t, "Initialized", 0)));
    json_object_object_add(o, "user-pin-initialized",
                           json_object_new_boolean(json_get_bool(t, "UserPinInitialized", 0)));
    json_object_object_add(
        o, "protected-authentication-path",
        json_object_new_boolean(json_get_bool(t, "ProtectedAuthenticationPath", 0)));
    json_object_object_add(o, "busy", json_object_new_boolean(json_get_bool(t, "Busy", 0)));
    json_object_object_add(o, "serial-conflict",
                           json_object_new_boolean(json_get_bool(t, "SerialConflict", 0)));
    json_object_object_add(o, "user-pin", pin_json(t, "UserPin"));
    json_object_object_add(o, "so-pin", pin_json(t, "SoPin"));
    json_object_object_add(o, "puk", json_get_bool(t, "HasPuk", 0) ? pin_json(t, "Puk") : NULL);
    json_object_object_add(o, "min-pin-length",
                           json_object_new_int64(json_get_int(t, "MinPinLength", 0)));
    json_object_object_add(o, "max-pin-length",
                           json_object_new_int64(json_get_int(t, "MaxPinLength", 0)));
    return o;
}

static void pin_text(json_object *t, const char *prefix, char *buf, size_t size, int *severity)
{
    char state[32], retries[32], source[40];
    snprintf(state, sizeof(state), "%sState", prefix);
    snprintf(retries, sizeof(retries), "%sRetries", prefix);
    snprintf(source, sizeof(source), "%sRetriesSource", prefix);
    if (format_pin_state(json_get_string(t, state), (int)json_get_int(t, retries, -1),
                         json_get_string(t, source), buf, size) < 0)
        snprintf(buf, size, "?");
    *severity = pin_state_severity(json_get_string(t, state));
}

static const char *severity_color(int severity)
{
    return severity >= 2 ? ANSI_RED : severity == 1 ? ANSI_YELLOW : NULL;
}

int verb_list(Context *ctx)
{
    _cleanup_json_ json_object *objects = NULL, *tokens = NULL;
    int r;

    if (ctx->n_args > 0)
        return fail(ctx, CLI_ERROR_USAGE, "list takes no arguments");
    r = fetch_objects(ctx, &objects);
    if (r != 0)
        return r;
    r = tokens_from_objects(objects, &tokens);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the token list");

    if (ctx->json) {
        json_object *a = json_object_new_array(), *readers = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(tokens); i++)
            json_object_array_add(a, token_json(json_object_array_get_idx(tokens, i)));
        json_object_object_foreach(objects, path, ifaces)
        {
            json_object *p;
            if (!json_object_object_get_ex(ifaces, TOKEND_READER_IFACE, &p))
                continue;
            json_object *o = json_object_new_object();
            add_string(o, "path", path);
            add_string(o, "name", json_get_string(p, "Name"));
            json_object_object_add(o, "card-present",
                                   json_object_new_boolean(json_get_bool(p, "CardPresent", 0)));
            add_string_or_null(o, "atr", json_get_string(p, "Atr"));
            const char *tok = json_get_string(p, "Token");
            add_string(o, "token", streq_ptr(tok, "/") ? NULL : tok);
            json_object_array_add(readers, o);
        }
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "tokens", a);
        json_object_object_add(ctx->result, "readers", readers);
        return 0;
    }

    context_pager(ctx);
    if (json_object_array_length(tokens) == 0) {
        puts(_("No tokens present."));
        return 0;
    }
    static const char *const headers[] = {N_("SERIAL"), N_("LABEL"), N_("MODEL"), N_("READER"),
                                          N_("USER PIN")};
    _cleanup_(table_freep) Table *table = table_new(ELEMENTSOF(headers), headers);
    if (!table)
        return fail_errno(ctx, -ENOMEM, "Cannot show the token list");
    for (size_t i = 0; i < json_object_array_length(tokens); i++) {
        json_object *t = json_object_array_get_idx(tokens, i);
        char pin[160];
        int sev;
        pin_text(t, "UserPin", pin, sizeof(pin), &sev);
        if (json_get_bool(t, "SerialConflict", 0)) {
            char serial[96];
            snprintf(serial, sizeof(serial), _("%s (twice)"),
                     strempty(json_get_string(t, "Serial")));
            table_add_colored(table, serial, ANSI_RED);
        } else
            table_add(table, json_get_string(t, "Serial"));
        table_add(table, json_get_string(t, "Label"));
        table_add(table, json_get_string(t, "Model"));
        table_add(table,
                  isempty(json_get_string(t, "Reader")) ? "-" : json_get_string(t, "Reader"));
        table_add_colored(table, pin, severity_color(sev));
    }
    table_print(table, stdout, ctx->color, !ctx->no_legend);
    return 0;
}

static int list_objects(Context *ctx, json_object *token, const TkSecret *pin, json_object **ret,
                        sd_bus_error *error)
{
    _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
    int r;

    r = token_call_new(ctx, json_get_string(token, "path"), "ListObjects", &m);
    if (r < 0)
        return sd_bus_error_set_errno(error, r);
    r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && pin)
        r = options_add_secret(m, "pin", pin);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return sd_bus_error_set_errno(error, r);
    r = token_call(ctx, m, "list objects", error, &reply);
    if (r < 0)
        return r;
    return bus_message_read_json(reply, ret);
}

static const char *class_text(const char *class)
{
    if (streq_ptr(class, "private-key"))
        return _("private key");
    if (streq_ptr(class, "public-key"))
        return _("public key");
    if (streq_ptr(class, "certificate"))
        return _("certificate");
    return strempty(class);
}

static void object_details(json_object *o, char *buf, size_t size)
{
    const char *type = json_get_string(o, "key-type");
    const char *subject = json_get_string(o, "subject");

    if (subject)
        snprintf(buf, size, "%s", subject);
    else if (streq_ptr(type, "rsa"))
        snprintf(buf, size, _("RSA %lld bits"), (long long)json_get_int(o, "bits", 0));
    else if (streq_ptr(type, "ec"))
        snprintf(buf, size, "EC %s", strempty(json_get_string(o, "curve")));
    else
        snprintf(buf, size, "%s", strempty(type));
}

static char *ascii_lower(const char *s)
{
    char *l = strdup(s);
    for (char *p = l; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

/* A key or certificate as scripts see it: the documented keys only, each one there, null
 * where it does not apply (curve on an RSA key, subject on a key); hex in lower case, as
 * OpenSSL gives certificate serials in upper case; and the expiry computed the same way as the
 * text people read. */
static json_object *object_json(json_object *o, time_t now, unsigned warn_days)
{
    json_object *j = json_object_new_object();
    const char *serial = json_get_string(o, "serial");
    int64_t not_after = json_get_int(o, "not-after", -1);

    static const char *const as_given[] = {"class", "id",    "label",   "key-type",
                                           "bits",  "curve", "subject", "issuer"};
    FOREACH_ARRAY (key, as_given, ELEMENTSOF(as_given))
        copy_key(j, *key, o);
    _cleanup_free_ char *lower = serial ? ascii_lower(serial) : NULL;
    add_string(j, "serial", lower);
    copy_key(j, "not-before", o);
    copy_key(j, "not-after", o);
    copy_key(j, "ca", o);
    if (not_after < 0) {
        json_object_object_add(j, "expired", NULL);
        json_object_object_add(j, "days-left", NULL);
        json_object_object_add(j, "expires-soon", NULL);
        return j;
    }
    bool past = expiry_is_past((uint64_t)not_after, now);
    int64_t days = past ? -(int64_t)(((uint64_t)now - (uint64_t)not_after) / 86400)
                        : (int64_t)(((uint64_t)not_after - (uint64_t)now) / 86400);
    json_object_object_add(j, "expired", json_object_new_boolean(past));
    json_object_object_add(j, "days-left", json_object_new_int64(days));
    json_object_object_add(
        j, "expires-soon",
        json_object_new_boolean(expiry_severity((uint64_t)not_after, now, warn_days) == 1));
    return j;
}

static bool is_certificate(json_object *o)
{
    return streq_ptr(json_get_string(o, "class"), "certificate");
}

static bool is_ca(json_object *o)
{
    return is_certificate(o) && json_get_bool(o, "ca", 0);
}

static int class_rank(json_object *o)
{
    const char *class = json_get_string(o, "class");
    return streq_ptr(class, "private-key")  ? 0
           : streq_ptr(class, "public-key") ? 1
           : !is_certificate(o)             ? 3
           : is_ca(o)                       ? 4
                                            : 2;
}

static int strcmp_null(const char *a, const char *b)
{
    return strcmp(strempty(a), strempty(b));
}

/* The order people and scripts see, whatever order the token gives: keys, then the holder's
 * certificates, then CA certificates; within those by id, expiry and subject. */
static int object_compare(const void *a, const void *b)
{
    json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
    int d = class_rank(x) - class_rank(y);
    if (d != 0)
        return d;
    if ((d = strcmp_null(json_get_string(x, "id"), json_get_string(y, "id"))) != 0)
        return d;
    int64_t ex = json_get_int(x, "not-after", -1), ey = json_get_int(y, "not-after", -1);
    if (ex != ey)
        return ex < ey ? -1 : 1;
    if ((d = strcmp_null(json_get_string(x, "subject"), json_get_string(y, "subject"))) != 0)
        return d;
    return strcmp_null(json_get_string(x, "label"), json_get_string(y, "label"));
}

static void sort_objects(json_object *objects)
{
    if (objects)
        json_object_array_sort(objects, object_compare);
}

/* Which objects a list shows. */
typedef enum ObjectKind {
    OBJECTS_ALL,
    OBJECTS_HOLDER_CERTIFICATES,
    OBJECTS_CA_CERTIFICATES,
} ObjectKind;

static bool object_is(json_object *o, ObjectKind kind)
{
    return kind == OBJECTS_ALL ||
           (is_certificate(o) && is_ca(o) == (kind == OBJECTS_CA_CERTIFICATES));
}

/* The objects of one kind in their documented form. */
static json_object *objects_json(json_object *objects, ObjectKind kind, time_t now,
                                 unsigned warn_days)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; objects && i < json_object_array_length(objects); i++) {
        json_object *o = json_object_array_get_idx(objects, i);
        if (object_is(o, kind))
            json_object_array_add(a, object_json(o, now, warn_days));
    }
    return a;
}

/* The exit status for --expiry-warn given explicitly: whether a holder's certificate expires
 * within the threshold or has expired. CA certificates are the issuer's to renew. */
static int expiry_status(Context *ctx, json_object *objects, time_t now)
{
    if (!ctx->expiry_warn_given)
        return 0;
    for (size_t i = 0; objects && i < json_object_array_length(objects); i++) {
        json_object *o = json_object_array_get_idx(objects, i);
        int64_t not_after = json_get_int(o, "not-after", -1);
        if (object_is(o, OBJECTS_HOLDER_CERTIFICATES) && not_after >= 0 &&
            expiry_severity((uint64_t)not_after, now, ctx->expiry_warn_days) > 0)
            return EXIT_EXPIRING;
    }
    return 0;
}

/* "expires 2026-12-22, in 20 days — renew soon" and its colour, alike in every command. */
static const char *expiry_text(Context *ctx, int64_t not_after, time_t now, char *buf, size_t size)
{
    if (not_after < 0) {
        snprintf(buf, size, "-");
        return NULL;
    }
    if (format_expiry((uint64_t)not_after, now, buf, size) < 0) {
        snprintf(buf, size, "?");
        return NULL;
    }
    int sev = expiry_severity((uint64_t)not_after, now, ctx->expiry_warn_days);
    if (sev == 1) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s", _(" — renew soon"));
    }
    return severity_color(sev);
}

static void print_objects(Context *ctx, json_object *objects, time_t now)
{
    static const char *const headers[] = {N_("CLASS"), N_("ID"), N_("LABEL"), N_("DETAILS"),
                                          N_("EXPIRY")};
    _cleanup_(table_freep) Table *table = table_new(ELEMENTSOF(headers), headers);

    if (!table)
        return;
    for (size_t i = 0; i < json_object_array_length(objects); i++) {
        json_object *o = json_object_array_get_idx(objects, i);
        char details[512], expiry[128] = "";
        const char *color = NULL;

        object_details(o, details, sizeof(details));
        if (is_certificate(o))
            color = expiry_text(ctx, json_get_int(o, "not-after", -1), now, expiry, sizeof(expiry));
        table_add(table, is_ca(o) ? _("CA certificate") : class_text(json_get_string(o, "class")));
        table_add(table, json_get_string(o, "id"));
        table_add(table, json_get_string(o, "label"));
        table_add(table, details);
        table_add_colored(table, expiry, color);
    }
    context_pager(ctx);
    if (table_rows(table) == 0)
        puts(_("No objects on this token."));
    else
        table_print(table, stdout, ctx->color, !ctx->no_legend);
}

int verb_objects(Context *ctx)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_json_ json_object *token = NULL, *objects = NULL;
    _cleanup_secret_ TkSecret *pin = NULL;
    time_t now = time(NULL);
    int r;

    if (ctx->n_args > 1)
        return fail(ctx, CLI_ERROR_USAGE, "objects takes one TOKEN");
    r = resolve_token(ctx, ctx->n_args > 0 ? ctx->args[0] : NULL, &token);
    if (r != 0)
        return r;
    if (ctx->login || ctx->pin_file) {
        r = get_secret(ctx, ctx->pin_file, "--pin-file", "User PIN", false, SECRET_REQUIRED, &pin);
        if (r != 0)
            return r;
    }
    r = list_objects(ctx, token, pin, &objects, &error);
    if (r < 0)
        return fail_bus(ctx, "Cannot list the objects on the token", &error);
    sort_objects(objects);

    if (ctx->json) {
        ctx->result = json_object_new_object();
        add_string(ctx->result, "token", json_get_string(token, "Serial"));
        json_object_object_add(ctx->result, "objects",
                               objects_json(objects, OBJECTS_ALL, now, ctx->expiry_warn_days));
    } else
        print_objects(ctx, objects, now);
    return expiry_status(ctx, objects, now);
}

/* The labels of status, right-aligned to the widest of them in the language shown (the
 * translations are longer than the English, and not all ASCII): set once by status_labels(). */
static size_t label_width = 15;

static void status_labels(void)
{
    const char *const labels[] = {
        _("Token"),       _("Serial"),   _("Conflict"),     _("Model"),           _("Reader"),
        _("Initialized"), _("User PIN"), _("PUK"),          _("SO PIN"),          _("PIN length"),
        _("PIN entry"),   _("Busy"),     _("Certificates"), _("CA certificates"),
    };
    label_width = 0;
    FOREACH_ARRAY (l, labels, ELEMENTSOF(labels))
        if (display_width(*l) > label_width)
            label_width = display_width(*l);
}

static void print_field(Context *ctx, const char *name, const char *value, const char *color)
{
    _cleanup_free_ char *buf = NULL;
    value = terminal_text(value, &buf);
    size_t width = display_width(name);
    printf("%*s%s: ", width < label_width ? (int)(label_width - width) : 0, "", name);
    if (ctx->color && color)
        printf("%s%s%s\n", color, value, ANSI_RESET);
    else
        printf("%s\n", value);
}

/* The certificates of one kind, each its subject and then its expiry; "none" under the heading
 * of the holder's, nothing for CA certificates where there are none. */
static void print_certificates(Context *ctx, json_object *objects, ObjectKind kind,
                               const char *heading, time_t now)
{
    bool any = false;

    for (size_t i = 0; i < json_object_array_length(objects); i++) {
        json_object *o = json_object_array_get_idx(objects, i);
        char expiry[128];
        if (!object_is(o, kind))
            continue;
        print_field(ctx, any ? "" : heading, strempty(json_get_string(o, "subject")), NULL);
        const char *color =
            expiry_text(ctx, json_get_int(o, "not-after", -1), now, expiry, sizeof(expiry));
        print_field(ctx, "", expiry, color);
        any = true;
    }
    if (!any && kind == OBJECTS_HOLDER_CERTIFICATES)
        print_field(ctx, heading, _("none"), NULL);
}

int verb_status(Context *ctx)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_json_ json_object *token = NULL, *objects = NULL;
    time_t now = time(NULL);
    char buf[256];
    int r, sev;

    if (ctx->n_args > 1)
        return fail(ctx, CLI_ERROR_USAGE, "status takes at most one TOKEN");
    r = resolve_token(ctx, ctx->n_args > 0 ? ctx->args[0] : NULL, &token);
    if (r != 0)
        return r;

    /* Certificates are public objects: reading them needs no PIN and no authorisation. A
     * token that cannot be read right now still has a state worth showing. */
    r = list_objects(ctx, token, NULL, &objects, &error);
    if (r >= 0)
        sort_objects(objects);

    if (ctx->json) {
        json_object *e = NULL;
        if (r < 0) {
            e = json_object_new_object();
            add_string(e, "name", error.name);
            add_string(e, "message", error.message);
        }
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "token", token_json(token));
        json_object_object_add(ctx->result, "certificates",
                               objects_json(r < 0 ? NULL : objects, OBJECTS_HOLDER_CERTIFICATES,
                                            now, ctx->expiry_warn_days));
        json_object_object_add(ctx->result, "ca-certificates",
                               objects_json(r < 0 ? NULL : objects, OBJECTS_CA_CERTIFICATES, now,
                                            ctx->expiry_warn_days));
        json_object_object_add(ctx->result, "certificates-error", e);
        json_object_object_add(ctx->result, "expiry-warn-days",
                               json_object_new_int64(ctx->expiry_warn_days));
        return r < 0 ? 0 : expiry_status(ctx, objects, now);
    }

    context_pager(ctx);
    status_labels();
    print_field(ctx, _("Token"), strempty(json_get_string(token, "Label")), ANSI_BOLD);
    print_field(ctx, _("Serial"), strempty(json_get_string(token, "Serial")), NULL);
    if (json_get_bool(token, "SerialConflict", 0))
        print_field(ctx, _("Conflict"),
                    _("another present token has the same serial number: its SO PIN/PUK is not "
                      "derived until one of them is removed"),
                    ANSI_RED);
    snprintf(buf, sizeof(buf), "%s %s", strempty(json_get_string(token, "Manufacturer")),
             strempty(json_get_string(token, "Model")));
    print_field(ctx, _("Model"), buf, NULL);
    print_field(ctx, _("Reader"),
                isempty(json_get_string(token, "Reader")) ? _("(none)")
                                                          : json_get_string(token, "Reader"),
                NULL);
    print_field(ctx, _("Initialized"), json_get_bool(token, "Initialized", 0) ? _("yes") : _("no"),
                NULL);
    pin_text(token, "UserPin", buf, sizeof(buf), &sev);
    if (!json_get_bool(token, "UserPinInitialized", 1))
        snprintf(buf, sizeof(buf), _("not set — the token needs initialising"));
    print_field(ctx, _("User PIN"), buf, severity_color(sev));
    /* Where the token has a PUK it is what an unblock spends, apart from the SO PIN. */
    if (json_get_bool(token, "HasPuk", 0)) {
        pin_text(token, "Puk", buf, sizeof(buf), &sev);
        print_field(ctx, _("PUK"), buf, severity_color(sev));
    }
    pin_text(token, "SoPin", buf, sizeof(buf), &sev);
    print_field(ctx, _("SO PIN"), buf, severity_color(sev));
    snprintf(buf, sizeof(buf), _("%lld to %lld characters"),
             (long long)json_get_int(token, "EffectiveMinPinLength",
                                     json_get_int(token, "MinPinLength", 0)),
             (long long)json_get_int(token, "MaxPinLength", 0));
    print_field(ctx, _("PIN length"), buf, NULL);
    if (json_get_bool(token, "ProtectedAuthenticationPath", 0))
        print_field(ctx, _("PIN entry"), _("on the reader's own keypad"), NULL);
    if (json_get_bool(token, "Busy", 0))
        print_field(ctx, _("Busy"), _("yes, an operation is running"), ANSI_YELLOW);

    if (r < 0) {
        snprintf(buf, sizeof(buf), _("cannot read: %s"), strempty(error.message));
        print_field(ctx, _("Certificates"), buf, ANSI_YELLOW);
        return 0;
    }
    print_certificates(ctx, objects, OBJECTS_HOLDER_CERTIFICATES, _("Certificates"), now);
    print_certificates(ctx, objects, OBJECTS_CA_CERTIFICATES, _("CA certificates"), now);
    return expiry_status(ctx, objects, now);
}
