/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Calls GetManagedObjects on tokend every 20 ms until standard input closes and prints each
 * call's round trip in microseconds, one a line: the bus's responsiveness measured inside one
 * client process, without process start-up in the numbers. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
    sd_bus *bus = NULL;
    int r = sd_bus_open_system(&bus);
    if (r < 0) {
        fprintf(stderr, "bus-latency: cannot connect: %d\n", r);
        return 1;
    }
    for (;;) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
            char c;
            if (read(STDIN_FILENO, &c, 1) <= 0)
                break;
        }
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint64_t start = now_usec();
        r = sd_bus_call_method(bus, "org.tokend.Tokend1", "/org/tokend/Tokend1",
                               "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &error,
                               &reply, "");
        uint64_t end = now_usec();
        if (r < 0) {
            fprintf(stderr, "bus-latency: %s\n", error.message);
            return 1;
        }
        printf("%llu\n", (unsigned long long)(end - start));
        fflush(stdout);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
    }
    sd_bus_flush_close_unref(bus);
    return 0;
}
