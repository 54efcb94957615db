/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "bus-call.h"
#include "bus-json.h"
#include "confirm.h"
#include "format.h"
#include "i18n.h"
#include "resolve.h"
#include "secrets.h"
#include "text-escape.h"

static int one_token(Context *ctx, const char *verb, json_object **ret)
{
    /* A word more may well be a PIN typed after its flag ("--puk 918273"): never echoed. */
    if (ctx->n_args > 1)
        return fail(ctx, CLI_ERROR_USAGE,
                    "%s takes one TOKEN; see tokenctl %s --help (PINs are read from the terminal "
                    "or from a --*-pin-file, never from the command line)",
                    verb, verb);
    return resolve_token(ctx, ctx->n_args > 0 ? ctx->args[0] : NULL, ret);
}

/* Before any PIN is asked: whether tokend would allow the call (m: its leading arguments), and
 * the new PIN's length limits for the prompt. */
static int check_before_asking(Context *ctx, json_object *token, sd_bus_message *m,
                               const char *failed)
{
    int r = token_dry_run(ctx, m, failed, NULL, NULL);
    if (r != 0)
        return r;
    int64_t min = json_get_int(token, "EffectiveMinPinLength", 0),
            max = json_get_int(token, "MaxPinLength", 0);
    ctx->new_pin_min = min > 0 && min < 1024 ? (unsigned)min : 0;
    ctx->new_pin_max = max > 0 && max < 1024 ? (unsigned)max : 0;
    return 0;
}

/* Says what action did to the token, to a person: one whole sentence each, for translation. */
static int done(Context *ctx, json_object *token, const char *action)
{
    if (ctx->json) {
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "token",
                               json_object_new_string(json_get_string(token, "Serial")));
        /* The JSON says what was done; which secret stayed is the text's. */
        json_object_object_add(ctx->result, "done",
                               json_object_new_string(streq(action, "change-so-pin-not-puk")
                                                          ? "change-so-pin"
                                                          : action));
        return 0;
    }
    if (ctx->quiet)
        return 0;
    _cleanup_free_ char *buf = NULL;
    const char *serial = terminal_text(json_get_string(token, "Serial"), &buf);
    if (streq(action, "init"))
        printf(_("Token %s initialised.\n"), serial);
    else if (streq(action, "unblock"))
        printf(_("PIN of token %s unblocked and set.\n"), serial);
    else if (streq(action, "change-so-pin"))
        printf(_("SO PIN changed on token %s.\n"), serial);
    else if (streq(action, "change-so-pin-not-puk"))
        printf(_("SO PIN changed on token %s; its PUK, which unblock takes, is unchanged.\n"),
               serial);
    else
        printf(_("User PIN changed on token %s.\n"), serial);
    return 0;
}

/* No PKCS#11 call changes a PUK: C_SetPIN changes the PIN of the session's user, the user PIN
 * or the SO PIN. Said before anything is asked, in words of what the holder can do instead. */
static int refuse_puk_change(Context *ctx, json_object *token)
{
    _cleanup_free_ char *buf = NULL;
    const char *serial = terminal_text(json_get_string(token, "Serial"), &buf);

    if (!json_get_bool(token, "HasPuk", 0))
        return fail(ctx, CLI_ERROR_USAGE,
                    "Token %s has no PUK apart from its SO PIN: its unblock takes the SO PIN, "
                    "which change-pin --so changes.",
                    serial);
    return fail(ctx, CLI_ERROR_FAILED,
                "The PUK of token %s cannot be changed: PKCS#11, through which tokend works, "
                "has no way to change a PUK. It is set when the token is initialised "
                "(tokenctl init); change-pin --so changes the SO PIN.",
                serial);
}

int verb_change_pin(Context *ctx)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_secret_ TkSecret *old = NULL, *new = NULL;
    int r;

    if (ctx->puk && ctx->so)
        return fail(ctx, CLI_ERROR_USAGE, "change-pin takes --so or --puk, not both");
    r = one_token(ctx, "change-pin", &token);
    if (r != 0)
        return r;
    if (ctx->puk)
        return refuse_puk_change(ctx, token);
    r = token_call_new(ctx, json_get_string(token, "path"), "ChangePin", &m);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", ctx->so ? "so" : "user");
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    r = check_before_asking(ctx, token, m, "Changing the PIN failed");
    if (r != 0)
        return r;
    m = sd_bus_message_unref(m);
    if (ctx->so)
        r = get_secret(ctx, ctx->so_pin_file ?: ctx->pin_file,
                       ctx->so_pin_file ? "--so-pin-file" : "--so-pin-file or --pin-file",
                       "Current SO PIN", false, SECRET_REQUIRED, &old);
    else
        r = get_secret(ctx, ctx->pin_file, "--pin-file", "Current user PIN", false, SECRET_REQUIRED,
                       &old);
    if (r != 0)
        return r;
    r = get_secret(ctx, ctx->new_pin_file, "--new-pin-file",
                   ctx->so ? N_("New SO PIN") : N_("New user PIN"), true, SECRET_REQUIRED, &new);
    if (r != 0)
        return r;

    r = token_call_new(ctx, json_get_string(token, "path"), "ChangePin", &m);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", ctx->so ? "so" : "user");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = options_add_secret(m, "pin", old);
    if (r >= 0)
        r = options_add_secret(m, "new-pin", new);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");

    r = token_call(ctx, m, "change PIN", &error, &reply);
    if (r < 0)
        return fail_bus(ctx, "Changing the PIN failed", &error);
    return done(ctx, token,
                ctx->so && json_get_bool(token, "HasPuk", 0) ? "change-so-pin-not-puk"
                : ctx->so                                    ? "change-so-pin"
                                                             : "change-pin");
}

