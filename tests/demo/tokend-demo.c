/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A provisioning run on a private SoftHSM2 token through libtoken, as an issuing station does
 * it: initialise, generate a key pair on the token, make a request signed there, have a demo CA
 * issue the certificate, import it with the CA chain, and list the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "softhsm-fixture.h"
#include "tk-run.h"

#define DEMO_SO_PIN   "demo-so-pin-1"
#define DEMO_USER_PIN "318274"

static void die(const char *what, const TkError *error)
{
    fprintf(stderr, "demo: %s failed: %s\n", what, error->message);
    exit(EXIT_FAILURE);
}

static void step(const char *s)
{
    printf("\n== %s\n", s);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        exit(EXIT_FAILURE);
    return p;
}

static void run_or_die(char *const argv[])
{
    char *out;
    if (tk_run(argv, NULL, &out) != 0) {
        fprintf(stderr, "demo: %s failed:\n%s", argv[0], out);
        exit(EXIT_FAILURE);
    }
    free(out);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORKDIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char *tokens = path_in(dir, "tokens"), *conf = path_in(dir, "softhsm2.conf");
    char *text;
    TkError error = {};

    mkdir(tokens, 0700);
    if (asprintf(&text, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens) < 0 ||
        tk_write_file(conf, text, strlen(text)) < 0)
        return EXIT_FAILURE;
    setenv("SOFTHSM2_CONF", conf, 1);

    TkModule *m;
    if (tk_module_load(SOFTHSM_MODULE, &m, &error) < 0)
        die("loading SoftHSM2", &error);
    TkTokenInfo *infos;
    size_t n;
    if (tk_module_list_tokens(m, &infos, &n, &error) < 0 || n == 0)
        die("listing tokens", &error);

    step("Initialise the token (SO PIN and user PIN set, label \"agency-0001\")");
    TkSecret *so, *pin;
    tk_secret_new_string(DEMO_SO_PIN, &so);
    tk_secret_new_string(DEMO_USER_PIN, &pin);
    TkToken *t;
    if (tk_token_open_slot(m, infos[0].slot_id, &t, &error) < 0 ||
        tk_token_initialize(t, so, "agency-0001", pin, &error) < 0)
        die("initialising", &error);
    tk_token_info_array_free(infos, n);
    TkTokenInfo info = {};
    tk_token_get_info(t, &info, &error);
    printf("token %s, serial %s, user PIN %s, PIN length %u..%u\n", info.label, info.serial,
           tk_pin_state_to_string(info.user_pin_state), info.min_pin_length, info.max_pin_length);
    tk_token_info_done(&info);

    step("Generate an EC P-256 key pair on the token");
    uint8_t *id;
    size_t id_len;
    char *pub;
    static const uint8_t want_id[] = {0x45, 0x01};
    if (tk_token_generate_key(t, pin, TK_KEY_EC_P256, "Jane Doe signing", want_id, sizeof(want_id),
                              &id, &id_len, &pub, &error) < 0)
        die("key generation", &error);
    printf("key id 4501, public key:\n%s", pub);

    step("Create a certificate request signed on the token");
    char *emails[] = {"jane.doe@agency.example", NULL};
    char *csr;
    if (tk_token_create_request(t, pin, id, id_len, "CN=Jane Doe,OU=Registry,O=Agency,C=NL", emails,
                                NULL, &csr, &error) < 0)
        die("request", &error);
    fputs(csr, stdout);
    char *csr_path = path_in(dir, "jane.csr"), *ca_key = path_in(dir, "ca.key"),
         *ca = path_in(dir, "ca.pem"), *cert = path_in(dir, "jane.pem");
    tk_write_file(csr_path, csr, strlen(csr));

    step("A demo CA issues the certificate (openssl)");
    char *mkca[] = {"openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    ca_key,
                    "-out",
                    ca,
                    "-subj",
                    "/CN=Demo Agency CA/O=Registration Office",
                    "-days",
                    "30",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    NULL};
    run_or_die(mkca);
    char *sign[] = {"openssl",
                    "x509",
                    "-req",
                    "-in",
                    csr_path,
                    "-CA",
                    ca,
                    "-CAkey",
                    ca_key,
                    "-CAcreateserial",
                    "-days",
                    "365",
                    "-copy_extensions",
                    "copy",
                    "-out",
                    cert,
                    NULL};
    run_or_die(sign);
    printf("issued %s by %s\n", cert, ca);

    step("Import the certificate and its CA chain (checked against the key on the token)");
    size_t cert_len, ca_len;
    char *cert_pem = tk_read_file(cert, &cert_len), *ca_pem = tk_read_file(ca, &ca_len);
    TkBlob chain = {(const uint8_t *)ca_pem, ca_len};
    uint8_t *cert_id;
    size_t cert_id_len;
    if (tk_token_import_certificate(t, pin, (const uint8_t *)cert_pem, cert_len, &chain, 1,
                                    &cert_id, &cert_id_len, &error) < 0)
        die("import", &error);
    printf("stored under the key's id (%zu bytes)\n", cert_id_len);

    step("List the token");
    TkObject *objs;
    if (tk_token_list_objects(t, pin, &objs, &n, &error) < 0)
        die("listing", &error);
    for (size_t i = 0; i < n; i++) {
        TkObject *o = &objs[i];
        printf("%-12s label=\"%s\" type=%s", tk_object_class_to_string(o->object_class), o->label,
               strempty(tk_key_type_to_string(o->key_type)));
        if (o->curve)
            printf(" curve=%s", o->curve);
        if (o->object_class == TK_OBJECT_CERTIFICATE) {
            char until[32];
            time_t na = (time_t)o->not_after;
            strftime(until, sizeof(until), "%Y-%m-%d", gmtime(&na));
            printf("\n             subject=%s issuer=%s expires=%s", o->subject, o->issuer, until);
        }
        printf("\n");
    }
    tk_object_array_free(objs, n);

    tk_secret_free(so);
    tk_secret_free(pin);
    free(id);
    free(pub);
    free(csr);
    free(cert_id);
    free(cert_pem);
    free(ca_pem);
    tk_token_free(t);
    tk_module_free(m);
    printf("\nDemo finished.\n");
    return EXIT_SUCCESS;
}
