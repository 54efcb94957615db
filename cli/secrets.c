/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "i18n.h"
#include "pin-input.h"
#include "secrets.h"
#include "token-error.h"

int get_secret(Context *ctx, const char *file, const char *option, const char *prompt, bool is_new,
               SecretAsk ask, TkSecret **ret)
{
    _cleanup_secret_ TkSecret *s = NULL;
    int r;

    prompt = _(prompt);

    if (file) {
        r = pin_read_file(file, &s);
        if (r == -ENODATA)
            return fail(ctx, CLI_ERROR_NO_PIN, "%s %s: the first line is empty", option,
                        streq(file, "-") ? _("(standard input)") : file);
        if (r == -E2BIG)
            return fail(ctx, CLI_ERROR_NO_PIN, "%s %s: the first line is too long for a PIN",
                        option, streq(file, "-") ? _("(standard input)") : file);
        if (r < 0)
            return fail_errno(ctx, r, "Cannot read %s %s", option,
                              streq(file, "-") ? _("(standard input)") : file);
        if (is_new && s->len < ctx->new_pin_min)
            return fail(ctx, TK_ERROR_PIN_POLICY,
                        "%s %s: the new PIN must have at least %u characters here; nothing was "
                        "changed.",
                        option, streq(file, "-") ? _("(standard input)") : file, ctx->new_pin_min);
        if (is_new && ctx->new_pin_max > 0 && s->len > ctx->new_pin_max)
            return fail(ctx, TK_ERROR_PIN_POLICY,
                        "%s %s: the new PIN may have at most %u characters on this token; "
                        "nothing was changed.",
                        option, streq(file, "-") ? _("(standard input)") : file, ctx->new_pin_max);
        *ret = TAKE_PTR(s);
        return 0;
    }

    if (ctx->ask_password && pin_tty_available()) {
        _cleanup_free_ char *ask_text = NULL;
        /* TRANSLATORS: a prompt for a PIN, e.g. "User PIN: ". */
        if (asprintf(&ask_text, _("%s: "), prompt) < 0)
            return fail_errno(ctx, -ENOMEM, "Cannot ask for the PIN");
        if (is_new) {
            _cleanup_free_ char *again = NULL;
            /* TRANSLATORS: %c%s is the first prompt ("New user PIN"), its first letter "N" in
             * lower case. */
            if (asprintf(&again, _("Repeat %c%s: "), prompt[0] == 'N' ? 'n' : prompt[0],
                         prompt + 1) < 0)
                return fail_errno(ctx, -ENOMEM, "Cannot ask for the PIN");
            r = pin_read_tty_new(ask_text, again, ctx->new_pin_min, ctx->new_pin_max, &s);
            if (r == -EBADMSG)
                return fail(ctx, CLI_ERROR_NO_PIN,
                            "The new PINs typed did not match; nothing "
                            "was changed.");
        } else
            r = pin_read_tty(ask_text, &s);
        if (r < 0)
            return fail_errno(ctx, r, "Cannot read the PIN from the terminal");
        if (s->len == 0) {
            if (ask == SECRET_OPTIONAL) {
                *ret = NULL;
                return 0;
            }
            return fail(ctx, CLI_ERROR_NO_PIN, "No PIN typed; nothing was done.");
        }
        *ret = TAKE_PTR(s);
        return 0;
    }

    if (ask == SECRET_OPTIONAL) {
        *ret = NULL;
        return 0;
    }
    return fail(ctx, CLI_ERROR_NO_PIN,
                "A PIN is needed (%s) but there is no terminal to ask on%s: pass %s FILE "
                "(\"-\" reads standard input).",
                prompt, ctx->ask_password ? "" : _(" (--no-ask-password)"), option);
}
