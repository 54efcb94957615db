/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtoken on the simulated MyEID card through OpenSC's opensc-pkcs11.so, run under the test
 * harness (tests/harness/tokend-test-env) with one personalised card. The card's own counters,
 * read over the simulator's control socket, are the independent witness for every PIN check.
 * The tests run in order on the same card, as a helpdesk would meet it. */
#include <check.h>
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "myeid-erase.h"
#include "pcsc-probe.h"
#include "sim-control.h"
#include "tk-test.h"
#include "token.h"

#define WRONG_PIN "975312"
#define WRONG_PUK "86429751"
#define NEW_PIN   "582914"

static const uint8_t ec_id[] = {0xE2, 0x56};
static const uint8_t ec384_id[] = {0xE3, 0x84};
static const uint8_t rsa_id[] = {0x52, 0x48};

static TkModule *module;
static TkToken *token;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static TkSecret *secret(const char *s)
{
    TkSecret *p;
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(tk_secret_new_string(s, &p), 0);
    return p;
}

/* The PIN the card was personalised with; the unblock test sets NEW_PIN, which later tests use. */
static const char *first_pin(void)
{
    return sim_env("TOKEND_SIM_PIN");
}

static int open_card(TkError *error)
{
    const char *reader = sim_env("TOKEND_SIM_READER_0");
    TkTokenInfo *infos = NULL;
    size_t n = 0;
    int r = tk_module_load(OPENSC_MODULE, &module, error);
    if (r < 0)
        return r;
    r = tk_module_list_tokens(module, &infos, &n, error);
    if (r < 0)
        return r;
    r = -ENXIO;
    for (size_t i = 0; i < n; i++)
        if (strcmp(infos[i].slot_description, reader) == 0)
            r = tk_token_open(module, infos[i].serial, &token, error);
    tk_token_info_array_free(infos, n);
    return r;
}

static void setup(void)
{
    /* Kept mapped for the life of the process, so a leak checker can still name the module's
     * own allocations after libtoken has unloaded it. */
    (void)dlopen(OPENSC_MODULE, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    TkError error = {};
    int r = open_card(&error);
    ck_assert_msg(r == 0, "card not found on %s: %s", sim_env("TOKEND_SIM_READER_0"),
                  error.message);
}

static void teardown(void)
{
    token = tk_token_free(token);
    module = tk_module_free(module);
}

static TkTokenInfo info_now(void)
{
    TkTokenInfo info = {};
    TkError error = {};
    ck_assert_int_eq(tk_token_get_info(token, &info, &error), 0);
    return info;
}

static void card_counters(int *tries, int *puk)
{
    ck_assert_int_eq(sim_pin_counters(0, 1, tries, puk), 0);
}

START_TEST(card_listed_with_its_identity_and_counters)
{
    TkTokenInfo info = info_now();
    ck_assert_str_eq(info.manufacturer, "Aventra Ltd.");
    ck_assert_str_eq(info.model, "PKCS#15");
    ck_assert_uint_gt(strlen(info.label), 0);
    ck_assert_uint_gt(strlen(info.serial), 0);
    ck_assert_str_eq(info.slot_description, sim_env("TOKEND_SIM_READER_0"));
    ck_assert(info.user_pin_initialized);
    ck_assert_int_eq(info.user_pin_state, TK_PIN_OK);
    ck_assert_uint_eq(info.min_pin_length, 4);
    ck_assert_uint_eq(info.max_pin_length, 8);
    tk_token_info_done(&info);

    /* The card's answer over PC/SC, without spending a try, agrees with the card itself. */
    int user, so, puk, tries, puk_tries;
    TkError error = {};
    ck_assert_int_eq(
        tk_pcsc_probe_retries(sim_env("TOKEND_SIM_READER_0"), &user, &so, &puk, &error), 0);
    card_counters(&tries, &puk_tries);
    ck_assert_int_eq(user, tries);
    ck_assert_int_eq(user, 3);
    ck_assert_int_eq(so, 3);
    ck_assert_int_eq(puk, -1); /* MyEID has no way to read the PUK's counter */
    card_counters(&tries, &puk_tries);
    ck_assert_int_eq(tries, 3);
}
END_TEST

static EVP_PKEY *pem_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(k);
    return k;
}

static X509_REQ *pem_request(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(req);
    return req;
}

