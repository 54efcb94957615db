/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The log calls of log.h: the maximum level read from TOKEND_LOG_LEVEL, the choice between the
 * journal and standard error, and the record written to the one chosen. */
#define SD_JOURNAL_SUPPRESS_LOCATION /* the caller's place is sent, not this file's */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

/* The one process-wide value of the daemon's code: a log call has no context to take it from,
 * and it comes from the environment alone. -1 until TOKEND_LOG_LEVEL has been read. */
static atomic_int max_level = -1;

static const char *const level_names[] = {
    [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s)
{
    if (isempty(s))
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
        if (streq(s, level_names[i]))
            return (int)i;
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    return -EINVAL;
}

void log_parse_environment(void)
{
    const char *e = getenv("TOKEND_LOG_LEVEL");
    int level = isempty(e) ? LOG_INFO : log_level_from_string(e);

    /* Set before the warning, which would otherwise come back here to learn the level. */
    max_level = level < 0 ? LOG_INFO : level;
    if (level < 0)
        log_warning("Ignoring TOKEND_LOG_LEVEL=%s: expected one of emerg, alert, crit, err, "
                    "warning, notice, info, debug or 0 to 7",
                    e);
}

int log_get_max_level(void)
{
    if (max_level < 0)
        log_parse_environment();
    return max_level;
}

/* systemd names the stream it connects to the journal in JOURNAL_STREAM (device:inode, as
 * sd-daemon documents); the variable is inherited by everything started below, so only a
 * standard error that is that very stream counts, not one a shell or a test redirected. */
static bool stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    int end = 0;
    struct stat st;

    if (isempty(e) || sscanf(e, "%llu:%llu%n", &dev, &ino, &end) != 2 || e[end] != '\0')
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

static int journal_send(int level, int error, const char *file, int line, const char *func,
                        char *const *fields, const char *message)
{
    /* Ours, then the caller's fields; every string lives until the send returns. */
    char *own[7];
    size_t n_own = 0, n_fields = 0;
    int r = 0;

    while (fields && fields[n_fields])
        n_fields++;
    struct iovec *iov = calloc(ELEMENTSOF(own) + n_fields, sizeof(struct iovec));
    if (!iov)
        return -ENOMEM;
    if (asprintf(&own[n_own++], "MESSAGE=%s", message) < 0 ||
        asprintf(&own[n_own++], "PRIORITY=%i", level) < 0 ||
        asprintf(&own[n_own++], "SYSLOG_IDENTIFIER=%s", program_invocation_short_name) < 0 ||
        asprintf(&own[n_own++], "CODE_FILE=%s", file) < 0 ||
        asprintf(&own[n_own++], "CODE_LINE=%i", line) < 0 ||
        asprintf(&own[n_own++], "CODE_FUNC=%s", func) < 0 ||
        (error > 0 && asprintf(&own[n_own++], "ERRNO=%i", error) < 0)) {
        own[--n_own] = NULL; /* the one that failed holds nothing */
        r = -ENOMEM;
    }
    if (r == 0) {
        for (size_t i = 0; i < n_own; i++)
            iov[i] = (struct iovec){own[i], strlen(own[i])};
        for (size_t i = 0; i < n_fields; i++)
            iov[n_own + i] = (struct iovec){fields[i], strlen(fields[i])};
        r = sd_journal_sendv(iov, (int)(n_own + n_fields));
    }
    for (size_t i = 0; i < n_own; i++)
        free(own[i]);
    free(iov);
    return r;
}

/* One write, so that lines of tokend and its workers, which share the stream, do not mix. */
static void write_stderr(const char *s, size_t n)
{
    while (write(STDERR_FILENO, s, n) < 0 && errno == EINTR)
        ;
}

static void log_record(int level, int err, const char *file, int line, const char *func,
                       char *const *fields, const char *format, va_list ap) _printf_(7, 0);
static void log_record(int level, int err, const char *file, int line, const char *func,
                       char *const *fields, const char *format, va_list ap)
{
    int saved_errno = errno;
    char buf[LINE_MAX];
    int prefix = snprintf(buf, sizeof(buf), "%s: ", program_invocation_short_name);
    if (prefix < 0 || (size_t)prefix >= sizeof(buf) / 2)
        prefix = 0;
    char *message = buf + prefix;
    /* A longer message is cut; its line ends where the string's NUL would. */
    size_t room = sizeof(buf) - (size_t)prefix;

    errno = err > 0 ? err : saved_errno;
    int n = vsnprintf(message, room, format, ap);
    size_t len = n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
    message[len] = '\0';
    while (len > 0 && message[len - 1] == '\n')
        message[--len] = '\0';

    if (!stderr_is_journal() || journal_send(level, err, file, line, func, fields, message) < 0) {
        message[len] = '\n';
        write_stderr(buf, (size_t)prefix + len + 1);
    }
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...)
{
    int saved_errno = errno;
    int err = error < 0 ? -error : error;

    level &= LOG_PRIMASK;
    if (level <= log_get_max_level()) {
        va_list ap;
        va_start(ap, format);
        log_record(level, err, file, line, func, NULL, format, ap);
        va_end(ap);
    }
    errno = saved_errno;
    return -err;
}

void log_with_fields(int level, char *const *fields, const char *file, int line, const char *func,
                     const char *format, ...)
{
    int saved_errno = errno;

    level &= LOG_PRIMASK;
    if (level <= log_get_max_level()) {
        va_list ap;
        va_start(ap, format);
        log_record(level, 0, file, line, func, fields, format, ap);
        va_end(ap);
    }
    errno = saved_errno;
}
