/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The certificates a CA issued for provisioned tokens, back onto them: each file in the
 * directory holds a holder's certificate and maybe its CA chain; the token is the one whose
 * key pair has the certificate's public key (ListObjects gives each key's, no PIN needed). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bus-call.h"
#include "bus-json.h"
#include "certs.h"
#include "format.h"
#include "i18n.h"
#include "provision-import.h"
#include "provision-run.h"
#include "secrets.h"
#include "table.h"

/* Bounds on what a directory may make tokenctl read. */
#define IMPORT_MAX_FILES     1024
#define IMPORT_MAX_FILE_SIZE (1024 * 1024)
/* tokend takes at most 8 certificates of a chain. */
#define IMPORT_MAX_CHAIN 8

typedef struct Issued {
    char *file;
    DerList certs; /* the holder's certificate first, then the chain */
    char *key;     /* its public key (DER SubjectPublicKeyInfo) in hex */
    Job *job;      /* the token that holds the key; NULL: none present */
    const TkSecret **pin;
    uint8_t *id; /* the stored certificate's id */
    size_t id_len;
} Issued;

static void issued_done(Issued *c)
{
    free(c->file);
    der_list_done(&c->certs);
    free(c->key);
    free(c->id);
}

static bool certificate_suffix(const char *name)
{
    static const char *const suffixes[] = {".pem", ".crt", ".cer", ".der"};
    size_t n = strlen(name);
    FOREACH_ARRAY (s, suffixes, ELEMENTSOF(suffixes))
        if (n > strlen(*s) && strcasecmp(name + n - strlen(*s), *s) == 0)
            return true;
    return false;
}

/* The file's holder certificate (the first that is no CA's) and its public key. */
static int read_issued(Context *ctx, const char *dir, const char *name, Issued *c)
{
    struct stat st;
    if (asprintf(&c->file, "%s/%s", dir, name) < 0)
        return fail_errno(ctx, -ENOMEM, "Cannot read %s", dir);
    if (stat(c->file, &st) < 0)
        return fail_errno(ctx, errno, "Cannot read %s", c->file);
    if (st.st_size > IMPORT_MAX_FILE_SIZE)
        return fail(ctx, CLI_ERROR_USAGE, "%s is larger than 1 MiB: not a certificate file",
                    c->file);
    int r = read_certificates(c->file, &c->certs);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read a certificate from %s", c->file);
    bool found = false;
    for (size_t i = 0; i < c->certs.n && !found; i++) {
        const unsigned char *p = c->certs.items[i];
        X509 *x = d2i_X509(NULL, &p, (long)c->certs.lens[i]);
        if (x && X509_check_ca(x) == 0) {
            unsigned char *spki = NULL;
            int len = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
            if (len > 0) {
                c->key = hex_string(spki, (size_t)len);
                found = c->key != NULL;
                if (found)
                    der_list_move_first(&c->certs, i);
            }
            OPENSSL_free(spki);
        }
        X509_free(x);
    }
    ERR_clear_error();
    if (!found)
        return fail(ctx, CLI_ERROR_USAGE,
                    "%s holds no holder's certificate (only CA certificates, or none that "
                    "parses)",
                    c->file);
    if (c->certs.n - 1 > IMPORT_MAX_CHAIN)
        return fail(ctx, CLI_ERROR_USAGE, "%s holds more than %d CA certificates", c->file,
                    IMPORT_MAX_CHAIN);
    return 0;
}

static int read_dir(Context *ctx, const char *dir, Issued **ret, size_t *ret_n)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return fail_errno(ctx, errno, "Cannot read the directory %s", dir);
    Issued *issued = calloc((size_t)n + 1, sizeof(Issued));
    size_t k = 0;
    int r = issued ? 0 : fail_errno(ctx, -ENOMEM, "Cannot read %s", dir);
    for (int i = 0; i < n; i++) {
        if (r == 0 && names[i]->d_name[0] != '.' && certificate_suffix(names[i]->d_name)) {
            if (k == IMPORT_MAX_FILES)
                r = fail(ctx, CLI_ERROR_USAGE, "%s holds more than %d certificate files", dir,
                         IMPORT_MAX_FILES);
            else
                r = read_issued(ctx, dir, names[i]->d_name, &issued[k++]);
        }
        free(names[i]);
    }
    free(names);
    if (r == 0 && k == 0)
        r = fail(ctx, CLI_ERROR_USAGE,
                 "%s holds no certificate file (*.pem, *.crt, *.cer or *.der)", dir);
    if (r != 0) {
        for (size_t i = 0; issued && i < k; i++)
            issued_done(&issued[i]);
        free(issued);
        return r;
    }
    *ret = issued;
    *ret_n = k;
    return 0;
}