static void keygen_and_request(const char *pin_value, TkKeySpec spec, const uint8_t *id,
                               size_t id_len, int type, int bits)
{
    _cleanup_secret_ TkSecret *pin = secret(pin_value);
    uint8_t *ret_id = NULL;
    size_t ret_id_len = 0;
    char *pub = NULL, *csr = NULL;
    TkError error = {};
    int r = tk_token_generate_key(token, pin, spec, tk_key_spec_to_string(spec), id, id_len,
                                  &ret_id, &ret_id_len, &pub, &error);
    ck_assert_msg(r == 0, "%s: %s", tk_key_spec_to_string(spec), error.message);
    ck_assert_mem_eq(ret_id, id, id_len);

    EVP_PKEY *key = pem_key(pub);
    ck_assert_int_eq(EVP_PKEY_get_base_id(key), type);
    ck_assert_int_eq(EVP_PKEY_get_bits(key), bits);

    r = tk_token_create_request(token, pin, id, id_len, "CN=Ada Lovelace,O=Agency,C=DE", NULL, NULL,
                                &csr, &error);
    ck_assert_msg(r == 0, "request: %s", error.message);
    /* Signed on the card by the key whose public half came back from the keygen. */
    X509_REQ *req = pem_request(csr);
    ck_assert_int_eq(X509_REQ_verify(req, key), 1);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    free(ret_id);
    free(pub);
    free(csr);
}

START_TEST(keys_generated_on_card_sign_requests)
{
    keygen_and_request(first_pin(), TK_KEY_EC_P256, ec_id, sizeof(ec_id), EVP_PKEY_EC, 256);
    keygen_and_request(first_pin(), TK_KEY_EC_P384, ec384_id, sizeof(ec384_id), EVP_PKEY_EC, 384);
    keygen_and_request(first_pin(), TK_KEY_RSA2048, rsa_id, sizeof(rsa_id), EVP_PKEY_RSA, 2048);

    _cleanup_secret_ TkSecret *pin = secret(first_pin());
    TkObject *objs;
    size_t n, private_keys = 0;
    TkError error = {};
    ck_assert_int_eq(tk_token_list_objects(token, pin, &objs, &n, &error), 0);
    for (size_t i = 0; i < n; i++)
        if (objs[i].object_class == TK_OBJECT_PRIVATE_KEY) {
            private_keys++;
            if (objs[i].id_len == sizeof(ec384_id) && memcmp(objs[i].id, ec384_id, 2) == 0)
                ck_assert_str_eq(objs[i].curve, "P-384");
            if (objs[i].id_len == sizeof(rsa_id) && memcmp(objs[i].id, rsa_id, 2) == 0)
                ck_assert_uint_eq(objs[i].bits, 2048);
        }
    tk_object_array_free(objs, n);
    ck_assert_uint_eq(private_keys, 3);
}
END_TEST

/* A CA of the test's own, to issue a certificate for the card's key. */
static X509 *issue(X509_REQ *req, EVP_PKEY *ca_key, X509 **ret_ca)
{
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    if (!ca_key) {
        ck_assert_int_gt(EVP_PKEY_keygen_init(kctx), 0);
        ck_assert_int_gt(EVP_PKEY_CTX_set_group_name(kctx, "prime256v1"), 0);
        ck_assert_int_gt(EVP_PKEY_generate(kctx, &k), 0);
        ca_key = k;
    }
    EVP_PKEY_CTX_free(kctx);

    X509 *ca = X509_new();
    X509_NAME *ca_name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(ca_name, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA", -1,
                               -1, 0);
    X509_set_version(ca, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
    X509_set_subject_name(ca, ca_name);
    X509_set_issuer_name(ca, ca_name);
    X509_gmtime_adj(X509_getm_notBefore(ca), 0);
    X509_gmtime_adj(X509_getm_notAfter(ca), 86400);
    X509_set_pubkey(ca, ca_key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca, ca, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_EXTENSION *ku = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign");
    ck_assert(bc && ku && X509_add_ext(ca, bc, -1) && X509_add_ext(ca, ku, -1));
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
    ck_assert_int_gt(X509_sign(ca, ca_key, EVP_sha256()), 0);

    X509 *cert = X509_new();
    EVP_PKEY *subject_key = X509_REQ_get_pubkey(req);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 2);
    X509_set_subject_name(cert, X509_REQ_get_subject_name(req));
    X509_set_issuer_name(cert, ca_name);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, subject_key);
    ck_assert_int_gt(X509_sign(cert, ca_key, EVP_sha256()), 0);
    EVP_PKEY_free(subject_key);
    X509_NAME_free(ca_name);
    EVP_PKEY_free(k);
    *ret_ca = ca;
    return cert;
}

