/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtoken's PKCS#11 calls against real SoftHSM2 tokens, checked with OpenSC's pkcs11-tool and
 * the openssl command as independent clients. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softhsm-fixture.h"
#include "tk-run.h"
#include "tk-test.h"

#define SO_PIN   "so-secret-9182"
#define USER_PIN "483920"
#define WRONG    "777135"
#define LABEL    "agency-token"

static SofthsmFixture fx;

static void setup(void)
{
    int r = softhsm_fixture_setup(&fx, LABEL, SO_PIN, USER_PIN);
    /* main() skipped the program where SoftHSM2 is missing: here it is a failure. */
    ck_assert_msg(r == 0, "SoftHSM2 token store could not be set up (%d)", r);
}

static void teardown(void)
{
    softhsm_fixture_teardown(&fx);
}

static TkSecret *secret(const char *s)
{
    TkSecret *p;
    ck_assert_int_eq(tk_secret_new_string(s, &p), 0);
    return p;
}

static size_t count_objects(const char *pin)
{
    _cleanup_secret_ TkSecret *p = pin ? secret(pin) : NULL;
    TkObject *objs;
    size_t n;
    TkError error = {};
    ck_assert_int_eq(tk_token_list_objects(fx.token, p, &objs, &n, &error), 0);
    tk_object_array_free(objs, n);
    return n;
}

static void generate(TkKeySpec spec, const char *label, const uint8_t *id, size_t id_len)
{
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    uint8_t *ret_id;
    size_t ret_len;
    char *pem;
    TkError error = {};
    int r = tk_token_generate_key(fx.token, pin, spec, label, id, id_len, &ret_id, &ret_len, &pem,
                                  &error);
    ck_assert_msg(r == 0, "keygen %s: %s", tk_key_spec_to_string(spec), error.message);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    if (id)
        ck_assert_mem_eq(ret_id, id, id_len);
    free(ret_id);
    free(pem);
}

static char *write_temp(const char *name, const char *data)
{
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/%s", fx.dir, name), 0);
    ck_assert_int_eq(tk_write_file(path, data, strlen(data)), 0);
    return path;
}

START_TEST(module_load_names_missing_module)
{
    TkModule *m = NULL;
    TkError error = {};
    ck_assert_int_lt(tk_module_load("/nonexistent/module.so", &m, &error), 0);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(error.name, TK_ERROR_FAILED);
    ck_assert_ptr_nonnull(strstr(error.message, "/nonexistent/module.so"));
}
END_TEST

START_TEST(initialized_token_reports_its_info)
{
    TkTokenInfo *infos;
    size_t n;
    TkError error = {};
    ck_assert_int_eq(tk_module_list_tokens(fx.module, &infos, &n, &error), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(infos[i].serial, fx.serial) != 0)
            continue;
        found = true;
        ck_assert_str_eq(infos[i].label, LABEL);
        ck_assert_str_eq(infos[i].manufacturer, "SoftHSM project");
        ck_assert(infos[i].initialized);
        ck_assert(infos[i].user_pin_initialized);
        ck_assert_int_eq(infos[i].user_pin_state, TK_PIN_OK);
        ck_assert_uint_gt(infos[i].min_pin_length, 0);
        ck_assert_uint_ge(infos[i].max_pin_length, infos[i].min_pin_length);
    }
    ck_assert(found);
    tk_token_info_array_free(infos, n);
}
END_TEST

START_TEST(open_unknown_serial_is_token_not_found)
{
    TkToken *t = NULL;
    TkError error = {};
    ck_assert_int_eq(tk_token_open(fx.module, "0000nonexistent", &t, &error), -ENXIO);
    ck_assert_str_eq(error.name, TK_ERROR_TOKEN_NOT_FOUND);
}
END_TEST

START_TEST(wrong_pin_is_refused_without_leaking_it)
{
    _cleanup_secret_ TkSecret *wrong = secret(WRONG);
    TkObject *objs = NULL;
    size_t n = 0;
    TkError error = {};
    ck_assert_int_eq(tk_token_list_objects(fx.token, wrong, &objs, &n, &error), -ENOLCK);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_ptr_nonnull(strstr(error.message, "incorrect"));
    ck_assert_ptr_null(strstr(error.message, WRONG));
    ck_assert_ptr_null(strstr(error.message, USER_PIN));

    /* The right PIN still works. */
    ck_assert_uint_eq(count_objects(USER_PIN), 0);
}
END_TEST

