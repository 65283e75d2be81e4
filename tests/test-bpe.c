/* test-bpe.c: GPT-2's byte-level BPE tokenizer.
 *
 * Self-contained cases (always run) build small tokenizers in memory: the
 * byte alphabet, merges worked out by hand, encoder.py's one-pass-per-rank
 * rule, random merge tables against a plain transcription of encoder.py's
 * loop, special tokens, display labels of partial characters, bad text and
 * every kind of bad file. Cases on the real GPT-2 vocabulary read
 * ../shared/models (and skip when it is absent): "Hello world" in all three
 * file layouts, a table of encodings looked up by hand in encoder.json, and
 * tests/data/bpe.json, 200 strings encoded by an independent Python
 * transcription of OpenAI's encoder.py (tests/data/make-bpe-fixtures.py). */
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/attn-bpe.h"
#include "core/attn-error.h"
#include "tests/attn-test-util.h"

static void assert_error_message (const GError *error, AttnErrorCode code,
                                  const char *message);

/* ---- a tokenizer built in memory ---------------------------------------- */

static gboolean
printable_byte (int b)
{
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC)
         || (b >= 0xAE && b <= 0xFF);
}

/* GPT-2's byte alphabet as encoder.py's bytes_to_unicode () defines it:
 * printable bytes stand for themselves, the n-th other byte for U+0100 + n. */
static char *
byte_string (int b)
{
  gunichar cp = (gunichar)b;
  if (!printable_byte (b))
    {
      int n = 0;
      for (int x = 0; x < b; x++)
        n += !printable_byte (x);
      cp = 0x100 + (gunichar)n;
    }
  char buf[8] = { 0 };
  g_unichar_to_utf8 (cp, buf);
  return g_strdup (buf);
}

/* Appends s as a JSON string: the alphabet holds '"' and '\\'. */
static void
append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* The vocabulary JSON of the 256 byte tokens (id = byte) except drop_byte
 * (-1: none), then each merge's result in order (merges in the alphabet,
 * "a b"), then "<|endoftext|>" when eot, then `extra` (members, may be
 * NULL). */
static char *
vocab_json (const char *const *merges, guint n_merges, gboolean eot,
            int drop_byte, const char *extra)
{
  GString *s = g_string_new ("{");
  g_autoptr (GHashTable) seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int id = 0;
  for (int b = 0; b < 256; b++, id++)
    {
      char *t = byte_string (b);
      g_hash_table_add (seen, t);
      if (b != drop_byte)
        {
          g_string_append (s, id ? "," : "");
          append_json_string (s, t);
          g_string_append_printf (s, ":%d", id);
        }
    }
  for (guint i = 0; i < n_merges; i++)
    {
      g_auto (GStrv) parts = g_strsplit (merges[i], " ", 2);
      char *joined = g_strconcat (parts[0], parts[1], NULL);
      if (g_hash_table_contains (seen, joined))
        {
          g_free (joined);
          continue;
        }
      g_hash_table_add (seen, joined);
      g_string_append_c (s, ',');
      append_json_string (s, joined);
      g_string_append_printf (s, ":%d", id++);
    }
  if (eot)
    g_string_append_printf (s, ",\"<|endoftext|>\":%d", id++);
  if (extra != NULL)
    g_string_append_printf (s, ",%s", extra);
  g_string_append (s, "}");
  return g_string_free (s, FALSE);
}

static char *
merges_text (const char *const *merges, guint n_merges)
{
  GString *s = g_string_new ("#version: 0.2\n");
  for (guint i = 0; i < n_merges; i++)
    g_string_append_printf (s, "%s\n", merges[i]);
  return g_string_free (s, FALSE);
}

static AttnBpe *
build_bpe (const char *const *merges, guint n_merges, gboolean eot)
{
  g_autofree char *vocab = vocab_json (merges, n_merges, eot, -1, NULL);
  g_autofree char *text = merges_text (merges, n_merges);
  g_autoptr (GError) error = NULL;
  AttnBpe *bpe
      = attn_bpe_new_from_data (vocab, strlen (vocab), "vocab.json", text,
                                strlen (text), "merges.txt", &error);
  g_assert_no_error (error);
  g_assert_nonnull (bpe);
  return bpe;
}

static GArray *
encode (const AttnBpe *bpe, const char *text, AttnBpeEncodeFlags flags,
        GArray **spans)
{
  g_autoptr (GError) error = NULL;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int));
  GArray *sp = g_array_new (FALSE, FALSE, sizeof (AttnBpeSpan));
  g_assert_true (attn_bpe_encode (bpe, text, flags, ids, sp, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sp->len, ==, ids->len);
  if (spans != NULL)
    *spans = sp;
  else
    g_array_unref (sp);
  return ids;
}

/* Marks the test failed (and goes on) unless got is want; returns same. */
static gboolean
assert_ids (const char *text, GArray *got, const int *want, guint n)
{
  gboolean same = got->len == n;
  for (guint i = 0; same && i < n; i++)
    same = g_array_index (got, int, i) == want[i];
  if (same)
    return TRUE;
  GString *g = g_string_new (NULL), *w = g_string_new (NULL);
  for (guint i = 0; i < got->len; i++)
    g_string_append_printf (g, " %d", g_array_index (got, int, i));
  for (guint i = 0; i < n; i++)
    g_string_append_printf (w, " %d", want[i]);
  g_test_fail_printf ("“%s”: ids%s, expected%s", text, g->str, w->str);
  g_string_free (g, TRUE);
  g_string_free (w, TRUE);
  return FALSE;
}

/* decode_bytes and decode give the text back, byte for byte. */
static void
assert_round_trip (const AttnBpe *bpe, const char *text, GArray *ids)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes
      = attn_bpe_decode_bytes (bpe, (int *)ids->data, ids->len, &error);
  g_assert_no_error (error);
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  g_assert_cmpmem (data, len, text, strlen (text));
  g_autofree char *decoded
      = attn_bpe_decode (bpe, (int *)ids->data, ids->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (decoded, ==, text);
}

/* ---- the byte alphabet and hand-worked merges --------------------------- */

static void
test_alphabet (void)
{
  g_autoptr (AttnBpe) bpe = build_bpe (NULL, 0, FALSE);
  g_assert_cmpint (attn_bpe_n_vocab (bpe), ==, 256);
  g_assert_cmpint (attn_bpe_n_merges (bpe), ==, 0);
  g_assert_cmpint (attn_bpe_eot_id (bpe), ==, -1);
  /* Spot values from GPT-2's vocabulary ("Ġ" is its space). */
  g_assert_cmpstr (attn_bpe_token (bpe, 0x20), ==, "Ġ");
  g_assert_cmpstr (attn_bpe_token (bpe, 0x0A), ==, "Ċ");
  g_assert_cmpstr (attn_bpe_token (bpe, 0x09), ==, "ĉ");
  g_assert_cmpstr (attn_bpe_token (bpe, 0x00), ==, "Ā");
  g_assert_cmpstr (attn_bpe_token (bpe, 0x7F), ==, "ġ");
  g_assert_cmpstr (attn_bpe_token (bpe, 0xA0), ==, "ł");
  g_assert_cmpstr (attn_bpe_token (bpe, 0xAD), ==, "Ń");
  g_assert_cmpstr (attn_bpe_token (bpe, 'A'), ==, "A");
  g_assert_cmpstr (attn_bpe_token (bpe, 0xE9), ==, "é");
  for (int b = 0; b < 256; b++)
    {
      gsize len;
      const guint8 *bytes = attn_bpe_token_bytes (bpe, b, &len);
      g_assert_cmpuint (len, ==, 1);
      g_assert_cmpint (bytes[0], ==, b);
      g_autofree char *t = byte_string (b);
      g_assert_cmpint (attn_bpe_lookup (bpe, t), ==, b);
      g_assert_false (attn_bpe_is_special (bpe, b));
    }
  g_assert_cmpint (attn_bpe_lookup (bpe, " "), ==, -1);
  g_assert_cmpint (attn_bpe_lookup (bpe, "ab"), ==, -1);

  /* With no merges each byte is a token: "é" is two. */
  const char *text = "Hi é\n";
  g_autoptr (GArray) spans = NULL;
  g_autoptr (GArray) ids = encode (bpe, text, 0, &spans);
  const int want[] = { 'H', 'i', ' ', 0xC3, 0xA9, '\n' };
  assert_ids (text, ids, want, G_N_ELEMENTS (want));
  for (guint i = 0; i < spans->len; i++)
    {
      AttnBpeSpan sp = g_array_index (spans, AttnBpeSpan, i);
      g_assert_cmpint (sp.start, ==, (int)i);
      g_assert_cmpint (sp.end, ==, (int)i + 1);
    }
  assert_round_trip (bpe, text, ids);
}

