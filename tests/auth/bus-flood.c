/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sends tokend one call with an oversized option array and prints the error name tokend
 * answered with and the round trip in milliseconds: what a hostile local caller costs.
 * Usage: bus-flood TOKEN-PATH [ping-]chain|email|dns COUNT ELEMENT-BYTES */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
    sd_bus *bus = NULL;
    sd_bus_message *m = NULL, *reply = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;

    if (argc != 5)
        return 2;
    const char *path = argv[1], *kind = argv[2];
    /* "ping-KIND": the same body to sd-bus's own Peer.Ping, which answers without reading it. */
    bool ping = strncmp(kind, "ping-", 5) == 0;
    if (ping)
        kind += 5;
    size_t count = strtoull(argv[3], NULL, 10), size = strtoull(argv[4], NULL, 10);
    char *element = malloc(size + 1);
    if (!element)
        return 1;
    memset(element, 'a', size);
    element[size] = 0;
    if (size >= 3)
        element[1] = '@';

    int r = sd_bus_open_system(&bus);
    if (r < 0)
        return 1;
    bool chain = strcmp(kind, "chain") == 0;
    r = sd_bus_message_new_method_call(bus, &m, "org.tokend.Tokend1", path,
                                       ping ? "org.freedesktop.DBus.Peer"
                                            : "org.tokend.Tokend1.Token",
                                       ping    ? "Ping"
                                       : chain ? "ImportCertificate"
                                               : "CreateRequest");
    if (r >= 0 && chain)
        r = sd_bus_message_append_array(m, 'y', "0", 1);
    if (r >= 0 && !chain)
        r = sd_bus_message_append(m, "ays", 1, 1, "CN=flood");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'e', "sv");
    if (r >= 0)
        r = sd_bus_message_append(m, "s", kind);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'v', chain ? "aay" : "as");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', chain ? "ay" : "s");
    for (size_t i = 0; r >= 0 && i < count; i++)
        r = chain ? sd_bus_message_append_array(m, 'y', element, size)
                  : sd_bus_message_append_basic(m, 's', element);
    for (int i = 0; r >= 0 && i < 4; i++)
        r = sd_bus_message_close_container(m);
    if (r < 0) {
        fprintf(stderr, "bus-flood: cannot build the call: %s\n", strerror(-r));
        return 1;
    }
    uint64_t start = now_usec();
    r = sd_bus_call(bus, m, 60 * 1000000ULL, &error, &reply);
    uint64_t elapsed = now_usec() - start;
    printf("%s %.1f\n", r < 0 ? (error.name ?: "none") : "ok", elapsed / 1000.0);
    free(element);
    return 0;
}
