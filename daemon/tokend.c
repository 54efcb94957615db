/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend: owns org.tokend.Tokend1, keeps the token inventory and hands token operations to
 * one worker process per token. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "audit.h"
#include "bus-error.h"
#include "config.h"
#include "context.h"
#include "log.h"
#include "operations.h"
#include "retry-ledger.h"
#include "store.h"

static void help(void)
{
    printf("Usage: tokend [OPTIONS]\n\n"
           "Manages smart-card tokens and offers them on the system bus as org.tokend.Tokend1.\n\n"
           "  -h --help               Show this help\n"
           "     --version            Show the version\n"
           "     --config FILE        Read FILE instead of %s\n"
           "     --worker-path PATH   Run PATH as the token worker (default %s)\n"
           "     --worker-socket PATH Connect to PATH for each worker instead of starting it\n"
           "                          (socket activation: systemd starts one per connection)\n"
           "     --worker-timeout SEC Fail an operation that takes longer than SEC, or than its\n"
           "                          own limit where that is shorter (default: its own)\n"
           "     --scan-interval MS   Poll non-PC/SC modules' slots this often (default 2000)\n"
           "     --scanner-timeout SEC Restart a module's scanner whose poll takes longer\n"
           "                          (default 30)\n"
           "     --state-dir DIR      Keep the retry ledger in DIR (default %s)\n"
           "     --migrate            Bring the [Store] database's schema up to this tokend's,\n"
           "                          then exit (as the database's owner)\n"
           "     --connection STRING  Connect to the database so instead of [Store] Connection=\n",
           TOKEND_CONFIG_FILE, TOKEND_LIBEXECDIR "/tokend/tokend-worker", TOKEND_STATE_DIR);
}

static int parse_number(const char *s, unsigned long max, unsigned long *ret)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !*s || *end || v == 0 || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* An act that presented the secret the retry ledger counts, cut off by a killed tokend: the card
 * may have spent a try that nobody counted. It is counted as an attempt whose answer was lost,
 * which the final-try guard reckons with (a right PUK next time resets the count). */
static void count_interrupted_act(const char *operation, const char *serial, void *userdata)
{
    Context *c = userdata;
    const Operation *op = operation_find_recorded(operation);
    if (!op || op->ledger != LEDGER_JUDGED || isempty(serial))
        return;
    int r = store_ledger_record(c->store, serial, TK_LEDGER_UNKNOWN);
    if (r < 0)
        log_error_errno(r,
                        "Cannot count the interrupted %s of token %s in the retry ledger %s: "
                        "%m",
                        operation, serial, c->store->ledger_name);
    else
        log_warning("The %s of token %s was interrupted: counted in the retry ledger as an "
                    "attempt whose answer was lost, since the card may have spent a try.",
                    operation, serial);
}

/* Before any call is taken: a killed tokend's acts get their outcome. A trail that cannot be
 * read or written does not stop tokend, whose every act then refuses for want of an intent
 * record; the log says why. */
static void end_interrupted_acts(Context *c)
{
    TkError e = {};
    int r = audit_start(c->config.audit_file, count_interrupted_act, c, &e);
    if (r < 0)
        log_error_errno(r, "Cannot look for acts that the last run left without an outcome: %s",
                        e.message[0] ? e.message : strerror(-r));
    else if (r > 0)
        log_warning("%d act%s of the last run had no outcome: recorded as interrupted in %s.", r,
                    r == 1 ? "" : "s", c->config.audit_file);
}

