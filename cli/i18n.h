/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* tokenctl's messages for people, in the domain GETTEXT_PACKAGE (cli/po/). --json output is
 * for programs and is never translated. */
#include <libintl.h>

#define _(s) gettext(s)
/* Marks a string in a static table for the catalogue; translated where it is printed. */
#define N_(s) s
