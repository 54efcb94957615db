/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-json.h"
#include "bus-error.h"
#include "config.h"
#include "format.h"
#include "i18n.h"
#include "json-output.h"
#include "pager.h"
#include "polkit-agent.h"
#include "tokenctl.h"

/* tokenctl-build-locale, for the tests, reads the catalogues of its build tree. */
#ifndef TOKENCTL_LOCALEDIR
#define TOKENCTL_LOCALEDIR LOCALEDIR
#endif

enum {
    V_LIST = 1 << 0,
    V_STATUS = 1 << 1,
    V_OBJECTS = 1 << 2,
    V_KEYGEN = 1 << 3,
    V_CSR = 1 << 4,
    V_IMPORT = 1 << 5,
    V_CHANGE_PIN = 1 << 6,
    V_UNBLOCK = 1 << 7,
    V_INIT = 1 << 8,
    V_DELETE = 1 << 9,
    V_MONITOR = 1 << 10,
    V_AUDIT = 1 << 11,
    V_PROVISION = 1 << 12,
    V_ALL = (1 << 13) - 1,
};

typedef struct Verb {
    const char *name;
    unsigned bit;
    int (*run)(Context *ctx);
    bool changes_token; /* needs authorisation: start a polkit agent on a terminal */
    const char *synopsis;
    const char *summary;
} Verb;

static const Verb verbs[] = {
    {"list", V_LIST, verb_list, false, "list", N_("List the tokens and readers present.")},
    {"status", V_STATUS, verb_status, false, "status [TOKEN]",
     N_("Show a token's state: PIN tries left, certificates and when they expire.")},
    {"objects", V_OBJECTS, verb_objects, false, "objects TOKEN [--login]",
     N_("List the keys and certificates on a token (private objects too with --login).")},
    {"keygen", V_KEYGEN, verb_keygen, true, "keygen TOKEN --type TYPE [--label L] [--id HEX]",
     N_("Generate a key pair on the token; prints the public key.")},
    {"csr", V_CSR, verb_csr, true,
     "csr TOKEN --key ID --subject DN [--email E]... [--dns D]... [-o FILE]",
     N_("Create a PKCS#10 certificate request signed by a key on the token.")},
    {"import-cert", V_IMPORT, verb_import_cert, true, "import-cert TOKEN FILE [--chain FILE]",
     N_("Store an issued certificate (and its CA chain) next to its key.")},
    {"change-pin", V_CHANGE_PIN, verb_change_pin, true, "change-pin TOKEN [--so | --puk]",
     N_("Change the user PIN (or the SO PIN with --so).")},
    {"unblock", V_UNBLOCK, verb_unblock, true, "unblock TOKEN --request REF [--force]",
     N_("Unblock the user PIN with the SO PIN/PUK and set a new one.")},
    {"init", V_INIT, verb_init, true, "init TOKEN --label LABEL [--yes]",
     N_("Initialise a token: destroys everything on it (asks first).")},
    {"delete", V_DELETE, verb_delete, true, "delete TOKEN --key ID | --cert ID [--yes]",
     N_("Delete a key pair or a certificate from the token.")},
    {"monitor", V_MONITOR, verb_monitor, false, "monitor",
     N_("Show tokens coming and going, state changes and progress as they happen.")},
    {"audit", V_AUDIT, verb_audit, false,
     "audit verify|list [FILE | --config FILE | --database CONNINFO [--station NAME]]",
     N_("Check the audit file's hash chain (verify), or list its acts for people (list); "
        "--database: the office's trail, every station's chain.")},
    {"provision", V_PROVISION, verb_provision, true,
     "provision MANIFEST [TOKEN...] | --import DIR [TOKEN...]",
     N_("Initialise every card present (or those named) with a key pair and a certificate "
        "request, side by side; --import stores the certificates issued for them.")},
};

enum {
    ARG_JSON = 0x100,
    ARG_NO_ASK_PASSWORD,
    ARG_PIN_FILE,
    ARG_NEW_PIN_FILE,
    ARG_SO_PIN_FILE,
    ARG_VERSION,
    ARG_LOGIN,
    ARG_TYPE,
    ARG_LABEL,
    ARG_ID,
    ARG_KEY,
    ARG_CERT,
    ARG_SUBJECT,
    ARG_EMAIL,
    ARG_DNS,
    ARG_CHAIN,
    ARG_SO,
    ARG_REQUEST,
    ARG_FORCE,
    ARG_CONFIG,
    ARG_SINCE,
    ARG_UNTIL,
    ARG_OPERATION,
    ARG_TOKEN,
    ARG_YES,
    ARG_NO_LEGEND,
    ARG_NO_PAGER,
    ARG_EXPIRY_WARN,
    ARG_PUK,
    ARG_IMPORT,
    ARG_DATABASE,
    ARG_STATION,
};

