/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "i18n.h"
#include "pin-input.h"

/* Longer than any PIN or PUK a token takes; more is an error rather than a silent cut. */
#define PIN_MAX 256

/* Reads up to the first newline, one byte at a time so nothing past the line is consumed
 * from a shared descriptor such as standard input. */
static int read_line(int fd, char *buf, size_t size, size_t *ret_len)
{
    size_t n = 0;

    for (;;) {
        char c;
        ssize_t k = read(fd, &c, 1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0 || c == '\n')
            break;
        if (n + 1 >= size)
            return -E2BIG;
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = 0;
    *ret_len = n;
    return 0;
}

int pin_read_file(const char *path, TkSecret **ret)
{
    _cleanup_close_ int fd = -1;
    char buf[PIN_MAX];
    size_t len = 0;
    int r, in;

    if (!path || !ret)
        return -EINVAL;
    if (streq(path, "-"))
        in = STDIN_FILENO;
    else {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return -errno;
        in = fd;
    }

    r = read_line(in, buf, sizeof(buf), &len);
    if (r >= 0 && len == 0)
        r = -ENODATA;
    if (r >= 0)
        r = tk_secret_new(buf, len, ret);
    explicit_bzero(buf, sizeof(buf));
    return r;
}

bool pin_tty_available(void)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    bool ok = isatty(fd);
    close(fd);
    return ok;
}

int pin_read_tty(const char *prompt, TkSecret **ret)
{
    _cleanup_close_ int fd = -1;
    struct termios old, quiet;
    char buf[PIN_MAX];
    size_t len = 0;
    int r;

    if (!prompt || !ret)
        return -EINVAL;
    fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -ENXIO;
    if (tcgetattr(fd, &old) < 0)
        return -ENXIO;

    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0)
        return -errno;

    (void)!write(fd, prompt, strlen(prompt));
    r = read_line(fd, buf, sizeof(buf), &len);
    (void)tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);

    if (r >= 0)
        r = tk_secret_new(buf, len, ret);
    explicit_bzero(buf, sizeof(buf));
    return r;
}

int pin_read_tty_new(const char *prompt, const char *again, size_t min, size_t max, TkSecret **ret)
{
    for (int round = 0; round < 3; round++) {
        _cleanup_secret_ TkSecret *a = NULL, *b = NULL;
        int r;

        r = pin_read_tty(prompt, &a);
        if (r < 0)
            return r;
        if (a->len == 0) {
            fputs(_("The PIN may not be empty.\n"), stderr);
            continue;
        }
        /* Said at once, not after the repeat and a round trip to tokend. */
        if (a->len < min) {
            fprintf(stderr, _("The new PIN must have at least %zu characters here.\n"), min);
            continue;
        }
        if (max > 0 && a->len > max) {
            fprintf(stderr, _("The new PIN may have at most %zu characters on this token.\n"), max);
            continue;
        }
        r = pin_read_tty(again, &b);
        if (r < 0)
            return r;
        if (tk_secret_equal(a, b)) {
            *ret = TAKE_PTR(a);
            return 0;
        }
        fputs(_("The two PINs differ; please type them again.\n"), stderr);
    }
    return -EBADMSG;
}

int tty_read_answer(const char *prompt, char *buf, size_t size)
{
    _cleanup_close_ int fd = -1;
    size_t len = 0;

    if (!prompt || !buf || size == 0)
        return -EINVAL;
    fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -ENXIO;
    /* Type-ahead is discarded as for a PIN: the answer is to this question. */
    (void)tcflush(fd, TCIFLUSH);
    (void)!write(fd, prompt, strlen(prompt));
    int r = read_line(fd, buf, size, &len);
    if (r == -E2BIG)
        buf[0] = 0;
    return r == -E2BIG ? 0 : r;
}
