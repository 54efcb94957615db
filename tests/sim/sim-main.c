/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend-sim: plays a MyEID card to a vpcd virtual reader, for tests without card hardware.
 * One process is one card in one reader; its state lives in a file; a control socket inserts
 * and removes it and sets a per-APDU delay that models a real token's speed. */
#include "card-store.h"
#include "card.h"
#include "vpcd-link.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS  8
#define RECONNECT_MS 200

typedef struct Sim {
    SimCard card;
    const char *state_path;
    const char *host;
    int port;
    const char *control_path;
    unsigned delay_ms;
    bool trace;
    const uint8_t *atr;
    size_t atr_len;

    bool inserted;
    int vpcd;
    uint64_t reconnect_at;
    int listener;
    int clients[MAX_CLIENTS];
    int sigfd;

    /* A command held back by the delay; dropped if the card is pulled meanwhile. */
    uint8_t pending[VPCD_FRAME_MAX];
    size_t pending_len;
    uint64_t pending_due;
    unsigned long apdus;
} Sim;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void card_out(Sim *s)
{
    if (s->vpcd >= 0)
        close(s->vpcd);
    s->vpcd = -1;
    s->pending_len = 0;
    sim_card_reset(&s->card);
}

static void try_connect(Sim *s)
{
    int fd = vpcd_connect(s->host, s->port);
    if (fd < 0) {
        s->reconnect_at = now_ms() + RECONNECT_MS;
        return;
    }
    s->vpcd = fd;
    sim_card_reset(&s->card);
}

static void save(Sim *s)
{
    if (!s->card.dirty)
        return;
    int r = sim_card_save(&s->card, s->state_path);
    if (r < 0)
        fprintf(stderr, "tokend-sim: cannot save the card to %s: %s\n", s->state_path,
                strerror(-r));
    else
        s->card.dirty = false;
}

static void run_apdu(Sim *s, const uint8_t *apdu, size_t len)
{
    uint8_t out[VPCD_FRAME_MAX];
    size_t n = sim_card_apdu(&s->card, apdu, len, out, sizeof(out));
    s->apdus++;
    /* Headers and status words only: command data may carry PINs. */
    if (s->trace)
        fprintf(stderr, "tokend-sim: %02X %02X %02X %02X Lc=%zu -> %zu bytes %02X%02X\n", apdu[0],
                apdu[1], apdu[2], apdu[3], len > 5 ? (size_t)apdu[4] : 0, n - 2, out[n - 2],
                out[n - 1]);
    save(s);
    if (vpcd_write_frame(s->vpcd, out, n) < 0)
        card_out(s);
    OPENSSL_cleanse(out, sizeof(out));
}