typedef struct OptionDoc {
    const char *name;
    int val;
    const char *arg; /* NULL: takes no argument */
    unsigned verbs;  /* which verbs take it; V_ALL for global ones */
    const char *help;
} OptionDoc;

static const OptionDoc option_docs[] = {
    {"json", ARG_JSON, "MODE", V_ALL,
     N_("print JSON on standard output: pretty, short (one line) or off")},
    {"no-ask-password", ARG_NO_ASK_PASSWORD, NULL, V_ALL,
     N_("never ask for a PIN or for authorisation on the terminal")},
    {"quiet", 'q', NULL, V_ALL, N_("print nothing on success but the data asked for; no progress")},
    {"no-pager", ARG_NO_PAGER, NULL, V_ALL, N_("do not pipe long output into a pager")},
    {"help", 'h', NULL, V_ALL, N_("show this help")},
    {"version", ARG_VERSION, NULL, V_ALL, N_("show the version")},
    {"pin-file", ARG_PIN_FILE, "FILE",
     V_OBJECTS | V_KEYGEN | V_CSR | V_IMPORT | V_DELETE | V_CHANGE_PIN | V_PROVISION,
     N_("read the user PIN from FILE (first line; \"-\": stdin)")},
    {"new-pin-file", ARG_NEW_PIN_FILE, "FILE", V_CHANGE_PIN | V_UNBLOCK | V_INIT | V_PROVISION,
     N_("read the new PIN from FILE (first line)")},
    {"so-pin-file", ARG_SO_PIN_FILE, "FILE", V_CHANGE_PIN | V_UNBLOCK | V_INIT | V_PROVISION,
     N_("read the SO PIN/PUK from FILE (first line)")},
    {"login", ARG_LOGIN, NULL, V_OBJECTS, N_("log in with the user PIN to list private objects")},
    {"type", ARG_TYPE, "TYPE", V_KEYGEN, N_("rsa2048, rsa3072, rsa4096, ec-p256 or ec-p384")},
    {"label", ARG_LABEL, "LABEL", V_KEYGEN | V_INIT, N_("label of the new key or token")},
    {"id", ARG_ID, "HEX", V_KEYGEN, N_("object id for the new key (default: 20 random bytes)")},
    {"key", ARG_KEY, "ID", V_CSR | V_DELETE, N_("the key pair's id, in hex")},
    {"cert", ARG_CERT, "ID", V_DELETE, N_("the certificate's id, in hex")},
    {"subject", ARG_SUBJECT, "DN", V_CSR,
     N_("subject as RFC 4514 text, e.g. \"CN=Jane Doe,O=Agency\"")},
    {"email", ARG_EMAIL, "ADDRESS", V_CSR, N_("e-mail subjectAltName (repeatable)")},
    {"dns", ARG_DNS, "NAME", V_CSR, N_("DNS subjectAltName (repeatable)")},
    {"output", 'o', "FILE", V_CSR, N_("write the request to FILE instead of standard output")},
    {"chain", ARG_CHAIN, "FILE", V_IMPORT, N_("PEM file with CA certificates to store too")},
    {"so", ARG_SO, NULL, V_CHANGE_PIN, N_("change the SO PIN instead of the user PIN")},
    {"puk", ARG_PUK, NULL, V_CHANGE_PIN,
     N_("change the PUK (says why it cannot: no PKCS#11 call changes one)")},
    {"request", ARG_REQUEST, "REF", V_UNBLOCK | V_AUDIT | V_PROVISION,
     N_("the unlock application form's reference (audit list: only its acts; provision: "
        "{request})")},
    {"import", ARG_IMPORT, "DIR", V_PROVISION,
     N_("store the certificates in DIR on the tokens that hold their keys")},
    {"force", ARG_FORCE, NULL,
     V_KEYGEN | V_IMPORT | V_DELETE | V_CHANGE_PIN | V_UNBLOCK | V_INIT | V_PROVISION,
     N_("go on even when the PIN or SO PIN/PUK it presents is on its final try")},
    {"yes", ARG_YES, NULL, V_INIT | V_DELETE | V_PROVISION,
     N_("do not ask for confirmation (needed where there is no terminal)")},
    {"expiry-warn", ARG_EXPIRY_WARN, "DAYS", V_STATUS | V_OBJECTS,
     N_("warn of certificates that expire within DAYS (default 30); exit status 9 if one does")},
    {"no-legend", ARG_NO_LEGEND, NULL, V_LIST | V_OBJECTS | V_AUDIT | V_PROVISION,
     N_("print no column headings")},
    {"config", ARG_CONFIG, "FILE", V_AUDIT,
     N_("read the audit file's path ([Audit] File=) from FILE")},
    {"since", ARG_SINCE, "TIME", V_AUDIT,
     N_("list acts from TIME on (today, 2026-12-01, -2h, ...)")},
    {"until", ARG_UNTIL, "TIME", V_AUDIT, N_("list acts up to TIME")},
    {"operation", ARG_OPERATION, "OP", V_AUDIT, N_("list only acts of OP (unblock-pin, ...)")},
    {"token", ARG_TOKEN, "SERIAL", V_AUDIT, N_("list only acts on the token with this serial")},
    {"database", ARG_DATABASE, "CONNINFO", V_AUDIT,
     N_("read the office's trail from PostgreSQL (a libpq connection string, \"\": libpq's "
        "defaults)")},
    {"station", ARG_STATION, "NAME", V_AUDIT, N_("with --database: only this station's trail")},
};

