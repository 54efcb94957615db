/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokenctl provision MANIFEST [TOKEN...]: every token initialised, given a key pair and a
 * certificate request, side by side; provision --import DIR: provision-import.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-call.h"
#include "bus-json.h"
#include "confirm.h"
#include "format.h"
#include "i18n.h"
#include "io-util.h"
#include "provision-import.h"
#include "provision-manifest.h"
#include "provision-run.h"
#include "secrets.h"
#include "table.h"

/* What the run shares with every job. */
typedef struct Provision {
    const Manifest *manifest;
    const char *request; /* --request, else the manifest's */
    const TkSecret *so;  /* NULL: the site derives it */
    const TkSecret *pin;
} Provision;

/* One token's part. */
typedef struct TokenPlan {
    const Provision *p;
    char *label;
    char *key_label;
    char *subject;
    char *file; /* the request's, in the output directory */
    uint8_t *key_id;
    size_t key_id_len;
} TokenPlan;

static void plan_done(TokenPlan *t)
{
    free(t->label);
    free(t->key_label);
    free(t->subject);
    free(t->file);
    free(t->key_id);
}

static int add_dry_or_secret(sd_bus_message *m, bool dry, const char *key, const TkSecret *s)
{
    if (dry)
        return 0;
    return s ? options_add_secret(m, key, s) : 0;
}

static int close_options(Context *ctx, sd_bus_message *m, bool dry, int r)
{
    if (r >= 0 && dry)
        r = options_add_bool(m, "dry-run", true);
    if (r >= 0 && ctx->force)
        r = options_add_bool(m, "force", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r;
}

static int init_build(Job *j, sd_bus_message *m, bool dry)
{
    TokenPlan *t = j->data;
    int r = sd_bus_message_append(m, "s", t->label);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = add_dry_or_secret(m, dry, "so-pin", t->p->so);
    if (r >= 0)
        r = add_dry_or_secret(m, dry, "new-pin", t->p->pin);
    return close_options(j->ctx, m, dry, r);
}

static int keygen_build(Job *j, sd_bus_message *m, bool dry)
{
    TokenPlan *t = j->data;
    int r = sd_bus_message_append(m, "s", t->p->manifest->key_type);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = add_dry_or_secret(m, dry, "pin", t->p->pin);
    if (r >= 0 && t->key_label)
        r = options_add_string(m, "label", t->key_label);
    return close_options(j->ctx, m, dry, r);
}

static int keygen_done(Job *j, sd_bus_message *reply)
{
    TokenPlan *t = j->data;
    return reply_read_bytes(reply, &t->key_id, &t->key_id_len);
}

static int csr_build(Job *j, sd_bus_message *m, bool dry)
{
    TokenPlan *t = j->data;
    int r = sd_bus_message_append_array(m, 'y', t->key_id, t->key_id_len);
    if (r >= 0)
        r = sd_bus_message_append(m, "s", t->subject);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = add_dry_or_secret(m, dry, "pin", t->p->pin);
    /* A request only reads: it takes no force. */
    if (r >= 0 && dry)
        r = options_add_bool(m, "dry-run", true);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r;
}

/* The request written whole or not at all: a temporary file renamed over the name. */
static int write_request(const char *path, const char *pem)
{
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return -ENOMEM;
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    int r = tk_write_all(fd, pem, strlen(pem));
    if (r >= 0 && fsync(fd) < 0)
        r = -errno;
    if (r >= 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        (void)unlink(tmp);
    return r;
}

static int csr_done(Job *j, sd_bus_message *reply)
{
    TokenPlan *t = j->data;
    const char *pem;
    int r = sd_bus_message_read(reply, "s", &pem);
    if (r < 0)
        return r;
    r = write_request(t->file, pem);
    if (r < 0)
        job_fail(j, CLI_ERROR_FAILED, "Cannot write the request to %s: %s", t->file, strerror(-r));
    return 0;
}

static const JobStep provision_steps[] = {
    {"initialize", N_("initialising"), N_("Initialising the token failed"), "Initialize",
     init_build, NULL},
    {"generate-key", N_("generating the key pair"), N_("Key generation failed"), "GenerateKeyPair",
     keygen_build, keygen_done},
    {"create-request", N_("creating the certificate request"),
     N_("Creating the certificate request failed"), "CreateRequest", csr_build, csr_done},
};

/* A serial as a file name: letters, digits, '-' and '_' as they are, any other byte (a '/' or
 * a leading '.' among them) as _xx. */
static char *file_name_of(const char *serial)
{
    size_t n = strlen(serial);
    char *out = malloc(n * 3 + 1), *p = out;
    if (!out)
        return NULL;
    for (const unsigned char *s = (const unsigned char *)serial; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            *s == '-')
            *p++ = (char)*s;
        else
            p += sprintf(p, "_%02x", *s);
    }
    *p = 0;
    return out;
}

static int plan_token(Context *ctx, const Provision *p, Job *j, TokenPlan *t)
{
    const Manifest *m = p->manifest;
    const char *serial = strempty(j->serial);
    _cleanup_free_ char *name = file_name_of(serial);
    *t = (TokenPlan){.p = p};
    j->data = t;
    if (!name || asprintf(&t->file, "%s/%s.csr", m->output, name) < 0)
        return fail_errno(ctx, -ENOMEM, "Cannot plan the provisioning");
    int r = manifest_expand(m->token_label, serial, p->request, false, &t->label);
    if (r >= 0 && m->key_label)
        r = manifest_expand(m->key_label, serial, p->request, false, &t->key_label);
    if (r >= 0)
        r = manifest_expand(m->subject, serial, p->request, true, &t->subject);
    if (r == -ENOMEM)
        return fail_errno(ctx, r, "Cannot plan the provisioning");
    if (r == -ENXIO)
        job_fail(j, CLI_ERROR_USAGE,
                 "The manifest has {request}, and no reference is given: use [Request] "
                 "Reference= or --request");
    else if (r < 0)
        job_fail(j, CLI_ERROR_USAGE,
                 "The token's serial \"%s\" has a character that has a meaning in a subject "
                 "name; write the subject without {serial}",
                 serial);
    return 0;
}

/* The new PIN must suit every token: the longest of their minimums, the shortest maximum. */
static void pin_limits(Context *ctx, const Job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t min = json_get_int(jobs[i].token, "EffectiveMinPinLength", 0),
                max = json_get_int(jobs[i].token, "MaxPinLength", 0);
        if (min > 0 && min < 1024 && (unsigned)min > ctx->new_pin_min)
            ctx->new_pin_min = (unsigned)min;
        if (max > 0 && max < 1024 && (ctx->new_pin_max == 0 || (unsigned)max < ctx->new_pin_max))
            ctx->new_pin_max = (unsigned)max;
    }
}