/* Ranks 0 .. 8; results get ids 256 .. 264 in this order. */
static const char *const hello_merges[] = {
  "h e", "l l", "l o", "he ll", "Ġ w", "o r", "Ġw or", "l d", "hell o",
};

static void
test_merges (void)
{
  g_autoptr (AttnBpe) bpe
      = build_bpe (hello_merges, G_N_ELEMENTS (hello_merges), FALSE);
  g_assert_cmpint (attn_bpe_n_vocab (bpe), ==, 265);
  g_assert_cmpint (attn_bpe_n_merges (bpe), ==, 9);
  g_assert_cmpint (attn_bpe_lookup (bpe, "Ġwor"), ==, 262);
  /* "hello": h e -> he, then l l (rank 1) beats l o (rank 2), so he ll ->
   * hell, hell o -> hello. " world": Ġ w, o r, Ġw or, l d; no "Ġwor ld". */
  const char *text = "hello world";
  g_autoptr (GArray) spans = NULL;
  g_autoptr (GArray) ids = encode (bpe, text, 0, &spans);
  const int want[] = { 264, 262, 263 };
  assert_ids (text, ids, want, G_N_ELEMENTS (want));
  const AttnBpeSpan want_spans[] = { { 0, 5 }, { 5, 9 }, { 9, 11 } };
  g_assert_cmpmem (spans->data, spans->len * sizeof (AttnBpeSpan), want_spans,
                   sizeof want_spans);
  assert_round_trip (bpe, text, ids);

  /* "helo": he, then l o (rank 2): he lo; "he ll" and "hell o" cannot. */
  g_autoptr (GArray) ids2 = encode (bpe, "helo", 0, NULL);
  const int want2[] = { 256, 258 };
  assert_ids ("helo", ids2, want2, G_N_ELEMENTS (want2));
  /* Words never merge across the split: "hello" after "x" stays whole,
   * "world" without its space is w or ld. */
  g_autoptr (GArray) ids3 = encode (bpe, "x.hello,world", 0, NULL);
  const int want3[] = { 'x', '.', 264, ',', 'w', 261, 263 };
  assert_ids ("x.hello,world", ids3, want3, G_N_ELEMENTS (want3));
}

/* encoder.py merges every occurrence of the best pair in one left-to-right
 * pass before it looks at pairs that pass made, even ones of lower rank. */
static void
test_one_pass_per_rank (void)
{
  /* Ranks: "ab a" 0 (id 256 "aba"), "a b" 1 (id 257 "ab"), "a a" 2 (258
   * "aa"), "aa aa" 3 (259 "aaaa"). */
  const char *const merges[] = { "ab a", "a b", "a a", "aa aa" };
  g_autoptr (AttnBpe) bpe = build_bpe (merges, G_N_ELEMENTS (merges), FALSE);
  static const struct
  {
    const char *text;
    int ids[4];
    guint n;
  } cases[] = {
    /* a b merges twice in one pass; "ab ab" has no merge, although the
     * first merge alone would have made "ab a" (rank 0). */
    { "abab", { 257, 257 }, 2 },
    { "aba", { 256 }, 1 },
    { "ababa", { 257, 256 }, 2 },
    /* Left to right, without overlap. */
    { "aaa", { 258, 'a' }, 2 },
    { "aaaaa", { 259, 'a' }, 2 },
    { "aaaaaa", { 259, 258 }, 2 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GArray) ids = encode (bpe, cases[i].text, 0, NULL);
      assert_ids (cases[i].text, ids, cases[i].ids, cases[i].n);
    }
}

/* encoder.py's bpe () transcribed plainly: a list of strings, the pair of
 * lowest rank found by scanning, merged in one pass. ranks: "a b" -> rank
 * + 1. Returns the symbols (free with g_strfreev). */
static char **
naive_bpe (GHashTable *ranks, const char *word)
{
  GPtrArray *w = g_ptr_array_new ();
  for (const char *p = word; *p; p++)
    g_ptr_array_add (w, g_strndup (p, 1));
  while (w->len > 1)
    {
      int best = 0;
      const char *first = NULL, *second = NULL;
      for (guint i = 0; i + 1 < w->len; i++)
        {
          g_autofree char *pair
              = g_strconcat (w->pdata[i], " ", w->pdata[i + 1], NULL);
          int r = GPOINTER_TO_INT (g_hash_table_lookup (ranks, pair));
          if (r > 0 && (best == 0 || r < best))
            {
              best = r;
              first = w->pdata[i];
              second = w->pdata[i + 1];
            }
        }
      if (best == 0)
        break;
      g_autofree char *a = g_strdup (first), *b = g_strdup (second);
      GPtrArray *next = g_ptr_array_new ();
      for (guint i = 0; i < w->len;)
        {
          if (i + 1 < w->len && strcmp (w->pdata[i], a) == 0
              && strcmp (w->pdata[i + 1], b) == 0)
            {
              g_ptr_array_add (next, g_strconcat (a, b, NULL));
              g_free (w->pdata[i]);
              g_free (w->pdata[i + 1]);
              i += 2;
            }
          else
            g_ptr_array_add (next, w->pdata[i++]);
        }
      g_ptr_array_free (w, TRUE);
      w = next;
    }
  g_ptr_array_add (w, NULL);
  return (char **)g_ptr_array_free (w, FALSE);
}

/* Random merge tables over a, b, c in random rank order (so a merge often
 * ranks below the merges that make its halves), on random words. */
static void
test_random_merges (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (20261123);
  guint words_checked = 0, multi = 0;
  for (int table = 0; table < 40; table++)
    {
      g_autoptr (GPtrArray) symbols = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (symbols, g_strdup ("a"));
      g_ptr_array_add (symbols, g_strdup ("b"));
      g_ptr_array_add (symbols, g_strdup ("c"));
      g_autoptr (GPtrArray) merges = g_ptr_array_new_with_free_func (g_free);
      g_autoptr (GHashTable) pairs = g_hash_table_new (g_str_hash, g_str_equal);
      while (merges->len < 30)
        {
          const char *x
              = symbols->pdata[g_rand_int_range (rng, 0, symbols->len)];
          const char *y
              = symbols->pdata[g_rand_int_range (rng, 0, symbols->len)];
          if (strlen (x) + strlen (y) > 8)
            continue;
          char *pair = g_strconcat (x, " ", y, NULL);
          if (g_hash_table_contains (pairs, pair))
            {
              g_free (pair);
              continue;
            }
          g_ptr_array_add (merges, pair);
          g_hash_table_add (pairs, pair);
          char *joined = g_strconcat (x, y, NULL);
          gboolean known = FALSE;
          for (guint k = 0; k < symbols->len && !known; k++)
            known = strcmp (symbols->pdata[k], joined) == 0;
          if (known)
            g_free (joined);
          else
            g_ptr_array_add (symbols, joined);
        }
      /* Shuffle the ranks. */
      for (guint i = merges->len - 1; i > 0; i--)
        {
          guint j = (guint)g_rand_int_range (rng, 0, (gint32)i + 1);
          gpointer t = merges->pdata[i];
          merges->pdata[i] = merges->pdata[j];
          merges->pdata[j] = t;
        }
      g_autoptr (GHashTable) ranks = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < merges->len; i++)
        g_hash_table_insert (ranks, merges->pdata[i], GINT_TO_POINTER (i + 1));
      g_autoptr (AttnBpe) bpe
          = build_bpe ((const char *const *)merges->pdata, merges->len, FALSE);
      for (int k = 0; k < 60; k++)
        {
          char word[41] = { 0 };
          int n = g_rand_int_range (rng, 1, 41);
          for (int i = 0; i < n; i++)
            word[i] = "abc"[g_rand_int_range (rng, 0, 3)];
          g_auto (GStrv) want = naive_bpe (ranks, word);
          g_autoptr (GArray) ids = encode (bpe, word, 0, NULL);
          guint n_want = g_strv_length (want);
          gboolean same = ids->len == n_want;
          for (guint i = 0; same && i < n_want; i++)
            same = strcmp (attn_bpe_token (bpe, g_array_index (ids, int, i)),
                           want[i])
                   == 0;
          if (!same)
            {
              g_autofree char *joined = g_strjoinv (" ", want);
              g_test_fail_printf ("table %d, “%s”: %u tokens, expected %s",
                                  table, word, ids->len, joined);
              return;
            }
          words_checked++;
          multi += n_want < (guint)n;
        }
    }
  /* The tables must actually merge, or the comparison proves little. */
  g_assert_cmpuint (multi, >, words_checked / 2);
  g_test_message ("%u words agree with encoder.py's loop", words_checked);
}