static const Verb *find_verb(const char *name)
{
    FOREACH_ARRAY (v, verbs, ELEMENTSOF(verbs))
        if (streq(v->name, name))
            return v;
    return NULL;
}

static const OptionDoc *find_option(int val)
{
    FOREACH_ARRAY (o, option_docs, ELEMENTSOF(option_docs))
        if (o->val == val)
            return o;
    return NULL;
}

static void print_option(const OptionDoc *o)
{
    char left[64];
    if (o->val == ARG_JSON)
        snprintf(left, sizeof(left), "    --%s[=%s]", o->name, o->arg);
    else if (o->val == 'h' || o->val == 'o' || o->val == 'q')
        snprintf(left, sizeof(left), "-%c, --%s%s%s", o->val, o->name, o->arg ? " " : "",
                 o->arg ?: "");
    else
        snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ?: "");
    printf("  %-26s %s\n", left, _(o->help));
}

static void help(void)
{
    printf(_("tokenctl [OPTIONS...] COMMAND ...\n\n"
             "Manage smart-card tokens through tokend.\n\nCommands:\n"));
    FOREACH_ARRAY (v, verbs, ELEMENTSOF(verbs))
        printf("  %s\n      %s\n", v->synopsis, _(v->summary));
    printf(_("\nOptions:\n"));
    FOREACH_ARRAY (o, option_docs, ELEMENTSOF(option_docs))
        if (o->verbs == V_ALL || o->val == ARG_PIN_FILE || o->val == ARG_NEW_PIN_FILE ||
            o->val == ARG_SO_PIN_FILE)
            print_option(o);
    printf(_("\nTOKEN is a serial, a label, a reader name or an object path; it may be left out\n"
             "when one token is present. FILE \"-\" is standard input. PINs are never taken\n"
             "from the command line. \"tokenctl COMMAND --help\" shows a command's options;\n"
             "see tokenctl(1) for exit codes and JSON fields.\n"));
}

static void help_verb(const Verb *v)
{
    printf(_("tokenctl %s\n\n%s\n\nOptions:\n"), v->synopsis, _(v->summary));
    FOREACH_ARRAY (o, option_docs, ELEMENTSOF(option_docs))
        if (o->verbs != V_ALL && (o->verbs & v->bit))
            print_option(o);
    FOREACH_ARRAY (o, option_docs, ELEMENTSOF(option_docs))
        if (o->verbs == V_ALL)
            print_option(o);
}

static int strv_push(char ***l, const char *s)
{
    size_t n = strv_length(*l);
    char **m = realloc(*l, (n + 2) * sizeof(char *));
    if (!m)
        return -ENOMEM;
    *l = m;
    m[n] = strdup(s);
    if (!m[n])
        return -ENOMEM;
    m[n + 1] = NULL;
    return 0;
}

