/* attn-fuzz.c: the helpers of attn-fuzz.h. */
#include "tests/fuzz/attn-fuzz.h"

#include <stdlib.h>
#include <string.h>

static GLogWriterOutput
fatal_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
              gpointer user_data)
{
  GLogWriterOutput out = g_log_writer_standard_streams (level, fields,
                                                        n_fields, user_data);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL
               | G_LOG_LEVEL_WARNING))
    abort ();
  return out;
}

void
attn_fuzz_init (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      g_log_set_writer_func (fatal_writer, NULL, NULL);
      g_once_init_leave (&once, 1);
    }
}

void
attn_fuzz_note (const GError *error)
{
  static int verbose = -1;
  if (verbose < 0)
    verbose = g_getenv ("ATTN_FUZZ_VERBOSE") != NULL;
  if (verbose && error != NULL)
    g_printerr ("refused: %s\n", error->message);
}

char *
attn_fuzz_strndup (const uint8_t *data, size_t size)
{
  char *s = g_malloc (size + 1);
  if (size > 0)
    memcpy (s, data, size);
  s[size] = '\0';
  return s;
}

const char *
attn_fuzz_models_dir (void)
{
  const char *dir = g_getenv ("ATTN_FUZZ_MODELS_DIR");
  return dir != NULL ? dir : ATTN_FUZZ_MODELS_DIR;
}

const char *
attn_fuzz_shared_models_dir (void)
{
  const char *dir = g_getenv ("ATTN_SHARED_MODELS");
  return dir != NULL ? dir : ATTN_FUZZ_SHARED_MODELS_DIR;
}
