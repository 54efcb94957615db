/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tokend-config.h"

#include "config.h" /* the build configuration */
#if TOKEND_HAVE_POSTGRESQL
#include <libpq-fe.h>
#endif

static int strv_push(char ***l, const char *s)
{
    size_t n = strv_length(*l);
    char **nl = realloc(*l, sizeof(char *) * (n + 2));
    if (!nl)
        return -ENOMEM;
    *l = nl;
    nl[n] = strdup(s);
    if (!nl[n])
        return -ENOMEM;
    nl[n + 1] = NULL;
    return 0;
}

static int parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < ELEMENTSOF(yes); i++)
        if (strcasecmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
    for (size_t i = 0; i < ELEMENTSOF(no); i++)
        if (strcasecmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    return -EINVAL;
}

static int parse_unsigned(const char *v, unsigned max, unsigned *ret)
{
    char *end;
    if (!*v || *v == '-' || *v == '+')
        return -EINVAL;
    errno = 0;
    unsigned long u = strtoul(v, &end, 10);
    if (errno != 0 || *end != 0 || u > max)
        return -EINVAL;
    *ret = (unsigned)u;
    return 0;
}

static int set_string(char **field, const char *v)
{
    char *s = NULL;
    if (*v) {
        s = strdup(v);
        if (!s)
            return -ENOMEM;
    }
    free(*field);
    *field = s;
    return 0;
}

typedef struct ParseState {
    Config *config;
    const char *path;
    bool modules_seen; /* the first Module= replaces the default list */
    int r;
    char what[320];
} ParseState;

/* inih as Debian builds it gives the handler no line number, but ini_parse_file() returns the
 * line of the first handler that refused, so the message is completed there. */
_printf_(3, 4) static int fail(ParseState *s, int r, const char *fmt, ...)
{
    if (s->r == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->what, sizeof(s->what), fmt, ap);
        va_end(ap);
        s->r = r;
    }
    return 0;
}

static bool known_section(const char *section)
{
    static const char *const sections[] = {"Modules", "Pin", "Unblock", "Audit", "Store"};
    for (size_t i = 0; i < ELEMENTSOF(sections); i++)
        if (streq(section, sections[i]))
            return true;
    return false;
}

/* A station's name goes into every record it makes: printable ASCII, no spaces, as a host
 * name or a machine id is. */
static bool station_name_valid(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p > '~')
            return false;
    return true;
}

/* Whether libpq can parse the connection string. Its reason is not passed on: it may quote a
 * piece of the string, which may hold a password. */
static bool connection_valid(const char *v)
{
#if TOKEND_HAVE_POSTGRESQL
    char *why = NULL;
    PQconninfoOption *o = PQconninfoParse(v, &why);
    if (o) {
        for (PQconninfoOption *p = o; p->keyword; p++)
            if (p->val)
                explicit_bzero(p->val, strlen(p->val));
        PQconninfoFree(o);
    }
    PQfreemem(why);
    return o != NULL;
#else
    return true;
#endif
}

/* The connection string is never quoted back: it may hold a password. */
static int handle_store(ParseState *s, const char *key, const char *value)
{
    Config *c = s->config;
    int r;
    if (streq(key, "Backend")) {
        if (streq(value, "file"))
            c->store_backend = STORE_FILE;
        else if (streq(value, "postgresql")) {
            if (!TOKEND_HAVE_POSTGRESQL)
                return fail(s, -EOPNOTSUPP,
                            "%s=%s: this tokend was built without PostgreSQL (libpq)", key, value);
            c->store_backend = STORE_POSTGRESQL;
        } else
            return fail(s, -EINVAL, "%s=%s: expected file or postgresql", key, value);
        return 1;
    }
    if (streq(key, "Connection")) {
        if (!connection_valid(value))
            return fail(s, -EINVAL,
                        "%s=: not a libpq connection string (keyword=value ... or a "
                        "postgresql:// URI)",
                        key);
        r = set_string(&c->store_connection, value);
    } else if (streq(key, "Station")) {
        if (*value && !station_name_valid(value))
            return fail(s, -EINVAL,
                        "%s=%s: expected 1 to 64 printable characters without spaces, or nothing",
                        key, value);
        r = set_string(&c->store_station, value);
    } else if (streq(key, "WhenUnreachable")) {
        if (streq(value, "record-locally"))
            c->store_unreachable = STORE_RECORD_LOCALLY;
        else if (streq(value, "refuse"))
            c->store_unreachable = STORE_REFUSE;
        else
            return fail(s, -EINVAL, "%s=%s: expected record-locally or refuse", key, value);
        return 1;
    } else
        return fail(s, -EINVAL, "unknown key %s in section [Store]", key);
    if (r < 0)
        return fail(s, r, "out of memory");
    return 1;
}

