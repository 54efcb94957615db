/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A small aligned text table for people: a header row, then cells added left to right. A
 * cell may carry a colour, which is left out of the width count. Control characters in a
 * cell's text are shown as text (tk_escape_for_terminal()). */
typedef struct Table Table;

/* headers are msgids (N_()), shown translated. */
Table *table_new(size_t n_columns, const char *const *headers);
Table *table_free(Table *t);
int table_add(Table *t, const char *cell);
int table_add_colored(Table *t, const char *cell, const char *color);
size_t table_rows(const Table *t);
/* legend: with the header row. */
int table_print(const Table *t, FILE *f, bool color, bool legend);

/* Columns that text takes on a terminal in the current locale: two for a wide (CJK) character,
 * none for a combining mark; one for every character where the locale cannot tell. */
size_t display_width(const char *s);

#define ANSI_RED    "\033[1;31m"
#define ANSI_YELLOW "\033[1;33m"
#define ANSI_GREEN  "\033[32m"
#define ANSI_BOLD   "\033[1m"
#define ANSI_RESET  "\033[0m"
