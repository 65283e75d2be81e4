/* attn-vocab.c: the character vocabulary of the built-in models. */
#include "core/attn-vocab.h"

#include <stdlib.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-json.h"

/* Larger vocabularies are refused when read from a file: every id needs a
 * row in the embedding and output tables, so this is far beyond any
 * character model (Unicode has about 150,000 assigned characters). */
#define ATTN_VOCAB_MAX_SIZE (1 << 20)

/* Indexed by the ATTN_VOCAB_* special ids. */
static const char *const special_symbols[ATTN_VOCAB_N_SPECIAL] = {
  [ATTN_VOCAB_PAD] = "<pad>",
  [ATTN_VOCAB_BOS] = "<s>",
  [ATTN_VOCAB_EOS] = "</s>",
  [ATTN_VOCAB_UNK] = "<unk>",
};

struct _AttnVocab {
  GPtrArray *symbols; /* of char *, in id order, specials first */
  GHashTable *ids;    /* symbol (owned by symbols) -> id + 1 */
};

static AttnVocab *
vocab_alloc (void)
{
  AttnVocab *vocab = g_new0 (AttnVocab, 1);
  vocab->symbols = g_ptr_array_new_with_free_func (g_free);
  vocab->ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; i < ATTN_VOCAB_N_SPECIAL; i++)
    {
      char *s = g_strdup (special_symbols[i]);
      g_ptr_array_add (vocab->symbols, s);
      g_hash_table_insert (vocab->ids, s, GINT_TO_POINTER (i + 1));
    }
  return vocab;
}

/* NULL when s is one valid UTF-8 character; else why not. */
static const char *
single_char_problem (const char *s)
{
  if (s == NULL || *s == '\0')
    return "is empty";
  if (!g_utf8_validate (s, -1, NULL))
    return "is not valid UTF-8";
  if (*g_utf8_next_char (s) != '\0')
    return "is more than one character";
  return NULL;
}

/* Appends one ordinary symbol; FALSE (nothing added) if already present. */
static gboolean
vocab_add (AttnVocab *vocab, const char *symbol)
{
  if (g_hash_table_contains (vocab->ids, symbol))
    return FALSE;
  char *s = g_strdup (symbol);
  g_ptr_array_add (vocab->symbols, s);
  g_hash_table_insert (vocab->ids, s,
                       GINT_TO_POINTER ((int) vocab->symbols->len));
  return TRUE;
}

AttnVocab *
attn_vocab_new (const char *const *symbols, guint n_symbols, GError **error)
{
  g_autoptr (AttnVocab) vocab = vocab_alloc ();
  if (n_symbols > ATTN_VOCAB_MAX_SIZE - ATTN_VOCAB_N_SPECIAL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "vocabulary of %u symbols exceeds the limit of %d",
                   n_symbols, ATTN_VOCAB_MAX_SIZE - ATTN_VOCAB_N_SPECIAL);
      return NULL;
    }
  for (guint i = 0; i < n_symbols; i++)
    {
      const char *problem = single_char_problem (symbols[i]);
      if (problem != NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "vocabulary symbol %u %s", i, problem);
          return NULL;
        }
      if (!vocab_add (vocab, symbols[i]))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "vocabulary symbol %u “%s” appears twice", i,
                       symbols[i]);
          return NULL;
        }
    }
  return g_steal_pointer (&vocab);
}

static int
compare_unichar (gconstpointer a, gconstpointer b)
{
  gunichar x = *(const gunichar *) a, y = *(const gunichar *) b;
  return x < y ? -1 : x > y;
}

AttnVocab *
attn_vocab_new_from_chars (const gunichar *chars, guint n_chars)
{
  attn_check (n_chars <= ATTN_VOCAB_MAX_SIZE - ATTN_VOCAB_N_SPECIAL);
  /* Sorted here too, so that ids never depend on the caller's order. */
  g_autofree gunichar *sorted = g_memdup2 (chars, n_chars * sizeof *chars);
  if (n_chars > 0)
    qsort (sorted, n_chars, sizeof *sorted, compare_unichar);
  AttnVocab *vocab = vocab_alloc ();
  for (guint i = 0; i < n_chars; i++)
    {
      attn_check (g_unichar_validate (sorted[i]) && sorted[i] != 0);
      char buf[8] = { 0 };
      g_unichar_to_utf8 (sorted[i], buf);
      vocab_add (vocab, buf); /* repeats are dropped */
    }
  return vocab;
}

void
attn_vocab_free (AttnVocab *vocab)
{
  if (vocab == NULL)
    return;
  g_hash_table_unref (vocab->ids);
  g_ptr_array_unref (vocab->symbols);
  g_free (vocab);
}

int
attn_vocab_size (const AttnVocab *vocab)
{
  return (int) vocab->symbols->len;
}

