/* attn-model-ref.c: resolving --model (see attn-model-ref.h). */
#include "core/attn-model-ref.h"

#include <string.h>

#include "core/attn-error.h"

/* Set by core/meson.build. */
#ifndef ATTN_BUILD_ROOT
#error "ATTN_BUILD_ROOT must name the build tree"
#endif
#ifndef ATTN_SOURCE_MODELS_DIR
#error "ATTN_SOURCE_MODELS_DIR must name assets/models in the source tree"
#endif
#ifndef ATTN_INSTALLED_MODELS_DIR
#error "ATTN_INSTALLED_MODELS_DIR must name <datadir>/attnscope/models"
#endif

#define BUNDLED_SUFFIX ".safetensors"

/* An installed program must not pick up models from a source tree that
 * happens to still exist where it was built; an uninstalled one must. */
static gboolean
running_uninstalled (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  return exe != NULL
         && g_str_has_prefix (exe, ATTN_BUILD_ROOT G_DIR_SEPARATOR_S);
}

char **
attn_model_search_path (void)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const char *env = g_getenv ("ATTNSCOPE_MODEL_PATH");
  if (env != NULL)
    {
      /* Set, it replaces the defaults (as XDG_DATA_DIRS does): the one way
       * to say exactly where to look. */
      g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; dirs[i] != NULL; i++)
        if (dirs[i][0] != '\0')
          g_strv_builder_add (b, dirs[i]);
      return g_strv_builder_end (b);
    }
  if (running_uninstalled ())
    g_strv_builder_add (b, ATTN_SOURCE_MODELS_DIR);
  g_strv_builder_add (b, ATTN_INSTALLED_MODELS_DIR);
  return g_strv_builder_end (b);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char **
attn_model_list_bundled (void)
{
  g_auto (GStrv) dirs = attn_model_search_path ();
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autoptr (GDir) dir = g_dir_open (dirs[i], 0, NULL);
      if (dir == NULL)
        continue;
      const char *entry;
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          /* A trainer's optimiser state (attn-train.h) is no model. */
          if (!g_str_has_suffix (entry, BUNDLED_SUFFIX) || entry[0] == '.'
              || g_str_has_suffix (entry, ".optim" BUNDLED_SUFFIX))
            continue;
          char *name = g_strndup (entry,
                                  strlen (entry) - strlen (BUNDLED_SUFFIX));
          if (name[0] == '\0'
              || g_ptr_array_find_with_equal_func (names, name, g_str_equal,
                                                   NULL))
            g_free (name);
          else
            g_ptr_array_add (names, name);
        }
    }
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

const char *
attn_model_ref_kind_name (AttnModelRefKind kind)
{
  switch (kind)
    {
    case ATTN_MODEL_REF_FILE:
      return "file";
    case ATTN_MODEL_REF_FOLDER:
      return "folder";
    case ATTN_MODEL_REF_BUNDLED:
      return "bundled model";
    }
  return "?";
}

static AttnModelRef *
model_ref_new (AttnModelRefKind kind, const char *name, const char *path)
{
  AttnModelRef *ref = g_new0 (AttnModelRef, 1);
  ref->kind = kind;
  ref->name = g_strdup (name);
  ref->path = g_strdup (path);
  return ref;
}

/* A bundled model's name is a plain file name stem: no separator, not
 * hidden, not empty. */
static gboolean
is_plain_name (const char *ref)
{
  return ref[0] != '\0' && ref[0] != '.' && strchr (ref, '/') == NULL
         && strchr (ref, G_DIR_SEPARATOR) == NULL;
}

AttnModelRef *
attn_model_ref_resolve (const char *ref, GError **error)
{
  g_return_val_if_fail (ref != NULL, NULL);
  g_autofree char *shown = g_filename_display_name (ref);

  if (g_file_test (ref, G_FILE_TEST_IS_DIR))
    return model_ref_new (ATTN_MODEL_REF_FOLDER, ref, ref);
  if (g_file_test (ref, G_FILE_TEST_IS_REGULAR))
    return model_ref_new (ATTN_MODEL_REF_FILE, ref, ref);
  if (g_file_test (ref, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                   "cannot open model “%s”: not a regular file or folder",
                   shown);
      return NULL;
    }
  if (!is_plain_name (ref))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                   "cannot open model “%s”: no such file or folder", shown);
      return NULL;
    }

  g_auto (GStrv) dirs = attn_model_search_path ();
  g_autofree char *file = g_strconcat (ref, BUNDLED_SUFFIX, NULL);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return model_ref_new (ATTN_MODEL_REF_BUNDLED, ref, path);
    }
  g_autofree char *searched = g_strjoinv (", ", dirs);
  g_autofree char *searched_shown = g_filename_display_name (searched);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
               "cannot open model “%s”: no such file or folder, and no "
               "bundled model of that name (searched %s; “attnscope-cli "
               "info” lists the bundled models)",
               shown, searched_shown);
  return NULL;
}

void
attn_model_ref_free (AttnModelRef *ref)
{
  if (ref == NULL)
    return;
  g_free (ref->name);
  g_free (ref->path);
  g_free (ref);
}

gboolean
attn_model_ref_open (const AttnModelRef *ref, GError **error)
{
  g_autofree char *name = g_filename_display_name (ref->name);
  g_autofree char *shown = g_filename_display_name (ref->path);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
               "cannot open model “%s” (%s %s): no model formats are "
               "readable in this build yet; the built-in models and the "
               "GPT-2 loader arrive with later issues",
               name, attn_model_ref_kind_name (ref->kind), shown);
  return FALSE;
}
