/* attn-bench-bpe.c: speed of GPT-2's byte-level BPE tokenizer.
 *
 *   build/bench/attn-bench-bpe [--model DIR] [--reps 5] [FILE...]
 *
 * Run from the project root. DIR is a GPT-2 tokenizer folder (default
 * ../shared/models/gpt2-tokenizer; ../shared/models/hf-fake-gpt2 has the
 * other two layouts), loaded in every layout it holds. The text is the
 * FILEs concatenated (default: README.md and the .md files in docs/, ~90 KB
 * of English with code and some Chinese). Figures:
 *   load     attn_bpe_new_from_files / _from_tokenizer_json, best of --reps;
 *   cold     encoding the text once with a fresh tokenizer (every word
 *            merged for the first time, then from the word cache);
 *   warm     the same text again (every word from the cache), best of
 *            --reps;
 *   unique   a text of 20,000 distinct random "words" (no cache help);
 *   labels   attn_bpe_labels over the text's ids, best of --reps.
 * Tokens per second and MB of text per second, on one thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-bpe.h"

static double
now (void)
{
  return (double)g_get_monotonic_time () / 1e6;
}

static char *
default_text (void)
{
  GString *text = g_string_new (NULL);
  g_autofree char *readme = NULL;
  if (g_file_get_contents ("README.md", &readme, NULL, NULL))
    g_string_append (text, readme);
  g_autoptr (GDir) dir = g_dir_open ("docs", 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".md"))
      g_ptr_array_add (names, g_build_filename ("docs", name, NULL));
  g_ptr_array_sort (names, (GCompareFunc)g_strcmp0);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *contents = NULL;
      if (g_file_get_contents (names->pdata[i], &contents, NULL, NULL))
        g_string_append (text, contents);
    }
  return g_string_free (text, FALSE);
}

static AttnBpe *
load (const char *what, AttnBpe *(*fn) (const char *, const char *, GError **),
      const char *a, const char *b, int reps)
{
  double best = 1e30;
  AttnBpe *bpe = NULL;
  for (int r = 0; r < reps; r++)
    {
      g_clear_pointer (&bpe, attn_bpe_free);
      g_autoptr (GError) error = NULL;
      double t0 = now ();
      bpe = fn (a, b, &error);
      double t = now () - t0;
      if (bpe == NULL)
        {
          printf ("load %-34s %s\n", what, error->message);
          return NULL;
        }
      best = MIN (best, t);
    }
  printf ("load %-34s %8.1f ms\n", what, best * 1e3);
  return bpe;
}

static AttnBpe *
from_files (const char *a, const char *b, GError **error)
{
  return attn_bpe_new_from_files (a, b, error);
}

static AttnBpe *
from_tokenizer_json (const char *a, const char *b, GError **error)
{
  return attn_bpe_new_from_tokenizer_json (a, error);
}

static guint
encode (const AttnBpe *bpe, const char *text, double *seconds)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (AttnBpeSpan));
  g_autoptr (GError) error = NULL;
  double t0 = now ();
  if (!attn_bpe_encode (bpe, text, ATTN_BPE_ENCODE_SPECIAL, ids, spans, &error))
    g_error ("encode: %s", error->message);
  *seconds = now () - t0;
  return ids->len;
}

static void
report (const char *what, guint tokens, gsize bytes, double seconds)
{
  printf ("%-8s %8u tokens %8.2f ms  %6.2f M tokens/s  %6.1f MB/s\n", what,
          tokens, seconds * 1e3, tokens / seconds / 1e6, bytes / seconds / 1e6);
}

int
main (int argc, char **argv)
{
  const char *model = "../shared/models/gpt2-tokenizer";
  int reps = 5;
  GString *text = g_string_new (NULL);
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--model") == 0 && i + 1 < argc)
        model = argv[++i];
      else if (strcmp (argv[i], "--reps") == 0 && i + 1 < argc)
        {
          reps = atoi (argv[++i]);
          reps = MAX (reps, 1);
        }
      else
        {
          g_autofree char *contents = NULL;
          g_autoptr (GError) error = NULL;
          if (!g_file_get_contents (argv[i], &contents, NULL, &error))
            {
              fprintf (stderr, "%s\n", error->message);
              return 1;
            }
          g_string_append (text, contents);
        }
    }
  if (text->len == 0)
    {
      g_autofree char *d = default_text ();
      g_string_append (text, d);
    }
  if (text->len == 0)
    {
      fprintf (stderr, "no text: run from the project root or name files\n");
      return 1;
    }

  g_autofree char *enc = g_build_filename (model, "encoder.json", NULL);
  g_autofree char *vbpe = g_build_filename (model, "vocab.bpe", NULL);
  g_autofree char *vocab = g_build_filename (model, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (model, "merges.txt", NULL);
  g_autofree char *tok = g_build_filename (model, "tokenizer.json", NULL);
  AttnBpe *bpe = NULL;
  if (g_file_test (enc, G_FILE_TEST_EXISTS))
    bpe = load ("encoder.json + vocab.bpe", from_files, enc, vbpe, reps);
  if (g_file_test (vocab, G_FILE_TEST_EXISTS))
    {
      AttnBpe *b
          = load ("vocab.json + merges.txt", from_files, vocab, merges, reps);
      if (bpe == NULL)
        bpe = b;
      else
        attn_bpe_free (b);
    }
  if (g_file_test (tok, G_FILE_TEST_EXISTS))
    {
      AttnBpe *b
          = load ("tokenizer.json", from_tokenizer_json, tok, NULL, reps);
      if (bpe == NULL)
        bpe = b;
      else
        attn_bpe_free (b);
    }
  if (bpe == NULL)
    {
      fprintf (stderr, "%s: no tokenizer files\n", model);
      return 1;
    }

  printf ("text: %" G_GSIZE_FORMAT " bytes\n", text->len);
  double t;
  guint n = encode (bpe, text->str, &t);
  report ("cold", n, text->len, t);
  double best = 1e30;
  for (int r = 0; r < reps; r++)
    {
      encode (bpe, text->str, &t);
      best = MIN (best, t);
    }
  report ("warm", n, text->len, best);

  /* Distinct words: every one merged from its bytes. */
  g_autoptr (GRand) rng = g_rand_new_with_seed (1);
  GString *unique = g_string_new (NULL);
  for (int w = 0; w < 20000; w++)
    {
      g_string_append_c (unique, ' ');
      int len = g_rand_int_range (rng, 3, 12);
      for (int k = 0; k < len; k++)
        g_string_append_c (
            unique, "etaoinshrdlucmfwypvbgk"[g_rand_int_range (rng, 0, 22)]);
    }
  g_autoptr (GError) error = NULL;
  AttnBpe *fresh = attn_bpe_new_from_dir (model, &error);
  if (fresh == NULL)
    g_error ("%s", error->message);
  guint nu = encode (fresh, unique->str, &t);
  report ("unique", nu, unique->len, t);
  attn_bpe_free (fresh);

  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  attn_bpe_encode (bpe, text->str, ATTN_BPE_ENCODE_SPECIAL, ids, NULL, NULL);
  best = 1e30;
  for (int r = 0; r < reps; r++)
    {
      double t0 = now ();
      g_autoptr (GArray) labels
          = attn_bpe_labels (bpe, (int *)ids->data, ids->len, NULL, NULL);
      best = MIN (best, now () - t0);
    }
  report ("labels", ids->len, text->len, best);

  attn_bpe_free (bpe);
  g_string_free (unique, TRUE);
  g_string_free (text, TRUE);
  return 0;
}