START_TEST(generated_keys_are_listed_with_type_and_size)
{
    static const uint8_t id_rsa[] = {0x01}, id_p256[] = {0x02}, id_p384[] = {0x03};
    generate(TK_KEY_RSA2048, "rsa key", id_rsa, sizeof(id_rsa));
    generate(TK_KEY_EC_P256, "p256 key", id_p256, sizeof(id_p256));
    generate(TK_KEY_EC_P384, "p384 key", id_p384, sizeof(id_p384));

    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    TkObject *objs;
    size_t n;
    TkError error = {};
    ck_assert_int_eq(tk_token_list_objects(fx.token, pin, &objs, &n, &error), 0);
    ck_assert_uint_eq(n, 6);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        TkObject *o = &objs[i];
        ck_assert_uint_eq(o->id_len, 1);
        ck_assert(o->object_class == TK_OBJECT_PRIVATE_KEY ||
                  o->object_class == TK_OBJECT_PUBLIC_KEY);
        switch (o->id[0]) {
        case 0x01:
            ck_assert_int_eq(o->key_type, TK_KEY_TYPE_RSA);
            ck_assert_uint_eq(o->bits, 2048);
            ck_assert_str_eq(o->label, "rsa key");
            seen |= 1;
            break;
        case 0x02:
            ck_assert_int_eq(o->key_type, TK_KEY_TYPE_EC);
            ck_assert_str_eq(o->curve, "P-256");
            ck_assert_str_eq(o->label, "p256 key");
            seen |= 2;
            break;
        case 0x03:
            ck_assert_int_eq(o->key_type, TK_KEY_TYPE_EC);
            ck_assert_str_eq(o->curve, "P-384");
            seen |= 4;
            break;
        default:
            ck_abort_msg("unexpected id %02x", o->id[0]);
        }
    }
    ck_assert_int_eq(seen, 7);
    tk_object_array_free(objs, n);

    /* Without a PIN only the public halves are visible. */
    ck_assert_uint_eq(count_objects(NULL), 3);

    char *out;
    ck_assert_int_eq(
        softhsm_pkcs11_tool(&fx, &out, "--login", "--pin", USER_PIN, "--list-objects", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "label:      rsa key"));
    ck_assert_ptr_nonnull(strstr(out, "label:      p256 key"));
    ck_assert_ptr_nonnull(strstr(out, "Private Key Object; EC"));
    ck_assert_ptr_nonnull(strstr(out, "Public Key Object; RSA 2048 bits"));
    free(out);
}
END_TEST

START_TEST(large_rsa_keys_are_generated)
{
    static const uint8_t id3[] = {0x30}, id4[] = {0x40};
    generate(TK_KEY_RSA3072, NULL, id3, sizeof(id3));
    generate(TK_KEY_RSA4096, NULL, id4, sizeof(id4));

    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    TkObject *objs;
    size_t n;
    ck_assert_int_eq(tk_token_list_objects(fx.token, pin, &objs, &n, NULL), 0);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(objs[i].bits, objs[i].id[0] == 0x30 ? 3072 : 4096);
    tk_object_array_free(objs, n);
}
END_TEST

START_TEST(keygen_without_id_picks_a_random_one)
{
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    uint8_t *id1, *id2;
    size_t len1, len2;
    char *pem1, *pem2;
    ck_assert_int_eq(tk_token_generate_key(fx.token, pin, TK_KEY_EC_P256, "a", NULL, 0, &id1, &len1,
                                           &pem1, NULL),
                     0);
    ck_assert_int_eq(tk_token_generate_key(fx.token, pin, TK_KEY_EC_P256, "b", NULL, 0, &id2, &len2,
                                           &pem2, NULL),
                     0);
    ck_assert_uint_eq(len1, 20);
    ck_assert(len1 != len2 || memcmp(id1, id2, len1) != 0);
    ck_assert_str_ne(pem1, pem2);
    free(id1);
    free(id2);
    free(pem1);
    free(pem2);
}
END_TEST