/* Whether the token has a key pair with this public key. */
static int token_has_key(Context *ctx, Job *j, json_object **objects, const char *key)
{
    if (!*objects) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
        int r = token_call_new(ctx, json_get_string(j->token, "path"), "ListObjects", &m);
        if (r >= 0)
            r = sd_bus_message_append(m, "a{sv}", 0);
        if (r >= 0)
            r = sd_bus_call(sd_bus_message_get_bus(m), m,
                            token_call_timeout_usec(sd_bus_message_get_bus(m), "ListObjects"),
                            &error, &reply);
        if (r < 0) {
            /* A token that cannot be listed gets nothing, and says why. */
            job_fail_bus(j, N_("Cannot list the objects on the token"), &error);
            return 0;
        }
        if (bus_message_read_json(reply, objects) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < json_object_array_length(*objects); i++) {
        json_object *o = json_object_array_get_idx(*objects, i);
        if (streq_ptr(json_get_string(o, "public-key"), key))
            return 1;
    }
    return 0;
}

/* Pairs files and tokens. Two files for one token fail that token: which one is meant is for a
 * person to say. */
static int match(Context *ctx, Job *jobs, size_t n_jobs, Issued *issued, size_t n)
{
    for (size_t t = 0; t < n_jobs; t++) {
        _cleanup_json_ json_object *objects = NULL;
        for (size_t i = 0; i < n && !job_failed(&jobs[t]); i++) {
            int r = token_has_key(ctx, &jobs[t], &objects, issued[i].key);
            if (r < 0)
                return fail_errno(ctx, r, "Cannot read the daemon's answer");
            if (r == 0)
                continue;
            Issued *before = jobs[t].data;
            if (before)
                job_fail(&jobs[t], CLI_ERROR_USAGE,
                         "Both %s and %s hold a certificate for this token's key; move one "
                         "away",
                         before->file, issued[i].file);
            else {
                issued[i].job = &jobs[t];
                jobs[t].data = &issued[i];
            }
        }
    }
    return 0;
}

static int import_build(Job *j, sd_bus_message *m, bool dry)
{
    Issued *c = j->data;
    int r = sd_bus_message_append_array(m, 'y', c->certs.items[0], c->certs.lens[0]);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && !dry)
        r = options_add_secret(m, "pin", *c->pin);
    if (r >= 0 && dry)
        r = options_add_bool(m, "dry-run", true);
    if (r >= 0 && j->ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = options_add_chain(m, &c->certs, NULL);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r;
}

static int import_done(Job *j, sd_bus_message *reply)
{
    Issued *c = j->data;
    return reply_read_bytes(reply, &c->id, &c->id_len);
}

static const JobStep import_steps[] = {
    {"import-certificate", N_("storing the certificate"), N_("Importing the certificate failed"),
     "ImportCertificate", import_build, import_done},
};

static const char *result_of(const Job *j)
{
    return job_failed(j) ? "failed" : j->data ? "done" : "none";
}

