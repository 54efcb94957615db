/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Provisioning speed on a SoftHSM2 token: libtoken's key generation (and request signing)
 * against OpenSC's pkcs11-tool doing the same key generation, in one run, side by side.
 * pkcs11-tool pays for a process start and a module load per key, which is what a provisioning
 * script that shells out to it pays too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "softhsm-fixture.h"
#include "tk-run.h"
#include "tk-test.h"

#define SO_PIN   "bench-so-pin"
#define USER_PIN "520731"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double libtoken_keygen(SofthsmFixture *f, TkKeySpec spec, int n, bool with_request)
{
    TkSecret *pin;
    tk_secret_new_string(USER_PIN, &pin);
    double start = now();
    for (int i = 0; i < n; i++) {
        uint8_t *id;
        size_t id_len;
        char *pem, *req = NULL;
        TkError error = {};
        if (tk_token_generate_key(f->token, pin, spec, "bench", NULL, 0, &id, &id_len, &pem,
                                  &error) < 0 ||
            (with_request && tk_token_create_request(f->token, pin, id, id_len, "CN=Bench", NULL,
                                                     NULL, &req, &error) < 0)) {
            fprintf(stderr, "libtoken: %s\n", error.message);
            exit(EXIT_FAILURE);
        }
        free(id);
        free(pem);
        free(req);
    }
    double elapsed = now() - start;
    tk_secret_free(pin);
    return elapsed;
}

static double tool_keygen(SofthsmFixture *f, const char *key_type, int n)
{
    double start = now();
    for (int i = 0; i < n; i++) {
        char id[16], *out;
        snprintf(id, sizeof(id), "%04x", 0x8000 + i);
        if (softhsm_pkcs11_tool(f, &out, "--login", "--pin", USER_PIN, "--keypairgen", "--key-type",
                                key_type, "--id", id, "--label", "bench", NULL) != 0) {
            fprintf(stderr, "pkcs11-tool: %s\n", out);
            exit(EXIT_FAILURE);
        }
        free(out);
    }
    return now() - start;
}

/* theirs < 0: the reference tool has no such operation. */
static void row(const char *what, int n, double ours, double theirs)
{
    if (theirs < 0)
        printf("%-28s %5d %12.1f %14s %9s\n", what, n, ours * 1000 / n, "-", "-");
    else
        printf("%-28s %5d %12.1f %14.1f %8.2fx\n", what, n, ours * 1000 / n, theirs * 1000 / n,
               theirs / ours);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    SofthsmFixture f;
    int r = softhsm_fixture_setup(&f, "bench", SO_PIN, USER_PIN);
    if (r == -ENOPKG)
        return TK_TEST_SKIP;
    if (r < 0)
        return EXIT_FAILURE;

    printf("SoftHSM2 provisioning, %d keys per row, milliseconds per key\n", n);
    printf("%-28s %5s %12s %14s %9s\n", "operation", "n", "libtoken", "pkcs11-tool", "ratio");
    row("keygen ec-p256", n, libtoken_keygen(&f, TK_KEY_EC_P256, n, false),
        tool_keygen(&f, "EC:prime256v1", n));
    row("keygen rsa2048", n / 4 + 1, libtoken_keygen(&f, TK_KEY_RSA2048, n / 4 + 1, false),
        tool_keygen(&f, "rsa:2048", n / 4 + 1));
    row("keygen ec-p256 + CSR", n, libtoken_keygen(&f, TK_KEY_EC_P256, n, true), -1);

    softhsm_fixture_teardown(&f);
    return 0;
}