START_TEST(keygen_refuses_an_id_in_use)
{
    static const uint8_t id[] = {0x07};
    generate(TK_KEY_EC_P256, "first", id, sizeof(id));

    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    uint8_t *ret_id;
    size_t len;
    char *pem;
    TkError error = {};
    ck_assert_int_eq(tk_token_generate_key(fx.token, pin, TK_KEY_EC_P256, "second", id, sizeof(id),
                                           &ret_id, &len, &pem, &error),
                     -EEXIST);
    ck_assert_str_eq(error.name, TK_ERROR_DUPLICATE);
    ck_assert_uint_eq(count_objects(USER_PIN), 2);
}
END_TEST

START_TEST(keygen_with_wrong_pin_changes_nothing)
{
    _cleanup_secret_ TkSecret *wrong = secret(WRONG);
    uint8_t *id;
    size_t len;
    char *pem;
    TkError error = {};
    ck_assert_int_eq(tk_token_generate_key(fx.token, wrong, TK_KEY_EC_P256, NULL, NULL, 0, &id,
                                           &len, &pem, &error),
                     -ENOLCK);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_uint_eq(count_objects(USER_PIN), 0);
}
END_TEST

static char *make_request(const uint8_t *id, size_t id_len, const char *subject)
{
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    char *emails[] = {"jane.doe@agency.example", NULL};
    char *dns[] = {"host.agency.example", NULL};
    char *pem;
    TkError error = {};
    int r = tk_token_create_request(fx.token, pin, id, id_len, subject, emails, dns, &pem, &error);
    ck_assert_msg(r == 0, "request: %s", error.message);
    return pem;
}

START_TEST(request_is_signed_on_the_token_and_verifies)
{
    static const uint8_t id_ec[] = {0x11}, id_rsa[] = {0x12};
    generate(TK_KEY_EC_P256, "ec", id_ec, sizeof(id_ec));
    generate(TK_KEY_RSA2048, "rsa", id_rsa, sizeof(id_rsa));

    for (int k = 0; k < 2; k++) {
        char *pem = make_request(k ? id_rsa : id_ec, 1, "CN=Jane Doe,OU=Registry,O=Agency,C=NL");
        char *path = write_temp("req.pem", pem);
        char *out;
        char *argv[] = {"openssl", "req", "-in", path, "-verify", "-noout", "-text", NULL};
        ck_assert_int_eq(tk_run(argv, NULL, &out), 0);
        ck_assert_ptr_nonnull(strstr(out, "verify OK"));
        ck_assert_ptr_nonnull(strstr(out, "CN = Jane Doe"));
        ck_assert_ptr_nonnull(strstr(out, "C = NL, O = Agency, OU = Registry, CN = Jane Doe"));
        ck_assert_ptr_nonnull(strstr(out, "email:jane.doe@agency.example"));
        ck_assert_ptr_nonnull(strstr(out, "DNS:host.agency.example"));
        free(out);
        free(path);
        free(pem);
    }
}
END_TEST

START_TEST(request_for_missing_key_is_no_matching_key)
{
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    static const uint8_t id[] = {0x55};
    char *pem = NULL;
    TkError error = {};
    ck_assert_int_eq(
        tk_token_create_request(fx.token, pin, id, sizeof(id), "CN=x", NULL, NULL, &pem, &error),
        -ENOKEY);
    ck_assert_str_eq(error.name, TK_ERROR_NO_MATCHING_KEY);
    ck_assert_ptr_null(pem);
}
END_TEST

START_TEST(request_with_bad_subject_names_the_problem)
{
    static const uint8_t id[] = {0x13};
    generate(TK_KEY_EC_P256, "ec", id, sizeof(id));
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    char *pem = NULL;
    TkError error = {};
    ck_assert_int_eq(tk_token_create_request(fx.token, pin, id, sizeof(id), "CN=ok,NOSUCH=x", NULL,
                                             NULL, &pem, &error),
                     -EINVAL);
    ck_assert_str_eq(error.name, TK_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(error.message, "NOSUCH"));
}
END_TEST

