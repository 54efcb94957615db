/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stands in for OpenSC's pkcs15-init in test-pkcs15-spawn. With PKCS15_STUB_PIDFILE set it
 * writes its PID there and waits to be killed (a 30 s alarm ends it should nobody do that);
 * otherwise it reports, as its last line on standard error, the descriptors it was given and
 * whether the secrets came only through the environment, and fails, so that
 * tk_pkcs15_personalise_with() puts that line in its error message. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool secrets_in_env_only(int argc, char **argv)
{
    const char *so = getenv("TOKEND_PKCS15_SO_PIN"), *pin = getenv("TOKEND_PKCS15_USER_PIN");
    bool named = false;
    if (!so || !pin || !*so || !*pin)
        return false;
    for (int i = 1; i < argc; i++) {
        if (strstr(argv[i], so) || strstr(argv[i], pin))
            return false;
        if (strcmp(argv[i], "env:TOKEND_PKCS15_SO_PIN") == 0)
            named = true;
    }
    return named;
}

int main(int argc, char **argv)
{
    const char *pidfile = getenv("PKCS15_STUB_PIDFILE");
    if (pidfile) {
        alarm(30);
        FILE *f = fopen(pidfile, "we");
        if (!f)
            return 2;
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        for (;;)
            pause();
    }

    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 2;
    char fds[512] = "";
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d) &&
            strlen(fds) + strlen(de->d_name) + 2 < sizeof(fds)) {
            strcat(fds, *fds ? "," : "");
            strcat(fds, de->d_name);
        }
    closedir(d);
    fprintf(stderr, "stub: fds=%s; secrets=%s\n", fds,
            secrets_in_env_only(argc, argv) ? "env" : "leaked");
    return 1;
}