static json_object *summary_json(const Job *jobs, size_t n_jobs, const Issued *issued, size_t n)
{
    json_object *doc = json_object_new_object(), *list = json_object_new_array(),
                *unmatched = json_object_new_array();
    int counts[3] = {};
    for (size_t t = 0; t < n_jobs; t++) {
        const Issued *c = jobs[t].data;
        json_object *o = job_json(&jobs[t]);
        const char *result = result_of(&jobs[t]);
        _cleanup_free_ char *id = c && c->id ? hex_string(c->id, c->id_len) : NULL;
        counts[streq(result, "done") ? 0 : streq(result, "failed") ? 1 : 2]++;
        json_object_object_add(o, "result", json_object_new_string(result));
        json_object_object_add(o, "file", c ? json_object_new_string(c->file) : NULL);
        json_object_object_add(o, "id", id ? json_object_new_string(id) : NULL);
        json_object_object_add(o, "chain-certificates",
                               c ? json_object_new_int((int)c->certs.n - 1) : NULL);
        json_object_array_add(list, o);
    }
    for (size_t i = 0; i < n; i++)
        if (!issued[i].job)
            json_object_array_add(unmatched, json_object_new_string(issued[i].file));
    json_object_object_add(doc, "tokens", list);
    json_object_object_add(doc, "unmatched-files", unmatched);
    json_object_object_add(doc, "done", json_object_new_int(counts[0]));
    json_object_object_add(doc, "failed", json_object_new_int(counts[1]));
    json_object_object_add(doc, "none", json_object_new_int(counts[2]));
    return doc;
}

static void print_summary(Context *ctx, const Job *jobs, size_t n_jobs, const Issued *issued,
                          size_t n)
{
    static const char *const headers[] = {N_("TOKEN"), N_("RESULT"), N_("DETAIL")};
    Table *table = table_new(ELEMENTSOF(headers), headers);
    for (size_t t = 0; table && t < n_jobs; t++) {
        const Issued *c = jobs[t].data;
        const char *result = result_of(&jobs[t]);
        table_add(table, jobs[t].serial);
        if (streq(result, "done")) {
            table_add_colored(table, _("done"), ANSI_GREEN);
            table_add(table, c->file);
        } else if (streq(result, "failed")) {
            table_add_colored(table, _("failed"), ANSI_RED);
            table_add(table, jobs[t].error_message);
        } else {
            table_add_colored(table, _("none"), ANSI_YELLOW);
            table_add(table, _("no certificate for its key"));
        }
    }
    if (table && !ctx->quiet)
        table_print(table, stdout, ctx->color, !ctx->no_legend);
    table_free(table);
    for (size_t i = 0; i < n; i++)
        if (!issued[i].job) {
            _cleanup_free_ char *buf = NULL;
            fprintf(stderr, _("%s: no token present holds its key.\n"),
                    terminal_text(issued[i].file, &buf));
        }
}

int provision_import(Context *ctx)
{
    _cleanup_json_ json_object *tokens = NULL;
    _cleanup_secret_ TkSecret *pin = NULL;
    const TkSecret *pin_ref = NULL;
    Issued *issued = NULL;
    size_t n = 0, n_jobs = 0;
    Job *jobs = NULL;

    int r = read_dir(ctx, ctx->import_dir, &issued, &n);
    if (r != 0)
        return r;
    for (size_t i = 0; i < n; i++)
        issued[i].pin = &pin_ref;
    r = jobs_tokens(ctx, &tokens);
    if (r == 0)
        r = jobs_new(ctx, tokens, import_steps, ELEMENTSOF(import_steps), &jobs, &n_jobs);
    if (r == 0)
        r = match(ctx, jobs, n_jobs, issued, n);
    /* A token with no certificate has nothing to run. */
    for (size_t t = 0; r == 0 && t < n_jobs; t++)
        if (!jobs[t].data)
            jobs[t].n_steps = 0;
    if (r == 0) {
        jobs_check(ctx, jobs, n_jobs);
        r = get_secret(ctx, ctx->pin_file, "--pin-file", "User PIN", false, SECRET_REQUIRED, &pin);
    }
    if (r == 0) {
        pin_ref = pin;
        r = jobs_run(ctx, jobs, n_jobs);
    }
    if (r == 0) {
        if (ctx->json)
            ctx->result = summary_json(jobs, n_jobs, issued, n);
        else
            print_summary(ctx, jobs, n_jobs, issued, n);
        r = jobs_exit_code(jobs, n_jobs);
    }
    jobs_free(jobs, n_jobs);
    for (size_t i = 0; i < n; i++)
        issued_done(&issued[i]);
    free(issued);
    return r;
}
