/* attn-application.c: the Attnscope application (see the header). */
#include "ui/attn-application.h"

#include <glib/gi18n-lib.h>

#include "core/attn-model-ref.h"
#include "ui/attn-i18n.h"
#include "ui/attn-preferences.h"
#include "ui/attn-window.h"

struct _AttnApplication
{
  AdwApplication parent_instance;
  gint64 start_us;
};

G_DEFINE_FINAL_TYPE (AttnApplication, attn_application, ADW_TYPE_APPLICATION)

static gboolean
default_model_exists (void)
{
  g_autoptr (AttnModelRef) ref
      = attn_model_ref_resolve (ATTN_DEFAULT_MODEL, NULL);
  return ref != NULL && ref->kind == ATTN_MODEL_REF_BUNDLED;
}

static AttnWindow *
new_window (GApplication *app)
{
  AttnWindow *window = attn_window_new (GTK_APPLICATION (app));
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
attn_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window != NULL)
    {
      gtk_window_present (window);
      return;
    }
  AttnWindow *win = new_window (app);
  if (default_model_exists ())
    attn_window_open_model (win, ATTN_DEFAULT_MODEL);
}

/* Paths on the command line are relative to the invoking process's folder,
 * which a remote instance does not share. */
static char *
resolve_arg (GApplicationCommandLine *cmdline, const char *arg)
{
  g_autoptr (GFile) file
      = g_application_command_line_create_file_for_arg (cmdline, arg);
  char *path = g_file_get_path (file);
  /* A bundled model's name is no path: keep it as typed. */
  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_free (path);
      return g_strdup (arg);
    }
  return path;
}

static int
attn_application_command_line (GApplication *app,
                               GApplicationCommandLine *cmdline)
{
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  const char *model = NULL, *trace = NULL, *view_name = NULL, *text = NULL;
  gboolean presentation = FALSE;
  g_autofree const char **files = NULL;
  g_variant_dict_lookup (options, "model", "&s", &model);
  g_variant_dict_lookup (options, "trace", "^&ay", &trace);
  g_variant_dict_lookup (options, "view", "&s", &view_name);
  g_variant_dict_lookup (options, "presentation", "b", &presentation);
  g_variant_dict_lookup (options, "text", "&s", &text);
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&ay", &files);

  AttnViewKind view = ATTN_VIEW_HEATMAP;
  if (view_name != NULL && !attn_view_kind_from_string (view_name, &view))
    {
      g_application_command_line_printerr (
          cmdline,
          "attnscope: unknown view “%s”; the views are heatmap, alignment, "
          "head, model and step\n",
          view_name);
      return 2;
    }

  if (model == NULL && trace == NULL && (files == NULL || files[0] == NULL))
    {
      GtkWindow *before
          = gtk_application_get_active_window (GTK_APPLICATION (app));
      if (text != NULL && before == NULL)
        {
          /* A new window on the default model, typing the given text. */
          AttnWindow *window = new_window (app);
          attn_window_set_initial_text (window, text);
          if (default_model_exists ())
            attn_window_open_model (window, ATTN_DEFAULT_MODEL);
        }
      else
        g_application_activate (app);
      GtkWindow *active
          = gtk_application_get_active_window (GTK_APPLICATION (app));
      if (view_name != NULL && ATTN_IS_WINDOW (active))
        attn_window_set_view (ATTN_WINDOW (active), view);
      if (presentation && ATTN_IS_WINDOW (active))
        attn_window_set_presentation (ATTN_WINDOW (active), TRUE);
      return 0;
    }

  AttnWindow *window = new_window (app);
  attn_window_set_initial_text (window, text);
  attn_window_set_view (window, view);
  if (presentation)
    attn_window_set_presentation (window, TRUE);
  int status = 0;
  if (trace != NULL)
    {
      g_autofree char *path = resolve_arg (cmdline, trace);
      g_autoptr (GError) error = NULL;
      if (!attn_window_open_trace (window, path, &error))
        {
          g_application_command_line_printerr (cmdline, "attnscope: %s\n",
                                               error->message);
          attn_window_toast (window, error->message);
          status = 1;
        }
    }
  if (model != NULL)
    {
      g_autofree char *ref = resolve_arg (cmdline, model);
      attn_window_open_model (window, ref);
    }
  for (guint i = 0; files != NULL && files[i] != NULL; i++)
    {
      g_autofree char *path = resolve_arg (cmdline, files[i]);
      g_autofree char *lower = g_utf8_strdown (path, -1);
      if (g_str_has_suffix (lower, ".json"))
        {
          g_autoptr (GError) error = NULL;
          if (!attn_window_open_trace (window, path, &error))
            {
              g_application_command_line_printerr (cmdline, "attnscope: %s\n",
                                                   error->message);
              attn_window_toast (window, error->message);
              status = 1;
            }
        }
      else
        attn_window_open_model (window, path);
    }
  return status;
}