int
attn_vocab_lookup (const AttnVocab *vocab, const char *symbol)
{
  gpointer v = g_hash_table_lookup (vocab->ids, symbol);
  return v == NULL ? -1 : GPOINTER_TO_INT (v) - 1;
}

const char *
attn_vocab_symbol (const AttnVocab *vocab, int id)
{
  attn_check (id >= 0 && (guint) id < vocab->symbols->len);
  return g_ptr_array_index (vocab->symbols, id);
}

gboolean
attn_vocab_is_special (int id)
{
  return id >= 0 && id < ATTN_VOCAB_N_SPECIAL;
}

gboolean
attn_vocab_encode (const AttnVocab *vocab, const char *text, GArray *ids,
                   GArray *spans, GPtrArray *unknown, GError **error)
{
  const char *bad = NULL;
  if (!g_utf8_validate (text, -1, &bad))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "the text is not valid UTF-8 (at byte %d)",
                   (int) (bad - text));
      return FALSE;
    }
  gboolean blank = TRUE;
  for (const char *p = text; *p != '\0' && blank; p = g_utf8_next_char (p))
    blank = g_unichar_isspace (g_utf8_get_char (p));
  if (blank)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   *text == '\0' ? "the text is empty"
                                 : "the text is only white space");
      return FALSE;
    }

  /* The unknown characters already listed (those of this text, and any
   * the caller's array held): a set, so a paste of 10^5 distinct unknown
   * characters costs 10^5 lookups, not 10^10 comparisons. */
  g_autoptr (GHashTable) listed = NULL;
  if (unknown != NULL)
    {
      listed = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; i < unknown->len; i++)
        g_hash_table_add (listed, g_ptr_array_index (unknown, i));
    }
  for (const char *p = text; *p != '\0';)
    {
      const char *next = g_utf8_next_char (p);
      char symbol[8] = { 0 };
      memcpy (symbol, p, next - p);
      int id = attn_vocab_lookup (vocab, symbol);
      /* "<s>" is a special's text but never one character, so a character
       * can only map to an ordinary id. */
      if (id < 0)
        {
          id = ATTN_VOCAB_UNK;
          if (unknown != NULL && !g_hash_table_contains (listed, symbol))
            {
              char *copy = g_strdup (symbol);
              g_ptr_array_add (unknown, copy);
              g_hash_table_add (listed, copy);
            }
        }
      int span[2] = { (int) (p - text), (int) (next - text) };
      g_array_append_val (ids, id);
      if (spans != NULL)
        g_array_append_vals (spans, span, 2);
      p = next;
    }
  return TRUE;
}

char *
attn_vocab_decode (const AttnVocab *vocab, const int *ids, int n)
{
  GString *out = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    if (!attn_vocab_is_special (ids[i]))
      g_string_append (out, attn_vocab_symbol (vocab, ids[i]));
  return g_string_free (out, FALSE);
}

char *
attn_vocab_to_json (const AttnVocab *vocab)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (guint i = 0; i < vocab->symbols->len; i++)
    json_builder_add_string_value (builder,
                                   g_ptr_array_index (vocab->symbols, i));
  json_builder_end_array (builder);
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

AttnVocab *
attn_vocab_from_json (const char *json, GError **error)
{
  if (!attn_json_check_depth (json, -1, ATTN_JSON_MAX_DEPTH))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "vocabulary: arrays and objects nested deeper than %d "
                   "levels", ATTN_JSON_MAX_DEPTH);
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, json, -1, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "vocabulary: not JSON: %s", local->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "vocabulary: not a JSON array of symbols");
      return NULL;
    }
  JsonArray *arr = json_node_get_array (root);
  guint n = json_array_get_length (arr);
  if (n < ATTN_VOCAB_N_SPECIAL || n > ATTN_VOCAB_MAX_SIZE)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "vocabulary: %u symbols, expected %d to %d", n,
                   ATTN_VOCAB_N_SPECIAL, ATTN_VOCAB_MAX_SIZE);
      return NULL;
    }

  g_autoptr (AttnVocab) vocab = vocab_alloc ();
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_VALUE (node)
          || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                       "vocabulary: entry %u is not a string", i);
          return NULL;
        }
      const char *s = json_node_get_string (node);
      if (i < ATTN_VOCAB_N_SPECIAL)
        {
          if (strcmp (s, special_symbols[i]) != 0)
            {
              g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                           "vocabulary: entry %u is “%s”, expected the "
                           "special “%s”", i, s, special_symbols[i]);
              return NULL;
            }
          continue;
        }
      const char *problem = single_char_problem (s);
      if (problem != NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                       "vocabulary: entry %u %s", i, problem);
          return NULL;
        }
      if (!vocab_add (vocab, s))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                       "vocabulary: entry %u “%s” appears twice", i, s);
          return NULL;
        }
    }
  return g_steal_pointer (&vocab);
}