static int confirm_all(Context *ctx, const Job *jobs, size_t n)
{
    size_t going = 0;
    for (size_t i = 0; i < n; i++)
        going += !job_failed(&jobs[i]);
    _cleanup_free_ char *question = NULL;
    if (asprintf(&question,
                 ngettext("Provisioning initialises %zu token, destroying every key and "
                          "certificate on it. Go on? [y/N] ",
                          "Provisioning initialises %zu tokens, destroying every key and "
                          "certificate on them. Go on? [y/N] ",
                          going),
                 going) < 0)
        return fail_errno(ctx, -ENOMEM, "Cannot ask for confirmation");
    return confirm_destroy(ctx, question, NULL);
}

static int make_output_dir(Context *ctx, const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return fail_errno(ctx, errno, "Cannot create the output directory %s", dir);
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return fail(ctx, CLI_ERROR_FAILED, "The output directory %s is not a directory", dir);
    if (access(dir, W_OK) < 0)
        return fail_errno(ctx, errno, "Cannot write to the output directory %s", dir);
    return 0;
}

static void print_summary(Context *ctx, const Job *jobs, size_t n)
{
    static const char *const headers[] = {N_("TOKEN"), N_("RESULT"), N_("DETAIL")};
    Table *table = table_new(ELEMENTSOF(headers), headers);
    size_t done = 0;
    for (size_t i = 0; table && i < n; i++) {
        const TokenPlan *t = jobs[i].data;
        bool failed = job_failed(&jobs[i]);
        done += !failed;
        table_add(table, jobs[i].serial);
        table_add_colored(table, failed ? _("failed") : _("done"), failed ? ANSI_RED : ANSI_GREEN);
        table_add(table, failed ? jobs[i].error_message : t->file);
    }
    if (table && !ctx->quiet)
        table_print(table, stdout, ctx->color, !ctx->no_legend);
    table_free(table);
    if (!ctx->quiet)
        fprintf(stderr, _("%zu of %zu tokens provisioned.\n"), done, n);
}