/* tokend --migrate: the database's schema brought up to this tokend's. */
static int run_migrate(const Config *config)
{
    if (config->store_backend != STORE_POSTGRESQL)
        return log_error_errno(EINVAL, "--migrate: [Store] Backend=postgresql is not set: the "
                                       "files need no migration");
#if TOKEND_HAVE_POSTGRESQL
    TkError e = {};
    int r = store_pg_migrate(config, &e);
    if (r < 0)
        return log_error_errno(r,
                               "%s. The schema is applied by the database's owner, and grants to "
                               "the role tokend_station, which must exist (docs/office.md).",
                               e.message);
    return 0;
#else
    return log_error_errno(EOPNOTSUPP, "--migrate: this tokend was built without PostgreSQL");
#endif
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
    sd_notify(0, "STOPPING=1");
    return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int make_runtime_dir(Context *c)
{
    const char *d = getenv("RUNTIME_DIRECTORY");
    if (d && *d) {
        c->runtime_dir = strdup(d);
        return c->runtime_dir ? 0 : -ENOMEM;
    }
    const char *tmp = getenv("TMPDIR");
    if (asprintf(&c->runtime_dir, "%s/tokend.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
        return -ENOMEM;
    if (!mkdtemp(c->runtime_dir))
        return -errno;
    return 0;
}

static void remove_runtime_dir(Context *c)
{
    if (!c->runtime_dir || getenv("RUNTIME_DIRECTORY"))
        return;
    /* Only the per-worker OpenSC configurations live here. */
    char *argv[] = {"rm", "-rf", "--", c->runtime_dir, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

static void status(Context *c)
{
    size_t n = 0;
    for (Token *t = c->tokens; t; t = t->next)
        n++;
    sd_notifyf(0, "STATUS=Managing %zu token(s).", n);
}

static int on_status(sd_event_source *s, uint64_t usec, void *userdata)
{
    status(userdata);
    /* A time source is one-shot: a new time alone does not arm it again. */
    int r = sd_event_source_set_time_relative(s, 5000000);
    if (r >= 0)
        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return r;
}

int main(int argc, char **argv)
{
    enum {
        ARG_VERSION = 0x100,
        ARG_CONFIG,
        ARG_WORKER_PATH,
        ARG_WORKER_TIMEOUT,
        ARG_SCAN,
        ARG_STATE_DIR,
        ARG_WORKER_SOCKET,
        ARG_SCANNER_TIMEOUT,
        ARG_MIGRATE,
        ARG_CONNECTION,
    };
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, ARG_VERSION},
        {"config", required_argument, NULL, ARG_CONFIG},
        {"worker-path", required_argument, NULL, ARG_WORKER_PATH},
        {"worker-socket", required_argument, NULL, ARG_WORKER_SOCKET},
        {"worker-timeout", required_argument, NULL, ARG_WORKER_TIMEOUT},
        {"scan-interval", required_argument, NULL, ARG_SCAN},
        {"scanner-timeout", required_argument, NULL, ARG_SCANNER_TIMEOUT},
        {"state-dir", required_argument, NULL, ARG_STATE_DIR},
        {"migrate", no_argument, NULL, ARG_MIGRATE},
        {"connection", required_argument, NULL, ARG_CONNECTION},
        {},
    };
    Context c = {
        .scanner_timeout_usec = 30 * 1000000ull,
        .scan_interval_ms = 2000,
    };
    const char *config_file = TOKEND_CONFIG_FILE, *worker_path = NULL;
    const char *connection = NULL;
    bool config_given = false, migrate = false;
    unsigned long v;
    TkError e = {};
    int opt, r;

    log_parse_environment();
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
        switch (opt) {
        case 'h':
            help();
            return EXIT_SUCCESS;
        case ARG_VERSION:
            printf("tokend %s\n", TOKEND_VERSION);
            return EXIT_SUCCESS;
        case ARG_CONFIG:
            config_file = optarg;
            config_given = true;
            break;
        case ARG_WORKER_PATH:
            worker_path = optarg;
            break;
        case ARG_WORKER_SOCKET:
            free(c.worker_socket);
            c.worker_socket = strdup(optarg);
            if (!c.worker_socket)
                return EXIT_FAILURE;
            break;
        case ARG_WORKER_TIMEOUT:
            if (parse_number(optarg, 86400, &v) < 0) {
                log_error("--worker-timeout: expected seconds, got %s", optarg);
                return 2;
            }
            c.worker_timeout_usec = v * 1000000ull;
            break;
        case ARG_STATE_DIR:
            free(c.state_dir);
            c.state_dir = strdup(optarg);
            if (!c.state_dir)
                return EXIT_FAILURE;
            break;
        case ARG_MIGRATE:
            migrate = true;
            break;
        case ARG_CONNECTION:
            connection = optarg;
            break;
        case ARG_SCANNER_TIMEOUT:
            if (parse_number(optarg, 3600, &v) < 0) {
                log_error("--scanner-timeout: expected seconds, got %s", optarg);
                return 2;
            }
            c.scanner_timeout_usec = v * 1000000ull;
            break;
        case ARG_SCAN:
            if (parse_number(optarg, 3600000, &v) < 0) {
                log_error("--scan-interval: expected milliseconds, got %s", optarg);
                return 2;
            }
            c.scan_interval_ms = v;
            break;
        default:
            return 2;
        }
    if (optind < argc) {
        log_error("unexpected argument %s", argv[optind]);
        return 2;
    }

    r = config_init(&c.config);
    if (r >= 0)
        r = config_load(&c.config, config_file, !config_given, &e);
    if (r < 0) {
        if (e.message[0])
            log_error_errno(r, "%s", e.message);
        else
            log_error_errno(r, "%m");
        config_done(&c.config);
        return EXIT_FAILURE;
    }
    if (connection) {
        free(c.config.store_connection);
        c.config.store_connection = strdup(connection);
        if (!c.config.store_connection) {
            r = log_error_errno(ENOMEM, "%m");
            goto finish;
        }
    }
    if (migrate) {
        r = run_migrate(&c.config);
        goto finish;
    }
    if (!c.state_dir) {
        const char *d = getenv("STATE_DIRECTORY");
        c.state_dir = strdup(d && *d ? d : TOKEND_STATE_DIR);
        if (!c.state_dir) {
            r = log_error_errno(ENOMEM, "%m");
            goto finish;
        }
    }
    /* Without a ledger it can write, every unblock of a card whose PUK counter cannot be read
     * would run unguarded: better not to start at all. */
    r = ledger_start(&c);
    if (r < 0)
        goto finish;
    /* A file size limit (LimitFSIZE=) must cost the act whose record cannot be written, not the
     * daemon: the write then fails with EFBIG, which the audit writer undoes. */
    signal(SIGXFSZ, SIG_IGN);
    end_interrupted_acts(&c);
    /* A station new to the office's database brings its history there, from its first line. */
    store_audit_forward(c.store);
    c.worker_path = strdup(worker_path ? worker_path : TOKEND_LIBEXECDIR "/tokend/tokend-worker");
    if (c.worker_socket) {
        /* Each connection starts a worker: the socket must be there to connect to. */
        struct sockaddr_un sa;
        struct stat st;
        if (strlen(c.worker_socket) >= sizeof(sa.sun_path)) {
            r = log_error_errno(ENAMETOOLONG, "--worker-socket %s: %m", c.worker_socket);
            goto finish;
        }
        r = stat(c.worker_socket, &st) < 0 ? -errno : S_ISSOCK(st.st_mode) ? 0 : -ENOTSOCK;
        if (r < 0) {
            log_error_errno(r, "cannot use the worker socket %s: %m", c.worker_socket);
            goto finish;
        }
    } else if (!c.worker_path || access(c.worker_path, X_OK) < 0) {
        r = log_error_errno(errno, "cannot run the worker %s: %m", strempty(c.worker_path));
        goto finish;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    r = make_runtime_dir(&c);
    if (r < 0) {
        log_error_errno(r, "cannot make a runtime directory: %m");
        goto finish;
    }
    r = sd_event_default(&c.event);
    if (r >= 0)
        r = sd_event_add_signal(c.event, NULL, SIGTERM, on_exit_signal, &c);
    if (r >= 0)
        r = sd_event_add_signal(c.event, NULL, SIGINT, on_exit_signal, &c);
    if (r >= 0)
        r = sd_event_set_watchdog(c.event, true);
    if (r >= 0)
        r = sd_event_add_time_relative(c.event, NULL, CLOCK_MONOTONIC, 5000000, 0, on_status, &c);
    if (r >= 0)
        r = ledger_watch(&c);
    if (r < 0) {
        log_error_errno(r, "cannot set up the event loop: %m");
        goto finish;
    }
    r = tk_bus_error_register();
    if (r >= 0)
        r = sd_bus_open_system(&c.bus);
    if (r >= 0)
        r = manager_register(&c);
    if (r >= 0)
        r = sd_bus_attach_event(c.bus, c.event, SD_EVENT_PRIORITY_NORMAL);
    if (r >= 0)
        r = sd_bus_request_name(c.bus, TOKEND_BUS_NAME, 0);
    if (r < 0) {
        log_error_errno(r, "cannot offer %s on the system bus: %m", TOKEND_BUS_NAME);
        goto finish;
    }
    r = inventory_start(&c);
    if (r < 0) {
        log_error_errno(r, "cannot start the token scanners: %m");
        goto finish;
    }

    sd_notify(0, "READY=1");
    status(&c);
    r = sd_event_loop(c.event);

finish:
    inventory_stop(&c);
    ledger_stop(&c);
    c.bus = sd_bus_flush_close_unref(c.bus);
    c.event = sd_event_unref(c.event);
    remove_runtime_dir(&c);
    free(c.runtime_dir);
    free(c.worker_path);
    free(c.worker_socket);
    free(c.state_dir);
    config_done(&c.config);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
