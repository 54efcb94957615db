/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "bus-call.h"
#include "bus-json.h"
#include "certs.h"
#include "format.h"
#include "i18n.h"
#include "confirm.h"
#include "io-util.h"
#include "resolve.h"
#include "secrets.h"

/* The one TOKEN of a verb, resolved. */
static int resolve_one(Context *ctx, const char *verb, json_object **ret_token)
{
    if (ctx->n_args > 1)
        return fail(ctx, CLI_ERROR_USAGE, "%s takes one TOKEN; see tokenctl %s --help", verb, verb);
    return resolve_token(ctx, ctx->n_args > 0 ? ctx->args[0] : NULL, ret_token);
}

/* A call of one of the verbs that present the user PIN: its leading arguments, and the options
 * that carry no secret (more(), NULL: none). */
typedef struct KeyCall {
    const char *verb;
    const char *method;
    const char *failed; /* N_(): fail_bus() translates it */
    int (*arguments)(Context *ctx, sd_bus_message *m, void *userdata);
    OptionsAdder more;
    void *userdata;
} KeyCall;

static int key_call_new(Context *ctx, json_object *token, const KeyCall *k, sd_bus_message **ret)
{
    _cleanup_bus_message_ sd_bus_message *m = NULL;
    int r = token_call_new(ctx, json_get_string(token, "path"), k->method, &m);
    if (r >= 0)
        r = k->arguments(ctx, m, k->userdata);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    *ret = TAKE_PTR(m);
    return 0;
}

/* The common part of every verb that changes keys or certificates: the token resolved; whether
 * tokend would allow the call, asked before the PIN (a dry run, with every argument and option
 * but the PIN); the PIN; the call itself. */
static int key_call(Context *ctx, const KeyCall *k, json_object **ret_token,
                    sd_bus_message **ret_reply)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *m = NULL;
    _cleanup_secret_ TkSecret *pin = NULL;
    int r = resolve_one(ctx, k->verb, ret_token);
    if (r == 0)
        r = key_call_new(ctx, *ret_token, k, &m);
    if (r == 0)
        r = token_dry_run(ctx, m, k->failed, k->more, k->userdata);
    if (r == 0)
        r = get_secret(ctx, ctx->pin_file, "--pin-file", "User PIN", false, SECRET_REQUIRED, &pin);
    if (r != 0)
        return r;

    m = sd_bus_message_unref(m);
    r = key_call_new(ctx, *ret_token, k, &m);
    if (r != 0)
        return r;
    r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = options_add_secret(m, "pin", pin);
    if (r >= 0 && k->more)
        r = k->more(ctx, m, k->userdata);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    r = token_call(ctx, m, k->verb, &error, ret_reply);
    if (r < 0)
        return fail_bus(ctx, k->failed, &error);
    return 0;
}

/* The id's bytes, and (ret_hex not NULL) the id as the output writes ids. */
static int parse_id(Context *ctx, const char *option, const char *hex, uint8_t **ret,
                    size_t *ret_len, char **ret_hex)
{
    if (parse_hex(hex, ret, ret_len) < 0)
        return fail(ctx, CLI_ERROR_USAGE, "%s wants the object id in hex (like 0a1b), not \"%s\"",
                    option, hex);
    if (ret_hex) {
        *ret_hex = hex_string(*ret, *ret_len);
        if (!*ret_hex)
            return fail_errno(ctx, -ENOMEM, "Cannot parse the options");
    }
    return 0;
}

typedef struct KeyId {
    const uint8_t *id;
    size_t len;
} KeyId;

static int keygen_arguments(Context *ctx, sd_bus_message *m, void *userdata)
{
    return sd_bus_message_append(m, "s", ctx->type);
}

static int keygen_options(Context *ctx, sd_bus_message *m, void *userdata)
{
    const KeyId *id = userdata;
    int r = 0;
    if (ctx->label)
        r = options_add_string(m, "label", ctx->label);
    if (r >= 0 && id->id)
        r = options_add_bytes(m, "id", id->id, id->len);
    return r;
}