/* ---- special tokens ---------------------------------------------------- */

static void
test_special (void)
{
  g_autoptr (AttnBpe) bpe
      = build_bpe (hello_merges, G_N_ELEMENTS (hello_merges), TRUE);
  int eot = attn_bpe_eot_id (bpe);
  g_assert_cmpint (eot, ==, 265);
  g_assert_cmpint (attn_bpe_n_vocab (bpe), ==, 266);
  g_assert_true (attn_bpe_is_special (bpe, eot));
  g_assert_false (attn_bpe_is_special (bpe, 264));
  g_assert_false (attn_bpe_is_special (bpe, -1));
  g_assert_cmpint (attn_bpe_special_id (bpe, "<|endoftext|>"), ==, eot);
  g_assert_cmpint (attn_bpe_special_id (bpe, "hello"), ==, -1);

  const char *text = "hello<|endoftext|> world";
  /* Without the flag the special token's text is ordinary text. */
  g_autoptr (GArray) plain = encode (bpe, text, 0, NULL);
  const int want_plain[] = { 264, '<', '|', 'e', 'n', 'd', 'o', 'f',
                             't', 'e', 'x', 't', '|', '>', 262, 263 };
  assert_ids (text, plain, want_plain, G_N_ELEMENTS (want_plain));
  assert_round_trip (bpe, text, plain);

  g_autoptr (GArray) spans = NULL;
  g_autoptr (GArray) ids = encode (bpe, text, ATTN_BPE_ENCODE_SPECIAL, &spans);
  const int want[] = { 264, eot, 262, 263 };
  assert_ids (text, ids, want, G_N_ELEMENTS (want));
  const AttnBpeSpan want_spans[]
      = { { 0, 5 }, { 5, 18 }, { 18, 22 }, { 22, 24 } };
  g_assert_cmpmem (spans->data, spans->len * sizeof (AttnBpeSpan), want_spans,
                   sizeof want_spans);
  assert_round_trip (bpe, text, ids);

  g_autoptr (GArray) two = encode (bpe, "<|endoftext|><|endoftext|>",
                                   ATTN_BPE_ENCODE_SPECIAL, NULL);
  const int want_two[] = { eot, eot };
  assert_ids ("two", two, want_two, 2);
  g_autoptr (GArray) cut
      = encode (bpe, "<|endoftext|", ATTN_BPE_ENCODE_SPECIAL, NULL);
  g_assert_cmpuint (cut->len, ==, 12);
  /* The stretch before a special token is split on its own: the space's
   * look-ahead sees the end, so " " is a word of its own. */
  g_autoptr (GArray) space
      = encode (bpe, "hello <|endoftext|>", ATTN_BPE_ENCODE_SPECIAL, NULL);
  const int want_space[] = { 264, ' ', eot };
  assert_ids ("hello <|endoftext|>", space, want_space, 3);

  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) labels
      = attn_bpe_labels (bpe, (int *)ids->data, ids->len, NULL, &error);
  g_assert_no_error (error);
  const AttnBpeLabel *lb = &g_array_index (labels, AttnBpeLabel, 1);
  g_assert_cmpstr (lb->text, ==, "<|endoftext|>");
  g_assert_true (lb->special);
  g_assert_false (lb->partial);
  g_assert_false (g_array_index (labels, AttnBpeLabel, 0).special);
}

/* tokenizer.json: merges in both forms, added tokens beyond the vocabulary
 * matched leftmost, longest first. */
static void
test_tokenizer_json (void)
{
  g_autofree char *vocab
      = vocab_json (hello_merges, G_N_ELEMENTS (hello_merges), TRUE, -1, NULL);
  GString *strings = g_string_new (NULL), *pairs = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (hello_merges); i++)
    {
      g_auto (GStrv) parts = g_strsplit (hello_merges[i], " ", 2);
      g_string_append_printf (strings, "%s\"%s\"", i ? "," : "",
                              hello_merges[i]);
      g_string_append_printf (pairs, "%s[\"%s\",\"%s\"]", i ? "," : "",
                              parts[0], parts[1]);
    }
  const char *forms[] = { strings->str, pairs->str };
  for (guint f = 0; f < G_N_ELEMENTS (forms); f++)
    {
      g_autofree char *json = g_strdup_printf (
          "{\"version\":\"1.0\",\"normalizer\":null,"
          "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":"
          "false,"
          "\"trim_offsets\":true,\"use_regex\":true},"
          "\"added_tokens\":[{\"id\":265,\"content\":\"<|endoftext|>\","
          "\"special\":true},{\"id\":266,\"content\":\"<s>\",\"special\":true},"
          "{\"id\":267,\"content\":\"<s>x\",\"special\":true}],"
          "\"model\":{\"type\":\"BPE\",\"dropout\":null,"
          "\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\","
          "\"vocab\":%s,\"merges\":[%s]}}",
          vocab, forms[f]);
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnBpe) bpe = attn_bpe_new_from_tokenizer_json_data (
          json, strlen (json), "tokenizer.json", &error);
      g_assert_no_error (error);
      g_assert_cmpint (attn_bpe_n_vocab (bpe), ==, 268);
      g_assert_cmpint (attn_bpe_n_merges (bpe), ==, 9);
      g_assert_cmpint (attn_bpe_eot_id (bpe), ==, 265);
      g_assert_true (attn_bpe_is_special (bpe, 266));
      g_assert_cmpint (attn_bpe_special_id (bpe, "<s>x"), ==, 267);
      gsize len;
      const guint8 *bytes = attn_bpe_token_bytes (bpe, 267, &len);
      g_assert_cmpmem (bytes, len, "<s>x", 4);

      const char *text = "hello world<s>x<s><|endoftext|>";
      g_autoptr (GArray) ids
          = encode (bpe, text, ATTN_BPE_ENCODE_SPECIAL, NULL);
      const int want[] = { 264, 262, 263, 267, 266, 265 };
      assert_ids (text, ids, want, G_N_ELEMENTS (want));
      assert_round_trip (bpe, text, ids);
    }
  g_string_free (strings, TRUE);
  g_string_free (pairs, TRUE);
}

/* vocab.json is read by a plain scan, with json-glib behind it for what
 * the scan does not take: escapes, layout and a file of another shape give
 * the same tokens (or the same error) either way. */
static void
test_vocab_json_forms (void)
{
  g_autofree char *plain
      = vocab_json (hello_merges, G_N_ELEMENTS (hello_merges), TRUE, -1, NULL);
  g_autofree char *merges
      = merges_text (hello_merges, G_N_ELEMENTS (hello_merges));
  /* Every member on its own line, "key" : value spaced out, and every
   * character of every key as a \u escape (upper and lower case hex). */
  GString *escaped = g_string_new ("\r\n{\n");
  g_autoptr (AttnBpe) ref
      = build_bpe (hello_merges, G_N_ELEMENTS (hello_merges), TRUE);
  int n = attn_bpe_n_vocab (ref);
  for (int id = 0; id < n; id++)
    {
      g_string_append (escaped, id ? " ,\t\n  \"" : "  \"");
      for (const char *p = attn_bpe_token (ref, id); *p;
           p = g_utf8_next_char (p))
        g_string_append_printf (escaped, id % 2 ? "\\u%04x" : "\\u%04X",
                                g_utf8_get_char (p));
      g_string_append_printf (escaped, "\" : %d", id);
    }
  g_string_append (escaped, "\n}\n");
  /* The same escaped file with one id as 2.0e0: json-glib reads it, and
   * refuses it as not an integer. */
  g_autofree char *with_float = g_strdup (escaped->str);
  char *two = strstr (with_float, "\" : 2 ,");
  g_assert_nonnull (two);
  const char *forms[] = { plain, escaped->str };
  for (guint f = 0; f < G_N_ELEMENTS (forms); f++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnBpe) bpe = attn_bpe_new_from_data (
          forms[f], strlen (forms[f]), "vocab.json", merges, strlen (merges),
          "merges.txt", &error);
      g_assert_no_error (error);
      g_assert_cmpint (attn_bpe_n_vocab (bpe), ==, n);
      for (int id = 0; id < n; id++)
        g_assert_cmpstr (attn_bpe_token (bpe, id), ==,
                         attn_bpe_token (ref, id));
      g_assert_cmpint (attn_bpe_eot_id (bpe), ==, 265);
    }
  g_autofree char *bad = g_strdup_printf (
      "%.*s\" : 2.0e0 ,%s", (int)(two - with_float), with_float, two + 7);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBpe) none
      = attn_bpe_new_from_data (bad, strlen (bad), "vocab.json", merges,
                                strlen (merges), "merges.txt", &error);
  g_assert_null (none);
  assert_error_message (error, ATTN_ERROR_BAD_MODEL_FILE,
                        "vocab.json: the top level: the id of “Ă” is not an "
                        "integer");
  g_string_free (escaped, TRUE);
}