static const OptionDoc *find_long_option(const char *word, size_t *ret_len)
{
    size_t len = strcspn(word + 2, "=");

    *ret_len = len;
    FOREACH_ARRAY (o, option_docs, ELEMENTSOF(option_docs))
        if (strlen(o->name) == len && strncmp(o->name, word + 2, len) == 0)
            return o;
    return NULL;
}

/* A word that getopt_long would take as the value of the option before it, but that is one of
 * our own long options: "--type --json" is a missing value, not the type "--json". */
static bool is_option_word(const char *word)
{
    size_t len;
    return strncmp(word, "--", 2) == 0 && word[2] && find_long_option(word, &len);
}

static int fail_unknown_option(Context *ctx, const char *word, size_t len)
{
    /* Name the option but never echo what follows '=': a mistyped "--pin=1234" must not put a
     * PIN on the screen or into a log. */
    return fail(ctx, CLI_ERROR_USAGE,
                "Unknown option %.*s; see tokenctl --help (PINs are read from the terminal or "
                "from --pin-file, never from the command line)",
                (int)len, word);
}

static int fail_needs_value(Context *ctx, const char *option)
{
    return fail(ctx, CLI_ERROR_USAGE, "Option %s needs an argument", option);
}

/* Reads every option word before getopt_long does: the output mode first, from a --json
 * anywhere on the command line, so that a usage error found anywhere is reported in it; then
 * whole option names only (getopt_long takes any unique prefix, so "--pin 1234" would be read
 * as "--pin-file 1234": a PIN typed as an option is refused instead of quietly taken for a
 * file name), and a value for every option that needs one. Records the first error. */
static int scan_args(Context *ctx, int argc, char *argv[])
{
    const char *json_value = NULL;
    bool json_seen = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char option[64] = "";

        if (streq(a, "--"))
            break;
        if (strncmp(a, "--", 2) == 0) {
            size_t len;
            const OptionDoc *o = find_long_option(a, &len);
            const char *value = a[2 + len] == '=' ? a + 3 + len : NULL;
            if (!o) {
                (void)fail_unknown_option(ctx, a, len + 2);
                continue;
            }
            if (o->val == ARG_JSON) {
                json_seen = true;
                json_value = value;
            } else if (o->arg && !value)
                snprintf(option, sizeof(option), "--%s", o->name);
            else if (!o->arg && value)
                (void)fail(ctx, CLI_ERROR_USAGE, "Option --%s takes no value", o->name);
        } else if (a[0] == '-' && a[1]) {
            /* In a cluster of short options, what follows -o in the word is its value. */
            const char *o = strchr(a + 1, 'o');
            if (o && !o[1])
                snprintf(option, sizeof(option), "-o");
        }
        if (option[0]) {
            if (i + 1 >= argc || is_option_word(argv[i + 1]))
                (void)fail_needs_value(ctx, option);
            else
                i++;
        }
    }

    if (json_seen &&
        json_mode_parse(json_value, isatty(STDOUT_FILENO), &ctx->json, &ctx->json_pretty) < 0) {
        (void)json_mode_parse(NULL, isatty(STDOUT_FILENO), &ctx->json, &ctx->json_pretty);
        (void)fail(ctx, CLI_ERROR_USAGE,
                   "Unknown --json mode; use --json=pretty, --json=short or --json=off");
    }
    return ctx->error_name ? ctx->exit_code : 0;
}

