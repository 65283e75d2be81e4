/* test-preferences.c: the key file the GUI remembers its choices in:
 * defaults, a round trip, every damaged value falling back to its default
 * alone, unknown keys kept, the recent-models list, and a file that cannot
 * be written. Suite ui (it links attn-ui). */
#include <string.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "ui/attn-preferences.h"

static char *dir;

static char *
path_in_dir (const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
assert_defaults (const AttnPreferences *p)
{
  g_assert_cmpint (p->color_scheme, ==, ATTN_COLOR_SCHEME_SYSTEM);
  g_assert_cmpint (p->colormap, ==, ATTN_COLORMAP_VIRIDIS);
  g_assert_cmpfloat (p->threshold, ==, 0.01);
  g_assert_cmpint (p->view, ==, ATTN_VIEW_HEATMAP);
  g_assert_cmpint (p->width, ==, 0);
  g_assert_cmpint (p->height, ==, 0);
  g_assert_false (p->maximized);
  g_assert_cmpuint (g_strv_length (p->recent_models), ==, 0);
  g_assert_cmpint (p->gpt2_generate, ==, 0);
}

static void
test_absent_file (void)
{
  g_autofree char *path = path_in_dir ("absent/preferences.ini");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnPreferences) p = attn_preferences_load (path, &error);
  g_assert_no_error (error);
  assert_defaults (p);
}