int verb_unblock(Context *ctx)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_secret_ TkSecret *so = NULL, *new = NULL;
    int r;

    /* The rule tokend holds a reference to (api.md, "Options"), said before anything is typed;
     * whether one is required at all is the site's, which the dry run asks. */
    if (ctx->request && tk_text_check(ctx->request, 1, 64) < 0)
        return fail(ctx, CLI_ERROR_USAGE,
                    "--request must be the unlock application's reference: 1 to 64 printable "
                    "characters, not blank.");
    r = one_token(ctx, "unblock", &token);
    if (r != 0)
        return r;
    r = token_call_new(ctx, json_get_string(token, "path"), "UnblockPin", &m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    r = check_before_asking(ctx, token, m, "Unblocking failed");
    if (r != 0)
        return r;
    m = sd_bus_message_unref(m);
    /* Where the site derives SO PINs staff do not know one: an empty answer (or no terminal
     * and no file) sends none and the daemon says whether it needed one. */
    r = get_secret(ctx, ctx->so_pin_file, "--so-pin-file",
                   "SO PIN / PUK (empty if the site derives it)", false, SECRET_OPTIONAL, &so);
    if (r != 0)
        return r;
    r = get_secret(ctx, ctx->new_pin_file, "--new-pin-file", "New user PIN", true, SECRET_REQUIRED,
                   &new);
    if (r != 0)
        return r;

    r = token_call_new(ctx, json_get_string(token, "path"), "UnblockPin", &m);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && so)
        r = options_add_secret(m, "so-pin", so);
    if (r >= 0)
        r = options_add_secret(m, "new-pin", new);
    if (r >= 0 && ctx->request)
        r = options_add_string(m, "request", ctx->request);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");

    r = token_call(ctx, m, "unblock", &error, &reply);
    if (r < 0)
        return fail_bus(ctx, "Unblocking failed", &error);
    return done(ctx, token, "unblock");
}

int verb_init(Context *ctx)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_secret_ TkSecret *so = NULL, *new = NULL;
    int r;

    if (!ctx->label)
        return fail(ctx, CLI_ERROR_USAGE, "init needs --label LABEL");
    r = one_token(ctx, "init", &token);
    if (r != 0)
        return r;
    r = token_call_new(ctx, json_get_string(token, "path"), "Initialize", &m);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", ctx->label);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    r = check_before_asking(ctx, token, m, "Initialising the token failed");
    if (r != 0)
        return r;
    m = sd_bus_message_unref(m);
    _cleanup_free_ char *question = NULL, *b1 = NULL, *b2 = NULL;
    const char *serial = json_get_string(token, "Serial");
    if (asprintf(&question,
                 _("Initialising token %s (label \"%s\") destroys every key and certificate "
                   "on it.\nType the token's serial to go on: "),
                 terminal_text(serial, &b1),
                 terminal_text(json_get_string(token, "Label"), &b2)) < 0)
        return fail_errno(ctx, -ENOMEM, "Cannot ask for confirmation");
    r = confirm_destroy(ctx, question, strempty(serial));
    if (r != 0)
        return r;
    r = get_secret(ctx, ctx->so_pin_file, "--so-pin-file", "SO PIN (empty if the site derives it)",
                   false, SECRET_OPTIONAL, &so);
    if (r != 0)
        return r;
    r = get_secret(ctx, ctx->new_pin_file, "--new-pin-file", "New user PIN", true, SECRET_REQUIRED,
                   &new);
    if (r != 0)
        return r;

    r = token_call_new(ctx, json_get_string(token, "path"), "Initialize", &m);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", ctx->label);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && so)
        r = options_add_secret(m, "so-pin", so);
    if (r >= 0)
        r = options_add_secret(m, "new-pin", new);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");

    r = token_call(ctx, m, "initialise", &error, &reply);
    if (r < 0)
        return fail_bus(ctx, "Initialising the token failed", &error);
    return done(ctx, token, "init");
}
