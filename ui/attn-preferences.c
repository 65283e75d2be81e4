/* attn-preferences.c: preferences in a key file (see the header). */
#include "ui/attn-preferences.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "core/attn-error.h"
#include "ui/attn-runner.h"

#define GROUP_APPEARANCE "appearance"
#define GROUP_VIEW "view"
#define GROUP_WINDOW "window"
#define GROUP_MODELS "models"

/* Larger than any screen; a bigger stored size is a damaged file. */
#define MAX_WINDOW_SIDE 16384

static const char *const scheme_names[] = {
  [ATTN_COLOR_SCHEME_SYSTEM] = "system",
  [ATTN_COLOR_SCHEME_LIGHT] = "light",
  [ATTN_COLOR_SCHEME_DARK] = "dark",
};

const char *
attn_color_scheme_to_string (AttnColorScheme scheme)
{
  g_return_val_if_fail ((guint)scheme < G_N_ELEMENTS (scheme_names), NULL);
  return scheme_names[scheme];
}

gboolean
attn_color_scheme_from_string (const char *str, AttnColorScheme *scheme)
{
  for (guint i = 0; str != NULL && i < G_N_ELEMENTS (scheme_names); i++)
    if (strcmp (str, scheme_names[i]) == 0)
      {
        *scheme = (AttnColorScheme)i;
        return TRUE;
      }
  return FALSE;
}

AttnPreferences *
attn_preferences_new (void)
{
  AttnPreferences *prefs = g_new0 (AttnPreferences, 1);
  AttnRenderStyle defaults;
  attn_render_style_init (&defaults, ATTN_THEME_LIGHT);
  prefs->color_scheme = ATTN_COLOR_SCHEME_SYSTEM;
  prefs->colormap = defaults.colormap;
  prefs->threshold = defaults.threshold;
  prefs->view = ATTN_VIEW_HEATMAP;
  prefs->recent_models = g_new0 (char *, 1);
  attn_render_style_clear (&defaults);
  return prefs;
}

void
attn_preferences_free (AttnPreferences *prefs)
{
  if (prefs == NULL)
    return;
  g_strfreev (prefs->recent_models);
  g_free (prefs);
}

char *
attn_preferences_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "attnscope",
                           "preferences.ini", NULL);
}

static int
read_int (GKeyFile *kf, const char *group, const char *key, int lo, int hi,
          int fallback)
{
  g_autoptr (GError) error = NULL;
  int v = g_key_file_get_integer (kf, group, key, &error);
  return error == NULL && v >= lo && v <= hi ? v : fallback;
}

AttnPreferences *
attn_preferences_load (const char *path, GError **error)
{
  AttnPreferences *prefs = attn_preferences_new ();
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_autofree char *shown = g_filename_display_name (path);
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                       "%s: preferences not read (%s); using the defaults",
                       shown, local->message);
        }
      return prefs;
    }

  g_autofree char *scheme
      = g_key_file_get_string (kf, GROUP_APPEARANCE, "color-scheme", NULL);
  attn_color_scheme_from_string (scheme, &prefs->color_scheme);

  g_autofree char *colormap
      = g_key_file_get_string (kf, GROUP_VIEW, "colormap", NULL);
  if (colormap != NULL)
    attn_colormap_from_name (colormap, &prefs->colormap, NULL);
  g_autoptr (GError) number_error = NULL;
  double threshold
      = g_key_file_get_double (kf, GROUP_VIEW, "threshold", &number_error);
  if (number_error == NULL && isfinite (threshold) && threshold >= 0.0
      && threshold <= 1.0)
    prefs->threshold = threshold;
  g_autofree char *view = g_key_file_get_string (kf, GROUP_VIEW, "view", NULL);
  attn_view_kind_from_string (view, &prefs->view);

  prefs->width = read_int (kf, GROUP_WINDOW, "width", 1, MAX_WINDOW_SIDE, 0);
  prefs->height = read_int (kf, GROUP_WINDOW, "height", 1, MAX_WINDOW_SIDE, 0);
  prefs->maximized
      = g_key_file_get_boolean (kf, GROUP_WINDOW, "maximized", NULL);

  gsize n = 0;
  g_auto (GStrv) recent
      = g_key_file_get_string_list (kf, GROUP_MODELS, "recent", &n, NULL);
  /* Oldest first, so each add puts the newer ahead of it. */
  for (gsize i = n; recent != NULL && i > 0; i--)
    if (recent[i - 1][0] != '\0')
      attn_preferences_add_recent (prefs, recent[i - 1]);
  prefs->gpt2_generate
      = read_int (kf, GROUP_MODELS, "gpt2-generate", 0,
                  ATTN_RUNNER_MAX_GENERATE, 0);
  return prefs;
}

gboolean
attn_preferences_save (const AttnPreferences *prefs, const char *path,
                       GError **error)
{
  g_autofree char *shown = g_filename_display_name (path);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  /* Keep what is there (comments, keys of other versions). */
  g_key_file_load_from_file (kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL);

  g_key_file_set_string (kf, GROUP_APPEARANCE, "color-scheme",
                         attn_color_scheme_to_string (prefs->color_scheme));
  g_key_file_set_string (kf, GROUP_VIEW, "colormap",
                         attn_colormap_to_name (prefs->colormap));
  g_key_file_set_double (kf, GROUP_VIEW, "threshold", prefs->threshold);
  g_key_file_set_string (kf, GROUP_VIEW, "view",
                         attn_view_kind_to_string (prefs->view));
  if (prefs->width > 0 && prefs->height > 0)
    {
      g_key_file_set_integer (kf, GROUP_WINDOW, "width", prefs->width);
      g_key_file_set_integer (kf, GROUP_WINDOW, "height", prefs->height);
    }
  g_key_file_set_boolean (kf, GROUP_WINDOW, "maximized", prefs->maximized);
  g_key_file_set_string_list (kf, GROUP_MODELS, "recent",
                              (const char *const *)prefs->recent_models,
                              g_strv_length (prefs->recent_models));
  g_key_file_set_integer (kf, GROUP_MODELS, "gpt2-generate",
                          CLAMP (prefs->gpt2_generate, 0,
                                 ATTN_RUNNER_MAX_GENERATE));

  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                   "%s: preferences not saved: cannot make its folder (%s)",
                   shown, g_strerror (saved));
      return FALSE;
    }
  g_autoptr (GError) local = NULL;
  if (!g_key_file_save_to_file (kf, path, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                   "%s: preferences not saved (%s)", shown, local->message);
      return FALSE;
    }
  return TRUE;
}

void
attn_preferences_add_recent (AttnPreferences *prefs, const char *path)
{
  g_return_if_fail (prefs != NULL && path != NULL);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_strv_builder_add (b, path);
  guint n = 1;
  for (guint i = 0;
       prefs->recent_models[i] != NULL && n < ATTN_PREFERENCES_MAX_RECENT; i++)
    if (strcmp (prefs->recent_models[i], path) != 0)
      {
        g_strv_builder_add (b, prefs->recent_models[i]);
        n++;
      }
  g_strfreev (prefs->recent_models);
  prefs->recent_models = g_strv_builder_end (b);
}
