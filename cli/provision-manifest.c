/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The provisioning manifest, an INI file read with inih:
 *
 *   [Token]
 *   Label=AGENCY {serial}
 *   [Key]
 *   Type=ec-p256
 *   Label=signing key
 *   [Request]
 *   Subject=CN=Holder {serial},O=Agency,C=MO
 *   Reference=ISSUE-2026-12
 *   Output=requests
 */
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "i18n.h"
#include "provision-manifest.h"

typedef struct ManifestKey {
    const char *section;
    const char *name;
    size_t offset;
    bool required;
} ManifestKey;

static const ManifestKey manifest_keys[] = {
    {"Token", "Label", offsetof(Manifest, token_label), true},
    {"Key", "Type", offsetof(Manifest, key_type), true},
    {"Key", "Label", offsetof(Manifest, key_label), false},
    {"Request", "Subject", offsetof(Manifest, subject), true},
    {"Request", "Reference", offsetof(Manifest, request), false},
    {"Request", "Output", offsetof(Manifest, output), true},
};

/* A manifest is a few lines: a bigger file is not one. */
#define MANIFEST_MAX_VALUE 1024

typedef struct Parse {
    Manifest *manifest;
    char *bad_section;
    char *bad_key;
    const char *why; /* N_() */
    int error;
} Parse;

static char **manifest_field(Manifest *m, const ManifestKey *k)
{
    return (char **)((char *)m + k->offset);
}

static int parse_fail(Parse *p, const char *section, const char *key, const char *why, int error)
{
    p->bad_section = strdup(strempty(section));
    p->bad_key = key ? strdup(key) : NULL;
    p->why = why;
    p->error = error;
    return 0;
}

static int handle(void *userdata, const char *section, const char *key, const char *value)
{
    Parse *p = userdata;
    if (!key)
        return 1; /* a section header: judged by its keys */
    FOREACH_ARRAY (k, manifest_keys, ELEMENTSOF(manifest_keys)) {
        if (!streq(k->section, section) || !streq(k->name, key))
            continue;
        char **field = manifest_field(p->manifest, k);
        if (*field)
            return parse_fail(p, section, key, N_("is given twice"), -EINVAL);
        if (strlen(value) > MANIFEST_MAX_VALUE)
            return parse_fail(p, section, key, N_("is longer than 1024 bytes"), -EINVAL);
        *field = strdup(value);
        return *field ? 1 : parse_fail(p, section, key, NULL, -ENOMEM);
    }
    return parse_fail(p, section, key, N_("is not a key of a manifest"), -EINVAL);
}

void manifest_done(Manifest *m)
{
    FOREACH_ARRAY (k, manifest_keys, ELEMENTSOF(manifest_keys))
        free(*manifest_field(m, k));
    *m = (Manifest){};
}

/* What follows an opening brace: the placeholder's length when it is one we know. */
static size_t placeholder(const char *s, const char *name)
{
    size_t n = strlen(name);
    return strncmp(s + 1, name, n) == 0 && s[1 + n] == '}' ? n + 2 : 0;
}

/* Characters that RFC 4514 gives a meaning to in an attribute value, anywhere in it. */
static bool dn_special(const char *s)
{
    return strpbrk(s, ",+\"\\<>;=#") || s[0] == ' ' || (*s && s[strlen(s) - 1] == ' ');
}

int manifest_expand(const char *template, const char *serial, const char *request, bool dn,
                    char **ret)
{
    _cleanup_free_ char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f)
        return -ENOMEM;
    int r = 0;
    for (const char *s = template; *s && r == 0;) {
        size_t n = 0;
        const char *value = NULL;
        if (*s == '{' && (n = placeholder(s, "serial")) > 0)
            value = serial;
        else if (*s == '{' && (n = placeholder(s, "request")) > 0) {
            value = request;
            if (!request)
                r = -ENXIO;
        } else if (*s == '{' || *s == '}')
            r = -EINVAL; /* no other placeholder, and no brace of its own */
        else {
            fputc(*s++, f);
            continue;
        }
        if (r == 0 && dn && value == serial && dn_special(serial))
            r = -EINVAL;
        if (r == 0)
            fputs(strempty(value), f);
        s += n;
    }
    if (fclose(f) != 0)
        return -ENOMEM;
    if (r < 0)
        return r;
    *ret = TAKE_PTR(out);
    return 0;
}

/* The output directory as a path that works from anywhere: relative to the manifest's. */
static int resolve_output(Manifest *m, const char *path)
{
    if (m->output[0] == '/')
        return 0;
    _cleanup_free_ char *copy = strdup(path);
    char *joined = NULL;
    if (!copy || asprintf(&joined, "%s/%s", dirname(copy), m->output) < 0)
        return -ENOMEM;
    free(m->output);
    m->output = joined;
    return 0;
}

static int check_manifest(Context *ctx, const char *path, Manifest *m)
{
    FOREACH_ARRAY (k, manifest_keys, ELEMENTSOF(manifest_keys)) {
        const char *v = *manifest_field(m, k);
        if (k->required && isempty(v))
            return fail(ctx, CLI_ERROR_USAGE, "%s: [%s] %s= is missing; see tokenctl(1)", path,
                        k->section, k->name);
    }
    if (!key_type_known(m->key_type))
        return fail(ctx, CLI_ERROR_USAGE,
                    "%s: [Key] Type=%s is not a key type: use rsa2048, rsa3072, rsa4096, "
                    "ec-p256 or ec-p384",
                    path, m->key_type);
    /* Each template once with stand-ins, so that a fault shows before any token is touched. */
    const struct {
        const char *key;
        const char *value;
        bool dn;
    } templates[] = {
        {"[Token] Label=", m->token_label, false},
        {"[Key] Label=", m->key_label, false},
        {"[Request] Subject=", m->subject, true},
    };
    FOREACH_ARRAY (t, templates, ELEMENTSOF(templates)) {
        _cleanup_free_ char *out = NULL;
        if (t->value && manifest_expand(t->value, "0", "r", t->dn, &out) < 0)
            return fail(ctx, CLI_ERROR_USAGE,
                        "%s: %s has a brace that is no placeholder; {serial} and {request} are "
                        "the ones there are",
                        path, t->key);
    }
    return 0;
}

int manifest_load(Context *ctx, const char *path, Manifest *ret)
{
    Manifest m = {};
    Parse p = {.manifest = &m};
    FILE *f = fopen(path, "re");
    if (!f)
        return fail(ctx, CLI_ERROR_USAGE, "Cannot read the manifest %s: %s", path, strerror(errno));
    int line = ini_parse_file(f, handle, &p);
    fclose(f);

    _cleanup_free_ char *section = p.bad_section, *key = p.bad_key;
    int r = 0;
    if (p.error == -ENOMEM || line == -2)
        r = fail_errno(ctx, -ENOMEM, "Cannot read the manifest %s", path);
    else if (p.error)
        r = fail(ctx, CLI_ERROR_USAGE, "%s:%d: [%s] %s= %s; see tokenctl(1)", path, line, section,
                 strempty(key), _(p.why));
    else if (line != 0)
        r = fail(ctx, CLI_ERROR_USAGE, "%s:%d: syntax error (expected [Section] or Key=value)",
                 path, line);
    if (r == 0)
        r = check_manifest(ctx, path, &m);
    if (r == 0 && resolve_output(&m, path) < 0)
        r = fail_errno(ctx, -ENOMEM, "Cannot read the manifest %s", path);
    if (r != 0) {
        manifest_done(&m);
        return r;
    }
    *ret = m;
    return 0;
}
