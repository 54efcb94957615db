/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "i18n.h"
#include "macro.h"
#include "table.h"
#include "text-escape.h"

typedef struct Cell {
    char *text;
    const char *color;
} Cell;

struct Table {
    size_t n_columns;
    Cell *cells;
    size_t n_cells;
};

size_t display_width(const char *s)
{
    /* Columns on a terminal: wide characters (CJK, a Chinese label) take two, combining marks
     * none. In a locale that cannot say (C), every character counts one. */
    size_t n = 0, len = strlen(strempty(s));
    mbstate_t state = {};
    while (s && len > 0) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, len, &state);
        if (k == 0 || k == (size_t)-1 || k == (size_t)-2) {
            /* Not a character of this locale: a byte of UTF-8 text counts once, at its lead. */
            memset(&state, 0, sizeof(state));
            n += ((unsigned char)*s & 0xc0) != 0x80;
            s++, len--;
            continue;
        }
        int w = wcwidth(wc);
        n += w < 0 ? 1 : (size_t)w;
        s += k;
        len -= k;
    }
    return n;
}

Table *table_new(size_t n_columns, const char *const *headers)
{
    Table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->n_columns = n_columns;
    for (size_t i = 0; i < n_columns; i++)
        if (table_add(t, _(headers[i])) < 0)
            return table_free(t);
    return t;
}

Table *table_free(Table *t)
{
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i].text);
    free(t->cells);
    free(t);
    return NULL;
}

int table_add_colored(Table *t, const char *cell, const char *color)
{
    Cell *c = realloc(t->cells, (t->n_cells + 1) * sizeof(Cell));
    if (!c)
        return -ENOMEM;
    t->cells = c;
    /* Cells show what tokens say (labels, subjects, reader names): never raw to a terminal. */
    if (tk_escape_for_terminal(strempty(cell), &c[t->n_cells].text) < 0)
        return -ENOMEM;
    c[t->n_cells].color = color;
    t->n_cells++;
    return 0;
}

int table_add(Table *t, const char *cell)
{
    return table_add_colored(t, cell, NULL);
}

size_t table_rows(const Table *t)
{
    return t->n_cells / t->n_columns - 1;
}

int table_print(const Table *t, FILE *f, bool color, bool legend)
{
    _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));
    size_t first = legend ? 0 : t->n_columns;

    if (!width)
        return -ENOMEM;
    for (size_t i = first; i < t->n_cells; i++) {
        size_t w = display_width(t->cells[i].text);
        if (w > width[i % t->n_columns])
            width[i % t->n_columns] = w;
    }
    for (size_t i = first; i < t->n_cells; i++) {
        size_t col = i % t->n_columns;
        const Cell *c = &t->cells[i];
        bool last = col == t->n_columns - 1 || i == t->n_cells - 1;
        const char *on = i < t->n_columns ? ANSI_BOLD : c->color;

        if (color && on)
            fputs(on, f);
        fputs(c->text, f);
        if (color && on)
            fputs(ANSI_RESET, f);
        if (last)
            fputc('\n', f);
        else
            fprintf(f, "%*s", (int)(width[col] - display_width(c->text) + 2), "");
    }
    return ferror(f) ? -EIO : 0;
}