int verb_keygen(Context *ctx)
{
    _cleanup_bus_message_ sd_bus_message *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_free_ uint8_t *id = NULL;
    _cleanup_free_ char *id_hex = NULL;
    size_t id_len = 0;
    const void *out_id;
    size_t out_len;
    const char *pem;
    int r;

    if (!ctx->type)
        return fail(ctx, CLI_ERROR_USAGE,
                    "keygen needs --type (rsa2048, rsa3072, rsa4096, "
                    "ec-p256 or ec-p384)");
    if (!key_type_known(ctx->type))
        return fail(ctx, CLI_ERROR_USAGE,
                    "Unknown key type \"%s\": use rsa2048, rsa3072, "
                    "rsa4096, ec-p256 or ec-p384",
                    ctx->type);
    if (ctx->id_hex) {
        r = parse_id(ctx, "--id", ctx->id_hex, &id, &id_len, NULL);
        if (r != 0)
            return r;
    }
    KeyId key_id = {id, id_len};
    const KeyCall k = {
        .verb = "keygen",
        .method = "GenerateKeyPair",
        .failed = N_("Key generation failed"),
        .arguments = keygen_arguments,
        .more = keygen_options,
        .userdata = &key_id,
    };
    r = key_call(ctx, &k, &token, &reply);
    if (r != 0)
        return r;
    r = sd_bus_message_read_array(reply, 'y', &out_id, &out_len);
    if (r >= 0)
        r = sd_bus_message_read(reply, "s", &pem);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the daemon's answer");
    id_hex = hex_string(out_id, out_len);

    if (ctx->json) {
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "token",
                               json_object_new_string(json_get_string(token, "Serial")));
        json_object_object_add(ctx->result, "id", json_object_new_string(id_hex));
        json_object_object_add(ctx->result, "type", json_object_new_string(ctx->type));
        json_object_object_add(ctx->result, "public-key", json_object_new_string(pem));
        return 0;
    }
    _cleanup_free_ char *buf = NULL;
    if (!ctx->quiet)
        fprintf(stderr, _("Generated an %s key pair on token %s, id %s.\n"), ctx->type,
                terminal_text(json_get_string(token, "Serial"), &buf), id_hex);
    fputs(pem, stdout);
    return 0;
}

static int write_file(const char *path, const char *text)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);

    if (fd < 0)
        return -errno;
    return tk_write_all(fd, text, len);
}

static int csr_arguments(Context *ctx, sd_bus_message *m, void *userdata)
{
    const KeyId *id = userdata;
    int r = sd_bus_message_append_array(m, 'y', id->id, id->len);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", ctx->subject);
    return r;
}

static int csr_options(Context *ctx, sd_bus_message *m, void *userdata)
{
    int r = 0;
    if (ctx->emails)
        r = options_add_strv(m, "email", ctx->emails);
    if (r >= 0 && ctx->dns)
        r = options_add_strv(m, "dns", ctx->dns);
    return r;
}

int verb_csr(Context *ctx)
{
    _cleanup_bus_message_ sd_bus_message *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_free_ uint8_t *id = NULL;
    _cleanup_free_ char *id_hex = NULL;
    size_t id_len = 0;
    const char *pem;
    int r;

    if (!ctx->key_id || !ctx->subject)
        return fail(ctx, CLI_ERROR_USAGE, "csr needs --key ID and --subject DN");
    r = parse_id(ctx, "--key", ctx->key_id, &id, &id_len, &id_hex);
    if (r != 0)
        return r;
    KeyId key_id = {id, id_len};
    const KeyCall k = {
        .verb = "csr",
        .method = "CreateRequest",
        .failed = N_("Creating the certificate request failed"),
        .arguments = csr_arguments,
        .more = csr_options,
        .userdata = &key_id,
    };
    r = key_call(ctx, &k, &token, &reply);
    if (r != 0)
        return r;
    r = sd_bus_message_read(reply, "s", &pem);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the daemon's answer");

    if (ctx->output) {
        r = write_file(ctx->output, pem);
        if (r < 0)
            return fail_errno(ctx, r, "Cannot write the request to %s", ctx->output);
    }
    if (ctx->json) {
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "token",
                               json_object_new_string(json_get_string(token, "Serial")));
        /* The id as every other id in the output is written, whatever form it was given in
         * ("0A:0B", "0x0a0b"). */
        json_object_object_add(ctx->result, "key", json_object_new_string(id_hex));
        json_object_object_add(ctx->result, "subject", json_object_new_string(ctx->subject));
        json_object_object_add(ctx->result, "request", json_object_new_string(pem));
        json_object_object_add(ctx->result, "file",
                               ctx->output ? json_object_new_string(ctx->output) : NULL);
        return 0;
    }
    if (ctx->output) {
        if (!ctx->quiet)
            fprintf(stderr, _("Certificate request written to %s.\n"), ctx->output);
    } else
        fputs(pem, stdout);
    return 0;
}

typedef struct Certificates {
    const DerList *certs; /* the holder's first, then any CA certificates in the same file */
    const DerList *chain;
} Certificates;

static int import_arguments(Context *ctx, sd_bus_message *m, void *userdata)
{
    const Certificates *c = userdata;
    return sd_bus_message_append_array(m, 'y', c->certs->items[0], c->certs->lens[0]);
}

static int import_options(Context *ctx, sd_bus_message *m, void *userdata)
{
    const Certificates *c = userdata;
    return options_add_chain(m, c->certs, c->chain);
}