static json_object *summary_json(const Provision *p, const Job *jobs, size_t n)
{
    json_object *doc = json_object_new_object(), *list = json_object_new_array();
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        const TokenPlan *t = jobs[i].data;
        json_object *o = job_json(&jobs[i]);
        bool ok = !job_failed(&jobs[i]);
        _cleanup_free_ char *id = ok && t->key_id ? hex_string(t->key_id, t->key_id_len) : NULL;
        done += ok;
        json_object_object_add(o, "label", t->label ? json_object_new_string(t->label) : NULL);
        json_object_object_add(o, "key", id ? json_object_new_string(id) : NULL);
        json_object_object_add(o, "request-file", ok ? json_object_new_string(t->file) : NULL);
        json_object_array_add(list, o);
    }
    json_object_object_add(doc, "request", p->request ? json_object_new_string(p->request) : NULL);
    json_object_object_add(doc, "tokens", list);
    json_object_object_add(doc, "done", json_object_new_int((int)done));
    json_object_object_add(doc, "failed", json_object_new_int((int)(n - done)));
    return doc;
}

static int provision(Context *ctx, const char *manifest_path)
{
    _cleanup_(manifest_done) Manifest m = {};
    _cleanup_json_ json_object *tokens = NULL;
    _cleanup_secret_ TkSecret *so = NULL, *pin = NULL;
    Job *jobs = NULL;
    size_t n = 0;
    TokenPlan *plans = NULL;

    int r = manifest_load(ctx, manifest_path, &m);
    if (r != 0)
        return r;
    Provision p = {.manifest = &m, .request = ctx->request ?: m.request};
    r = jobs_tokens(ctx, &tokens);
    if (r == 0)
        r = jobs_new(ctx, tokens, provision_steps, ELEMENTSOF(provision_steps), &jobs, &n);
    if (r != 0)
        return r;
    plans = calloc(n ? n : 1, sizeof(TokenPlan));
    if (!plans)
        r = fail_errno(ctx, -ENOMEM, "Cannot plan the provisioning");
    for (size_t i = 0; r == 0 && i < n; i++)
        r = plan_token(ctx, &p, &jobs[i], &plans[i]);
    if (r == 0)
        r = make_output_dir(ctx, m.output);
    if (r == 0) {
        /* Whether tokend would initialise each token, before anyone is asked anything. */
        jobs_check(ctx, jobs, n);
        pin_limits(ctx, jobs, n);
        r = confirm_all(ctx, jobs, n);
    }
    if (r == 0)
        r = get_secret(ctx, ctx->so_pin_file, "--so-pin-file",
                       "SO PIN (empty if the site derives it)", false, SECRET_OPTIONAL, &so);
    if (r == 0)
        r = get_secret(ctx, ctx->new_pin_file, "--new-pin-file", "New user PIN", true,
                       SECRET_REQUIRED, &pin);
    if (r == 0) {
        p.so = so;
        p.pin = pin;
        r = jobs_run(ctx, jobs, n);
    }
    if (r == 0) {
        if (ctx->json)
            ctx->result = summary_json(&p, jobs, n);
        else
            print_summary(ctx, jobs, n);
        r = jobs_exit_code(jobs, n);
    }
    for (size_t i = 0; plans && i < n; i++)
        plan_done(&plans[i]);
    free(plans);
    jobs_free(jobs, n);
    return r;
}

int verb_provision(Context *ctx)
{
    if (ctx->import_dir)
        return provision_import(ctx);
    if (ctx->n_args < 1)
        return fail(ctx, CLI_ERROR_USAGE,
                    "provision needs a MANIFEST (or --import DIR); see tokenctl provision --help");
    const char *manifest = ctx->args[0];
    ctx->args++;
    ctx->n_args--;
    return provision(ctx, manifest);
}