/* ---- display labels ---------------------------------------------------- */

typedef struct
{
  const char *text;
  int start, end;
  gboolean partial;
} WantLabel;

static void
assert_labels (const AttnBpe *bpe, GArray *ids, const char *want_text,
               const WantLabel *want, guint n)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GArray) labels
      = attn_bpe_labels (bpe, (int *)ids->data, ids->len, &text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, want_text);
  g_assert_cmpuint (labels->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      const AttnBpeLabel *lb = &g_array_index (labels, AttnBpeLabel, i);
      if (g_strcmp0 (lb->text, want[i].text) != 0 || lb->start != want[i].start
          || lb->end != want[i].end || lb->partial != want[i].partial)
        g_test_fail_printf ("label %u: “%s” [%d, %d) %s, expected “%s” "
                            "[%d, %d) %s",
                            i, lb->text, lb->start, lb->end,
                            lb->partial ? "partial" : "whole", want[i].text,
                            want[i].start, want[i].end,
                            want[i].partial ? "partial" : "whole");
    }
}

static void
test_labels (void)
{
  /* Bytes of 🙂: F0 9F 99 82. Merges (in the alphabet): F0 9F, 99 82, and
   * 82 F0 ranked first, which joins the end of one 🙂 to the next. */
  g_autofree char *f0 = byte_string (0xF0), *x9f = byte_string (0x9F),
                  *x99 = byte_string (0x99), *x82 = byte_string (0x82);
  g_autofree char *m0 = g_strdup_printf ("%s %s", x82, f0);
  g_autofree char *m1 = g_strdup_printf ("%s %s", f0, x9f);
  g_autofree char *m2 = g_strdup_printf ("%s %s", x99, x82);
  const char *merges[] = { m0, m1, m2 };
  g_autoptr (AttnBpe) bpe = build_bpe (merges, 3, FALSE);
  int id_82f0 = 256, id_f09f = 257, id_9982 = 258;

  /* One byte per token: each of 年's three tokens shows 年. */
  const char *text = "年a🙂";
  g_autoptr (GArray) ids = encode (bpe, text, 0, NULL);
  const int want_ids[] = { 0xE5, 0xB9, 0xB4, 'a', id_f09f, id_9982 };
  assert_ids (text, ids, want_ids, G_N_ELEMENTS (want_ids));
  const WantLabel want[] = {
    { "年", 0, 3, TRUE }, { "年", 0, 3, TRUE },   { "年", 0, 3, TRUE },
    { "a", 3, 4, FALSE }, { "🙂", 4, 8, TRUE }, { "🙂", 4, 8, TRUE },
  };
  assert_labels (bpe, ids, text, want, G_N_ELEMENTS (want));

  /* A token across two characters shows both. */
  const char *two = "🙂🙂";
  g_autoptr (GArray) ids2 = encode (bpe, two, 0, NULL);
  const int want_ids2[] = { id_f09f, 0x99, id_82f0, 0x9F, id_9982 };
  assert_ids (two, ids2, want_ids2, G_N_ELEMENTS (want_ids2));
  const WantLabel want2[] = {
    { "🙂", 0, 4, TRUE }, { "🙂", 0, 4, TRUE }, { "🙂🙂", 0, 8, TRUE },
    { "🙂", 4, 8, TRUE }, { "🙂", 4, 8, TRUE },
  };
  assert_labels (bpe, ids2, two, want2, G_N_ELEMENTS (want2));

  /* Ids that stop inside a character (a generation cut short), and a NUL:
   * each such byte shows U+FFFD, which decode gives too. */
  g_autoptr (GArray) cut = g_array_new (FALSE, FALSE, sizeof (int));
  const int cut_ids[] = { 'x', 0xE5, 0xB9, 0x00, 'y' };
  g_array_append_vals (cut, cut_ids, G_N_ELEMENTS (cut_ids));
  const WantLabel want_cut[] = {
    { "x", 0, 1, FALSE },  { "�", 1, 4, FALSE },   { "�", 4, 7, FALSE },
    { "�", 7, 10, FALSE }, { "y", 10, 11, FALSE },
  };
  assert_labels (bpe, cut, "x���y", want_cut, G_N_ELEMENTS (want_cut));
  g_autoptr (GError) error = NULL;
  g_autofree char *decoded
      = attn_bpe_decode (bpe, cut_ids, G_N_ELEMENTS (cut_ids), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (decoded, ==, "x���y");
  g_autoptr (GBytes) raw
      = attn_bpe_decode_bytes (bpe, cut_ids, G_N_ELEMENTS (cut_ids), &error);
  g_assert_no_error (error);
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  g_assert_cmpmem (data, len, "x\xE5\xB9\0y", 5);

  /* No ids: no labels, empty text. */
  g_autoptr (GArray) none = g_array_new (FALSE, FALSE, sizeof (int));
  assert_labels (bpe, none, "", NULL, 0);
}

/* ---- bad input --------------------------------------------------------- */

static void
test_empty_text (void)
{
  g_autoptr (AttnBpe) bpe = build_bpe (NULL, 0, TRUE);
  g_autoptr (GArray) ids = encode (bpe, "", 0, NULL);
  g_assert_cmpuint (ids->len, ==, 0);
  g_autoptr (GArray) ids2 = encode (bpe, "", ATTN_BPE_ENCODE_SPECIAL, NULL);
  g_assert_cmpuint (ids2->len, ==, 0);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = attn_bpe_decode (bpe, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, "");
}

typedef struct
{
  const char *name;
  const char *text;
  const char *message;
} BadTextCase;

static const BadTextCase bad_text_cases[] = {
  { "stray-continuation", "ab\x80", "byte 2, 0x80" },
  { "cut-short", "ok \xE5\xB9", "byte 3, 0xE5" },
  { "overlong", "\xC0\xAF", "byte 0, 0xC0" },
  { "surrogate", "x\xED\xA0\x80", "byte 1, 0xED" },
  { "beyond-unicode", "\xF4\x90\x80\x80", "byte 0, 0xF4" },
  { "latin1", "caf\xE9", "byte 3, 0xE9" },
};

static void
test_bad_text (gconstpointer data)
{
  const BadTextCase *c = data;
  g_autoptr (AttnBpe) bpe = build_bpe (NULL, 0, TRUE);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (AttnBpeSpan));
  int keep = 7;
  g_array_append_val (ids, keep);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_bpe_encode (bpe, c->text, ATTN_BPE_ENCODE_SPECIAL, ids,
                                   spans, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  if (strstr (error->message, c->message) == NULL)
    g_test_fail_printf ("message “%s” lacks “%s”", error->message, c->message);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpuint (spans->len, ==, 0);
}

static void
test_bad_ids (void)
{
  g_autoptr (AttnBpe) bpe = build_bpe (NULL, 0, FALSE);
  const int bad[][2] = { { 'a', -1 }, { 'a', 256 } };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;
      g_assert_null (attn_bpe_decode (bpe, bad[i], 2, &e1));
      g_assert_error (e1, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (e1->message, "token 1 has id"));
      g_assert_null (attn_bpe_decode_bytes (bpe, bad[i], 2, &e2));
      g_assert_error (e2, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      g_assert_null (attn_bpe_labels (bpe, bad[i], 2, NULL, &e3));
      g_assert_error (e3, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
    }
}

/* Two-file layout: vocab JSON (NULL: the byte vocabulary with `extra`
 * members and without drop_byte) and merges text (NULL: none). */
typedef struct
{
  const char *name;
  const char *vocab;
  const char *extra;
  int drop_byte;
  const char *merges;
  AttnErrorCode code;
  const char *message; /* after "vocab.json: " or "merges.txt: " */
} BadFilesCase;

#define DEEP                                                                   \
  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]" \
  "]]]]]]]"
#define LONG_A10 "aaaaaaaaaa"
#define LONG_A100                                                              \
  LONG_A10 LONG_A10 LONG_A10 LONG_A10 LONG_A10 LONG_A10 LONG_A10 LONG_A10      \
      LONG_A10 LONG_A10
#define LONG_A1100                                                             \
  LONG_A100 LONG_A100 LONG_A100 LONG_A100 LONG_A100 LONG_A100 LONG_A100        \
      LONG_A100 LONG_A100 LONG_A100 LONG_A100

