/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend-worker: runs the PKCS#11 side of tokend for one token (or, with --scan, polls one
 * module's slots), in its own process with its own module instance. It serves
 * org.tokend.Worker1 to the main process over the socketpair on fd 3. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-error.h"
#include "log.h"
#include "worker-main.h"
#include "worker-protocol.h"

/* Every call from tokend may carry a PIN in its options: each is wiped when freed, however
 * far its handler got in reading it. Error replies are marked where they are made. */
static int mark_sensitive(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    (void)sd_bus_message_sensitive(m);
    return 0;
}

static int open_bus(sd_bus **ret)
{
    _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
    sd_id128_t id;
    /* The errors it replies with are tokend's, by name and errno. */
    int r = tk_bus_error_register();
    if (r < 0)
        return r;
    r = sd_bus_new(&bus);
    if (r < 0)
        return r;
    r = sd_bus_set_fd(bus, WORKER_FD, WORKER_FD);
    if (r < 0)
        return r;
    r = sd_id128_randomize(&id);
    if (r < 0)
        return r;
    r = sd_bus_set_server(bus, 1, id);
    if (r < 0)
        return r;
    r = sd_bus_add_filter(bus, NULL, mark_sensitive, NULL);
    if (r < 0)
        return r;
    r = sd_bus_start(bus);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(bus);
    return 0;
}

static int serve(sd_bus *bus)
{
    for (;;) {
        int r = sd_bus_process(bus, NULL);
        if (r < 0)
            return r == -ECONNRESET || r == -ENOTCONN ? 0 : r;
        if (r > 0)
            continue;
        r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0)
            return r;
    }
}

static void help(void)
{
    printf("Usage: tokend-worker --module PATH (--scan [--interval-ms N, 0: on request] | --serial "
           "SERIAL "
           "[--unblock-with-puk])\n\n"
           "The PKCS#11 side of tokend, started by tokend with a socketpair on fd 3.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"module", required_argument, NULL, 'm'},
        {"scan", no_argument, NULL, 's'},
        {"interval-ms", required_argument, NULL, 'i'},
        {"serial", required_argument, NULL, 'S'},
        {"unblock-with-puk", no_argument, NULL, 'p'},
        {},
    };
    WorkerContext w = {.ledger_failed = -1};
    const char *module_path = NULL;
    bool scanner = false;
    uint64_t interval_usec = 2000000;
    int c, r;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
        switch (c) {
        case 'h':
            help();
            return EXIT_SUCCESS;
        case 'm':
            module_path = optarg;
            break;
        case 's':
            scanner = true;
            break;
        case 'i':
            interval_usec = strtoull(optarg, NULL, 10) * 1000u;
            break;
        case 'S':
            free(w.serial);
            w.serial = strdup(optarg);
            if (!w.serial)
                return EXIT_FAILURE;
            break;
        case 'p':
            w.unblock_with_puk = true;
            break;
        default:
            return 2;
        }
    if (!module_path || (!scanner && !w.serial)) {
        help();
        return 2;
    }

    w.module_path = module_path;
    TkError e = {};
    r = scanner ? 0 : tk_module_load(module_path, &w.module, &e);
    if (r < 0) {
        log_error("%s", e.message);
        return EXIT_FAILURE;
    }
    r = open_bus(&w.bus);
    if (r < 0) {
        log_error_errno(r, "cannot talk to tokend: %m");
        tk_module_free(w.module);
        return EXIT_FAILURE;
    }

    if (scanner)
        r = worker_scan(w.bus, module_path, interval_usec);
    else {
        r = tk_token_open(w.module, w.serial, &w.token, &e);
        if (r < 0)
            log_error("%s", e.message);
        else
            r = worker_token_publish(&w);
        if (r >= 0)
            r = serve(w.bus);
    }
    sd_bus_flush_close_unref(w.bus);
    tk_token_free(w.token);
    tk_module_free(w.module);
    free(w.serial);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