/* A CA made at test time with the openssl command; returns the CA certificate path. */
static char *make_ca(const char *name, char **ret_key)
{
    char *key, *cert, *subj;
    ck_assert_int_ge(asprintf(&key, "%s/%s.key", fx.dir, name), 0);
    ck_assert_int_ge(asprintf(&cert, "%s/%s.pem", fx.dir, name), 0);
    ck_assert_int_ge(asprintf(&subj, "/CN=%s", name), 0);
    char *argv[] = {"openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    key,
                    "-out",
                    cert,
                    "-subj",
                    subj,
                    "-days",
                    "30",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                    NULL};
    char *out;
    int r = tk_run(argv, NULL, &out);
    ck_assert_msg(r == 0, "openssl req -x509: %s", out);
    free(out);
    free(subj);
    *ret_key = key;
    return cert;
}

static char *issue(const char *csr_pem, const char *ca, const char *ca_key)
{
    char *csr = write_temp("issue.csr", csr_pem);
    char *cert;
    ck_assert_int_ge(asprintf(&cert, "%s/issued-%d.pem", fx.dir, rand()), 0);
    char *argv[] = {"openssl",  "x509",   "-req",         "-in",         csr,    "-CA",
                    (char *)ca, "-CAkey", (char *)ca_key, "-set_serial", "4242", "-days",
                    "10",       "-out",   cert,           NULL};
    char *out;
    int r = tk_run(argv, NULL, &out);
    ck_assert_msg(r == 0, "openssl x509 -req: %s", out);
    free(out);
    free(csr);
    size_t len;
    char *pem = tk_read_file(cert, &len);
    ck_assert_ptr_nonnull(pem);
    free(cert);
    return pem;
}

static int import(const char *cert, const char *chain, TkError *error)
{
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    TkBlob blob = {(const uint8_t *)chain, chain ? strlen(chain) : 0};
    uint8_t *id = NULL;
    size_t len;
    int r = tk_token_import_certificate(fx.token, pin, (const uint8_t *)cert, strlen(cert),
                                        chain ? &blob : NULL, chain ? 1 : 0, &id, &len, error);
    free(id);
    return r;
}

START_TEST(certificate_import_checks_key_chain_and_duplicates)
{
    static const uint8_t id[] = {0x21, 0x22};
    generate(TK_KEY_EC_P256, "signing key", id, sizeof(id));
    char *ca_key, *other_key;
    char *ca = make_ca("Agency Issuing CA", &ca_key);
    char *other_ca = make_ca("Unrelated CA", &other_key);
    char *csr = make_request(id, sizeof(id), "CN=Jane Doe,O=Agency");
    char *cert = issue(csr, ca, ca_key);
    char *ca_pem = tk_read_file(ca, NULL);
    char *other_pem = tk_read_file(other_ca, NULL);
    TkError error = {};

    /* The wrong chain is refused before anything is written. */
    ck_assert_int_eq(import(cert, other_pem, &error), -EBADMSG);
    ck_assert_str_eq(error.name, TK_ERROR_INVALID_CERTIFICATE);
    ck_assert_uint_eq(count_objects(USER_PIN), 2);

    /* A certificate for a key this token does not have is refused; nothing written. */
    ck_assert_int_eq(import(other_pem, NULL, &error), -ENOKEY);
    ck_assert_str_eq(error.name, TK_ERROR_NO_MATCHING_KEY);
    ck_assert_uint_eq(count_objects(USER_PIN), 2);

    /* Garbage is named as such. */
    ck_assert_int_eq(import("not a certificate", NULL, &error), -EBADMSG);
    ck_assert_str_eq(error.name, TK_ERROR_INVALID_CERTIFICATE);

    memset(&error, 0, sizeof(error));
    ck_assert_msg(import(cert, ca_pem, &error) == 0, "import: %s", error.message);
    ck_assert_uint_eq(count_objects(USER_PIN), 4);

    /* Stored under the key's id and label, with subject, issuer and dates. */
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN);
    TkObject *objs;
    size_t n;
    ck_assert_int_eq(tk_token_list_objects(fx.token, pin, &objs, &n, NULL), 0);
    int certs = 0;
    for (size_t i = 0; i < n; i++) {
        TkObject *o = &objs[i];
        if (o->object_class != TK_OBJECT_CERTIFICATE)
            continue;
        certs++;
        if (strcmp(o->subject, "CN=Jane Doe,O=Agency") == 0) {
            ck_assert_mem_eq(o->id, id, sizeof(id));
            ck_assert_str_eq(o->label, "signing key");
            ck_assert_str_eq(o->issuer, "CN=Agency Issuing CA");
            ck_assert_str_eq(o->serial, "1092");
            ck_assert_uint_gt(o->not_after, o->not_before);
            ck_assert_str_eq(o->curve, "P-256");
        } else {
            ck_assert_str_eq(o->subject, "CN=Agency Issuing CA");
            ck_assert_str_eq(o->label, "Agency Issuing CA");
        }
    }
    ck_assert_int_eq(certs, 2);
    tk_object_array_free(objs, n);

    /* The same certificate again is a duplicate and changes nothing. */
    ck_assert_int_eq(import(cert, ca_pem, &error), -EEXIST);
    ck_assert_str_eq(error.name, TK_ERROR_DUPLICATE);
    ck_assert_uint_eq(count_objects(USER_PIN), 4);

    char *out;
    ck_assert_int_eq(softhsm_pkcs11_tool(&fx, &out, "--list-objects", "--type", "cert", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "subject:    DN: O=Agency, CN=Jane Doe"));
    ck_assert_ptr_nonnull(strstr(out, "subject:    DN: CN=Agency Issuing CA"));
    ck_assert_ptr_nonnull(strstr(out, "ID:         2122"));
    free(out);

    free(ca_key);
    free(other_key);
    free(ca);
    free(other_ca);
    free(csr);
    free(cert);
    free(ca_pem);
    free(other_pem);
}
END_TEST