static int handle(void *userdata, const char *section, const char *key, const char *value)
{
    ParseState *s = userdata;
    Config *c = s->config;
    int r;

    if (s->r != 0)
        return 0;
    if (!key) /* a section header on its own */
        return known_section(section) ? 1 : fail(s, -EINVAL, "unknown section [%s]", section);

    if (streq(section, "Modules") && streq(key, "Module")) {
        if (!*value || value[0] != '/')
            return fail(s, -EINVAL, "%s=%s: expected an absolute path to a PKCS#11 module", key,
                        value);
        if (!s->modules_seen) {
            strv_free(c->modules);
            c->modules = calloc(1, sizeof(char *));
            if (!c->modules)
                return fail(s, -ENOMEM, "out of memory");
            s->modules_seen = true;
        }
        r = strv_push(&c->modules, value);
    } else if (streq(section, "Pin") && streq(key, "MinLength")) {
        r = parse_unsigned(value, 64, &c->pin_min_length);
        if (r < 0)
            return fail(s, r, "%s=%s: expected a number from 0 to 64", key, value);
    } else if (streq(section, "Pin") && streq(key, "RejectTrivial")) {
        r = parse_bool(value, &c->pin_reject_trivial);
        if (r < 0)
            return fail(s, r, "%s=%s: expected yes or no", key, value);
    } else if (streq(section, "Unblock") && streq(key, "RequireRequest")) {
        r = parse_bool(value, &c->unblock_require_request);
        if (r < 0)
            return fail(s, r, "%s=%s: expected yes or no", key, value);
    } else if (streq(section, "Unblock") && streq(key, "SiteKeyFile")) {
        if (*value && value[0] != '/')
            return fail(s, -EINVAL, "%s=%s: expected an absolute path or nothing", key, value);
        r = set_string(&c->site_key_file, value);
    } else if (streq(section, "Audit") && streq(key, "File")) {
        if (!*value || value[0] != '/')
            return fail(s, -EINVAL, "%s=%s: expected an absolute path", key, value);
        r = set_string(&c->audit_file, value);
    } else if (streq(section, "Store"))
        return handle_store(s, key, value);
    else if (!known_section(section))
        return fail(s, -EINVAL, "unknown section [%s] (key %s)", section, key);
    else
        return fail(s, -EINVAL, "unknown key %s in section [%s]", key, section);

    if (r < 0)
        return fail(s, r, "out of memory");
    return 1;
}

int config_init(Config *c)
{
    *c = (Config){
        .pin_min_length = 6,
        .pin_reject_trivial = true,
        .unblock_require_request = true,
    };
    if (strv_push(&c->modules, TOKEND_DEFAULT_MODULE) < 0 ||
        set_string(&c->audit_file, TOKEND_AUDIT_FILE) < 0) {
        config_done(c);
        return -ENOMEM;
    }
    return 0;
}

void config_done(Config *c)
{
    strv_free(c->modules);
    free(c->site_key_file);
    free(c->audit_file);
    free(c->store_connection);
    free(c->store_station);
    *c = (Config){};
}

int config_load_file(Config *c, FILE *f, const char *path, TkError *error)
{
    ParseState s = {.config = c};
    int line = ini_parse_file(f, handle, &s);
    if (s.r < 0)
        return tk_error_set(error, s.r, TK_ERROR_INVALID_ARGUMENT, "%s:%d: %s", path, line, s.what);
    if (line > 0)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "%s:%d: syntax error (expected [Section] or Key=value)", path, line);
    if (line < 0)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "%s: cannot parse", path);
    return 0;
}

int config_load(Config *c, const char *path, bool missing_ok, TkError *error)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT && missing_ok)
            return 0;
        int r = -errno;
        return tk_error_set(error, r, TK_ERROR_INVALID_ARGUMENT, "%s: cannot open: %s", path,
                            strerror(-r));
    }
    int r = config_load_file(c, f, path, error);
    fclose(f);
    return r;
}
