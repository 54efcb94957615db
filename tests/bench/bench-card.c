/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Speed on the simulated MyEID card through OpenSC: libtoken against OpenSC's own tools doing
 * the same work, in one run, side by side; first with the simulator answering at once, then
 * with a per-APDU delay that models a real token's speed. Run under the card harness. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pcsc-probe.h"
#include "sim-control.h"
#include "tk-run.h"
#include "token.h"

static TkModule *module;
static TkToken *token;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench-card: %s: %s\n", what, why);
    exit(EXIT_FAILURE);
}

static void open_card(void)
{
    TkTokenInfo *infos;
    size_t n;
    TkError error = {};
    if (tk_module_load(OPENSC_MODULE, &module, &error) < 0 ||
        tk_module_list_tokens(module, &infos, &n, &error) < 0)
        die("opensc", error.message);
    for (size_t i = 0; i < n; i++)
        if (strcmp(infos[i].slot_description, sim_env("TOKEND_SIM_READER_0")) == 0 &&
            tk_token_open(module, infos[i].serial, &token, &error) < 0)
            die("open", error.message);
    tk_token_info_array_free(infos, n);
    if (!token)
        die("open", "no card in the harness's reader");
}

static void id_of(int i, uint8_t id[2], char hex[5])
{
    id[0] = 0xB0;
    id[1] = (uint8_t)i;
    snprintf(hex, 5, "%02x%02x", id[0], id[1]);
}

static void delete_keys(int n)
{
    TkSecret *pin;
    tk_secret_new_string(sim_env("TOKEND_SIM_PIN"), &pin);
    for (int i = 0; i < n; i++) {
        uint8_t id[2];
        char hex[5];
        TkError error = {};
        id_of(i, id, hex);
        (void)tk_token_delete_object(token, pin, TK_OBJECT_PRIVATE_KEY, id, 2, &error);
    }
    tk_secret_free(pin);
}

static double libtoken_keygen(int n)
{
    TkSecret *pin;
    tk_secret_new_string(sim_env("TOKEND_SIM_PIN"), &pin);
    double start = now();
    for (int i = 0; i < n; i++) {
        uint8_t id[2], *ret_id;
        char hex[5], *pem;
        size_t ret_len;
        TkError error = {};
        id_of(i, id, hex);
        if (tk_token_generate_key(token, pin, TK_KEY_EC_P256, "bench", id, 2, &ret_id, &ret_len,
                                  &pem, &error) < 0)
            die("libtoken keygen", error.message);
        free(ret_id);
        free(pem);
    }
    double elapsed = now() - start;
    tk_secret_free(pin);
    delete_keys(n);
    return elapsed;
}

static double tool_keygen(int n)
{
    double start = now();
    for (int i = 0; i < n; i++) {
        uint8_t id[2];
        char hex[5], *out = NULL;
        id_of(i, id, hex);
        /* The PIN comes from the environment, never the command line. */
        char *argv[] = {
            "pkcs11-tool",  "--module",   OPENSC_MODULE,   "--login", "--pin", "env:TOKEND_SIM_PIN",
            "--keypairgen", "--key-type", "EC:prime256v1", "--id",    hex,     "--label",
            "bench",        NULL};
        if (tk_run(argv, NULL, &out) != 0)
            die("pkcs11-tool", out ? out : "failed");
        free(out);
    }
    double elapsed = now() - start;
    delete_keys(n);
    return elapsed;
}

static double libtoken_probe(int n)
{
    double start = now();
    for (int i = 0; i < n; i++) {
        int user, so, puk;
        TkError error = {};
        if (tk_pcsc_probe_retries(sim_env("TOKEND_SIM_READER_0"), &user, &so, &puk, &error) < 0)
            die("probe", error.message);
    }
    return now() - start;
}

static double tool_probe(int n)
{
    double start = now();
    for (int i = 0; i < n; i++) {
        char *out = NULL;
        char *argv[] = {"opensc-tool", "--reader",    (char *)sim_env("TOKEND_SIM_READER_0"),
                        "-s",          "00 20 00 01", "-s",
                        "00 20 00 03", NULL};
        if (tk_run(argv, NULL, &out) != 0)
            die("opensc-tool", out ? out : "failed");
        free(out);
    }
    return now() - start;
}

/* One process, one card session, many APDUs: the simulator's round trip through pcscd. */
static double tool_apdus(int n)
{
    char **argv = calloc((size_t)(2 * n + 4), sizeof(char *));
    int k = 0;
    argv[k++] = "opensc-tool";
    argv[k++] = "--reader";
    argv[k++] = (char *)sim_env("TOKEND_SIM_READER_0");
    for (int i = 0; i < n; i++) {
        argv[k++] = "-s";
        argv[k++] = "00 CA 01 A0 14";
    }
    char *out = NULL;
    double start = now();
    if (tk_run(argv, NULL, &out) != 0)
        die("opensc-tool", out ? out : "failed");
    double elapsed = now() - start;
    free(out);
    free(argv);
    return elapsed;
}

static void row(const char *what, int n, double ours, double theirs)
{
    if (ours < 0)
        printf("%-30s %5d %12s %14.2f %9s\n", what, n, "-", theirs * 1000 / n, "-");
    else
        printf("%-30s %5d %12.2f %14.2f %8.2fx\n", what, n, ours * 1000 / n, theirs * 1000 / n,
               theirs / ours);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    if (!sim_env("TOKEND_SIM_CONTROL_0") || !sim_env("TOKEND_SIM_PIN"))
        return 77;
    (void)dlopen(OPENSC_MODULE, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    open_card();

    static const unsigned delays[] = {0, 10};
    for (size_t d = 0; d < sizeof(delays) / sizeof(delays[0]); d++) {
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "delay %u", delays[d]);
        if (sim_control(0, cmd, NULL, 0) < 0)
            die("simulator", "the control socket refused the delay");
        printf("\nSimulated MyEID card, %u ms per APDU added; milliseconds per operation\n",
               delays[d]);
        printf("%-30s %5s %12s %14s %9s\n", "operation", "n", "libtoken", "OpenSC tool", "ratio");
        row("APDU round trip (opensc-tool)", 20 * n, -1, tool_apdus(20 * n));
        row("retry probe / opensc-tool -s", n, libtoken_probe(n), tool_probe(n));
        row("keygen ec-p256 / pkcs11-tool", n, libtoken_keygen(n), tool_keygen(n));
    }
    token = tk_token_free(token);
    module = tk_module_free(module);
    return 0;
}
