/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "pager.h"
#include "i18n.h"
#include "token-error.h"
#include "tokenctl.h"

int fail(Context *ctx, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (ctx->error_name)
        return ctx->exit_code;
    ctx->error_name = strdup(name);
    va_start(ap, fmt);
    if (vasprintf(&ctx->error_message, _(fmt), ap) < 0)
        ctx->error_message = NULL;
    va_end(ap);
    ctx->exit_code = exit_code_for_error(name);
    return ctx->exit_code;
}

/* tokend names the options of the bus as option "NAME" (api.md, "Options"); a person types
 * tokenctl's flags. */
static const struct {
    const char *option, *flag;
} option_flags[] = {
    {"pin", "--pin-file"},
    {"new-pin", "--new-pin-file"},
    {"so-pin", "--so-pin-file"},
    {"label", "--label"},
    {"id", "--id"},
    {"email", "--email"},
    {"dns", "--dns"},
    {"request", "--request"},
    {"force", "--force"},
    {"chain", "--chain"},
};

/* message with every option "NAME" that tokenctl has a flag for written as option --flag;
 * NULL when out of memory. */
static char *with_flags(const char *message)
{
    size_t size = strlen(message) * 2 + 1, n = 0;
    char *out = malloc(size);
    if (!out)
        return NULL;
    for (const char *p = message; *p;) {
        bool replaced = false;
        if ((p[0] == 'o' || p[0] == 'O') && strncmp(p + 1, "ption \"", 7) == 0)
            FOREACH_ARRAY (f, option_flags, ELEMENTSOF(option_flags)) {
                size_t len = strlen(f->option);
                if (strncmp(p + 8, f->option, len) == 0 && p[8 + len] == '"') {
                    /* "pin" (5 bytes) as --pin-file (10) is the most it grows: size holds. */
                    n += (size_t)sprintf(out + n, "%cption %s", p[0], f->flag);
                    p += 9 + len;
                    replaced = true;
                    break;
                }
            }
        if (!replaced)
            out[n++] = *p++;
    }
    out[n] = 0;
    return out;
}

/* What each of tokend's refusals means, in tokenctl's words. tokend's own message (which names
 * the secret and the tries left) is in English whatever the caller's language: where tokenctl
 * speaks another, the sentence here comes first, in that language, and tokend's follows. */
static const struct {
    const char *name;
    const char *meaning;
} meanings[] = {
    {TK_ERROR_PIN_INCORRECT, N_("The PIN given is wrong.")},
    {TK_ERROR_PIN_LOCKED, N_("The PIN is locked.")},
    {TK_ERROR_PIN_POLICY, N_("The new PIN does not meet the PIN policy.")},
    {TK_ERROR_PIN_FINAL_TRY,
     N_("The PIN is on its final try: check it, then repeat with --force.")},
    {TK_ERROR_SO_PIN_FINAL_TRY,
     N_("The SO PIN/PUK is on its final try: check the paperwork, then repeat with --force.")},
    {TK_ERROR_TOKEN_REMOVED, N_("The token was removed.")},
    {TK_ERROR_TOKEN_NOT_FOUND, N_("No such token.")},
    {TK_ERROR_NO_MATCHING_KEY, N_("No key on the token matches the certificate.")},
    {TK_ERROR_INVALID_CERTIFICATE, N_("The certificate is not valid.")},
    {TK_ERROR_DUPLICATE, N_("It is already on the token.")},
    {TK_ERROR_UNSUPPORTED, N_("The token cannot do this.")},
    {TK_ERROR_INVALID_ARGUMENT, N_("A value is missing or not valid.")},
    {TK_ERROR_BUSY, N_("The token is busy; try again shortly.")},
    {TK_ERROR_SERIAL_CONFLICT, N_("Another present token has the same serial number.")},
    {TK_ERROR_TIMEOUT, N_("The operation took too long.")},
    {TK_ERROR_FAILED, N_("The operation failed.")},
    {"org.freedesktop.DBus.Error.AccessDenied", N_("Not authorised.")},
};

/* The meaning of error name in the language tokenctl speaks, or NULL where that is English (no
 * translation) or tokenctl has none for it. */
static const char *translated_meaning(const char *name)
{
    FOREACH_ARRAY (m, meanings, ELEMENTSOF(meanings))
        if (streq(m->name, name)) {
            const char *t = _(m->meaning);
            return t != m->meaning && !streq(t, m->meaning) ? t : NULL;
        }
    return NULL;
}

int fail_bus(Context *ctx, const char *what, const sd_bus_error *error)
{
    const char *name = error && error->name ? error->name : CLI_ERROR_FAILED;
    _cleanup_free_ char *words =
        error && error->message && strncmp(name, "org.tokend.Tokend1.Error.", 25) == 0
            ? with_flags(error->message)
            : NULL;
    const char *message = words ?: error && error->message ? error->message : _("unknown error");

    if (streq(name, "org.freedesktop.DBus.Error.ServiceUnknown") ||
        streq(name, "org.freedesktop.DBus.Error.NameHasNoOwner"))
        return fail(ctx, name, "%s: tokend is not running (start tokend.service).", _(what));
    if (streq(name, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")) {
        const char *hint = ctx->interactive ? _(" (no polkit agent could ask for a password here)")
                           : ctx->ask_password ? _(" (run on a terminal to authenticate)")
                                               : _(" (drop --no-ask-password to authenticate)");
        return fail(ctx, name, "%s: %s%s", _(what), message, hint);
    }
    const char *meaning = translated_meaning(name);
    if (meaning)
        /* TRANSLATORS: what failed, what it means in this language, and tokend's own message,
         * which is in English. */
        return fail(ctx, name, "%s: %s (tokend: %s)", _(what), meaning, message);
    return fail(ctx, name, "%s: %s", _(what), message);
}

int fail_errno(Context *ctx, int err, const char *fmt, ...)
{
    _cleanup_free_ char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&what, _(fmt), ap) < 0)
        what = NULL;
    va_end(ap);
    return fail(ctx, CLI_ERROR_FAILED, "%s: %s", strempty(what), strerror(err < 0 ? -err : err));
}

void output_failed(Context *ctx, int err)
{
    if (ctx->output_failed)
        return;
    ctx->output_failed = true;
    fprintf(stderr, _("tokenctl: Cannot write to standard output: %s\n"),
            strerror(err < 0 ? -err : err));
}

void context_pager(Context *ctx)
{
    if (!ctx->no_pager && !ctx->json && !ctx->quiet && ctx->pager_pid == 0)
        ctx->pager_pid = pager_start();
}

int context_bus(Context *ctx, sd_bus **ret)
{
    int r;

    if (!ctx->bus) {
        r = sd_bus_open_system(&ctx->bus);
        if (r < 0)
            return fail(ctx, CLI_ERROR_FAILED,
                        "Cannot connect to the system bus: %s. Is D-Bus running?", strerror(-r));
    }
    *ret = ctx->bus;
    return 0;
}