static void on_vpcd(Sim *s)
{
    uint8_t buf[VPCD_FRAME_MAX];
    int n = vpcd_read_frame(s->vpcd, buf, sizeof(buf));
    if (n <= 0) {
        /* The reader went away (pcscd stopped): keep the card "in" and come back to it. */
        card_out(s);
        s->reconnect_at = now_ms() + RECONNECT_MS;
        return;
    }
    if (n == 1) {
        switch (buf[0]) {
        case VPCD_CTRL_OFF:
        case VPCD_CTRL_ON:
        case VPCD_CTRL_RESET:
            sim_card_reset(&s->card);
            break;
        case VPCD_CTRL_ATR:
            if (vpcd_write_frame(s->vpcd, s->atr, s->atr_len) < 0)
                card_out(s);
            break;
        default:
            break;
        }
        return;
    }
    if (s->delay_ms == 0) {
        run_apdu(s, buf, (size_t)n);
    } else {
        memcpy(s->pending, buf, (size_t)n);
        s->pending_len = (size_t)n;
        s->pending_due = now_ms() + s->delay_ms;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
}

static void control_reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void control_reply(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(fd, line, (size_t)n);
}

/* Key files holding a key pair, under f: what the card itself has of the keys generated and
 * deleted through it. */
static unsigned count_keys(const SimFile *f)
{
    unsigned n = f->kind == SIM_FILE_KEY && f->key;
    for (const SimFile *c = f->children; c; c = c->next)
        n += count_keys(c);
    return n;
}

/* Returns false when the simulator is told to quit. */
static bool control_command(Sim *s, int fd, char *line)
{
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    if (strcmp(line, "insert") == 0) {
        s->inserted = true;
        if (s->vpcd < 0)
            try_connect(s);
        control_reply(fd, "ok %s", s->vpcd >= 0 ? "inserted" : "waiting for the reader");
    } else if (strcmp(line, "remove") == 0) {
        s->inserted = false;
        card_out(s);
        control_reply(fd, "ok removed");
    } else if (strcmp(line, "delay") == 0) {
        char *end = NULL;
        unsigned long ms = arg ? strtoul(arg, &end, 10) : 0;
        if (!arg || !*arg || *end || ms > 60000) {
            control_reply(fd, "error delay wants milliseconds, 0 to 60000");
        } else {
            s->delay_ms = (unsigned)ms;
            control_reply(fd, "ok delay %lu", ms);
        }
    } else if (strcmp(line, "status") == 0) {
        /* pending: the instruction byte of a command held back by the delay (its header only:
         * the data may carry a PIN), for a test to act while the card has it and has not run it. */
        char pending[8] = "none";
        if (s->pending_len >= 4)
            snprintf(pending, sizeof(pending), "%02X", s->pending[1]);
        control_reply(fd, "ok inserted=%d connected=%d activated=%d apdus=%lu delay=%u pending=%s",
                      s->inserted, s->vpcd >= 0, s->card.activated, s->apdus, s->delay_ms, pending);
    } else if (strcmp(line, "pin") == 0) {
        /* The counters as the card holds them, for tests to check against what OpenSC and
         * tokend report; never the PINs themselves. */
        char *end = NULL;
        long ref = arg ? strtol(arg, &end, 10) : 0;
        if (!arg || *end || ref < 1 || ref > SIM_MAX_PINS || !s->card.pins[ref].present) {
            control_reply(fd, "error no PIN with reference '%s'", arg ? arg : "");
        } else {
            const SimPin *p = &s->card.pins[ref];
            control_reply(fd, "ok tries=%u/%u puk=%u/%u verified=%d", p->tries, p->max_tries,
                          p->puk_tries, p->puk_max_tries, s->card.verified[ref]);
        }
    } else if (strcmp(line, "keys") == 0) {
        control_reply(fd, "ok keys=%u", s->card.mf ? count_keys(s->card.mf) : 0);
    } else if (strcmp(line, "quit") == 0) {
        control_reply(fd, "ok quitting");
        return false;
    } else {
        control_reply(
            fd,
            "error unknown command '%s': insert, remove, delay MS, status, pin REF, keys, "
            "quit",
            line);
    }
    return true;
}

static bool on_client(Sim *s, int slot)
{
    char buf[256];
    ssize_t n = read(s->clients[slot], buf, sizeof(buf) - 1);
    if (n <= 0) {
        close(s->clients[slot]);
        s->clients[slot] = -1;
        return true;
    }
    buf[n] = '\0';
    bool go_on = true;
    for (char *save_ptr = NULL, *line = strtok_r(buf, "\r\n", &save_ptr); line && go_on;
         line = strtok_r(NULL, "\r\n", &save_ptr))
        go_on = control_command(s, s->clients[slot], line);
    return go_on;
}

static int listen_control(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static int run(Sim *s)
{
    bool go_on = true;
    while (go_on) {
        struct pollfd p[3 + MAX_CLIENTS];
        int np = 0, i_vpcd = -1, i_listen = -1;
        p[np++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
        if (s->vpcd >= 0 && s->pending_len == 0) {
            i_vpcd = np;
            p[np++] = (struct pollfd){.fd = s->vpcd, .events = POLLIN};
        }
        if (s->listener >= 0) {
            i_listen = np;
            p[np++] = (struct pollfd){.fd = s->listener, .events = POLLIN};
        }
        int first_client = np;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (s->clients[i] >= 0)
                p[np++] = (struct pollfd){.fd = s->clients[i], .events = POLLIN};

        int timeout = -1;
        uint64_t now = now_ms();
        if (s->pending_len > 0)
            timeout = s->pending_due > now ? (int)(s->pending_due - now) : 0;
        else if (s->inserted && s->vpcd < 0)
            timeout = s->reconnect_at > now ? (int)(s->reconnect_at - now) : 0;

        if (poll(p, (nfds_t)np, timeout) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (p[0].revents & POLLIN)
            break;
        now = now_ms();
        if (s->pending_len > 0 && now >= s->pending_due) {
            size_t n = s->pending_len;
            s->pending_len = 0;
            run_apdu(s, s->pending, n);
            OPENSSL_cleanse(s->pending, n);
        }
        if (i_vpcd >= 0 && (p[i_vpcd].revents & (POLLIN | POLLHUP | POLLERR)))
            on_vpcd(s);
        if (i_listen >= 0 && (p[i_listen].revents & POLLIN)) {
            int fd = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
            int slot = -1;
            for (int i = 0; i < MAX_CLIENTS && fd >= 0 && slot < 0; i++)
                if (s->clients[i] < 0)
                    slot = i;
            if (slot >= 0)
                s->clients[slot] = fd;
            else if (fd >= 0)
                close(fd);
        }
        for (int i = first_client, slot = 0; i < np; i++) {
            while (s->clients[slot] != p[i].fd)
                slot++;
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
                go_on = on_client(s, slot) && go_on;
        }
        if (s->inserted && s->vpcd < 0 && now_ms() >= s->reconnect_at)
            try_connect(s);
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("Usage: tokend-sim --port PORT --state FILE [OPTIONS]\n"
          "Plays an Aventra MyEID card to pcscd's vpcd virtual reader.\n\n"
          "  --port PORT        the vpcd reader's TCP port\n"
          "  --host ADDR        vpcd's address (default 127.0.0.1)\n"
          "  --state FILE       the card's state; a missing file is a blank card\n"
          "  --control PATH     a unix socket taking: insert, remove, delay MS, status,\n"
          "                     pin REF, keys, quit\n"
          "  --delay-ms N       hold each APDU N ms before answering it\n"
          "  --serial HEX       the serial number of a blank card (20 hex digits)\n"
          "  --atr HEX          the ATR the card answers with (default MyEID 4.5's)\n"
          "  --removed          start with the card out of the reader\n"
          "  --trace            log each APDU's header and status word to stderr\n",
          f);
}

static int parse_serial(const char *hex, uint8_t out[10])
{
    size_t len = 0;
    if (strlen(hex) != 20 || !OPENSSL_hexstr2buf_ex(out, 10, &len, hex, '\0') || len != 10)
        return -EINVAL;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"state", required_argument, NULL, 's'},
        {"control", required_argument, NULL, 'c'},
        {"delay-ms", required_argument, NULL, 'd'},
        {"serial", required_argument, NULL, 'S'},
        {"removed", no_argument, NULL, 'r'},
        {"trace", no_argument, NULL, 't'},
        {"atr", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    Sim s = {.host = "127.0.0.1",
             .vpcd = -1,
             .listener = -1,
             .inserted = true,
             .sigfd = -1,
             .atr = sim_card_atr,
             .atr_len = sim_card_atr_len};
    uint8_t serial[10], atr[SIM_ATR_MAX];
    bool have_serial = false;
    int c, r;

    for (int i = 0; i < MAX_CLIENTS; i++)
        s.clients[i] = -1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        char *end = NULL;
        switch (c) {
        case 'p':
            s.port = (int)strtol(optarg, &end, 10);
            if (*end || s.port <= 0 || s.port > 65535) {
                fprintf(stderr, "tokend-sim: --port wants a TCP port, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'H':
            s.host = optarg;
            break;
        case 's':
            s.state_path = optarg;
            break;
        case 'c':
            s.control_path = optarg;
            break;
        case 'd':
            s.delay_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end || s.delay_ms > 60000) {
                fprintf(stderr, "tokend-sim: --delay-ms wants 0 to 60000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'S':
            if (parse_serial(optarg, serial) < 0) {
                fprintf(stderr, "tokend-sim: --serial wants 20 hex digits, not '%s'\n", optarg);
                return 2;
            }
            have_serial = true;
            break;
        case 'A':
            /* Another implementation's ATR: the card answers the same commands. */
            if (!OPENSSL_hexstr2buf_ex(atr, sizeof(atr), &s.atr_len, optarg, '\0') ||
                s.atr_len < 2) {
                fprintf(stderr, "tokend-sim: --atr wants 2 to %d bytes in hex, not '%s'\n",
                        SIM_ATR_MAX, optarg);
                return 2;
            }
            s.atr = atr;
            break;
        case 'r':
            s.inserted = false;
            break;
        case 't':
            s.trace = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || s.port == 0 || !s.state_path) {
        fprintf(stderr, "tokend-sim: --port and --state are required\n");
        usage(stderr);
        return 2;
    }

    r = sim_card_load(&s.card, s.state_path);
    if (r == -ENOENT) {
        if (!have_serial && RAND_bytes(serial, sizeof(serial)) != 1)
            return 1;
        r = sim_card_init_blank(&s.card, serial);
        s.card.dirty = true;
    }
    if (r < 0) {
        fprintf(stderr, "tokend-sim: cannot read the card from %s: %s\n", s.state_path,
                strerror(-r));
        return 1;
    }
    save(&s);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (s.sigfd < 0)
        return 1;
    if (s.control_path) {
        s.listener = listen_control(s.control_path);
        if (s.listener < 0) {
            fprintf(stderr, "tokend-sim: cannot listen on %s: %s\n", s.control_path,
                    strerror(-s.listener));
            return 1;
        }
    }
    if (s.inserted)
        try_connect(&s);

    r = run(&s);

    card_out(&s);
    save(&s);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (s.clients[i] >= 0)
            close(s.clients[i]);
    if (s.listener >= 0) {
        close(s.listener);
        (void)unlink(s.control_path);
    }
    close(s.sigfd);
    sim_card_done(&s.card);
    return r < 0 ? 1 : 0;
}
