/* fuzz-replay.c: main () for a fuzz target built without libFuzzer. Feeds
 * each FILE, and each regular file of each DIR (sorted by name, not
 * recursing), through LLVMFuzzerTestOneInput once, in this process;
 * --optional=DIR is the same but skipped when DIR does not exist (a target
 * with no regression inputs has no folder for them). The
 * `fuzz` test suite runs it over tests/fuzz/corpus/<target>/ and
 * tests/fuzz/regressions/<target>/, so every input ever found interesting
 * is checked by every build, with no clang needed; under build-asan the
 * sanitizers watch it too.
 *
 * Exit status: 0 when every input returned; 1 when an argument cannot be
 * read or names nothing to feed (an empty corpus would prove nothing); a
 * crash is the crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "tests/fuzz/attn-fuzz.h"

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
replay_file (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      fprintf (stderr, "fuzz-replay: %s\n", error->message);
      return FALSE;
    }
  /* A copy of exactly len bytes, so ASan sees a read past the input. */
  g_autofree uint8_t *copy = g_memdup2 (contents, len);
  LLVMFuzzerTestOneInput (copy, len);
  return TRUE;
}

/* Replays path (a file or a folder); adds the inputs fed to *n. */
static gboolean
replay (const char *path, guint *n)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      if (!replay_file (path))
        return FALSE;
      (*n)++;
      return TRUE;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "fuzz-replay: %s\n", error->message);
      return FALSE;
    }
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *file = g_build_filename (path, name, NULL);
      if (name[0] != '.' && g_file_test (file, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (files, file);
      else
        g_free (file);
    }
  g_ptr_array_sort (files, compare_names);
  for (guint i = 0; i < files->len; i++)
    {
      if (!replay_file (files->pdata[i]))
        return FALSE;
      (*n)++;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s [--optional=]FILE|DIR...\n", argv[0]);
      return 1;
    }
  guint total = 0;
  for (int i = 1; i < argc; i++)
    {
      const char *path = argv[i];
      if (g_str_has_prefix (path, "--optional="))
        {
          path += strlen ("--optional=");
          if (!g_file_test (path, G_FILE_TEST_EXISTS))
            continue;
        }
      guint n = 0;
      if (!replay (path, &n))
        return 1;
      printf ("%s: %u inputs\n", path, n);
      total += n;
    }
  if (total == 0)
    {
      fprintf (stderr, "fuzz-replay: no inputs in %s%s\n", argv[1],
               argc > 2 ? " ..." : "");
      return 1;
    }
  printf ("replayed %u inputs\n", total);
  return 0;
}