static int parse_args(Context *ctx, int argc, char *argv[], const Verb **ret_verb, bool *ret_help)
{
    struct option longopts[ELEMENTSOF(option_docs) + 1] = {};
    unsigned seen[ELEMENTSOF(option_docs)] = {};
    bool want_help = false;
    const Verb *verb = NULL;
    int c, r;

    for (size_t i = 0; i < ELEMENTSOF(option_docs); i++)
        longopts[i] = (struct option){option_docs[i].name,
                                      option_docs[i].val == ARG_JSON ? optional_argument
                                      : option_docs[i].arg           ? required_argument
                                                                     : no_argument,
                                      NULL, option_docs[i].val};

    r = scan_args(ctx, argc, argv);
    if (r != 0)
        return r;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hqo:", longopts, NULL)) >= 0) {
        switch (c) {
        case 'h':
            want_help = true;
            break;
        case ARG_VERSION:
            printf("tokenctl %s\n", TOKEND_VERSION);
            return -1;
        case ARG_JSON:
            break; /* scan_args() has read it */
        case ARG_NO_ASK_PASSWORD:
            ctx->ask_password = false;
            break;
        case 'q':
            ctx->quiet = true;
            break;
        case ARG_NO_PAGER:
            ctx->no_pager = true;
            break;
        case ARG_NO_LEGEND:
            ctx->no_legend = true;
            break;
        case ARG_EXPIRY_WARN: {
            char *end;
            errno = 0;
            unsigned long days = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end || optarg[0] == '-' || days > 36500)
                return fail(ctx, CLI_ERROR_USAGE,
                            "--expiry-warn takes a number of days from 0 to 36500");
            ctx->expiry_warn_days = (unsigned)days;
            ctx->expiry_warn_given = true;
            break;
        }
        case ARG_PIN_FILE:
            ctx->pin_file = optarg;
            break;
        case ARG_NEW_PIN_FILE:
            ctx->new_pin_file = optarg;
            break;
        case ARG_SO_PIN_FILE:
            ctx->so_pin_file = optarg;
            break;
        case ARG_LOGIN:
            ctx->login = true;
            break;
        case ARG_TYPE:
            ctx->type = optarg;
            break;
        case ARG_LABEL:
            ctx->label = optarg;
            break;
        case ARG_ID:
            ctx->id_hex = optarg;
            break;
        case ARG_KEY:
            ctx->key_id = optarg;
            break;
        case ARG_CERT:
            ctx->cert_id = optarg;
            break;
        case ARG_SUBJECT:
            ctx->subject = optarg;
            break;
        case ARG_EMAIL:
            if (strv_push(&ctx->emails, optarg) < 0)
                return fail_errno(ctx, -ENOMEM, "Cannot parse the options");
            break;
        case ARG_DNS:
            if (strv_push(&ctx->dns, optarg) < 0)
                return fail_errno(ctx, -ENOMEM, "Cannot parse the options");
            break;
        case 'o':
            ctx->output = optarg;
            break;
        case ARG_CHAIN:
            ctx->chain = optarg;
            break;
        case ARG_SO:
            ctx->so = true;
            break;
        case ARG_PUK:
            ctx->puk = true;
            break;
        case ARG_REQUEST:
            ctx->request = optarg;
            break;
        case ARG_FORCE:
            ctx->force = true;
            break;
        case ARG_YES:
            ctx->yes = true;
            break;
        case ARG_CONFIG:
            ctx->config = optarg;
            break;
        case ARG_SINCE:
            ctx->since = optarg;
            break;
        case ARG_UNTIL:
            ctx->until = optarg;
            break;
        case ARG_OPERATION:
            ctx->operation = optarg;
            break;
        case ARG_TOKEN:
            ctx->token_serial = optarg;
            break;
        case ARG_IMPORT:
            ctx->import_dir = optarg;
            break;
        case ARG_DATABASE:
            ctx->database = optarg;
            break;
        case ARG_STATION:
            ctx->station = optarg;
            break;
        case ':': {
            const OptionDoc *o = find_option(optopt);
            char option[64];
            if (o)
                snprintf(option, sizeof(option), "--%s", o->name);
            else
                snprintf(option, sizeof(option), "-%c", (char)optopt);
            return fail_needs_value(ctx, option);
        }
        default: {
            const char *bad = argv[optind - 1];
            if (optopt && optopt < 0x100 && !(bad[0] == '-' && bad[1] == '-'))
                return fail(ctx, CLI_ERROR_USAGE, "Unknown option -%c; see tokenctl --help",
                            optopt);
            return fail_unknown_option(ctx, bad, strcspn(bad, "="));
        }
        }
        const OptionDoc *o = find_option(c);
        if (o)
            seen[o - option_docs]++;
    }

    if (optind < argc) {
        verb = find_verb(argv[optind]);
        if (!verb)
            return fail(ctx, CLI_ERROR_USAGE, "Unknown command \"%s\"; see tokenctl --help",
                        argv[optind]);
        ctx->args = argv + optind + 1;
        ctx->n_args = (size_t)(argc - optind - 1);
    }
    if (want_help) {
        *ret_help = true;
        *ret_verb = verb;
        return 0;
    }
    if (!verb)
        return fail(ctx, CLI_ERROR_USAGE, "No command given; see tokenctl --help");
    for (size_t i = 0; i < ELEMENTSOF(option_docs); i++)
        if (seen[i] && !(option_docs[i].verbs & verb->bit))
            return fail(ctx, CLI_ERROR_USAGE, "%s does not take --%s; see tokenctl %s --help",
                        verb->name, option_docs[i].name, verb->name);
    *ret_help = false;
    *ret_verb = verb;
    return 0;
}

