/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend-worker: runs the PKCS#11 side of tokend for one token (or, with --scan, polls one
 * module's slots), in its own process with its own module instance. It serves
 * org.tokend.Worker1 to the main process over the socketpair on fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus-error.h"
#include "io-util.h"
#include "log.h"
#include "operations.h"
#include "worker-launch.h"
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

/* Arms the deadline of the call about to be dispatched: its operation's limit and the slack
 * (worker-protocol.h), within the ceiling tokend gave (--call-timeout, 0: none). serve() ends
 * it when the call is done. */
static int arm_call_deadline(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    const unsigned *ceiling_sec = userdata;
    uint64_t limit = 0;

    if (sd_bus_message_is_method_call(m, NULL, NULL) > 0)
        limit = operation_member_timeout_usec(sd_bus_message_get_member(m), 0);
    if (limit == 0)
        return 0;
    unsigned sec = (unsigned)(limit / 1000000u) + WORKER_CALL_TIMEOUT_SLACK_SEC;
    alarm(*ceiling_sec > 0 && *ceiling_sec < sec ? *ceiling_sec : sec);
    return 0;
}

/* Serves tokend's calls until it goes. A call that outlasts its deadline ends the process: a
 * module stuck in a card never returns, and tokend, which may not be able to signal a worker of
 * another user, then sees the connection close. */
static int serve(sd_bus *bus, unsigned call_timeout_sec)
{
    int r = sd_bus_add_filter(bus, NULL, arm_call_deadline, &call_timeout_sec);
    if (r < 0)
        return r;
    for (;;) {
        alarm(call_timeout_sec);
        r = sd_bus_process(bus, NULL);
        alarm(0);
        if (r < 0)
            return r == -ECONNRESET || r == -ENOTCONN ? 0 : r;
        if (r > 0)
            continue;
        r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0)
            return r;
    }
}

/* The private OpenSC configuration of a socket-activated worker, removed however the worker
 * ends: its own time limit (SIGALRM) and systemd's stop (SIGTERM) included. */
static char *opensc_conf_path;

/* At exit, however main() returns: the file, then the path. */
static void unlink_and_freep(char **path)
{
    if (*path)
        (void)unlink(*path);
    free(*path);
}

static void on_fatal_signal(int sig)
{
    if (opensc_conf_path)
        (void)unlink(opensc_conf_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Socket activation: systemd passes tokend's connection as the one listening fd (3), and the
 * launch frame on it gives what tokend would otherwise put on the command line (returned as
 * a new argv behind argv0) and in OPENSC_CONF (written to a private file, whose path is
 * returned for removal at exit). */
static int read_launch(const char *argv0, char ***ret_argv, char **ret_conf_path)
{
    _cleanup_strv_free_ char **args = NULL;
    _cleanup_free_ char *conf = NULL, *path = NULL;
    int n = sd_listen_fds(true);
    if (n < 0)
        return n;
    if (n != 1)
        return -EBADF;
    int r = worker_launch_read(WORKER_FD, &args, &conf);
    if (r < 0)
        return r;
    size_t count = strv_length(args);
    _cleanup_strv_free_ char **argv = calloc(count + 2, sizeof(char *));
    if (!argv || !(argv[0] = strdup(argv0)))
        return -ENOMEM;
    memcpy(argv + 1, args, count * sizeof(char *));
    free(TAKE_PTR(args)); /* the strings now belong to argv */
    if (conf) {
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&path, "%s/tokend-worker-opensc.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
            return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
            return -errno;
        r = tk_write_all(fd, conf, strlen(conf));
        if (r < 0 || setenv("OPENSC_CONF", path, 1) < 0) {
            (void)unlink(path);
            return r < 0 ? r : -errno;
        }
    }
    *ret_argv = TAKE_PTR(argv);
    *ret_conf_path = TAKE_PTR(path);
    return 0;
}

static void help(void)
{
    printf(
        "Usage: tokend-worker --module PATH (--scan [--interval-ms N, 0: on request] [--reader "
        "NAME] | --serial SERIAL [--unblock-with-puk]) [--call-timeout SEC]\n"
        "       tokend-worker --socket\n\n"
        "The PKCS#11 side of tokend, started by tokend with a socketpair on fd 3, or by systemd\n"
        "for a connection to the worker socket (--socket), whose first message gives the rest.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"module", required_argument, NULL, 'm'},
        {"scan", no_argument, NULL, 's'},
        {"reader", required_argument, NULL, 'r'},
        {"interval-ms", required_argument, NULL, 'i'},
        {"serial", required_argument, NULL, 'S'},
        {"unblock-with-puk", no_argument, NULL, 'p'},
        {"call-timeout", required_argument, NULL, 't'},
        {},
    };
    WorkerContext w = {.ledger_failed = -1};
    const char *module_path = NULL, *reader = NULL;
    bool scanner = false;
    uint64_t interval_usec = 2000000;
    unsigned call_timeout_sec = 0;
    _cleanup_strv_free_ char **launch_argv = NULL;
    _cleanup_(unlink_and_freep) char *conf_path = NULL;
    int c, r;

    if (argc == 2 && streq(argv[1], "--socket")) {
        r = read_launch(argv[0], &launch_argv, &conf_path);
        if (r < 0) {
            log_error_errno(r, "cannot read what to do from tokend's connection: %m");
            return EXIT_FAILURE;
        }
        argv = launch_argv;
        argc = (int)strv_length(argv);
        opensc_conf_path = conf_path;
        signal(SIGALRM, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
    }

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
        case 'r':
            reader = optarg;
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
        case 't': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || v > 86400) {
                log_error("--call-timeout: expected seconds up to 86400, got %s", optarg);
                return 2;
            }
            call_timeout_sec = (unsigned)v;
            break;
        }
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
        free(w.serial);
        return EXIT_FAILURE;
    }
    r = open_bus(&w.bus);
    if (r < 0) {
        log_error_errno(r, "cannot talk to tokend: %m");
        tk_module_free(w.module);
        free(w.serial);
        return EXIT_FAILURE;
    }

    if (scanner)
        r = worker_scan(w.bus, module_path, reader, interval_usec, call_timeout_sec);
    else {
        r = tk_token_open(w.module, w.serial, &w.token, &e);
        if (r < 0)
            log_error("%s", e.message);
        else
            r = worker_token_publish(&w);
        if (r >= 0)
            r = serve(w.bus, call_timeout_sec);
    }
    sd_bus_flush_close_unref(w.bus);
    tk_token_free(w.token);
    tk_module_free(w.module);
    free(w.serial);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
