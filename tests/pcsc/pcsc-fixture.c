/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pcsc-fixture.h"

#define VPCD_DRIVER "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

static const uint8_t mini_atr[] = {0x3B, 0xF5, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE,
                                   0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x9A};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* vpcd takes PORT and PORT+1: pick a kernel-chosen port whose neighbour is free too. */
static int pick_port(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t l = sizeof(a);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
            close(fd);
            return -errno;
        }
        close(fd);
        int port = ntohs(a.sin_port);
        if (port < 65534 && port_free(port) && port_free(port + 1))
            return port;
    }
    return -EADDRINUSE;
}

static int spawn_pcscd(PcscFixture *f)
{
    (void)unlink(f->sock);
    char script[512];
    snprintf(script, sizeof(script),
             "mount --bind '%s/run' /run && exec pcscd -f -c '%s/reader.conf.d' >'%s/pcscd.log' "
             "2>&1",
             f->dir, f->dir, f->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execlp("unshare", "unshare", "-m", "--propagation", "private", "sh", "-c", script,
               (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    for (int i = 0; i < 100; i++) {
        struct stat st;
        if (stat(f->sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            f->pid = 0;
            return -ECHILD;
        }
        sleep_ms(50);
    }
    return -ETIMEDOUT;
}

int pcsc_fixture_start(PcscFixture *f)
{
    return pcsc_fixture_start_named(f, "Virtual PCD");
}

int pcsc_fixture_start_named(PcscFixture *f, const char *friendly_name)
{
    /* The client library reads PCSCLITE_CSOCK_NAME once per process: when tests share a
     * process (CK_FORK=no) every pcscd they start must use the same directory and socket. */
    if (f->dir[0])
        return spawn_pcscd(f);

    memset(f, 0, sizeof(*f));
    if (pcsc_fixture_unavailable())
        return -ENOPKG;

    snprintf(f->dir, sizeof(f->dir), "/tmp/tk-pcsc-XXXXXX");
    if (!mkdtemp(f->dir))
        return -errno;
    char path[128];
    snprintf(path, sizeof(path), "%s/run", f->dir);
    if (mkdir(path, 0755) < 0)
        return -errno;
    snprintf(path, sizeof(path), "%s/run/pcscd", f->dir);
    if (mkdir(path, 0755) < 0)
        return -errno;
    snprintf(path, sizeof(path), "%s/reader.conf.d", f->dir);
    if (mkdir(path, 0755) < 0)
        return -errno;

    int port = pick_port();
    if (port < 0)
        return port;
    f->port = port;

    snprintf(path, sizeof(path), "%s/reader.conf.d/vpcd", f->dir);
    FILE *c = fopen(path, "we");
    if (!c)
        return -errno;
    fprintf(c, "FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:%d\nLIBPATH %s\n", friendly_name, port,
            VPCD_DRIVER);
    if (fclose(c) != 0)
        return -errno;

    snprintf(f->sock, sizeof(f->sock), "%s/run/pcscd/pcscd.comm", f->dir);
    setenv("PCSCLITE_CSOCK_NAME", f->sock, 1);
    return spawn_pcscd(f);
}

int pcsc_fixture_stop_pcscd(PcscFixture *f)
{
    if (f->pid <= 0)
        return 0;
    if (kill(f->pid, SIGTERM) < 0)
        return -errno;
    int status;
    for (int i = 0; i < 100; i++) {
        if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
            f->pid = 0;
            return 0;
        }
        sleep_ms(50);
    }
    (void)kill(f->pid, SIGKILL);
    (void)waitpid(f->pid, &status, 0);
    f->pid = 0;
    return 0;
}

int pcsc_fixture_restart_pcscd(PcscFixture *f)
{
    int r = pcsc_fixture_stop_pcscd(f);
    if (r < 0)
        return r;
    return spawn_pcscd(f);
}

void pcsc_fixture_done(PcscFixture *f)
{
    (void)pcsc_fixture_stop_pcscd(f);
}

void pcsc_fixture_cleanup(PcscFixture *f)
{
    (void)pcsc_fixture_stop_pcscd(f);
    if (f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        (void)!system(cmd);
        f->dir[0] = '\0';
    }
}

static int read_full(int fd, uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = read(fd, buf, n);
        if (k <= 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_frame(int fd, const uint8_t *p, size_t n)
{
    uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    if (write(fd, hdr, 2) != 2 || write(fd, p, n) != (ssize_t)n)
        return -1;
    return 0;
}

static size_t mini_card_apdu(MiniCard *c, const uint8_t *a, size_t n, uint8_t *out)
{
    static const uint8_t aid[] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                  0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};
    pthread_mutex_lock(&c->lock);
    size_t len = 2;
    out[0] = 0x6D;
    out[1] = 0x00;
    if (n >= 4 && a[1] == 0xA4 && a[2] == 0x04) {
        bool match =
            n >= 5 + sizeof(aid) && a[4] == sizeof(aid) && !memcmp(a + 5, aid, sizeof(aid));
        out[0] = match ? 0x90 : 0x6A;
        out[1] = match ? 0x00 : 0x82;
    } else if (n == 5 && a[1] == 0xCA && a[2] == 0x01 && a[3] == 0xA0 && !c->no_card_data) {
        /* MyEID's card data: applet 4.5.5, the rest zero. */
        memset(out, 0, 20);
        out[5] = 4;
        out[6] = 5;
        out[7] = 5;
        out[20] = 0x90;
        out[21] = 0x00;
        len = 22;
    } else if (n >= 4 && a[1] == 0x20 && a[2] == 0x00 && (a[3] == 1 || a[3] == 3)) {
        int ref = a[3];
        if (n == 4) {
            c->verify_empty_count++;
            if (c->verified[ref]) {
                out[0] = 0x90;
                out[1] = 0x00;
            } else if (c->tries[ref] == 0) {
                out[0] = 0x69;
                out[1] = 0x83;
            } else {
                out[0] = 0x63;
                out[1] = (uint8_t)(0xC0 | c->tries[ref]);
            }
        } else if (c->tries[ref] == 0) {
            out[0] = 0x69;
            out[1] = 0x83;
        } else if (n >= 5 && a[4] == strlen(c->pin[ref]) && n >= 5u + a[4] &&
                   !memcmp(a + 5, c->pin[ref], a[4])) {
            c->tries[ref] = 3;
            c->verified[ref] = true;
            out[0] = 0x90;
            out[1] = 0x00;
        } else {
            c->tries[ref]--;
            c->verified[ref] = false;
            out[0] = c->tries[ref] == 0 ? 0x69 : 0x63;
            out[1] = c->tries[ref] == 0 ? 0x83 : (uint8_t)(0xC0 | c->tries[ref]);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return len;
}

static void *mini_card_thread(void *userdata)
{
    MiniCard *c = userdata;
    for (;;) {
        uint8_t hdr[2], buf[512], out[258];
        if (read_full(c->fd, hdr, 2) < 0)
            break;
        size_t n = (size_t)hdr[0] << 8 | hdr[1];
        if (n == 0 || n > sizeof(buf) || read_full(c->fd, buf, n) < 0)
            break;
        if (n == 1) {
            if (buf[0] == 4 && send_frame(c->fd, c->atr, c->atr_len) < 0)
                break;
            if (buf[0] == 0 || buf[0] == 2) {
                /* Power off or reset ends the card session: verified state is lost. */
                pthread_mutex_lock(&c->lock);
                memset(c->verified, 0, sizeof(c->verified));
                pthread_mutex_unlock(&c->lock);
            }
            continue;
        }
        size_t l = mini_card_apdu(c, buf, n, out);
        if (send_frame(c->fd, out, l) < 0)
            break;
    }
    return NULL;
}

void mini_card_init(MiniCard *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->port = port;
    c->fd = -1;
    pthread_mutex_init(&c->lock, NULL);
    c->atr = mini_atr;
    c->atr_len = sizeof(mini_atr);
    c->tries[1] = c->tries[3] = 3;
    snprintf(c->pin[1], sizeof(c->pin[1]), "123456");
    snprintf(c->pin[3], sizeof(c->pin[3]), "87654321");
}

int mini_card_insert(MiniCard *c)
{
    if (c->running)
        return -EALREADY;
    /* vpcd opens its port shortly after pcscd starts: keep trying for a few seconds. */
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)c->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            c->fd = fd;
            if (pthread_create(&c->thread, NULL, mini_card_thread, c) != 0) {
                close(fd);
                c->fd = -1;
                return -EAGAIN;
            }
            c->running = true;
            return 0;
        }
        close(fd);
        sleep_ms(50);
    }
    return -ETIMEDOUT;
}

void mini_card_remove(MiniCard *c)
{
    if (!c->running)
        return;
    (void)shutdown(c->fd, SHUT_RDWR);
    pthread_join(c->thread, NULL);
    close(c->fd);
    c->fd = -1;
    c->running = false;
}

const char *pcsc_fixture_unavailable(void)
{
    if (geteuid() != 0)
        return "needs root (a private pcscd in its own mount namespace)";
    if (access("/usr/sbin/pcscd", X_OK) < 0)
        return "pcscd is not installed";
    if (access(VPCD_DRIVER, R_OK) < 0)
        return "vsmartcard-vpcd is not installed";
    return NULL;
}