int verb_import_cert(Context *ctx)
{
    _cleanup_bus_message_ sd_bus_message *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_(der_list_done) DerList certs = {}, chain = {};
    _cleanup_free_ char *id_hex = NULL;
    const void *out_id;
    size_t out_len;
    int r;

    if (ctx->n_args != 2)
        return fail(ctx, CLI_ERROR_USAGE, "import-cert takes TOKEN and FILE");
    r = read_certificates(ctx->args[1], &certs);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read a certificate from %s", ctx->args[1]);
    if (ctx->chain) {
        r = read_certificates(ctx->chain, &chain);
        if (r < 0)
            return fail_errno(ctx, r, "Cannot read the CA chain from %s", ctx->chain);
    }
    ctx->n_args = 1;
    Certificates given = {&certs, &chain};
    const KeyCall k = {
        .verb = "import-cert",
        .method = "ImportCertificate",
        .failed = N_("Importing the certificate failed"),
        .arguments = import_arguments,
        .more = import_options,
        .userdata = &given,
    };
    r = key_call(ctx, &k, &token, &reply);
    if (r != 0)
        return r;
    r = sd_bus_message_read_array(reply, 'y', &out_id, &out_len);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the daemon's answer");
    id_hex = hex_string(out_id, out_len);

    if (ctx->json) {
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "token",
                               json_object_new_string(json_get_string(token, "Serial")));
        json_object_object_add(ctx->result, "id", json_object_new_string(id_hex));
        json_object_object_add(ctx->result, "chain-certificates",
                               json_object_new_int((int)(certs.n - 1 + chain.n)));
        return 0;
    }
    if (ctx->quiet)
        return 0;
    _cleanup_free_ char *buf = NULL;
    printf(_("Certificate stored on token %s with id %s"),
           terminal_text(json_get_string(token, "Serial"), &buf), id_hex);
    if (certs.n - 1 + chain.n > 0)
        printf(ngettext(", with %zu CA certificate", ", with %zu CA certificates",
                        certs.n - 1 + chain.n),
               certs.n - 1 + chain.n);
    /* TRANSLATORS: the end of "Certificate stored on token %s with id %s[, with %zu CA
     * certificates]". */
    puts(_("."));
    return 0;
}

/* A DeleteObject call with its leading arguments, the options still to come. */
static int delete_call_new(Context *ctx, json_object *token, const char *class, const uint8_t *id,
                           size_t id_len, sd_bus_message **ret)
{
    _cleanup_bus_message_ sd_bus_message *m = NULL;
    int r = token_call_new(ctx, json_get_string(token, "path"), "DeleteObject", &m);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", class);
    if (r >= 0)
        r = sd_bus_message_append_array(m, 'y', id, id_len);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");
    *ret = TAKE_PTR(m);
    return 0;
}

int verb_delete(Context *ctx)
{
    _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
    _cleanup_json_ json_object *token = NULL;
    _cleanup_secret_ TkSecret *pin = NULL;
    _cleanup_free_ uint8_t *id = NULL;
    _cleanup_free_ char *id_hex = NULL;
    size_t id_len = 0;
    int r;

    if (!!ctx->key_id == !!ctx->cert_id)
        return fail(ctx, CLI_ERROR_USAGE, "delete needs exactly one of --key ID or --cert ID");
    const char *class = ctx->key_id ? "key" : "certificate";
    r = parse_id(ctx, ctx->key_id ? "--key" : "--cert", ctx->key_id ?: ctx->cert_id, &id, &id_len,
                 &id_hex);
    if (r != 0)
        return r;
    r = resolve_one(ctx, "delete", &token);
    if (r != 0)
        return r;
    /* Whether it would be allowed, then the person's yes, then the PIN. */
    r = delete_call_new(ctx, token, class, id, id_len, &m);
    if (r == 0)
        r = token_dry_run(ctx, m, "Deleting failed", NULL, NULL);
    if (r != 0)
        return r;
    m = sd_bus_message_unref(m);
    _cleanup_free_ char *question = NULL, *b1 = NULL, *b2 = NULL;
    /* TRANSLATORS: the answer that goes on stays "y" or "yes", whatever the language. */
    if (asprintf(&question,
                 ctx->key_id ? _("Delete the key with id %s from token %s (label \"%s\")? [y/N] ")
                             : _("Delete the certificate with id %s from token %s (label \"%s\")? "
                                 "[y/N] "),
                 id_hex, terminal_text(json_get_string(token, "Serial"), &b1),
                 terminal_text(json_get_string(token, "Label"), &b2)) < 0)
        return fail_errno(ctx, -ENOMEM, "Cannot ask for confirmation");
    r = confirm_destroy(ctx, question, NULL);
    if (r == 0)
        r = get_secret(ctx, ctx->pin_file, "--pin-file", "User PIN", false, SECRET_REQUIRED, &pin);
    if (r == 0)
        r = delete_call_new(ctx, token, class, id, id_len, &m);
    if (r != 0)
        return r;

    r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = options_add_secret(m, "pin", pin);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot build the request");

    r = token_call(ctx, m, "delete", &error, &reply);
    if (r < 0)
        return fail_bus(ctx, "Deleting failed", &error);

    if (ctx->json) {
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "token",
                               json_object_new_string(json_get_string(token, "Serial")));
        json_object_object_add(ctx->result, "deleted", json_object_new_string(class));
        json_object_object_add(ctx->result, "id", json_object_new_string(id_hex));
        return 0;
    }
    if (ctx->quiet)
        return 0;
    _cleanup_free_ char *buf = NULL;
    printf(ctx->key_id ? _("Deleted the key with id %s from token %s.\n")
                       : _("Deleted the certificate with id %s from token %s.\n"),
           id_hex, terminal_text(json_get_string(token, "Serial"), &buf));
    return 0;
}
