/* attn-i18n.c: the GUI's gettext domain (see the header). */
#include "ui/attn-i18n.h"

#include <glib/gi18n-lib.h>

/* Set by ui/meson.build. */
#ifndef ATTN_BUILD_ROOT
#error "ATTN_BUILD_ROOT must name the build tree"
#endif
#ifndef ATTN_BUILD_LOCALEDIR
#error "ATTN_BUILD_LOCALEDIR must name <build>/po"
#endif
#ifndef ATTN_LOCALEDIR
#error "ATTN_LOCALEDIR must name the installed <prefix>/<localedir>"
#endif

static const char *locale_dir;

/* As core/attn-model-ref.c decides: an installed program must not read
 * catalogues from a build tree that happens to still exist. */
static gboolean
running_uninstalled (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  return exe != NULL
         && g_str_has_prefix (exe, ATTN_BUILD_ROOT G_DIR_SEPARATOR_S);
}

void
attn_i18n_init (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      locale_dir
          = running_uninstalled () ? ATTN_BUILD_LOCALEDIR : ATTN_LOCALEDIR;
      bindtextdomain (GETTEXT_PACKAGE, locale_dir);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&done, 1);
    }
}

const char *
attn_i18n_locale_dir (void)
{
  attn_i18n_init ();
  return locale_dir;
}