static int login_check(const char *pin_text)
{
    _cleanup_secret_ TkSecret *p = secret(pin_text);
    TkObject *objs;
    size_t n;
    int r = tk_token_list_objects(fx.token, p, &objs, &n, NULL);
    if (r == 0)
        tk_object_array_free(objs, n);
    return r;
}

START_TEST(change_user_pin_replaces_it)
{
    _cleanup_secret_ TkSecret *old = secret(USER_PIN), *new = secret("902817"),
                              *wrong = secret(WRONG);
    TkError error = {};

    ck_assert_int_eq(tk_token_change_pin(fx.token, TK_USER, wrong, new, &error), -ENOLCK);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_int_eq(login_check(USER_PIN), 0);

    ck_assert_int_eq(tk_token_change_pin(fx.token, TK_USER, old, new, &error), 0);
    ck_assert_int_eq(login_check("902817"), 0);
    ck_assert_int_eq(login_check(USER_PIN), -ENOLCK);
}
END_TEST

START_TEST(change_so_pin_replaces_it)
{
    _cleanup_secret_ TkSecret *old = secret(SO_PIN), *new = secret("new-so-5512"),
                              *user = secret("551234");
    TkError error = {};
    ck_assert_int_eq(tk_token_change_pin(fx.token, TK_SO, old, new, &error), 0);
    ck_assert_int_eq(tk_token_init_pin(fx.token, old, user, &error), -ENOLCK);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_int_eq(tk_token_init_pin(fx.token, new, user, &error), 0);
    ck_assert_int_eq(login_check("551234"), 0);
}
END_TEST

START_TEST(so_pin_sets_a_new_user_pin)
{
    _cleanup_secret_ TkSecret *so = secret(SO_PIN), *wrong = secret("wrong-so-0000"),
                              *new = secret("613579");
    TkError error = {};

    ck_assert_int_eq(tk_token_init_pin(fx.token, wrong, new, &error), -ENOLCK);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_ptr_null(strstr(error.message, "wrong-so-0000"));
    ck_assert_int_eq(login_check(USER_PIN), 0);

    ck_assert_int_eq(tk_token_init_pin(fx.token, so, new, &error), 0);
    ck_assert_int_eq(login_check("613579"), 0);
    ck_assert_int_eq(login_check(USER_PIN), -ENOLCK);
}
END_TEST

