/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *sim_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int sim_control(unsigned n, const char *command, char *reply, size_t size)
{
    char var[64];
    snprintf(var, sizeof(var), "TOKEND_SIM_CONTROL_%u", n);
    const char *path = sim_env(var);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return -ENOENT;
    strcpy(sa.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    char line[256];
    size_t len = (size_t)snprintf(line, sizeof(line), "%s\n", command);
    size_t got = 0;
    if (write(fd, line, len) != (ssize_t)len) {
        close(fd);
        return -EIO;
    }
    while (got + 1 < sizeof(line)) {
        ssize_t k = read(fd, line + got, sizeof(line) - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        if (memchr(line, '\n', got))
            break;
    }
    close(fd);
    line[got] = '\0';
    line[strcspn(line, "\n")] = '\0';
    if (reply)
        snprintf(reply, size, "%s", line);
    return strncmp(line, "ok", 2) == 0 ? 0 : -EIO;
}

int sim_pin_counters(unsigned n, int ref, int *ret_tries, int *ret_puk_tries)
{
    char cmd[32], reply[256];
    int tries, max, puk, puk_max;
    snprintf(cmd, sizeof(cmd), "pin %d", ref);
    int r = sim_control(n, cmd, reply, sizeof(reply));
    if (r < 0)
        return r;
    if (sscanf(reply, "ok tries=%d/%d puk=%d/%d", &tries, &max, &puk, &puk_max) != 4)
        return -EBADMSG;
    *ret_tries = tries;
    *ret_puk_tries = puk;
    return 0;
}