static size_t der(X509 *x, uint8_t **ret)
{
    *ret = NULL;
    int n = i2d_X509(x, ret);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

START_TEST(certificate_import_is_checked_against_the_card_key)
{
    _cleanup_secret_ TkSecret *pin = secret(first_pin());
    TkError error = {};
    char *csr = NULL;
    ck_assert_int_eq(tk_token_create_request(token, pin, ec_id, sizeof(ec_id), "CN=Ada Lovelace",
                                             NULL, NULL, &csr, &error),
                     0);
    X509_REQ *req = pem_request(csr);
    X509 *ca = NULL;
    X509 *cert = issue(req, NULL, &ca);
    uint8_t *cert_der, *ca_der, *id = NULL;
    size_t cert_len = der(cert, &cert_der), ca_len = der(ca, &ca_der), id_len = 0;
    TkBlob chain = {ca_der, ca_len};

    int r = tk_token_import_certificate(token, pin, cert_der, cert_len, &chain, 1, &id, &id_len,
                                        &error);
    ck_assert_msg(r == 0, "import: %s", error.message);
    ck_assert_mem_eq(id, ec_id, sizeof(ec_id));
    free(id);
    id = NULL;

    /* Again: a duplicate, refused, nothing written. */
    error = (TkError){};
    r = tk_token_import_certificate(token, pin, cert_der, cert_len, NULL, 0, &id, &id_len, &error);
    ck_assert_int_eq(r, -EEXIST);
    ck_assert_str_eq(error.name, TK_ERROR_DUPLICATE);

    /* The CA's own certificate matches no key on the card. */
    error = (TkError){};
    r = tk_token_import_certificate(token, pin, ca_der, ca_len, NULL, 0, &id, &id_len, &error);
    ck_assert_int_eq(r, -ENOKEY);
    ck_assert_str_eq(error.name, TK_ERROR_NO_MATCHING_KEY);

    TkObject *objs;
    size_t n, certs = 0;
    ck_assert_int_eq(tk_token_list_objects(token, NULL, &objs, &n, &error), 0);
    for (size_t i = 0; i < n; i++)
        if (objs[i].object_class == TK_OBJECT_CERTIFICATE) {
            certs++;
            ck_assert(strstr(objs[i].subject, "Ada Lovelace") ||
                      strstr(objs[i].subject, "Test CA"));
        }
    tk_object_array_free(objs, n);
    ck_assert_uint_eq(certs, 2); /* the holder's and the CA's */

    OPENSSL_free(cert_der);
    OPENSSL_free(ca_der);
    X509_free(cert);
    X509_free(ca);
    X509_REQ_free(req);
    free(csr);
}
END_TEST

static size_t public_objects(void)
{
    TkObject *objs;
    size_t n;
    TkError error = {};
    ck_assert_int_eq(tk_token_list_objects(token, NULL, &objs, &n, &error), 0);
    tk_object_array_free(objs, n);
    return n;
}

START_TEST(wrong_pins_count_down_and_lock)
{
    _cleanup_secret_ TkSecret *wrong = secret(WRONG_PIN);
    _cleanup_secret_ TkSecret *next = secret(NEW_PIN);
    int tries, puk;
    static const TkPinState want[] = {TK_PIN_OK, TK_PIN_FINAL_TRY, TK_PIN_LOCKED};

    for (int i = 1; i <= 3; i++) {
        TkError error = {};
        int r = tk_token_change_pin(token, TK_USER, wrong, next, &error);
        ck_assert_int_lt(r, 0);
        if (i < 3)
            ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
        else
            ck_assert_msg(strcmp(error.name, TK_ERROR_PIN_INCORRECT) == 0 ||
                              strcmp(error.name, TK_ERROR_PIN_LOCKED) == 0,
                          "third wrong PIN gave %s", error.name);
        card_counters(&tries, &puk);
        ck_assert_int_eq(tries, 3 - i);
        /* OpenSC's flags, as read afresh; MyEID gives no count-low, as FACTS.md says. */
        TkTokenInfo info = info_now();
        ck_assert_msg(info.user_pin_state == want[i - 1] ||
                          (i == 1 && info.user_pin_state == TK_PIN_COUNT_LOW),
                      "after %d wrong: %s", i, tk_pin_state_to_string(info.user_pin_state));
        tk_token_info_done(&info);
    }

    /* Locked: even the right PIN is refused now, and no try is spent on it. */
    _cleanup_secret_ TkSecret *right = secret(first_pin());
    TkError error = {};
    ck_assert_int_lt(tk_token_change_pin(token, TK_USER, right, next, &error), 0);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_LOCKED);
    int user, so, puk_probe;
    ck_assert_int_eq(
        tk_pcsc_probe_retries(sim_env("TOKEND_SIM_READER_0"), &user, &so, &puk_probe, &error), 0);
    ck_assert_int_eq(user, 0);
}
END_TEST