/* Whether the run prints JSON, with --json read as scan_args() reads it: any --json word before
 * "--", the last one deciding, an unknown mode taken as a bare --json. Known before any message
 * is formatted, so that a usage error in --json mode is untranslated too. */
static bool json_requested(int argc, char *argv[])
{
    bool json = false, pretty;

    for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
        if (streq(argv[i], "--json") || strncmp(argv[i], "--json=", 7) == 0) {
            const char *value = argv[i][6] ? argv[i] + 7 : NULL;
            if (json_mode_parse(value, false, &json, &pretty) < 0)
                (void)json_mode_parse(NULL, false, &json, &pretty);
        }
    return json;
}

/* Returns the exit status: a result that could not be written is a failure. */
static int print_result(Context *ctx, const Verb *verb, int status)
{
    int r = 0;

    if (ctx->output_failed)
        return status == EXIT_OK ? EXIT_FAILED : status;
    if (ctx->json) {
        _cleanup_json_ json_object *doc = NULL;
        /* monitor prints one object a line as events come, and its last error so too. */
        bool stream = verb && verb->bit == V_MONITOR;
        if (ctx->error_name)
            doc = json_error_new(ctx->error_name, ctx->error_message, ctx->exit_code);
        else if (stream)
            return status;
        else
            doc = ctx->result ? json_object_get(ctx->result) : json_object_new_object();
        r = doc ? json_print(stdout, doc, ctx->json_pretty && !stream) : -ENOMEM;
    } else if (ctx->error_name) {
        bool color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
        /* Messages quote labels and reader names, from tokenctl and from the daemon alike. */
        _cleanup_free_ char *buf = NULL;
        fprintf(stderr, "%stokenctl: %s%s\n", color ? "\033[1;31m" : "",
                terminal_text(ctx->error_message, &buf), color ? "\033[0m" : "");
        if (ctx->exit_code == EXIT_USAGE && streq(ctx->error_name, CLI_ERROR_USAGE))
            fputs(_("Try \"tokenctl --help\".\n"), stderr);
    }
    if (r >= 0 && fflush(stdout) != 0)
        r = -errno ?: -EIO;
    /* A script must not take a missing or cut document for a success. */
    if (r < 0 || ferror(stdout))
        output_failed(ctx, r < 0 ? r : -EIO);
    if (ctx->output_failed && status == EXIT_OK)
        return EXIT_FAILED;
    return status;
}

int main(int argc, char *argv[])
{
    Context ctx = {
        .ask_password = true,
        .expiry_warn_days = EXPIRY_WARN_DAYS_DEFAULT,
    };
    const Verb *verb = NULL;
    bool want_help = false;
    int r;

    setlocale(LC_ALL, "");
    /* --json output is for programs and the same in every locale, its error messages too. */
    if (json_requested(argc, argv))
        setlocale(LC_MESSAGES, "C");
    bindtextdomain(GETTEXT_PACKAGE, TOKENCTL_LOCALEDIR);
    textdomain(GETTEXT_PACKAGE);
    /* A failed call's errno is then its tokend error's (ENOLCK for PinIncorrect), not EIO. */
    (void)tk_bus_error_register();
    r = parse_args(&ctx, argc, argv, &verb, &want_help);
    if (r < 0) {
        /* --version, which like --help is text for a person, with --json too */
        ctx.json = false;
        r = 0;
        goto finish;
    }
    if (r > 0)
        goto finish;
    if (want_help) {
        ctx.json = false;
        if (verb)
            help_verb(verb);
        else
            help();
        goto finish;
    }

    ctx.color = !ctx.json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    ctx.interactive = ctx.ask_password && isatty(STDIN_FILENO);
    if (verb->changes_token && ctx.interactive)
        (void)polkit_agent_start(&ctx.agent_pid);

    r = verb->run(&ctx);

finish:
    polkit_agent_stop(ctx.agent_pid);
    r = print_result(&ctx, verb, ctx.error_name ? ctx.exit_code : r);
    pager_stop(ctx.pager_pid);
    sd_bus_flush_close_unref(ctx.bus);
    json_object_put(ctx.result);
    strv_free(ctx.emails);
    strv_free(ctx.dns);
    free(ctx.error_name);
    free(ctx.error_message);
    return r;
}
