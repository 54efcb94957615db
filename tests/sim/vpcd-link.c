/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vpcd-link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int vpcd_connect(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char service[16];
    int r = -ECONNREFUSED;

    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            freeaddrinfo(res);
            return fd;
        }
        r = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    return r;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        /* vpcd writes a frame's length and its payload separately; acknowledging at once
         * keeps Nagle on its side from holding the payload back for a delayed ACK (40 ms). */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        ssize_t k = read(fd, p, n);
        if (k == 0)
            return 0;
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 1;
}

int vpcd_read_frame(int fd, uint8_t *buf, size_t size)
{
    uint8_t hdr[2];
    int r = read_full(fd, hdr, 2);
    if (r <= 0)
        return r;
    size_t n = (size_t)hdr[0] << 8 | hdr[1];
    if (n == 0 || n > size)
        return -EMSGSIZE;
    r = read_full(fd, buf, n);
    if (r <= 0)
        return r;
    return (int)n;
}

int vpcd_write_frame(int fd, const uint8_t *p, size_t n)
{
    uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    struct iovec iov[2] = {{hdr, 2}, {(void *)p, n}};
    ssize_t k = writev(fd, iov, 2);
    if (k < 0)
        return -errno;
    return (size_t)k == n + 2 ? 0 : -EIO;
}