START_TEST(wrong_puk_lowers_only_the_puk_counter)
{
    int tries, puk_before, puk_after;
    card_counters(&tries, &puk_before);
    ck_assert_int_eq(tries, 0);
    size_t objects = public_objects();

    _cleanup_secret_ TkSecret *wrong = secret(WRONG_PUK);
    _cleanup_secret_ TkSecret *next = secret(NEW_PIN);
    TkError error = {};
    ck_assert_int_lt(tk_token_unblock_pin(token, wrong, next, &error), 0);
    ck_assert_msg(strcmp(error.name, TK_ERROR_PIN_INCORRECT) == 0, "wrong PUK gave %s: %s",
                  error.name, error.message);

    card_counters(&tries, &puk_after);
    ck_assert_int_eq(puk_after, puk_before - 1);
    ck_assert_int_eq(tries, 0);
    ck_assert_uint_eq(public_objects(), objects);
    TkTokenInfo info = info_now();
    ck_assert_int_eq(info.user_pin_state, TK_PIN_LOCKED);
    tk_token_info_done(&info);
}
END_TEST

START_TEST(puk_unblocks_and_the_new_pin_works)
{
    _cleanup_secret_ TkSecret *puk = secret(sim_env("TOKEND_SIM_PUK"));
    _cleanup_secret_ TkSecret *next = secret(NEW_PIN);
    TkError error = {};
    int r = tk_token_unblock_pin(token, puk, next, &error);
    ck_assert_msg(r == 0, "unblock: %s", error.message);

    int tries, puk_tries, max_puk;
    char reply[128];
    card_counters(&tries, &puk_tries);
    ck_assert_int_eq(tries, 3);
    ck_assert_int_eq(sim_control(0, "pin 1", reply, sizeof(reply)), 0);
    ck_assert_int_eq(sscanf(strstr(reply, "puk="), "puk=%*d/%d", &max_puk), 1);
    ck_assert_int_eq(puk_tries, max_puk);

    TkTokenInfo info = info_now();
    ck_assert_int_eq(info.user_pin_state, TK_PIN_OK);
    tk_token_info_done(&info);

    TkObject *objs;
    size_t n;
    ck_assert_int_eq(tk_token_list_objects(token, next, &objs, &n, &error), 0);
    tk_object_array_free(objs, n);
    ck_assert_uint_gt(n, public_objects()); /* the private keys show with the new PIN */
}
END_TEST

START_TEST(delete_removes_a_key_pair)
{
    _cleanup_secret_ TkSecret *pin = secret(NEW_PIN);
    TkError error = {};
    size_t before = public_objects();
    int r =
        tk_token_delete_object(token, pin, TK_OBJECT_PRIVATE_KEY, rsa_id, sizeof(rsa_id), &error);
    ck_assert_msg(r == 0, "delete: %s", error.message);
    ck_assert_uint_eq(public_objects(), before - 1); /* the public key went with it */
    r = tk_token_delete_object(token, pin, TK_OBJECT_PRIVATE_KEY, rsa_id, sizeof(rsa_id), &error);
    ck_assert_int_eq(r, -ENOENT);
}
END_TEST

static void *pull_card(void *userdata)
{
    sleep_ms(*(unsigned *)userdata);
    (void)sim_control(0, "remove", NULL, 0);
    return NULL;
}