static void
test_round_trip (void)
{
  /* Saved into a folder that does not exist yet, beside a key from a
   * newer version that must survive. */
  g_autofree char *sub = path_in_dir ("round");
  g_autofree char *path = g_build_filename (sub, "preferences.ini", NULL);
  g_autoptr (AttnPreferences) p = attn_preferences_new ();
  p->color_scheme = ATTN_COLOR_SCHEME_DARK;
  p->colormap = ATTN_COLORMAP_CIVIDIS;
  p->threshold = 0.25;
  p->view = ATTN_VIEW_MODEL;
  p->width = 900;
  p->height = 650;
  p->maximized = TRUE;
  p->gpt2_generate = 48;
  attn_preferences_add_recent (p, "/models/a.safetensors");
  attn_preferences_add_recent (p, "/models/b.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_preferences_save (p, path, &error));
  g_assert_no_error (error);

  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_autofree char *with_extra
      = g_strconcat (text, "\n[future]\nknob=3\n", NULL);
  g_assert_true (g_file_set_contents (path, with_extra, -1, NULL));

  g_autoptr (AttnPreferences) q = attn_preferences_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (q->color_scheme, ==, ATTN_COLOR_SCHEME_DARK);
  g_assert_cmpint (q->colormap, ==, ATTN_COLORMAP_CIVIDIS);
  g_assert_cmpfloat (q->threshold, ==, 0.25);
  g_assert_cmpint (q->view, ==, ATTN_VIEW_MODEL);
  g_assert_cmpint (q->width, ==, 900);
  g_assert_cmpint (q->height, ==, 650);
  g_assert_true (q->maximized);
  g_assert_cmpint (q->gpt2_generate, ==, 48);
  g_assert_cmpuint (g_strv_length (q->recent_models), ==, 2);
  g_assert_cmpstr (q->recent_models[0], ==, "/models/b.safetensors");
  g_assert_cmpstr (q->recent_models[1], ==, "/models/a.safetensors");

  q->threshold = 0.5;
  g_assert_true (attn_preferences_save (q, path, &error));
  g_autofree char *again = NULL;
  g_assert_true (g_file_get_contents (path, &again, NULL, NULL));
  g_assert_nonnull (strstr (again, "[future]"));
  g_assert_nonnull (strstr (again, "knob=3"));
  g_assert_nonnull (strstr (again, "threshold=0.5"));
  g_unlink (path);
  g_rmdir (sub);
}

/* Each damaged value falls back to its default; the sound ones are still
 * read. */
typedef struct
{
  const char *name;
  const char *text;
} BadCase;

static const BadCase bad_cases[] = {
  { "color-scheme", "[appearance]\ncolor-scheme=purple\n[view]\nview=step\n" },
  { "colormap", "[view]\ncolormap=pink\nview=step\n" },
  { "threshold-text", "[view]\nthreshold=abc\nview=step\n" },
  { "threshold-range", "[view]\nthreshold=2.5\nview=step\n" },
  { "threshold-nan", "[view]\nthreshold=nan\nview=step\n" },
  { "view", "[view]\nview=bogus\n[appearance]\ncolor-scheme=light\n" },
  { "width", "[window]\nwidth=-5\nheight=99999999\n[view]\nview=step\n" },
  { "gpt2-generate-range", "[models]\ngpt2-generate=257\n[view]\nview=step\n" },
  { "gpt2-generate-negative",
    "[models]\ngpt2-generate=-1\n[view]\nview=step\n" },
  { "gpt2-generate-text", "[models]\ngpt2-generate=many\n[view]\nview=step\n" },
};

static void
test_bad_value (gconstpointer data)
{
  const BadCase *c = data;
  g_autofree char *path = path_in_dir ("bad.ini");
  g_assert_true (g_file_set_contents (path, c->text, -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnPreferences) p = attn_preferences_load (path, &error);
  g_assert_no_error (error);
  if (strcmp (c->name, "view") == 0)
    {
      g_assert_cmpint (p->view, ==, ATTN_VIEW_HEATMAP);
      g_assert_cmpint (p->color_scheme, ==, ATTN_COLOR_SCHEME_LIGHT);
    }
  else
    {
      g_assert_cmpint (p->view, ==, ATTN_VIEW_STEP);
      p->view = ATTN_VIEW_HEATMAP;
      assert_defaults (p);
    }
  g_unlink (path);
}

static void
test_unparsable (void)
{
  g_autofree char *path = path_in_dir ("garbage.ini");
  g_assert_true (
      g_file_set_contents (path, "[[[ not a key file\n\x01", -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnPreferences) p = attn_preferences_load (path, &error);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "garbage.ini"));
  assert_defaults (p);
  g_unlink (path);
}

static void
test_recent (void)
{
  g_autoptr (AttnPreferences) p = attn_preferences_new ();
  for (int i = 0; i < 7; i++)
    {
      g_autofree char *path = g_strdup_printf ("/m/%d.safetensors", i);
      attn_preferences_add_recent (p, path);
    }
  g_assert_cmpuint (g_strv_length (p->recent_models), ==,
                    ATTN_PREFERENCES_MAX_RECENT);
  g_assert_cmpstr (p->recent_models[0], ==, "/m/6.safetensors");
  g_assert_cmpstr (p->recent_models[4], ==, "/m/2.safetensors");
  /* Opening one again moves it to the front, once. */
  attn_preferences_add_recent (p, "/m/4.safetensors");
  g_assert_cmpuint (g_strv_length (p->recent_models), ==, 5);
  g_assert_cmpstr (p->recent_models[0], ==, "/m/4.safetensors");
  g_assert_cmpstr (p->recent_models[1], ==, "/m/6.safetensors");
  g_assert_cmpstr (p->recent_models[2], ==, "/m/5.safetensors");
  g_assert_cmpstr (p->recent_models[3], ==, "/m/3.safetensors");
  g_assert_cmpstr (p->recent_models[4], ==, "/m/2.safetensors");
}

static void
test_unwritable (void)
{
  /* Root can write anywhere, but not below a regular file. */
  g_autofree char *file = path_in_dir ("a-file");
  g_assert_true (g_file_set_contents (file, "x", -1, NULL));
  g_autofree char *path
      = g_build_filename (file, "sub", "preferences.ini", NULL);
  g_autoptr (AttnPreferences) p = attn_preferences_new ();
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_preferences_save (p, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "preferences.ini"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_unlink (file);
}

static void
test_scheme_names (void)
{
  AttnColorScheme s;
  for (int i = ATTN_COLOR_SCHEME_SYSTEM; i <= ATTN_COLOR_SCHEME_DARK; i++)
    {
      g_assert_true (
          attn_color_scheme_from_string (attn_color_scheme_to_string (i), &s));
      g_assert_cmpint (s, ==, i);
    }
  g_assert_false (attn_color_scheme_from_string ("Dark", &s));
  g_assert_false (attn_color_scheme_from_string (NULL, &s));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("attnscope-prefs-XXXXXX", NULL);
  g_assert_nonnull (dir);
  g_test_add_func ("/attn/preferences/absent-file", test_absent_file);
  g_test_add_func ("/attn/preferences/round-trip", test_round_trip);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *name
          = g_strdup_printf ("/attn/preferences/bad/%s", bad_cases[i].name);
      g_test_add_data_func (name, &bad_cases[i], test_bad_value);
    }
  g_test_add_func ("/attn/preferences/unparsable", test_unparsable);
  g_test_add_func ("/attn/preferences/recent", test_recent);
  g_test_add_func ("/attn/preferences/unwritable", test_unwritable);
  g_test_add_func ("/attn/preferences/scheme-names", test_scheme_names);
  int status = g_test_run ();
  g_rmdir (dir);
  g_free (dir);
  return status;
}