START_TEST(delete_removes_key_pair_or_certificate)
{
    static const uint8_t id[] = {0x31}, keep[] = {0x32}, none[] = {0x99};
    generate(TK_KEY_EC_P256, "to delete", id, sizeof(id));
    generate(TK_KEY_EC_P256, "to keep", keep, sizeof(keep));
    _cleanup_secret_ TkSecret *pin = secret(USER_PIN), *wrong = secret(WRONG);
    TkError error = {};

    ck_assert_int_eq(
        tk_token_delete_object(fx.token, wrong, TK_OBJECT_PRIVATE_KEY, id, sizeof(id), &error),
        -ENOLCK);
    ck_assert_uint_eq(count_objects(USER_PIN), 4);

    ck_assert_int_eq(
        tk_token_delete_object(fx.token, pin, TK_OBJECT_PRIVATE_KEY, none, sizeof(none), &error),
        -ENOENT);
    ck_assert_str_eq(error.name, TK_ERROR_INVALID_ARGUMENT);

    int r = tk_token_delete_object(fx.token, pin, TK_OBJECT_PRIVATE_KEY, id, sizeof(id), &error);
    ck_assert_msg(r == 0, "delete: %s", error.message);
    TkObject *objs;
    size_t n;
    ck_assert_int_eq(tk_token_list_objects(fx.token, pin, &objs, &n, NULL), 0);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(objs[i].id[0], 0x32);
    tk_object_array_free(objs, n);

    char *ca_key;
    char *ca = make_ca("Delete CA", &ca_key);
    char *csr = make_request(keep, sizeof(keep), "CN=keep");
    char *cert = issue(csr, ca, ca_key);
    ck_assert_int_eq(import(cert, NULL, &error), 0);
    ck_assert_uint_eq(count_objects(USER_PIN), 3);
    ck_assert_int_eq(
        tk_token_delete_object(fx.token, pin, TK_OBJECT_CERTIFICATE, keep, sizeof(keep), &error),
        0);
    ck_assert_uint_eq(count_objects(USER_PIN), 2);
    free(ca);
    free(ca_key);
    free(csr);
    free(cert);
}
END_TEST

START_TEST(initialize_destroys_everything)
{
    generate(TK_KEY_EC_P256, "doomed", NULL, 0);
    ck_assert_uint_eq(count_objects(USER_PIN), 2);

    _cleanup_secret_ TkSecret *so = secret(SO_PIN), *wrong = secret("not-the-so-pin"),
                              *user = secret("246813");
    TkError error = {};
    ck_assert_int_eq(tk_token_initialize(fx.token, wrong, "renewed", user, &error), -ENOLCK);
    ck_assert_uint_eq(count_objects(USER_PIN), 2);

    ck_assert_msg(tk_token_initialize(fx.token, so, "renewed", user, &error) == 0, "%s",
                  error.message);
    TkTokenInfo info = {};
    ck_assert_int_eq(tk_token_get_info(fx.token, &info, NULL), 0);
    ck_assert_str_eq(info.label, "renewed");
    tk_token_info_done(&info);
    ck_assert_uint_eq(count_objects("246813"), 0);
}
END_TEST

static Suite *p11_softhsm_suite(void)
{
    Suite *s = suite_create("p11-softhsm");
    TCase *tc = tcase_create("token");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, initialized_token_reports_its_info);
    tcase_add_test(tc, open_unknown_serial_is_token_not_found);
    tcase_add_test(tc, wrong_pin_is_refused_without_leaking_it);
    tcase_add_test(tc, generated_keys_are_listed_with_type_and_size);
    tcase_add_test(tc, large_rsa_keys_are_generated);
    tcase_add_test(tc, keygen_without_id_picks_a_random_one);
    tcase_add_test(tc, keygen_refuses_an_id_in_use);
    tcase_add_test(tc, keygen_with_wrong_pin_changes_nothing);
    tcase_add_test(tc, request_is_signed_on_the_token_and_verifies);
    tcase_add_test(tc, request_for_missing_key_is_no_matching_key);
    tcase_add_test(tc, request_with_bad_subject_names_the_problem);
    tcase_add_test(tc, certificate_import_checks_key_chain_and_duplicates);
    tcase_add_test(tc, change_user_pin_replaces_it);
    tcase_add_test(tc, change_so_pin_replaces_it);
    tcase_add_test(tc, so_pin_sets_a_new_user_pin);
    tcase_add_test(tc, delete_removes_key_pair_or_certificate);
    tcase_add_test(tc, initialize_destroys_everything);
    suite_add_tcase(s, tc);

    TCase *plain = tcase_create("module");
    tcase_set_timeout(plain, 30);
    tcase_add_test(plain, module_load_names_missing_module);
    suite_add_tcase(s, plain);
    return s;
}

TK_TEST_MAIN_UNLESS(softhsm_fixture_unavailable, p11_softhsm_suite())