START_TEST(card_pulled_mid_keygen_gives_a_clear_error)
{
    _cleanup_secret_ TkSecret *pin = secret(NEW_PIN);
    static const uint8_t id[] = {0x0F, 0xF1};
    uint8_t *ret_id = NULL;
    size_t ret_id_len = 0;
    char *pub = NULL;
    TkError error = {};
    unsigned pull_after_ms = 600;
    pthread_t thread;

    /* Slow the card down so the keygen is surely under way when the card goes. */
    ck_assert_int_eq(sim_control(0, "delay 40", NULL, 0), 0);
    ck_assert_int_eq(pthread_create(&thread, NULL, pull_card, &pull_after_ms), 0);
    int r = tk_token_generate_key(token, pin, TK_KEY_EC_P256, "pulled", id, sizeof(id), &ret_id,
                                  &ret_id_len, &pub, &error);
    pthread_join(thread, NULL);
    ck_assert_int_eq(sim_control(0, "delay 0", NULL, 0), 0);
    ck_assert_int_lt(r, 0);
    ck_assert_msg(strcmp(error.name, TK_ERROR_TOKEN_REMOVED) == 0, "pulled card gave %s: %s",
                  error.name, error.message);
    ck_assert_uint_gt(strlen(error.message), 0);

    /* Back in: a fresh look at the module finds the card, and it works. */
    teardown();
    ck_assert_int_eq(sim_control(0, "insert", NULL, 0), 0);
    for (int i = 0; i < 50; i++) {
        error = (TkError){};
        if (open_card(&error) == 0)
            break;
        teardown();
        sleep_ms(100);
    }
    ck_assert_msg(token, "card not back: %s", error.message);
    keygen_and_request(NEW_PIN, TK_KEY_EC_P256, id, sizeof(id), EVP_PKEY_EC, 256);
}
END_TEST

/* The card's own erase, as Initialize uses it: a wrong SO PIN spends one SO PIN try, reports the
 * tries left and erases nothing; the right one leaves the card in its creation state. Last, since
 * it leaves the card blank. */
START_TEST(myeid_erase_needs_the_so_pin_and_erases_nothing_without_it)
{
    const char *reader = sim_env("TOKEND_SIM_READER_0");
    size_t before = public_objects();
    ck_assert_uint_gt(before, 0);
    /* OpenSC lets go of the card while it is erased, as in tk_card_initialize(). */
    teardown();

    _cleanup_secret_ TkSecret *wrong = secret("13572468");
    TkError error = {};
    int so, puk, so_before;
    ck_assert_int_eq(sim_pin_counters(0, 3, &so_before, &puk), 0);
    ck_assert_int_eq(tk_myeid_erase(reader, wrong, &error), -ENOLCK);
    ck_assert_str_eq(error.name, TK_ERROR_PIN_INCORRECT);
    ck_assert_ptr_nonnull(strstr(error.message, "tries left"));
    ck_assert_int_eq(sim_pin_counters(0, 3, &so, &puk), 0);
    ck_assert_int_eq(so, so_before - 1);
    char reply[256];
    ck_assert_int_eq(sim_control(0, "status", reply, sizeof(reply)), 0);
    ck_assert_msg(strstr(reply, "activated=1"), "%s", reply);
    setup();
    ck_assert_uint_eq(public_objects(), before);
    teardown();

    _cleanup_secret_ TkSecret *right = secret(sim_env("TOKEND_SIM_SO_PIN"));
    error = (TkError){};
    ck_assert_msg(tk_myeid_erase(reader, right, &error) == 0, "erase: %s", error.message);
    ck_assert_int_eq(sim_control(0, "status", reply, sizeof(reply)), 0);
    ck_assert_msg(strstr(reply, "activated=0"), "%s", reply);
    /* In its creation state the card is erased again without any PIN. */
    ck_assert_msg(tk_myeid_erase(reader, NULL, &error) == 0, "erase: %s", error.message);
}
END_TEST

static Suite *card_suite(void)
{
    Suite *s = suite_create("card");
    TCase *tc = tcase_create("libtoken");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, card_listed_with_its_identity_and_counters);
    tcase_add_test(tc, keys_generated_on_card_sign_requests);
    tcase_add_test(tc, certificate_import_is_checked_against_the_card_key);
    tcase_add_test(tc, wrong_pins_count_down_and_lock);
    tcase_add_test(tc, wrong_puk_lowers_only_the_puk_counter);
    tcase_add_test(tc, puk_unblocks_and_the_new_pin_works);
    tcase_add_test(tc, delete_removes_a_key_pair);
    tcase_add_test(tc, card_pulled_mid_keygen_gives_a_clear_error);
    tcase_add_test(tc, myeid_erase_needs_the_so_pin_and_erases_nothing_without_it);
    suite_add_tcase(s, tc);
    return s;
}

static const char *no_harness(void)
{
    if (!sim_env("TOKEND_SIM_CONTROL_0") || !sim_env("TOKEND_SIM_PIN"))
        return "not run under tests/harness/tokend-test-env";
    return NULL;
}

TK_TEST_MAIN_UNLESS(no_harness, card_suite())
