/* attn-i18n.h: the GUI's gettext domain (GETTEXT_PACKAGE, "attnscope").
 *
 * Its strings are looked up with dgettext () (glib/gi18n-lib.h) and its .ui
 * files name the domain, so nothing depends on the process's textdomain ().
 * The catalogues come from the build tree (<build>/po/<lang>/LC_MESSAGES)
 * when the running program lives there, so an uninstalled run switches with
 * LANGUAGE / LANG too; otherwise from the installed <localedir>. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Binds the domain to the catalogue folder and to UTF-8. Idempotent and
 * thread-safe; called by the application and the window classes before any
 * string is looked up. Does not call setlocale (): gtk_init does. */
void attn_i18n_init (void);
/* The folder bound (for tests and diagnostics). */
const char *attn_i18n_locale_dir (void);

G_END_DECLS
