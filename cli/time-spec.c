/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --since and --until: a few words, a local date and time, or a span before now. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "time-spec.h"

#define USEC_PER_SEC 1000000ULL

static int to_usec(time_t t, uint64_t *ret)
{
    if (t < 0 || (uint64_t)t > UINT64_MAX / USEC_PER_SEC)
        return -EINVAL;
    *ret = (uint64_t)t * USEC_PER_SEC;
    return 0;
}

/* Midnight, local time, of the day `days` after today. */
static int local_midnight(uint64_t now_usec, int days, uint64_t *ret)
{
    time_t now = (time_t)(now_usec / USEC_PER_SEC);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        return -EINVAL;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mday += days;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    return to_usec(t, ret);
}

static int local_date_time(const char *s, uint64_t *ret)
{
    static const char *const formats[] = {
        "%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S",
    };
    FOREACH_ARRAY (fmt, formats, ELEMENTSOF(formats)) {
        struct tm tm = {};
        const char *end = strptime(s, *fmt, &tm);
        if (!end || *end)
            continue;
        struct tm given = tm;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        /* mktime() moves a day that does not exist (02-30) into the next month. */
        if (t == (time_t)-1 || tm.tm_year != given.tm_year || tm.tm_mon != given.tm_mon ||
            tm.tm_mday != given.tm_mday)
            return -EINVAL;
        return to_usec(t, ret);
    }
    return -EINVAL;
}

static int before_now(const char *s, uint64_t now_usec, uint64_t *ret)
{
    static const struct {
        const char *name;
        uint64_t seconds;
    } units[] = {
        {"s", 1}, {"min", 60}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400},
    };

    if (s[0] != '-' || s[1] < '0' || s[1] > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s + 1, &end, 10);
    if (errno)
        return -EINVAL;
    FOREACH_ARRAY (u, units, ELEMENTSOF(units))
        if (streq(end, u->name)) {
            uint64_t span;
            if (__builtin_mul_overflow(n, u->seconds * USEC_PER_SEC, &span) || span > now_usec)
                return -EINVAL;
            *ret = now_usec - span;
            return 0;
        }
    return -EINVAL;
}

int parse_time_spec(const char *s, uint64_t now_usec, uint64_t *ret_usec)
{
    if (isempty(s))
        return -EINVAL;
    if (streq(s, "now")) {
        *ret_usec = now_usec;
        return 0;
    }
    if (streq(s, "today"))
        return local_midnight(now_usec, 0, ret_usec);
    if (streq(s, "yesterday"))
        return local_midnight(now_usec, -1, ret_usec);
    if (streq(s, "tomorrow"))
        return local_midnight(now_usec, 1, ret_usec);
    if (s[0] == '-')
        return before_now(s, now_usec, ret_usec);
    return local_date_time(s, ret_usec);
}