static const BadFilesCase bad_files_cases[] = {
  { "vocab-not-json", "{\"a\": 1", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: is not JSON" },
  { "vocab-empty", "", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: is not JSON" },
  { "vocab-array", "[1, 2]", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: the top level is not an object of token: id" },
  { "vocab-no-tokens", "{}", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: has an empty vocabulary" },
  { "id-string", "{\"a\": \"1\"}", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: the top level: the id of “a” is not an integer" },
  { "id-float", "{\"a\": 1.5}", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "the id of “a” is not an integer" },
  { "id-negative", "{\"a\": -1}", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: token “a” has id -1, out of range" },
  { "id-huge", "{\"a\": 4000000}", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "token “a” has id 4000000, out of range" },
  { "id-digits", "{\"a\": 123456789012345678901234}", NULL, -1, NULL,
    ATTN_ERROR_BAD_MODEL_FILE, "holds a number with too many digits" },
  { "deep", DEEP, NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: is not a tokenizer file: it nests too deeply" },
  { "token-empty", "{\"\": 0}", NULL, -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: token 0 is empty" },
  { "id-twice", NULL, "\"zz\": 5", -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: id 5 is given twice" },
  { "id-gap", NULL, "\"zz\": 300", -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: has ids up to 300 but none is 256" },
  { "not-alphabet", NULL, "\"年\": 256", -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: token 256 “年” is not in GPT-2's byte alphabet" },
  { "raw-space", NULL, "\" a\": 256", -1, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "token 256 “ a” is not in GPT-2's byte alphabet" },
  { "no-byte", NULL, "\"zz\": 32", 0x20, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "vocab.json: has no token for byte 0x20 (“Ġ”)" },
  { "token-long", NULL, "\"" LONG_A1100 "\": 256", -1, NULL,
    ATTN_ERROR_BAD_MODEL_FILE, "is longer than 1024 bytes" },
  { "merge-one", NULL, NULL, -1, "a\n", ATTN_ERROR_BAD_MODEL_FILE,
    "merges.txt: line 1: “a” is not two symbols separated by a space" },
  { "merge-three", NULL, "\"ab\": 256", -1, "#version: 0.2\na b c\n",
    ATTN_ERROR_BAD_MODEL_FILE, "merges.txt: line 2: “a b c” is not two" },
  { "merge-leading-space", NULL, NULL, -1, " a\n", ATTN_ERROR_BAD_MODEL_FILE,
    "merges.txt: line 1: “ a” is not two" },
  { "merge-unknown", NULL, NULL, -1, "#version: 0.2\nzq a\n",
    ATTN_ERROR_BAD_MODEL_FILE,
    "merges.txt: line 2: “zq” is not in the vocabulary" },
  { "merge-result-unknown", NULL, NULL, -1, "a b\n", ATTN_ERROR_BAD_MODEL_FILE,
    "merges.txt: line 1: the merged symbol “ab” is not in the vocabulary" },
  { "merge-repeated", NULL, "\"ab\": 256", -1, "a b\r\n\r\na b\r\n",
    ATTN_ERROR_BAD_MODEL_FILE, "merges.txt: line 3: “a b” repeats merge 1" },
  { "merges-not-utf8", NULL, "\"ab\": 256", -1, "a b\n\xFF\n",
    ATTN_ERROR_BAD_MODEL_FILE, "merges.txt: is not UTF-8 text (byte 4)" },
};

static void
assert_error_message (const GError *error, AttnErrorCode code,
                      const char *message)
{
  g_assert_nonnull (error);
  g_assert_error (error, ATTN_ERROR, (int)code);
  if (strstr (error->message, message) == NULL)
    g_test_fail_printf ("message “%s” lacks “%s”", error->message, message);
}

static void
test_bad_files (gconstpointer data)
{
  const BadFilesCase *c = data;
  g_autofree char *vocab
      = c->vocab != NULL ? g_strdup (c->vocab)
                         : vocab_json (NULL, 0, FALSE, c->drop_byte, c->extra);
  const char *merges = c->merges != NULL ? c->merges : "";
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBpe) bpe
      = attn_bpe_new_from_data (vocab, strlen (vocab), "vocab.json", merges,
                                strlen (merges), "merges.txt", &error);
  g_assert_null (bpe);
  assert_error_message (error, c->code, c->message);
}

/* tokenizer.json around the byte vocabulary: `model` members after vocab,
 * `top` members after model. */
typedef struct
{
  const char *name;
  const char *json; /* the whole file, or NULL */
  const char *model;
  const char *top;
  AttnErrorCode code;
  const char *message; /* after "tokenizer.json: " */
} BadJsonCase;

static const BadJsonCase bad_json_cases[] = {
  { "top-array", "[]", NULL, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: the top level is not an object" },
  { "no-model", "{\"version\": \"1.0\"}", NULL, NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: has no \"model\" object" },
  { "no-vocab", "{\"model\": {\"type\": \"BPE\", \"merges\": []}}", NULL, NULL,
    ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: model.vocab is not an object of token: id" },
  { "merges-object", NULL, "\"merges\": {}", NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: model.merges is not an array" },
  { "merges-missing", NULL, "\"dropout\": null", NULL,
    ATTN_ERROR_BAD_MODEL_FILE, "tokenizer.json: model.merges is not an array" },
  { "merge-number", NULL, "\"merges\": [1]", NULL, ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: model.merges[0] is neither \"a b\" nor [\"a\", \"b\"]" },
  { "merge-triple", NULL, "\"merges\": [[\"a\", \"b\", \"c\"]]", NULL,
    ATTN_ERROR_BAD_MODEL_FILE, "model.merges[0] is neither" },
  { "merge-pair-number", NULL, "\"merges\": [[\"a\", 2]]", NULL,
    ATTN_ERROR_BAD_MODEL_FILE, "model.merges[0] is neither" },
  { "merge-unknown", NULL, "\"merges\": [\"a b\"]", NULL,
    ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: model.merges[0]: the merged symbol “ab” is not in the "
    "vocabulary" },
  { "merge-pair-unknown", NULL, "\"merges\": [[\"a\", \"zq\"]]", NULL,
    ATTN_ERROR_BAD_MODEL_FILE,
    "model.merges[0]: “zq” is not in the vocabulary" },
  { "wordpiece", NULL, "\"merges\": [], \"type\": \"WordPiece\"", NULL,
    ATTN_ERROR_UNSUPPORTED, "tokenizer.json: model.type is not \"BPE\"" },
  { "suffix", NULL, "\"merges\": [], \"end_of_word_suffix\": \"</w>\"", NULL,
    ATTN_ERROR_UNSUPPORTED, "model.end_of_word_suffix is set" },
  { "normalizer", NULL, "\"merges\": []", "\"normalizer\": {\"type\": \"NFC\"}",
    ATTN_ERROR_UNSUPPORTED, "tokenizer.json: has a normalizer" },
  { "whitespace-split", NULL, "\"merges\": []",
    "\"pre_tokenizer\": {\"type\": \"Whitespace\"}", ATTN_ERROR_UNSUPPORTED,
    "pre_tokenizer is not GPT-2's ByteLevel" },
  { "prefix-space", NULL, "\"merges\": []",
    "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true}",
    ATTN_ERROR_UNSUPPORTED, "adds a prefix space" },
  { "added-not-array", NULL, "\"merges\": []", "\"added_tokens\": {}",
    ATTN_ERROR_BAD_MODEL_FILE, "tokenizer.json: added_tokens is not an array" },
  { "added-number", NULL, "\"merges\": []", "\"added_tokens\": [1]",
    ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: added_tokens[0] is not an object with an integer id" },
  { "added-string-id", NULL, "\"merges\": []",
    "\"added_tokens\": [{\"id\": \"256\", \"content\": \"<x>\"}]",
    ATTN_ERROR_BAD_MODEL_FILE, "added_tokens[0] is not an object" },
  { "added-id-taken", NULL, "\"merges\": []",
    "\"added_tokens\": [{\"id\": 5, \"content\": \"<x>\"}]",
    ATTN_ERROR_BAD_MODEL_FILE, "tokenizer.json: id 5 is given twice" },
  { "added-text-taken", NULL, "\"merges\": []",
    "\"added_tokens\": [{\"id\": 256, \"content\": \"a\"}]",
    ATTN_ERROR_BAD_MODEL_FILE,
    "tokenizer.json: token “a” is given twice, ids 97 and 256" },
  { "added-gap", NULL, "\"merges\": []",
    "\"added_tokens\": [{\"id\": 257, \"content\": \"<x>\"}]",
    ATTN_ERROR_BAD_MODEL_FILE, "has ids up to 257 but none is 256" },
};

static void
test_bad_json (gconstpointer data)
{
  const BadJsonCase *c = data;
  g_autofree char *vocab = vocab_json (NULL, 0, FALSE, -1, NULL);
  g_autofree char *json
      = c->json != NULL
            ? g_strdup (c->json)
            : g_strdup_printf ("{\"model\": {\"vocab\": %s, %s}%s%s}", vocab,
                               c->model, c->top ? ", " : "",
                               c->top ? c->top : "");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBpe) bpe = attn_bpe_new_from_tokenizer_json_data (
      json, strlen (json), "tokenizer.json", &error);
  g_assert_null (bpe);
  assert_error_message (error, c->code, c->message);
}

static void
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
remove_files (const char *dir)
{
  const char *names[] = { "vocab.json", "merges.txt", "encoder.json",
                          "vocab.bpe", "tokenizer.json" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_remove (path);
    }
}

/* Folders: which layout is read, and what is missing. */
static void
test_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("attn-bpe-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *vocab
      = vocab_json (hello_merges, G_N_ELEMENTS (hello_merges), TRUE, -1, NULL);
  g_autofree char *merges
      = merges_text (hello_merges, G_N_ELEMENTS (hello_merges));

  g_autoptr (AttnBpe) none = attn_bpe_new_from_dir (dir, &error);
  g_assert_null (none);
  assert_error_message (error, ATTN_ERROR_BAD_MODEL_FILE, "has no tokenizer");
  g_clear_error (&error);

  write_file (dir, "vocab.json", vocab);
  g_autoptr (AttnBpe) half = attn_bpe_new_from_dir (dir, &error);
  g_assert_null (half);
  assert_error_message (error, ATTN_ERROR_BAD_MODEL_FILE,
                        "has vocab.json but no merges.txt");
  g_clear_error (&error);

  /* OpenAI's names. */
  remove_files (dir);
  write_file (dir, "encoder.json", vocab);
  write_file (dir, "vocab.bpe", merges);
  g_autoptr (AttnBpe) openai = attn_bpe_new_from_dir (dir, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) ids = encode (openai, "hello world", 0, NULL);
  const int want[] = { 264, 262, 263 };
  assert_ids ("hello world", ids, want, 3);
  g_assert_cmpint (attn_bpe_eot_id (openai), ==, 265);

  /* A pair wins over tokenizer.json, read only when it is alone. */
  write_file (dir, "tokenizer.json", "{");
  g_autoptr (AttnBpe) pair = attn_bpe_new_from_dir (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (attn_bpe_n_vocab (pair), ==, 266);
  remove_files (dir);
  write_file (dir, "tokenizer.json", "{");
  g_autoptr (AttnBpe) broken = attn_bpe_new_from_dir (dir, &error);
  g_assert_null (broken);
  assert_error_message (error, ATTN_ERROR_BAD_MODEL_FILE,
                        "tokenizer.json: is not JSON");
  g_clear_error (&error);
  write_file (dir, "vocab.bpe", merges);

  /* Files that are not there, or not files. */
  g_autofree char *missing = g_build_filename (dir, "nope.json", NULL);
  g_autofree char *bpe_path = g_build_filename (dir, "vocab.bpe", NULL);
  g_autoptr (AttnBpe) m = attn_bpe_new_from_files (missing, bpe_path, &error);
  g_assert_null (m);
  assert_error_message (error, ATTN_ERROR_IO, "nope.json: cannot open");
  g_clear_error (&error);
  g_autoptr (AttnBpe) d = attn_bpe_new_from_tokenizer_json (dir, &error);
  g_assert_null (d);
  assert_error_message (error, ATTN_ERROR_BAD_MODEL_FILE,
                        "is not a regular file");
  g_clear_error (&error);
  g_autofree char *empty = g_build_filename (dir, "vocab.json", NULL);
  write_file (dir, "vocab.json", "");
  g_autoptr (AttnBpe) e = attn_bpe_new_from_files (empty, bpe_path, &error);
  g_assert_null (e);
  assert_error_message (error, ATTN_ERROR_BAD_MODEL_FILE,
                        "vocab.json: is not JSON");
  g_clear_error (&error);

  remove_files (dir);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Mutated files (bytes changed, cut, repeated): each either fails with an
 * error or loads a tokenizer for which decode (encode (s)) is s. */
static void
mutate (GByteArray *data, GRand *rng)
{
  static const guint8 interesting[]
      = { '"', '\\', '{', '}', '[', ']',  ',',  ':',  '0',  '9',
          '-', 'u',  'e', '.', ' ', '\n', 0x00, 0x80, 0xC3, 0xFF };
  int n = g_rand_boolean (rng) ? 1 : g_rand_int_range (rng, 2, 4);
  for (int k = 0; k < n && data->len > 0; k++)
    {
      guint at = (guint)g_rand_int_range (rng, 0, (gint32)data->len);
      guint span = (guint)g_rand_int_range (rng, 1, 16);
      span = MIN (span, data->len - at);
      switch (g_rand_int_range (rng, 0, 6))
        {
        case 4:
          /* JSON whitespace, which may land between tokens or in one. */
          g_array_insert_vals ((GArray *)data, at,
                               &" \t\r\n"[g_rand_int_range (rng, 0, 4)], 1);
          break;
        case 5:
          {
            /* A stretch moved elsewhere (merge lines change rank). */
            g_autofree guint8 *cut = g_memdup2 (data->data + at, span);
            g_byte_array_remove_range (data, at, span);
            guint to = (guint)g_rand_int_range (rng, 0, (gint32)data->len + 1);
            g_array_insert_vals ((GArray *)data, to, cut, span);
          }
          break;
        case 0:
          data->data[at] = interesting[g_rand_int_range (
              rng, 0, G_N_ELEMENTS (interesting))];
          break;
        case 1:
          data->data[at] = (guint8)g_rand_int_range (rng, 0, 256);
          break;
        case 2:
          g_byte_array_remove_range (data, at, span);
          break;
        default:
          {
            g_autofree guint8 *copy = g_memdup2 (data->data + at, span);
            g_byte_array_append (data, copy, span);
          }
          break;
        }
    }
}

static void
check_fuzzed (AttnBpe *bpe, GError *error, guint *loaded, guint *refused)
{
  if (bpe == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == ATTN_ERROR);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      (*refused)++;
      return;
    }
  g_assert_null (error);
  const char *text = "hello world <|endoftext|> 注意 🙂 x\t\n";
  for (int f = 0; f < 2; f++)
    {
      g_autoptr (GArray) ids
          = encode (bpe, text, f ? ATTN_BPE_ENCODE_SPECIAL : 0, NULL);
      assert_round_trip (bpe, text, ids);
    }
  (*loaded)++;
}

static void
test_fuzz (void)
{
  g_autofree char *vocab
      = vocab_json (hello_merges, G_N_ELEMENTS (hello_merges), TRUE, -1, NULL);
  g_autofree char *merges
      = merges_text (hello_merges, G_N_ELEMENTS (hello_merges));
  GString *list = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (hello_merges); i++)
    g_string_append_printf (list, "%s\"%s\"", i ? "," : "", hello_merges[i]);
  g_autofree char *tokenizer = g_strdup_printf (
      "{\"added_tokens\":[{\"id\":265,\"content\":\"<|endoftext|>\"}],"
      "\"model\":{\"type\":\"BPE\",\"vocab\":%s,\"merges\":[%s]}}",
      vocab, list->str);
  g_string_free (list, TRUE);
  g_autoptr (GRand) rng = g_rand_new_with_seed (99);
  guint loaded = 0, refused = 0;
  for (int i = 0; i < 3000; i++)
    {
      int which = i % 3;
      const char *base = which == 0 ? vocab : which == 1 ? merges : tokenizer;
      g_autoptr (GByteArray) data = g_byte_array_new ();
      g_byte_array_append (data, (const guint8 *)base, strlen (base));
      mutate (data, rng);
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnBpe) bpe = NULL;
      if (which == 0)
        bpe = attn_bpe_new_from_data ((const char *)data->data, data->len,
                                      "vocab.json", merges, strlen (merges),
                                      "merges.txt", &error);
      else if (which == 1)
        bpe = attn_bpe_new_from_data (vocab, strlen (vocab), "vocab.json",
                                      (const char *)data->data, data->len,
                                      "merges.txt", &error);
      else
        bpe = attn_bpe_new_from_tokenizer_json_data (
            (const char *)data->data, data->len, "tokenizer.json", &error);
      check_fuzzed (bpe, error, &loaded, &refused);
    }
  /* Both outcomes must occur, or the mutations test nothing. */
  g_assert_cmpuint (loaded, >, 50);
  g_assert_cmpuint (refused, >, 1000);
  g_test_message ("%u mutated files loaded, %u refused", loaded, refused);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct
{
  const AttnBpe *bpe;
  GPtrArray *words;
  GPtrArray *want; /* of GArray of int */
  gboolean ok;
} ThreadJob;

static gpointer
thread_encode (gpointer data)
{
  ThreadJob *job = data;
  job->ok = TRUE;
  for (int round = 0; round < 3; round++)
    for (guint i = 0; i < job->words->len; i++)
      {
        g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
        if (!attn_bpe_encode (job->bpe, job->words->pdata[i], 0, ids, NULL,
                              NULL))
          job->ok = FALSE;
        GArray *want = job->want->pdata[i];
        if (ids->len != want->len
            || memcmp (ids->data, want->data, ids->len * sizeof (int)) != 0)
          job->ok = FALSE;
      }
  return NULL;
}

/* Encoding from several threads at once (the shared word cache) gives the
 * same ids as one thread. */
static void
test_threads (void)
{
  const char *const merges[]
      = { "a b", "ab c", "c c", "Ġ a", "Ġa b", "cc ab", "b a" };
  g_autoptr (AttnBpe) bpe = build_bpe (merges, G_N_ELEMENTS (merges), FALSE);
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) want
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  for (int i = 0; i < 300; i++)
    {
      char w[24] = { 0 };
      int n = g_rand_int_range (rng, 1, 23);
      for (int k = 0; k < n; k++)
        w[k] = "abc "[g_rand_int_range (rng, 0, 4)];
      g_ptr_array_add (words, g_strdup (w));
    }
  for (guint i = 0; i < words->len; i++)
    {
      g_autoptr (AttnBpe) fresh
          = build_bpe (merges, G_N_ELEMENTS (merges), FALSE);
      g_ptr_array_add (want, encode (fresh, words->pdata[i], 0, NULL));
    }
  ThreadJob jobs[4];
  GThread *threads[4];
  for (int t = 0; t < 4; t++)
    {
      jobs[t] = (ThreadJob){ bpe, words, want, FALSE };
      threads[t] = g_thread_new ("bpe", thread_encode, &jobs[t]);
    }
  for (int t = 0; t < 4; t++)
    {
      g_thread_join (threads[t]);
      g_assert_true (jobs[t].ok);
    }
}

/* ---- the real GPT-2 vocabulary ------------------------------------------ */

static AttnBpe *
gpt2_bpe (void)
{
  g_autofree char *dir = attn_test_shared_model ("gpt2-tokenizer");
  if (dir == NULL)
    return NULL;
  g_autoptr (GError) error = NULL;
  AttnBpe *bpe = attn_bpe_new_from_dir (dir, &error);
  g_assert_no_error (error);
  return bpe;
}

static void
assert_gpt2 (AttnBpe *bpe)
{
  g_assert_cmpint (attn_bpe_n_vocab (bpe), ==, 50257);
  g_assert_cmpint (attn_bpe_n_merges (bpe), ==, 50000);
  g_assert_cmpint (attn_bpe_eot_id (bpe), ==, 50256);
  g_autoptr (GArray) ids = encode (bpe, "Hello world", 0, NULL);
  const int want[] = { 15496, 995 };
  assert_ids ("Hello world", ids, want, 2);
}

/* "Hello world" -> 15496, 995 from OpenAI's files, Hugging Face's pair and
 * Hugging Face's tokenizer.json. */
static void
test_hello_world (void)
{
  g_autofree char *openai = attn_test_shared_model ("gpt2-tokenizer");
  if (openai == NULL)
    return;
  g_autofree char *hf = attn_test_shared_model ("hf-fake-gpt2");
  if (hf == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autofree char *enc = g_build_filename (openai, "encoder.json", NULL);
  g_autofree char *bpe_file = g_build_filename (openai, "vocab.bpe", NULL);
  g_autoptr (AttnBpe) a = attn_bpe_new_from_files (enc, bpe_file, &error);
  g_assert_no_error (error);
  assert_gpt2 (a);
  g_autofree char *vocab = g_build_filename (hf, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (hf, "merges.txt", NULL);
  g_autoptr (AttnBpe) b = attn_bpe_new_from_files (vocab, merges, &error);
  g_assert_no_error (error);
  assert_gpt2 (b);
  g_autofree char *tok = g_build_filename (hf, "tokenizer.json", NULL);
  g_autoptr (AttnBpe) c = attn_bpe_new_from_tokenizer_json (tok, &error);
  g_assert_no_error (error);
  assert_gpt2 (c);
  g_autoptr (AttnBpe) d = attn_bpe_new_from_dir (hf, &error);
  g_assert_no_error (error);
  assert_gpt2 (d);
}

/* Encodings whose pieces were looked up by hand in encoder.json. */
typedef struct
{
  const char *text;
  AttnBpeEncodeFlags flags;
  int ids[8];
  guint n;
} KnownCase;

static const KnownCase known_cases[] = {
  /* "Hello" "Ġworld" */
  { "Hello world", 0, { 15496, 995 }, 2 },
  /* "hello" "ĠHello" */
  { "hello Hello", 0, { 31373, 18435 }, 2 },
  /* "The" "ĠAttention" "Ġis" "Ġall" "Ġyou" "Ġneed" "." */
  { "The Attention is all you need.",
    0,
    { 464, 47406, 318, 477, 345, 761, 13 },
    7 },
  /* "It" "'s" */
  { "It's", 0, { 1026, 338 }, 2 },
  /* "Ġdon" "'t" "Ġ=" "Ġ{" */
  { " don't = {", 0, { 836, 470, 796, 1391 }, 4 },
  /* "Ġ1" "." "5" */
  { " 1.5", 0, { 352, 13, 20 }, 3 },
  /* "ĊĊ"; GPT-2 has no "ĠĠ", so two spaces are "Ġ" "Ġ" */
  { "\n\n", 0, { 628 }, 1 },
  { "  ", 0, { 220, 220 }, 2 },
  /* "ĉ" */
  { "\t", 0, { 197 }, 1 },
  /* "ĠcafÃ©" (é is C3 A9, "Ã©") */
  { " café", 0, { 40304 }, 1 },
  /* "Ġ" "Ġ" "ĠnaÃ¯ve": whitespace before a word keeps its last space */
  { "   naïve", 0, { 220, 220, 41492 }, 3 },
  /* "<|endoftext|>" as the special token, and "Hello" "Ġworld" after it */
  { "<|endoftext|>Hello world",
    ATTN_BPE_ENCODE_SPECIAL,
    { 50256, 15496, 995 },
    3 },
  /* The same text as ordinary text: "<|" "end" "of" "text" "|>" */
  { "<|endoftext|>", 0, { 27, 91, 437, 1659, 5239, 91, 29 }, 7 },
};

static void
test_known (gconstpointer data)
{
  const KnownCase *c = data;
  g_autoptr (AttnBpe) bpe = gpt2_bpe ();
  if (bpe == NULL)
    return;
  g_autoptr (GArray) ids = encode (bpe, c->text, c->flags, NULL);
  assert_ids (c->text, ids, c->ids, c->n);
  assert_round_trip (bpe, c->text, ids);
}

/* tests/data/bpe.json: encoder.py's ids for 200 strings, spans, display
 * labels, and the ids with <|endoftext|> recognised. */
static void
check_fixture (AttnBpe *bpe, gboolean full)
{
  JsonObject *fx = attn_test_fixture ("bpe.json");
  JsonArray *texts = json_object_get_array_member (fx, "texts");
  guint n_texts = json_array_get_length (texts);
  g_assert_cmpuint (n_texts, ==, 200);
  g_autofree int *n_tokens = attn_test_ints (fx, "n_tokens", n_texts);
  g_autofree int *n_special = attn_test_ints (fx, "n_tokens_special", n_texts);
  gsize total = 0, total_special = 0;
  for (guint i = 0; i < n_texts; i++)
    {
      total += (gsize)n_tokens[i];
      total_special += (gsize)n_special[i];
    }
  g_autofree int *ids = attn_test_ints (fx, "ids", total);
  g_autofree int *ids_special
      = attn_test_ints (fx, "ids_special", total_special);
  g_autofree int *span_start = attn_test_ints (fx, "span_start", total);
  g_autofree int *span_end = attn_test_ints (fx, "span_end", total);
  g_autofree int *label_start = attn_test_ints (fx, "label_start", total);
  g_autofree int *label_end = attn_test_ints (fx, "label_end", total);
  g_autofree int *label_partial = attn_test_ints (fx, "label_partial", total);
  gsize at = 0, at_special = 0;
  guint partial = 0;
  for (guint i = 0; i < n_texts; i++)
    {
      const char *text = json_array_get_string_element (texts, i);
      g_autoptr (GArray) spans = NULL;
      g_autoptr (GArray) got = encode (bpe, text, 0, &spans);
      gboolean same = assert_ids (text, got, ids + at, (guint)n_tokens[i]);
      g_autoptr (GArray) got_special
          = encode (bpe, text, ATTN_BPE_ENCODE_SPECIAL, NULL);
      same &= assert_ids (text, got_special, ids_special + at_special,
                          (guint)n_special[i]);
      if (full && same)
        {
          assert_round_trip (bpe, text, got);
          assert_round_trip (bpe, text, got_special);
          g_autoptr (GError) error = NULL;
          g_autofree char *shown = NULL;
          g_autoptr (GArray) labels = attn_bpe_labels (
              bpe, (int *)got->data, got->len, &shown, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (shown, ==, text);
          for (guint k = 0; k < got->len; k++)
            {
              AttnBpeSpan sp = g_array_index (spans, AttnBpeSpan, k);
              const AttnBpeLabel *lb = &g_array_index (labels, AttnBpeLabel, k);
              g_assert_cmpint (sp.start, ==, span_start[at + k]);
              g_assert_cmpint (sp.end, ==, span_end[at + k]);
              g_assert_cmpint (lb->start, ==, label_start[at + k]);
              g_assert_cmpint (lb->end, ==, label_end[at + k]);
              g_assert_cmpint (lb->partial, ==, label_partial[at + k]);
              g_assert_cmpmem (lb->text, strlen (lb->text), text + lb->start,
                               (gsize)(lb->end - lb->start));
              g_assert_true (g_utf8_validate (lb->text, -1, NULL));
              partial += lb->partial;
            }
        }
      at += (gsize)n_tokens[i];
      at_special += (gsize)n_special[i];
    }
  if (full && !g_test_failed ())
    {
      /* Chinese and emoji in the fixture do split characters. */
      g_assert_cmpuint (partial, >, 100);
      g_test_message ("%u texts, %" G_GSIZE_FORMAT " tokens (%u partial) "
                      "identical to encoder.py",
                      n_texts, total, partial);
    }
}

static void
test_fixture (void)
{
  g_autoptr (AttnBpe) bpe = gpt2_bpe ();
  if (bpe == NULL)
    return;
  check_fixture (bpe, TRUE);
}

static void
test_fixture_tokenizer_json (void)
{
  g_autofree char *hf = attn_test_shared_model ("hf-fake-gpt2");
  if (hf == NULL)
    return;
  g_autofree char *tok = g_build_filename (hf, "tokenizer.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBpe) bpe = attn_bpe_new_from_tokenizer_json (tok, &error);
  g_assert_no_error (error);
  check_fixture (bpe, FALSE);
}

/* Chinese and emoji on the real vocabulary: every token holding part of a
 * character shows the whole character, and only whole characters. */
static void
test_labels_gpt2 (void)
{
  g_autoptr (AttnBpe) bpe = gpt2_bpe ();
  if (bpe == NULL)
    return;
  static const struct
  {
    const char *text;
    const char *shown; /* what every token of the text shows */
  } cases[] = {
    { "🙂", "🙂" },
    { "🤖", "🤖" },
    { "龘", "龘" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GArray) ids = encode (bpe, cases[i].text, 0, NULL);
      g_assert_cmpuint (ids->len, >=, 2);
      g_autoptr (GError) error = NULL;
      g_autoptr (GArray) labels
          = attn_bpe_labels (bpe, (int *)ids->data, ids->len, NULL, &error);
      g_assert_no_error (error);
      for (guint k = 0; k < labels->len; k++)
        {
          const AttnBpeLabel *lb = &g_array_index (labels, AttnBpeLabel, k);
          g_assert_cmpstr (lb->text, ==, cases[i].shown);
          g_assert_true (lb->partial);
          g_assert_cmpint (lb->start, ==, 0);
          g_assert_cmpint (lb->end, ==, (int)strlen (cases[i].shown));
        }
    }

  /* A sentence: every label is the text of its span, the span starts and
   * ends on character boundaries and covers the token's own bytes. */
  const char *text = "注意力机制 is attention 🙂👍🏽 in 中文!";
  g_autoptr (GArray) spans = NULL;
  g_autoptr (GArray) ids = encode (bpe, text, 0, &spans);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) labels
      = attn_bpe_labels (bpe, (int *)ids->data, ids->len, NULL, &error);
  g_assert_no_error (error);
  guint partial = 0;
  for (guint k = 0; k < labels->len; k++)
    {
      const AttnBpeLabel *lb = &g_array_index (labels, AttnBpeLabel, k);
      AttnBpeSpan sp = g_array_index (spans, AttnBpeSpan, k);
      g_assert_cmpint (lb->start, <=, sp.start);
      g_assert_cmpint (lb->end, >=, sp.end);
      g_assert_true (g_utf8_validate_len (text + lb->start,
                                          (gsize)(lb->end - lb->start), NULL));
      g_assert_cmpmem (lb->text, strlen (lb->text), text + lb->start,
                       (gsize)(lb->end - lb->start));
      g_assert_null (strstr (lb->text, "\xEF\xBF\xBD"));
      g_assert_cmpint (lb->partial, ==,
                       lb->start != sp.start || lb->end != sp.end);
      partial += lb->partial;
    }
  g_assert_cmpuint (partial, >=, 4);
}

/* A 100,000-character paste of letters without a space is one word: it
 * is merged in O(n log n) and comes back whole. */
static void
test_long_word (void)
{
  g_autoptr (AttnBpe) bpe = gpt2_bpe ();
  if (bpe == NULL)
    return;
  g_autoptr (GRand) rng = g_rand_new_with_seed (3);
  char *text = g_malloc (100001);
  for (int i = 0; i < 100000; i++)
    text[i] = "etaoinshrdlu"[g_rand_int_range (rng, 0, 12)];
  text[100000] = '\0';
  g_autoptr (GArray) ids = encode (bpe, text, 0, NULL);
  g_assert_cmpuint (ids->len, >, 100000 / 8);
  g_assert_cmpuint (ids->len, <, 100000 / 2);
  assert_round_trip (bpe, text, ids);
  g_free (text);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/bpe/alphabet", test_alphabet);
  g_test_add_func ("/attn/bpe/merges", test_merges);
  g_test_add_func ("/attn/bpe/one-pass-per-rank", test_one_pass_per_rank);
  g_test_add_func ("/attn/bpe/random-merges", test_random_merges);
  g_test_add_func ("/attn/bpe/special", test_special);
  g_test_add_func ("/attn/bpe/tokenizer-json", test_tokenizer_json);
  g_test_add_func ("/attn/bpe/vocab-json-forms", test_vocab_json_forms);
  g_test_add_func ("/attn/bpe/labels", test_labels);
  g_test_add_func ("/attn/bpe/empty-text", test_empty_text);
  for (guint i = 0; i < G_N_ELEMENTS (bad_text_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/bpe/bad-text/%s", bad_text_cases[i].name);
      g_test_add_data_func (path, &bad_text_cases[i], test_bad_text);
    }
  g_test_add_func ("/attn/bpe/bad-ids", test_bad_ids);
  for (guint i = 0; i < G_N_ELEMENTS (bad_files_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/bpe/bad-files/%s", bad_files_cases[i].name);
      g_test_add_data_func (path, &bad_files_cases[i], test_bad_files);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_json_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/bpe/bad-json/%s", bad_json_cases[i].name);
      g_test_add_data_func (path, &bad_json_cases[i], test_bad_json);
    }
  g_test_add_func ("/attn/bpe/dir", test_dir);
  g_test_add_func ("/attn/bpe/fuzz", test_fuzz);
  g_test_add_func ("/attn/bpe/threads", test_threads);
  g_test_add_func ("/attn/bpe/hello-world", test_hello_world);
  for (guint i = 0; i < G_N_ELEMENTS (known_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/bpe/known/%u", i);
      g_test_add_data_func (path, &known_cases[i], test_known);
    }
  g_test_add_func ("/attn/bpe/fixture", test_fixture);
  g_test_add_func ("/attn/bpe/fixture-tokenizer-json",
                   test_fixture_tokenizer_json);
  g_test_add_func ("/attn/bpe/labels-gpt2", test_labels_gpt2);
  g_test_add_func ("/attn/bpe/long-word", test_long_word);
  return g_test_run ();
}