static void
about_action (GSimpleAction *action, GVariant *param, gpointer data)
{
  GtkApplication *app = data;
  const char *developers[] = { _ ("The Attnscope authors"), NULL };
  GtkWidget *about = adw_about_window_new ();
  g_object_set (about, "transient-for", gtk_application_get_active_window (app),
                "application-name", "Attnscope", "application-icon",
                ATTN_APP_ID, "version", ATTN_VERSION, "comments",
                _ ("Run sequence models and see every attention weight: per "
                   "layer, per head, as heatmaps, alignments, head views and "
                   "grids."),
                "developers", developers, "license-type", GTK_LICENSE_MIT_X11,
                "website", "https://github.com/attnscope/attnscope", NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static AdwColorScheme
adw_scheme (AttnColorScheme scheme)
{
  switch (scheme)
    {
    case ATTN_COLOR_SCHEME_LIGHT:
      return ADW_COLOR_SCHEME_FORCE_LIGHT;
    case ATTN_COLOR_SCHEME_DARK:
      return ADW_COLOR_SCHEME_FORCE_DARK;
    case ATTN_COLOR_SCHEME_SYSTEM:
      break;
    }
  return ADW_COLOR_SCHEME_DEFAULT;
}

/* app.color-scheme ("system", "light", "dark"): applied at once and kept
 * in the preferences. */
static void
color_scheme_changed (GSimpleAction *action, GVariant *value, gpointer data)
{
  AttnColorScheme scheme;
  if (!attn_color_scheme_from_string (g_variant_get_string (value, NULL),
                                      &scheme))
    return;
  g_simple_action_set_state (action, value);
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      adw_scheme (scheme));
  g_autofree char *path = attn_preferences_path ();
  g_autoptr (AttnPreferences) prefs = attn_preferences_load (path, NULL);
  prefs->color_scheme = scheme;
  g_autoptr (GError) error = NULL;
  if (!attn_preferences_save (prefs, path, &error))
    {
      GtkWindow *window = gtk_application_get_active_window (data);
      if (ATTN_IS_WINDOW (window))
        attn_window_toast (ATTN_WINDOW (window), error->message);
    }
}

static void
quit_action (GSimpleAction *action, GVariant *param, gpointer data)
{
  g_application_quit (G_APPLICATION (data));
}

static void
attn_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (attn_application_parent_class)->startup (app);

  static const GActionEntry entries[] = {
    { "about", about_action, NULL, NULL, NULL, { 0 } },
    { "quit", quit_action, NULL, NULL, NULL, { 0 } },
    { "color-scheme", NULL, "s", "'system'", color_scheme_changed, { 0 } },
  };
  g_action_map_add_action_entries (G_ACTION_MAP (app), entries,
                                   G_N_ELEMENTS (entries), app);

  /* The style chosen last time. */
  g_autofree char *path = attn_preferences_path ();
  g_autoptr (AttnPreferences) prefs = attn_preferences_load (path, NULL);
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                      adw_scheme (prefs->color_scheme));
  g_simple_action_set_state (
      G_SIMPLE_ACTION (
          g_action_map_lookup_action (G_ACTION_MAP (app), "color-scheme")),
      g_variant_new_string (attn_color_scheme_to_string (prefs->color_scheme)));
  const char *quit_accels[] = { "<Control>q", NULL };
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit",
                                         quit_accels);
  gtk_window_set_default_icon_name (ATTN_APP_ID);
}

static void
attn_application_class_init (AttnApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  app_class->activate = attn_application_activate;
  app_class->command_line = attn_application_command_line;
  app_class->startup = attn_application_startup;
  /* Before the help overlay or any window looks a string up. */
  attn_i18n_init ();
}

gint64
attn_application_get_start_time (AttnApplication *self)
{
  g_return_val_if_fail (ATTN_IS_APPLICATION (self), 0);
  return self->start_us;
}

static void
attn_application_init (AttnApplication *self)
{
  self->start_us = g_get_monotonic_time ();
  static const GOptionEntry entries[]
      = { { "model", 'm', 0, G_OPTION_ARG_STRING, NULL,
            "Open MODEL: a model file, a folder or a bundled model's name",
            "MODEL" },
          { "trace", 't', 0, G_OPTION_ARG_FILENAME, NULL,
            "Open a saved trace (.json) without its model", "FILE" },
          { "view", 0, 0, G_OPTION_ARG_STRING, NULL,
            "Start on VIEW: heatmap, alignment, head, model or step", "VIEW" },
          { "text", 0, 0, G_OPTION_ARG_STRING, NULL,
            "Run the model on TEXT first, instead of its example", "TEXT" },
          { "presentation", 0, 0, G_OPTION_ARG_NONE, NULL,
            "Start in presentation mode (fullscreen, large type; F11 toggles)",
            NULL },
          { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL,
            "[FILE…]" },
          { NULL } };
  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (
      G_APPLICATION (self),
      _ ("Run sequence models and see every attention weight."));
}

AttnApplication *
attn_application_new (void)
{
  return g_object_new (ATTN_TYPE_APPLICATION, "application-id", ATTN_APP_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE, NULL);
}
