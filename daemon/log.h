/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging for tokend and tokend-worker, at syslog priorities: log_error() to log_debug(), and
 * log_error_errno()/log_warning_errno(), whose format may say %m for the error given and which
 * return that error as a negative errno. A record goes to the journal, with its priority, errno
 * and place in the code, when standard error is the journal's stream, and otherwise as one
 * "program: message" line to standard error. Records above the maximum level (info, or
 * TOKEND_LOG_LEVEL) are dropped. No log call changes errno. */
#pragma once

#include <syslog.h>

#include "macro.h"

/* Logs at level, with error (a positive or negative errno, or 0 for none) as errno while the
 * format is expanded. Returns -|error|, whether the record was dropped or not. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
    log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) ((void)log_full_errno((level), 0, __VA_ARGS__))

#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)

#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)

/* A record with journal fields of its own besides the usual ones: fields is a NULL-terminated
 * list of "NAME=value" strings (MESSAGE_ID among them where it has one). On standard error only
 * the message goes, as for any record. */
void log_with_fields(int level, char *const *fields, const char *file, int line, const char *func,
                     const char *format, ...) _printf_(6, 7);

/* A level's syslog name ("emerg" … "debug") or number (0–7); -EINVAL for anything else. */
int log_level_from_string(const char *s);

/* (Re)reads TOKEND_LOG_LEVEL, unset or empty meaning info; an invalid value leaves info and
 * is warned about, once for each read. The first log call reads it when nothing has. */
void log_parse_environment(void);

int log_get_max_level(void);
