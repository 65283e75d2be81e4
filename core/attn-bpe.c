/* attn-bpe.c: GPT-2's byte-level BPE tokenizer (see the header for the
 * algorithm and the file layouts). */
#include "core/attn-bpe.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-json.h"

/* GPT-2's pattern with \s spelled out as Python's `regex` module has it
 * (PCRE2's \s also matches U+180E; see the header). */
#define WS "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}"
static const char split_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d"
                                    "| ?\\p{L}+"
                                    "| ?\\p{N}+"
                                    "| ?[^" WS "\\p{L}\\p{N}]+"
                                    "|[" WS "]+(?![^" WS "])"
                                    "|[" WS "]+";

/* json-glib 1.6 recurses once per nesting level and wraps integers beyond
 * 64 bits; a tokenizer file needs neither. */
#define MAX_JSON_DEPTH 32
#define MAX_JSON_DIGITS 18

/* Words longer than this are merged every time rather than cached, and the
 * cache is emptied when it reaches CACHE_MAX_WORDS: a 100,000-character
 * paste of random text must not grow memory without bound. */
#define CACHE_WORD_MAX 128
#define CACHE_MAX_WORDS 65536

typedef struct
{
  int a, b;   /* the ids of the pair, left and right */
  int merged; /* the id of their concatenation */
} Merge;

/* (a, b) -> rank, open addressing. */
typedef struct
{
  guint64 *keys; /* (a << 32 | b) + 1; 0 marks an empty slot */
  int *ranks;
  guint mask; /* slots - 1, a power of two */
  guint count;
} MergeTable;

typedef struct
{
  GMutex lock;
  GHashTable *words; /* word (UTF-8) -> int[1 + n]: n, then n ids */
} WordCache;

struct _AttnBpe
{
  int n_vocab;           /* V */
  GStringChunk *strings; /* the vocabulary strings */
  const char **tokens;   /* (V) vocabulary strings, byte alphabet */
  guint8 *bytes;         /* the bytes of every token, back to back */
  int *bytes_off;        /* (V + 1) token id's bytes: [off[id], off[id+1]) */
  guint8 *special;       /* (V) 1 for a special token */
  GHashTable *ids;       /* vocabulary string (in strings) -> id + 1 */
  int byte_ids[256];     /* the one-byte token of each byte */
  GArray *merges;        /* of Merge, in rank order */
  MergeTable table;
  int *specials; /* ids of special tokens, longest text first */
  int n_specials;
  int eot; /* <|endoftext|> or -1 */
  GRegex *split;
  WordCache *cache;
};

/* ---- the byte alphabet ------------------------------------------------- */

/* encoder.py's bytes_to_unicode (): printable Latin-1 bytes stand for
 * themselves; the 68 others, in byte order, for U+0100 onwards. Code points
 * therefore stay below 0x100 + 68. */
#define ALPHABET_MAX_CP (0x100 + 68)

typedef struct
{
  gunichar byte_cp[256];
  int cp_byte[ALPHABET_MAX_CP]; /* -1 outside the alphabet */
} Alphabet;

static gboolean
byte_is_printable (int b)
{
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC)
         || (b >= 0xAE && b <= 0xFF);
}

static const Alphabet *
alphabet (void)
{
  static Alphabet table;
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      int extra = 0;
      for (int cp = 0; cp < ALPHABET_MAX_CP; cp++)
        table.cp_byte[cp] = -1;
      for (int b = 0; b < 256; b++)
        {
          gunichar cp = byte_is_printable (b) ? (gunichar)b
                                              : (gunichar)(0x100 + extra++);
          table.byte_cp[b] = cp;
          table.cp_byte[cp] = b;
        }
      attn_check (extra == 68);
      g_once_init_leave (&done, 1);
    }
  return &table;
}

/* ---- errors and input files -------------------------------------------- */

/* A string from a file cut short for a message. */
static char *
shorten (const char *s)
{
  if (g_utf8_strlen (s, 256) <= 40)
    return g_strdup (s);
  g_autofree char *head = g_utf8_substring (s, 0, 36);
  return g_strconcat (head, "…", NULL);
}

static G_GNUC_PRINTF (3, 4) void bad_file (GError **error, const char *file,
                                           const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE, "%s: %s", file,
               what);
}

/* The whole file, mapped; its display name in *name. */
static GBytes *
read_file (const char *path, char **name, GError **error)
{
  *name = g_filename_display_name (path);
  GStatBuf sb;
  if (g_stat (path, &sb) != 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot open: %s",
                   *name, g_strerror (saved));
      return NULL;
    }
  if (!S_ISREG (sb.st_mode))
    {
      bad_file (error, *name, "is not a regular file");
      return NULL;
    }
  if ((guint64)sb.st_size > ATTN_BPE_MAX_FILE_BYTES)
    {
      bad_file (error, *name,
                "is larger than the %u MiB a tokenizer file may "
                "be",
                ATTN_BPE_MAX_FILE_BYTES >> 20);
      return NULL;
    }
  if (sb.st_size == 0)
    return g_bytes_new_static ("", 0);
  g_autoptr (GError) map_error = NULL;
  GMappedFile *mapping = g_mapped_file_new (path, FALSE, &map_error);
  if (mapping == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot map: %s",
                   *name, map_error->message);
      return NULL;
    }
  GBytes *bytes = g_mapped_file_get_bytes (mapping);
  g_mapped_file_unref (mapping);
  return bytes;
}

static JsonParser *
parse_json (const char *data, gsize len, const char *name, GError **error)
{
  if (len > ATTN_BPE_MAX_FILE_BYTES)
    {
      bad_file (error, name,
                "is larger than the %u MiB a tokenizer file may "
                "be",
                ATTN_BPE_MAX_FILE_BYTES >> 20);
      return NULL;
    }
  const char *problem = attn_json_prescan (data, len, MAX_JSON_DEPTH,
                                           MAX_JSON_DIGITS);
  if (problem != NULL)
    {
      bad_file (error, name, "is not a tokenizer file: it %s", problem);
      return NULL;
    }
  if (memchr (data, '\0', len) != NULL)
    {
      bad_file (error, name, "is not JSON: it holds a NUL byte");
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) json_error = NULL;
  if (!json_parser_load_from_data (parser, data, (gssize)len, &json_error))
    {
      bad_file (error, name, "is not JSON: %s", json_error->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      bad_file (error, name, "is not JSON: it is empty");
      return NULL;
    }
  return g_steal_pointer (&parser);
}

/* An integer member value; FALSE for floats, strings, booleans, ... */
static gboolean
node_get_int (JsonNode *node, gint64 *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

static const char *
node_get_string (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* ---- building ---------------------------------------------------------- */

static guint
merge_slot (const MergeTable *t, guint64 key)
{
  return (guint)((key * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >> 40)
         & t->mask;
}

static guint64
merge_key (int a, int b)
{
  return ((guint64)(guint)a << 32) | (guint)b;
}

static void
merge_table_init (MergeTable *t, guint slots)
{
  t->keys = g_new0 (guint64, slots);
  t->ranks = g_new (int, slots);
  t->mask = slots - 1;
  t->count = 0;
}

static void
merge_table_clear (MergeTable *t)
{
  g_clear_pointer (&t->keys, g_free);
  g_clear_pointer (&t->ranks, g_free);
}

/* The rank of (a, b), or -1. */
static int
merge_table_lookup (const MergeTable *t, int a, int b)
{
  guint64 key = merge_key (a, b);
  for (guint slot = merge_slot (t, key);; slot = (slot + 1) & t->mask)
    {
      guint64 k = t->keys[slot];
      if (k == 0)
        return -1;
      if (k == key + 1)
        return t->ranks[slot];
    }
}

/* Adds (a, b) -> rank; returns the rank it already had, or -1. */
static int
merge_table_insert (MergeTable *t, int a, int b, int rank)
{
  if (2 * (t->count + 1) > t->mask + 1)
    {
      MergeTable bigger;
      merge_table_init (&bigger, 2 * (t->mask + 1));
      for (guint i = 0; i <= t->mask; i++)
        if (t->keys[i] != 0)
          merge_table_insert (&bigger, (int)((t->keys[i] - 1) >> 32),
                              (int)(guint)(t->keys[i] - 1), t->ranks[i]);
      merge_table_clear (t);
      *t = bigger;
    }
  guint64 key = merge_key (a, b);
  guint slot = merge_slot (t, key);
  for (; t->keys[slot] != 0; slot = (slot + 1) & t->mask)
    if (t->keys[slot] == key + 1)
      return t->ranks[slot];
  t->keys[slot] = key + 1;
  t->ranks[slot] = rank;
  t->count++;
  return -1;
}

static int
merge_rank (const AttnBpe *bpe, int a, int b)
{
  return merge_table_lookup (&bpe->table, a, b);
}

/* The vocabulary while it is read: strings by id, filled from the vocab
 * object and then the added tokens. */
typedef struct
{
  GStringChunk *strings;
  GPtrArray *by_id;  /* of const char * (in strings) or NULL, indexed by id */
  GHashTable *seen;  /* string (in strings) -> id + 1 */
  GHashTable *added; /* ids (GINT_TO_POINTER) of added (special) tokens */
} VocabBuild;

static void
vocab_build_clear (VocabBuild *vb)
{
  g_clear_pointer (&vb->by_id, g_ptr_array_unref);
  g_clear_pointer (&vb->seen, g_hash_table_unref);
  g_clear_pointer (&vb->added, g_hash_table_unref);
  g_clear_pointer (&vb->strings, g_string_chunk_free);
}

static void
vocab_build_init (VocabBuild *vb)
{
  vb->strings = g_string_chunk_new (1 << 16);
  vb->by_id = g_ptr_array_new ();
  vb->seen = g_hash_table_new (g_str_hash, g_str_equal);
  vb->added = g_hash_table_new (NULL, NULL);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VocabBuild, vocab_build_clear)

/* Records (token, id). An added token equal to a vocabulary entry (same
 * id, same text) is fine. */
static gboolean
vocab_build_add (VocabBuild *vb, const char *token, gint64 id, gboolean added,
                 const char *file, GError **error)
{
  if (*token == '\0')
    {
      bad_file (error, file, "token %" G_GINT64_FORMAT " is empty", id);
      return FALSE;
    }
  if (strlen (token) > 2 * ATTN_BPE_MAX_TOKEN_BYTES)
    {
      g_autofree char *shown = shorten (token);
      bad_file (error, file, "token “%s” is longer than %d bytes", shown,
                ATTN_BPE_MAX_TOKEN_BYTES);
      return FALSE;
    }
  if (id < 0 || id >= ATTN_BPE_MAX_VOCAB)
    {
      g_autofree char *shown = shorten (token);
      bad_file (error, file,
                "token “%s” has id %" G_GINT64_FORMAT ", out of range", shown,
                id);
      return FALSE;
    }
  if ((guint)id >= vb->by_id->len)
    g_ptr_array_set_size (vb->by_id, (guint)id + 1);
  const char *there = g_ptr_array_index (vb->by_id, id);
  if (added && there != NULL && strcmp (there, token) == 0)
    {
      g_hash_table_add (vb->added, GINT_TO_POINTER ((int)id));
      return TRUE;
    }
  if (there != NULL)
    {
      g_autofree char *shown = shorten (token);
      g_autofree char *shown_there = shorten (there);
      bad_file (error, file,
                "id %" G_GINT64_FORMAT " is given twice, to "
                "“%s” and “%s”",
                id, shown_there, shown);
      return FALSE;
    }
  gpointer other = g_hash_table_lookup (vb->seen, token);
  if (other != NULL)
    {
      g_autofree char *shown = shorten (token);
      bad_file (error, file,
                "token “%s” is given twice, ids %d and %" G_GINT64_FORMAT,
                shown, GPOINTER_TO_INT (other) - 1, id);
      return FALSE;
    }
  char *copy = g_string_chunk_insert (vb->strings, token);
  g_ptr_array_index (vb->by_id, id) = copy;
  g_hash_table_insert (vb->seen, copy, GINT_TO_POINTER ((int)id + 1));
  if (added)
    g_hash_table_add (vb->added, GINT_TO_POINTER ((int)id));
  return TRUE;
}

/* A vocabulary object as json-glib sees it. */
static gboolean
vocab_build_read_node (VocabBuild *vb, JsonNode *node, const char *file,
                       const char *where, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_file (error, file, "%s is not an object of token: id", where);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);
  if (json_object_get_size (obj) > ATTN_BPE_MAX_VOCAB)
    {
      bad_file (error, file, "%s has more than %d tokens", where,
                ATTN_BPE_MAX_VOCAB);
      return FALSE;
    }
  JsonObjectIter iter;
  const char *token;
  JsonNode *value;
  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &token, &value))
    {
      gint64 id;
      if (!node_get_int (value, &id))
        {
          g_autofree char *shown = shorten (token);
          bad_file (error, file, "%s: the id of “%s” is not an integer", where,
                    shown);
          return FALSE;
        }
      if (!vocab_build_add (vb, token, id, FALSE, file, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- a flat JSON object without json-glib ---- */

/* vocab.json is one object of 50,257 string: integer members. json-glib
 * builds a node per member (~0.3 s for GPT-2's here); this reads the same
 * members straight into the vocabulary. It accepts only strict JSON of that
 * shape (UTF-8, no NUL or lone surrogate escapes, integers without fraction
 * or exponent) and reads it as json-glib does; for anything else it gives
 * up, and the file goes to json-glib, which says what is wrong. */
typedef enum
{
  SCAN_OK,
  SCAN_GIVE_UP, /* not of the fast path's shape: no error set */
  SCAN_ERROR,   /* of that shape, but a bad vocabulary: error set */
} ScanResult;

typedef struct
{
  const char *p;
  const char *end;
} Scan;

static void
scan_ws (Scan *sc)
{
  while (
      sc->p < sc->end
      && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
    sc->p++;
}

static int
scan_hex4 (Scan *sc)
{
  if (sc->end - sc->p < 4)
    return -1;
  int v = 0;
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (sc->p[i]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  sc->p += 4;
  return v;
}

/* A JSON string into out (reset first); FALSE to give up. */
static gboolean
scan_string (Scan *sc, GString *out)
{
  g_string_truncate (out, 0);
  if (sc->p >= sc->end || *sc->p != '"')
    return FALSE;
  sc->p++;
  for (;;)
    {
      const char *run = sc->p;
      while (sc->p < sc->end && *sc->p != '"' && *sc->p != '\\'
             && (guchar)*sc->p >= 0x20)
        sc->p++;
      g_string_append_len (out, run, sc->p - run);
      if (sc->p >= sc->end || (guchar)*sc->p < 0x20)
        return FALSE;
      if (*sc->p++ == '"')
        return TRUE;
      if (sc->p >= sc->end)
        return FALSE;
      char c = *sc->p++;
      const char *simple = strchr ("\"\\/bfnrt", c);
      if (c != '\0' && simple != NULL)
        {
          g_string_append_c (out, "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]);
          continue;
        }
      if (c != 'u')
        return FALSE;
      int cp = scan_hex4 (sc);
      if (cp <= 0 || (cp >= 0xDC00 && cp < 0xE000))
        return FALSE;
      if (cp >= 0xD800 && cp < 0xDC00)
        {
          if (sc->end - sc->p < 2 || sc->p[0] != '\\' || sc->p[1] != 'u')
            return FALSE;
          sc->p += 2;
          int low = scan_hex4 (sc);
          if (low < 0xDC00 || low >= 0xE000)
            return FALSE;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
      g_string_append_unichar (out, (gunichar)cp);
    }
}

/* A JSON integer (no fraction or exponent) of at most MAX_JSON_DIGITS. */
static gboolean
scan_int (Scan *sc, gint64 *out)
{
  gboolean negative = sc->p < sc->end && *sc->p == '-';
  if (negative)
    sc->p++;
  const char *digits = sc->p;
  /* Unsigned, so a run of more digits than MAX_JSON_DIGITS wraps (defined)
   * before it is refused below; up to it, v < 10^18 fits a gint64. */
  guint64 v = 0;
  while (sc->p < sc->end && g_ascii_isdigit (*sc->p))
    v = v * 10 + (guint64)(*sc->p++ - '0');
  gsize n = (gsize)(sc->p - digits);
  if (n == 0 || n > MAX_JSON_DIGITS || (n > 1 && digits[0] == '0'))
    return FALSE;
  if (sc->p < sc->end && (*sc->p == '.' || *sc->p == 'e' || *sc->p == 'E'))
    return FALSE;
  *out = negative ? -(gint64) v : (gint64) v;
  return TRUE;
}

static ScanResult
scan_flat_vocab (const char *data, gsize len, VocabBuild *vb, const char *file,
                 GError **error)
{
  if (!g_utf8_validate_len (data, len, NULL))
    return SCAN_GIVE_UP;
  Scan sc = { data, data + len };
  g_autoptr (GString) token = g_string_new (NULL);
  guint n = 0;
  scan_ws (&sc);
  if (sc.p >= sc.end || *sc.p++ != '{')
    return SCAN_GIVE_UP;
  scan_ws (&sc);
  if (sc.p < sc.end && *sc.p == '}')
    sc.p++;
  else
    for (;;)
      {
        gint64 id;
        if (!scan_string (&sc, token))
          return SCAN_GIVE_UP;
        scan_ws (&sc);
        if (sc.p >= sc.end || *sc.p++ != ':')
          return SCAN_GIVE_UP;
        scan_ws (&sc);
        if (!scan_int (&sc, &id))
          return SCAN_GIVE_UP;
        if (++n > ATTN_BPE_MAX_VOCAB)
          {
            bad_file (error, file, "the top level has more than %d tokens",
                      ATTN_BPE_MAX_VOCAB);
            return SCAN_ERROR;
          }
        if (!vocab_build_add (vb, token->str, id, FALSE, file, error))
          return SCAN_ERROR;
        scan_ws (&sc);
        if (sc.p >= sc.end)
          return SCAN_GIVE_UP;
        char c = *sc.p++;
        if (c == '}')
          break;
        if (c != ',')
          return SCAN_GIVE_UP;
        scan_ws (&sc);
      }
  scan_ws (&sc);
  return sc.p == sc.end ? SCAN_OK : SCAN_GIVE_UP;
}

/* vocab.json / encoder.json into vb, by the fast path or json-glib's. */
static gboolean
read_vocab_json (VocabBuild *vb, const char *data, gsize len, const char *file,
                 GError **error)
{
  if (len > ATTN_BPE_MAX_FILE_BYTES)
    {
      bad_file (error, file,
                "is larger than the %u MiB a tokenizer file may "
                "be",
                ATTN_BPE_MAX_FILE_BYTES >> 20);
      return FALSE;
    }
  switch (scan_flat_vocab (data, len, vb, file, error))
    {
    case SCAN_OK:
      return TRUE;
    case SCAN_ERROR:
      return FALSE;
    case SCAN_GIVE_UP:
      break;
    }
  vocab_build_clear (vb);
  vocab_build_init (vb);
  g_autoptr (JsonParser) parser = parse_json (data, len, file, error);
  if (parser == NULL)
    return FALSE;
  return vocab_build_read_node (vb, json_parser_get_root (parser), file,
                                "the top level", error);
}

/* ---- merges ---- */

/* Where a merge is in its file, for messages: a line of merges.txt or an
 * element of tokenizer.json's model.merges. */
static char *
merge_where (gboolean json, guint index)
{
  return json ? g_strdup_printf ("model.merges[%u]", index)
              : g_strdup_printf ("line %u", index);
}

/* One merge "a b" of rank bpe->merges->len. */
static gboolean
merge_add (AttnBpe *bpe, const char *a, const char *b, const char *file,
           gboolean json, guint index, GError **error)
{
  if (bpe->merges->len >= ATTN_BPE_MAX_MERGES)
    {
      bad_file (error, file, "has more than %d merges", ATTN_BPE_MAX_MERGES);
      return FALSE;
    }
  const char *names[2] = { a, b };
  int ids[2];
  for (int k = 0; k < 2; k++)
    {
      gpointer id = g_hash_table_lookup (bpe->ids, names[k]);
      if (id == NULL)
        {
          g_autofree char *where = merge_where (json, index);
          g_autofree char *shown = shorten (names[k]);
          bad_file (error, file, "%s: “%s” is not in the vocabulary", where,
                    shown);
          return FALSE;
        }
      ids[k] = GPOINTER_TO_INT (id) - 1;
    }
  /* Known tokens are at most 2 * ATTN_BPE_MAX_TOKEN_BYTES long. */
  char joined[4 * ATTN_BPE_MAX_TOKEN_BYTES + 1];
  gsize la = strlen (a), lb = strlen (b);
  attn_check (la + lb < sizeof joined);
  memcpy (joined, a, la);
  memcpy (joined + la, b, lb + 1);
  gpointer merged = g_hash_table_lookup (bpe->ids, joined);
  if (merged == NULL)
    {
      g_autofree char *where = merge_where (json, index);
      g_autofree char *shown = shorten (joined);
      bad_file (error, file,
                "%s: the merged symbol “%s” is not in the "
                "vocabulary",
                where, shown);
      return FALSE;
    }
  int earlier
      = merge_table_insert (&bpe->table, ids[0], ids[1], (int)bpe->merges->len);
  if (earlier >= 0)
    {
      g_autofree char *where = merge_where (json, index);
      g_autofree char *shown_a = shorten (a), *shown_b = shorten (b);
      bad_file (error, file, "%s: “%s %s” repeats merge %d", where, shown_a,
                shown_b, earlier + 1);
      return FALSE;
    }
  Merge m = { ids[0], ids[1], GPOINTER_TO_INT (merged) - 1 };
  g_array_append_val (bpe->merges, m);
  return TRUE;
}

/* "a b" (one space, neither side empty) into a and b, in place; FALSE if
 * not of that shape. */
static gboolean
split_merge (char *line, char **a, char **b)
{
  char *space = strchr (line, ' ');
  if (space == NULL || space == line || space[1] == '\0'
      || strchr (space + 1, ' ') != NULL)
    return FALSE;
  *space = '\0';
  *a = line;
  *b = space + 1;
  return TRUE;
}

/* merges.txt / vocab.bpe: an optional "#version" first line, then one
 * "a b" per line (LF or CRLF); blank lines are skipped. */
static gboolean
read_merges_text (AttnBpe *bpe, const char *text, gsize len, const char *file,
                  GError **error)
{
  if (len > ATTN_BPE_MAX_FILE_BYTES)
    {
      bad_file (error, file,
                "is larger than the %u MiB a tokenizer file may "
                "be",
                ATTN_BPE_MAX_FILE_BYTES >> 20);
      return FALSE;
    }
  const char *bad_at = NULL;
  if (!g_utf8_validate_len (text, len, &bad_at))
    {
      bad_file (error, file, "is not UTF-8 text (byte %" G_GSIZE_FORMAT ")",
                (gsize)(bad_at - text));
      return FALSE;
    }
  char line[4 * ATTN_BPE_MAX_TOKEN_BYTES + 2];
  gsize pos = 0;
  guint line_no = 0;
  while (pos < len)
    {
      const char *start = text + pos;
      const char *nl = memchr (start, '\n', len - pos);
      gsize line_len = nl != NULL ? (gsize)(nl - start) : len - pos;
      pos += line_len + (nl != NULL);
      line_no++;
      if (line_len > 0 && start[line_len - 1] == '\r')
        line_len--;
      if (line_len == 0)
        continue;
      if (line_len >= sizeof line)
        {
          bad_file (error, file, "line %u is longer than any merge can be",
                    line_no);
          return FALSE;
        }
      memcpy (line, start, line_len);
      line[line_len] = '\0';
      if (line_no == 1 && g_str_has_prefix (line, "#version"))
        continue;
      char *a, *b;
      if (!split_merge (line, &a, &b))
        {
          g_autofree char *shown = shorten (line);
          bad_file (error, file,
                    "line %u: “%s” is not two symbols separated "
                    "by a space",
                    line_no, shown);
          return FALSE;
        }
      if (!merge_add (bpe, a, b, file, FALSE, line_no, error))
        return FALSE;
    }
  return TRUE;
}

/* tokenizer.json's model.merges: "a b" strings or ["a", "b"] pairs. */
static gboolean
read_merges_json (AttnBpe *bpe, JsonNode *node, const char *file,
                  GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      bad_file (error, file, "model.merges is not an array");
      return FALSE;
    }
  JsonArray *arr = json_node_get_array (node);
  guint n = json_array_get_length (arr);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *el = json_array_get_element (arr, i);
      const char *s = node_get_string (el);
      if (s != NULL)
        {
          g_autofree char *copy = g_strdup (s);
          char *a, *b;
          if (!split_merge (copy, &a, &b))
            {
              g_autofree char *shown = shorten (s);
              bad_file (error, file,
                        "model.merges[%u]: “%s” is not two "
                        "symbols separated by a space",
                        i, shown);
              return FALSE;
            }
          if (!merge_add (bpe, a, b, file, TRUE, i, error))
            return FALSE;
          continue;
        }
      const char *a = NULL, *b = NULL;
      if (JSON_NODE_HOLDS_ARRAY (el)
          && json_array_get_length (json_node_get_array (el)) == 2)
        {
          JsonArray *pair = json_node_get_array (el);
          a = node_get_string (json_array_get_element (pair, 0));
          b = node_get_string (json_array_get_element (pair, 1));
        }
      if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
        {
          bad_file (error, file,
                    "model.merges[%u] is neither \"a b\" nor "
                    "[\"a\", \"b\"]",
                    i);
          return FALSE;
        }
      if (!merge_add (bpe, a, b, file, TRUE, i, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- the tokenizer ---- */

static int
compare_special_length (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const AttnBpe *bpe = data;
  int a = *(const int *)pa, b = *(const int *)pb;
  int la = bpe->bytes_off[a + 1] - bpe->bytes_off[a];
  int lb = bpe->bytes_off[b + 1] - bpe->bytes_off[b];
  if (la != lb)
    return lb - la; /* longest first */
  return a - b;
}

static AttnBpe *
bpe_alloc (void)
{
  AttnBpe *bpe = g_new0 (AttnBpe, 1);
  bpe->eot = -1;
  bpe->merges = g_array_new (FALSE, FALSE, sizeof (Merge));
  merge_table_init (&bpe->table, 1024);
  bpe->cache = g_new0 (WordCache, 1);
  g_mutex_init (&bpe->cache->lock);
  bpe->cache->words
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GError) regex_error = NULL;
  bpe->split = g_regex_new (split_pattern, G_REGEX_OPTIMIZE, 0, &regex_error);
  if (bpe->split == NULL)
    g_error ("GPT-2's pattern does not compile: %s", regex_error->message);
  return bpe;
}

/* Takes the vocabulary from vb: checks the ids are 0 .. V-1 and every
 * ordinary token is in the byte alphabet, and works out every token's
 * bytes. */
static gboolean
bpe_set_vocab (AttnBpe *bpe, VocabBuild *vb, const char *file, GError **error)
{
  guint n = vb->by_id->len;
  for (guint id = 0; id < n; id++)
    if (g_ptr_array_index (vb->by_id, id) == NULL)
      {
        bad_file (error, file,
                  "has ids up to %u but none is %u: ids must be "
                  "0 .. V-1",
                  n - 1, id);
        return FALSE;
      }
  if (n == 0)
    {
      bad_file (error, file, "has an empty vocabulary");
      return FALSE;
    }
  bpe->n_vocab = (int)n;
  bpe->strings = g_steal_pointer (&vb->strings);
  bpe->ids = g_steal_pointer (&vb->seen);
  bpe->tokens = (const char **)g_ptr_array_steal (vb->by_id, NULL);
  bpe->bytes_off = g_new0 (int, n + 1);
  bpe->special = g_new0 (guint8, n);
  /* Alphabet tokens have at most as many bytes as UTF-8 bytes. */
  gsize cap = 0;
  for (guint id = 0; id < n; id++)
    cap += strlen (bpe->tokens[id]);
  bpe->bytes = g_malloc (MAX (cap, 1));
  const Alphabet *abc = alphabet ();
  int at = 0;
  for (guint id = 0; id < n; id++)
    {
      const char *token = bpe->tokens[id];
      bpe->bytes_off[id] = at;
      gboolean added
          = g_hash_table_contains (vb->added, GINT_TO_POINTER ((int)id));
      bpe->special[id] = added;
      int start = at;
      if (added)
        {
          gsize len = strlen (token);
          memcpy (bpe->bytes + at, token, len);
          at += (int)len;
        }
      else
        for (const char *p = token; *p != '\0'; p = g_utf8_next_char (p))
          {
            gunichar cp = g_utf8_get_char (p);
            if (cp >= ALPHABET_MAX_CP || abc->cp_byte[cp] < 0)
              {
                g_autofree char *shown = shorten (token);
                bad_file (error, file,
                          "token %u “%s” is not in GPT-2's byte "
                          "alphabet",
                          id, shown);
                return FALSE;
              }
            bpe->bytes[at++] = (guint8)abc->cp_byte[cp];
          }
      if (at - start > ATTN_BPE_MAX_TOKEN_BYTES)
        {
          g_autofree char *shown = shorten (token);
          bad_file (error, file, "token %u “%s” is longer than %d bytes", id,
                    shown, ATTN_BPE_MAX_TOKEN_BYTES);
          return FALSE;
        }
    }
  bpe->bytes_off[n] = at;

  for (int b = 0; b < 256; b++)
    {
      char s[8] = { 0 };
      g_unichar_to_utf8 (abc->byte_cp[b], s);
      gpointer id = g_hash_table_lookup (bpe->ids, s);
      if (id == NULL || bpe->special[GPOINTER_TO_INT (id) - 1])
        {
          bad_file (error, file, "has no token for byte 0x%02X (“%s”)", b, s);
          return FALSE;
        }
      bpe->byte_ids[b] = GPOINTER_TO_INT (id) - 1;
    }

  GArray *specials = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint id = 0; id < n; id++)
    if (bpe->special[id])
      g_array_append_val (specials, id);
  g_array_sort_with_data (specials, compare_special_length, bpe);
  bpe->n_specials = (int)specials->len;
  bpe->specials = (int *)(void *)g_array_free (specials, FALSE);
  bpe->eot = attn_bpe_special_id (bpe, "<|endoftext|>");
  return TRUE;
}

/* In the two-file layouts GPT-2's one special token is known by its text. */
static void
vocab_build_mark_eot (VocabBuild *vb)
{
  gpointer id = g_hash_table_lookup (vb->seen, "<|endoftext|>");
  if (id != NULL)
    g_hash_table_add (vb->added, GINT_TO_POINTER (GPOINTER_TO_INT (id) - 1));
}

AttnBpe *
attn_bpe_new_from_data (const char *vocab_json, gsize vocab_len,
                        const char *vocab_name, const char *merges,
                        gsize merges_len, const char *merges_name,
                        GError **error)
{
  g_return_val_if_fail (vocab_json != NULL || vocab_len == 0, NULL);
  g_return_val_if_fail (merges != NULL || merges_len == 0, NULL);
  g_auto (VocabBuild) vb = { 0 };
  vocab_build_init (&vb);
  if (!read_vocab_json (&vb, vocab_json ? vocab_json : "", vocab_len,
                        vocab_name, error))
    return NULL;
  vocab_build_mark_eot (&vb);
  g_autoptr (AttnBpe) bpe = bpe_alloc ();
  if (!bpe_set_vocab (bpe, &vb, vocab_name, error))
    return NULL;
  if (!read_merges_text (bpe, merges ? merges : "", merges_len, merges_name,
                         error))
    return NULL;
  return g_steal_pointer (&bpe);
}

AttnBpe *
attn_bpe_new_from_files (const char *vocab_path, const char *merges_path,
                         GError **error)
{
  g_return_val_if_fail (vocab_path != NULL && merges_path != NULL, NULL);
  g_autofree char *vocab_name = NULL, *merges_name = NULL;
  g_autoptr (GBytes) vocab = read_file (vocab_path, &vocab_name, error);
  if (vocab == NULL)
    return NULL;
  g_autoptr (GBytes) merges = read_file (merges_path, &merges_name, error);
  if (merges == NULL)
    return NULL;
  gsize vocab_len, merges_len;
  const char *vocab_data = g_bytes_get_data (vocab, &vocab_len);
  const char *merges_data = g_bytes_get_data (merges, &merges_len);
  return attn_bpe_new_from_data (vocab_data, vocab_len, vocab_name, merges_data,
                                 merges_len, merges_name, error);
}

/* What tokenizer.json says beside the vocabulary and merges must be GPT-2's
 * byte-level BPE with nothing added, or the encoding would differ. */
static gboolean
check_tokenizer_kind (JsonObject *root, JsonObject *model, const char *file,
                      GError **error)
{
  JsonNode *type = json_object_get_member (model, "type");
  if (type != NULL && g_strcmp0 (node_get_string (type), "BPE") != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: model.type is not \"BPE\"", file);
      return FALSE;
    }
  const char *affixes[] = { "continuing_subword_prefix", "end_of_word_suffix" };
  for (guint i = 0; i < G_N_ELEMENTS (affixes); i++)
    {
      JsonNode *node = json_object_get_member (model, affixes[i]);
      if (node != NULL && !JSON_NODE_HOLDS_NULL (node)
          && g_strcmp0 (node_get_string (node), "") != 0)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                       "%s: model.%s is set; GPT-2's BPE has none", file,
                       affixes[i]);
          return FALSE;
        }
    }
  JsonNode *norm = json_object_get_member (root, "normalizer");
  if (norm != NULL && !JSON_NODE_HOLDS_NULL (norm))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: has a normalizer; GPT-2's tokenizer has none", file);
      return FALSE;
    }
  JsonNode *pre = json_object_get_member (root, "pre_tokenizer");
  if (pre == NULL || JSON_NODE_HOLDS_NULL (pre))
    return TRUE;
  JsonObject *pre_obj
      = JSON_NODE_HOLDS_OBJECT (pre) ? json_node_get_object (pre) : NULL;
  const char *pre_type
      = pre_obj ? node_get_string (json_object_get_member (pre_obj, "type"))
                : NULL;
  if (g_strcmp0 (pre_type, "ByteLevel") != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: pre_tokenizer is not GPT-2's ByteLevel", file);
      return FALSE;
    }
  JsonNode *prefix = json_object_get_member (pre_obj, "add_prefix_space");
  JsonNode *use_regex = json_object_get_member (pre_obj, "use_regex");
  if ((prefix != NULL && JSON_NODE_HOLDS_VALUE (prefix)
       && json_node_get_value_type (prefix) == G_TYPE_BOOLEAN
       && json_node_get_boolean (prefix))
      || (use_regex != NULL && JSON_NODE_HOLDS_VALUE (use_regex)
          && json_node_get_value_type (use_regex) == G_TYPE_BOOLEAN
          && !json_node_get_boolean (use_regex)))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: pre_tokenizer adds a prefix space or skips GPT-2's "
                   "split",
                   file);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_added_tokens (VocabBuild *vb, JsonObject *root, const char *file,
                   GError **error)
{
  JsonNode *node = json_object_get_member (root, "added_tokens");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      bad_file (error, file, "added_tokens is not an array");
      return FALSE;
    }
  JsonArray *arr = json_node_get_array (node);
  guint n = json_array_get_length (arr);
  if (n > ATTN_BPE_MAX_VOCAB)
    {
      bad_file (error, file, "has more than %d added tokens",
                ATTN_BPE_MAX_VOCAB);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonNode *el = json_array_get_element (arr, i);
      JsonObject *obj
          = JSON_NODE_HOLDS_OBJECT (el) ? json_node_get_object (el) : NULL;
      gint64 id = -1;
      const char *content = NULL;
      if (obj != NULL)
        content = node_get_string (json_object_get_member (obj, "content"));
      if (obj == NULL || content == NULL
          || !node_get_int (json_object_get_member (obj, "id"), &id))
        {
          bad_file (error, file,
                    "added_tokens[%u] is not an object with an "
                    "integer id and a string content",
                    i);
          return FALSE;
        }
      if (!vocab_build_add (vb, content, id, TRUE, file, error))
        return FALSE;
    }
  return TRUE;
}

AttnBpe *
attn_bpe_new_from_tokenizer_json_data (const char *json, gsize len,
                                       const char *name, GError **error)
{
  g_return_val_if_fail (json != NULL || len == 0, NULL);
  g_autoptr (JsonParser) parser
      = parse_json (json ? json : "", len, name, error);
  if (parser == NULL)
    return NULL;
  JsonNode *root_node = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root_node))
    {
      bad_file (error, name, "the top level is not an object");
      return NULL;
    }
  JsonObject *root = json_node_get_object (root_node);
  JsonNode *model_node = json_object_get_member (root, "model");
  if (model_node == NULL || !JSON_NODE_HOLDS_OBJECT (model_node))
    {
      bad_file (error, name, "has no \"model\" object");
      return NULL;
    }
  JsonObject *model = json_node_get_object (model_node);
  if (!check_tokenizer_kind (root, model, name, error))
    return NULL;
  g_auto (VocabBuild) vb = { 0 };
  vocab_build_init (&vb);
  if (!vocab_build_read_node (&vb, json_object_get_member (model, "vocab"),
                              name, "model.vocab", error))
    return NULL;
  if (!read_added_tokens (&vb, root, name, error))
    return NULL;
  g_autoptr (AttnBpe) bpe = bpe_alloc ();
  if (!bpe_set_vocab (bpe, &vb, name, error))
    return NULL;
  if (!read_merges_json (bpe, json_object_get_member (model, "merges"), name,
                         error))
    return NULL;
  return g_steal_pointer (&bpe);
}

AttnBpe *
attn_bpe_new_from_tokenizer_json (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *name = NULL;
  g_autoptr (GBytes) bytes = read_file (path, &name, error);
  if (bytes == NULL)
    return NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  return attn_bpe_new_from_tokenizer_json_data (data, len, name, error);
}

AttnBpe *
attn_bpe_new_from_dir (const char *dir, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  static const char *const pairs[][2] = {
    { "vocab.json", "merges.txt" },
    { "encoder.json", "vocab.bpe" },
  };
  g_autofree char *name = g_filename_display_name (dir);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_autofree char *vocab = g_build_filename (dir, pairs[i][0], NULL);
      g_autofree char *merges = g_build_filename (dir, pairs[i][1], NULL);
      gboolean has_vocab = g_file_test (vocab, G_FILE_TEST_EXISTS);
      gboolean has_merges = g_file_test (merges, G_FILE_TEST_EXISTS);
      if (has_vocab && has_merges)
        return attn_bpe_new_from_files (vocab, merges, error);
      if (has_vocab || has_merges)
        {
          bad_file (error, name, "has %s but no %s",
                    pairs[i][has_vocab ? 0 : 1], pairs[i][has_vocab ? 1 : 0]);
          return NULL;
        }
    }
  g_autofree char *tokenizer = g_build_filename (dir, "tokenizer.json", NULL);
  if (g_file_test (tokenizer, G_FILE_TEST_EXISTS))
    return attn_bpe_new_from_tokenizer_json (tokenizer, error);
  bad_file (error, name,
            "has no tokenizer: none of vocab.json + "
            "merges.txt, encoder.json + vocab.bpe, tokenizer.json");
  return NULL;
}

void
attn_bpe_free (AttnBpe *bpe)
{
  if (bpe == NULL)
    return;
  g_clear_pointer (&bpe->strings, g_string_chunk_free);
  g_free (bpe->tokens);
  g_free (bpe->bytes);
  g_free (bpe->bytes_off);
  g_free (bpe->special);
  g_clear_pointer (&bpe->ids, g_hash_table_unref);
  g_clear_pointer (&bpe->merges, g_array_unref);
  merge_table_clear (&bpe->table);
  g_free (bpe->specials);
  g_clear_pointer (&bpe->split, g_regex_unref);
  g_clear_pointer (&bpe->cache->words, g_hash_table_unref);
  g_mutex_clear (&bpe->cache->lock);
  g_free (bpe->cache);
  g_free (bpe);
}

/* ---- queries ----------------------------------------------------------- */

int
attn_bpe_n_vocab (const AttnBpe *bpe)
{
  return bpe->n_vocab;
}

int
attn_bpe_n_merges (const AttnBpe *bpe)
{
  return (int)bpe->merges->len;
}

const char *
attn_bpe_token (const AttnBpe *bpe, int id)
{
  attn_check (id >= 0 && id < bpe->n_vocab);
  return bpe->tokens[id];
}

int
attn_bpe_lookup (const AttnBpe *bpe, const char *token)
{
  gpointer id = g_hash_table_lookup (bpe->ids, token);
  return id != NULL ? GPOINTER_TO_INT (id) - 1 : -1;
}

const guint8 *
attn_bpe_token_bytes (const AttnBpe *bpe, int id, gsize *len)
{
  attn_check (id >= 0 && id < bpe->n_vocab);
  *len = (gsize)(bpe->bytes_off[id + 1] - bpe->bytes_off[id]);
  return bpe->bytes + bpe->bytes_off[id];
}

gboolean
attn_bpe_is_special (const AttnBpe *bpe, int id)
{
  return id >= 0 && id < bpe->n_vocab && bpe->special[id];
}

int
attn_bpe_special_id (const AttnBpe *bpe, const char *text)
{
  int id = attn_bpe_lookup (bpe, text);
  return id >= 0 && bpe->special[id] ? id : -1;
}

int
attn_bpe_eot_id (const AttnBpe *bpe)
{
  return bpe->eot;
}

/* ---- merging one word --------------------------------------------------- */

/* A pair of adjacent symbols with a merge: the merge's rank and the
 * position (first byte index) of the left symbol. */
typedef struct
{
  int rank;
  int pos;
} HeapItem;

static gboolean
heap_less (HeapItem x, HeapItem y)
{
  return x.rank < y.rank || (x.rank == y.rank && x.pos < y.pos);
}

static void
heap_push (HeapItem *heap, int *n, HeapItem item)
{
  int i = (*n)++;
  while (i > 0)
    {
      int parent = (i - 1) / 2;
      if (!heap_less (item, heap[parent]))
        break;
      heap[i] = heap[parent];
      i = parent;
    }
  heap[i] = item;
}

static HeapItem
heap_pop (HeapItem *heap, int *n)
{
  HeapItem top = heap[0];
  HeapItem last = heap[--(*n)];
  int i = 0;
  for (;;)
    {
      int child = 2 * i + 1;
      if (child >= *n)
        break;
      if (child + 1 < *n && heap_less (heap[child + 1], heap[child]))
        child++;
      if (!heap_less (heap[child], last))
        break;
      heap[i] = heap[child];
      i = child;
    }
  if (*n > 0)
    heap[i] = last;
  return top;
}

/* The tokens of one word (its UTF-8 bytes w, n >= 1), appended to out.
 *
 * encoder.py's bpe (): while some adjacent pair has a merge, take the pair
 * of lowest rank and merge every occurrence of it in one left-to-right pass
 * (so "aaa" becomes "aa a"), then look again. A pass is done here as one
 * batch: all heap entries of that rank are taken before any new pair is
 * pushed, since a new pair may rank lower than the one being merged and
 * encoder.py only sees it on the next pass. No pass creates a new
 * occurrence of its own pair (the merged symbol is longer than either
 * half), and stale heap entries are recognised by the symbols now at their
 * position. O(n log n) where the plain loop is O(n^2), which matters for a
 * long run of letters pasted without spaces. */
static void
bpe_word (const AttnBpe *bpe, const guint8 *w, int n, GArray *out)
{
  if (n == 1)
    {
      g_array_append_val (out, bpe->byte_ids[w[0]]);
      return;
    }
  int *sym = g_new (int, 3 * (gsize)n); /* (n) id, -1 once absorbed */
  int *next = sym + n;                  /* (n) next live position or -1 */
  int *prev = sym + 2 * n;              /* (n) previous live position */
  /* At most n - 1 pairs at the start and two per merge after. */
  HeapItem *heap = g_new (HeapItem, 3 * (gsize)n);
  int *group = g_new (int, n);
  int n_heap = 0;
  for (int i = 0; i < n; i++)
    {
      sym[i] = bpe->byte_ids[w[i]];
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
  for (int i = 0; i + 1 < n; i++)
    {
      int r = merge_rank (bpe, sym[i], sym[i + 1]);
      if (r >= 0)
        heap_push (heap, &n_heap, (HeapItem){ r, i });
    }
  while (n_heap > 0)
    {
      int r = heap[0].rank;
      const Merge *m = &g_array_index (bpe->merges, Merge, r);
      int n_group = 0;
      while (n_heap > 0 && heap[0].rank == r)
        {
          HeapItem item = heap_pop (heap, &n_heap);
          if (n_group == 0 || group[n_group - 1] != item.pos)
            group[n_group++] = item.pos;
        }
      /* In position order, so this is encoder.py's left-to-right pass. */
      int n_merged = 0;
      for (int k = 0; k < n_group; k++)
        {
          int pos = group[k];
          int right = next[pos];
          if (sym[pos] != m->a || right < 0 || sym[right] != m->b)
            continue; /* stale, or taken by the merge just left of it */
          sym[pos] = m->merged;
          sym[right] = -1;
          next[pos] = next[right];
          if (next[right] >= 0)
            prev[next[right]] = pos;
          group[n_merged++] = pos;
        }
      for (int k = 0; k < n_merged; k++)
        {
          int pos = group[k];
          if (prev[pos] >= 0)
            {
              int rl = merge_rank (bpe, sym[prev[pos]], sym[pos]);
              if (rl >= 0)
                heap_push (heap, &n_heap, (HeapItem){ rl, prev[pos] });
            }
          if (next[pos] >= 0)
            {
              int rr = merge_rank (bpe, sym[pos], sym[next[pos]]);
              if (rr >= 0)
                heap_push (heap, &n_heap, (HeapItem){ rr, pos });
            }
        }
    }
  for (int i = 0; i >= 0; i = next[i])
    g_array_append_val (out, sym[i]);
  g_free (group);
  g_free (heap);
  g_free (sym);
}

/* bpe_word through the cache. */
static void
bpe_word_cached (const AttnBpe *bpe, const char *w, int n, GArray *out)
{
  if (n > CACHE_WORD_MAX)
    {
      bpe_word (bpe, (const guint8 *)w, n, out);
      return;
    }
  char key[CACHE_WORD_MAX + 1];
  memcpy (key, w, (gsize)n);
  key[n] = '\0';
  WordCache *cache = bpe->cache;
  g_mutex_lock (&cache->lock);
  const int *hit = g_hash_table_lookup (cache->words, key);
  if (hit != NULL)
    {
      g_array_append_vals (out, hit + 1, (guint)hit[0]);
      g_mutex_unlock (&cache->lock);
      return;
    }
  g_mutex_unlock (&cache->lock);

  guint before = out->len;
  bpe_word (bpe, (const guint8 *)w, n, out);
  guint count = out->len - before;
  int *value = g_new (int, count + 1);
  value[0] = (int)count;
  memcpy (value + 1, &g_array_index (out, int, before), count * sizeof (int));
  g_mutex_lock (&cache->lock);
  if (g_hash_table_size (cache->words) >= CACHE_MAX_WORDS)
    g_hash_table_remove_all (cache->words);
  g_hash_table_replace (cache->words, g_strdup (key), value);
  g_mutex_unlock (&cache->lock);
}

/* ---- encoding ----------------------------------------------------------- */

static void
append_span (const AttnBpe *bpe, GArray *spans, GArray *ids, guint from,
             int start)
{
  for (guint k = from; k < ids->len; k++)
    {
      int id = g_array_index (ids, int, k);
      AttnBpeSpan span
          = { start, start + bpe->bytes_off[id + 1] - bpe->bytes_off[id] };
      if (spans != NULL)
        g_array_append_val (spans, span);
      start = span.end;
    }
}

/* The words of text[start, end) (a stretch without special tokens), split
 * on their own: the pattern's look-ahead sees `end` as the end of text. */
static void
encode_stretch (const AttnBpe *bpe, const char *text, int start, int end,
                GArray *ids, GArray *spans)
{
  if (start >= end)
    return;
  g_autoptr (GMatchInfo) match = NULL;
  g_regex_match_full (bpe->split, text, end, start, 0, &match, NULL);
  int at = start;
  while (g_match_info_matches (match))
    {
      int s, e;
      g_match_info_fetch_pos (match, 0, &s, &e);
      /* The pattern's classes cover every character and none of its
       * branches matches the empty string, so words tile the stretch. */
      attn_check (s == at && e > s);
      guint from = ids->len;
      bpe_word_cached (bpe, text + s, e - s, ids);
      append_span (bpe, spans, ids, from, s);
      at = e;
      g_match_info_next (match, NULL);
    }
  attn_check (at == end);
}

gboolean
attn_bpe_encode (const AttnBpe *bpe, const char *text, AttnBpeEncodeFlags flags,
                 GArray *ids, GArray *spans, GError **error)
{
  g_return_val_if_fail (bpe != NULL && text != NULL && ids != NULL, FALSE);
  gsize len = strlen (text);
  if (len > ATTN_BPE_MAX_TEXT_BYTES)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "text of %" G_GSIZE_FORMAT " bytes is longer than the %d "
                   "the tokenizer takes",
                   len, ATTN_BPE_MAX_TEXT_BYTES);
      return FALSE;
    }
  const char *bad = NULL;
  if (!g_utf8_validate_len (text, len, &bad))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "text is not valid UTF-8 (byte %d, 0x%02X)",
                   (int)(bad - text), (guint8)*bad);
      return FALSE;
    }
  gboolean with_special = (flags & ATTN_BPE_ENCODE_SPECIAL) && bpe->n_specials;
  /* Next occurrence of each special token at or after pos; -2 unknown. */
  g_autofree int *next_at = g_new (int, MAX (bpe->n_specials, 1));
  for (int k = 0; k < bpe->n_specials; k++)
    next_at[k] = -2;
  int pos = 0;
  while (pos < (int)len)
    {
      int found = (int)len, found_id = -1;
      for (int k = 0; with_special && k < bpe->n_specials; k++)
        {
          int id = bpe->specials[k];
          if (next_at[k] == -2 || (next_at[k] >= 0 && next_at[k] < pos))
            {
              const char *hit = strstr (text + pos, bpe->tokens[id]);
              next_at[k] = hit != NULL ? (int)(hit - text) : -1;
            }
          /* Longest first, so a tie keeps the longer token. */
          if (next_at[k] >= 0 && next_at[k] < found)
            {
              found = next_at[k];
              found_id = id;
            }
        }
      encode_stretch (bpe, text, pos, found, ids, spans);
      if (found_id < 0)
        break;
      guint from = ids->len;
      g_array_append_val (ids, found_id);
      append_span (bpe, spans, ids, from, found);
      pos = found + bpe->bytes_off[found_id + 1] - bpe->bytes_off[found_id];
    }
  return TRUE;
}

/* ---- decoding ----------------------------------------------------------- */

static gboolean
check_ids (const AttnBpe *bpe, const int *ids, gsize n, GError **error)
{
  for (gsize i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= bpe->n_vocab)
      {
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "token %" G_GSIZE_FORMAT " has id %d, outside the "
                     "vocabulary of %d",
                     i, ids[i], bpe->n_vocab);
        return FALSE;
      }
  return TRUE;
}

static GByteArray *
stream_bytes (const AttnBpe *bpe, const int *ids, gsize n)
{
  GByteArray *out = g_byte_array_new ();
  for (gsize i = 0; i < n; i++)
    g_byte_array_append (
        out, bpe->bytes + bpe->bytes_off[ids[i]],
        (guint)(bpe->bytes_off[ids[i] + 1] - bpe->bytes_off[ids[i]]));
  return out;
}

GBytes *
attn_bpe_decode_bytes (const AttnBpe *bpe, const int *ids, gsize n,
                       GError **error)
{
  if (!check_ids (bpe, ids, n, error))
    return NULL;
  return g_byte_array_free_to_bytes (stream_bytes (bpe, ids, n));
}

/* The length of the valid, complete, non-NUL character at s[0] (n bytes
 * left), or 0. */
static int
char_length (const guint8 *s, gsize n)
{
  guint8 c = s[0];
  int len = c >= 0x01 && c < 0x80    ? 1
            : c >= 0xC2 && c <= 0xDF ? 2
            : c >= 0xE0 && c <= 0xEF ? 3
            : c >= 0xF0 && c <= 0xF4 ? 4
                                     : 0;
  if (len == 0 || (gsize)len > n
      || !g_utf8_validate_len ((const char *)s, (gsize)len, NULL))
    return 0;
  return len;
}

/* The stream as text, each character copied and each other byte replaced
 * by U+FFFD. When units is non-NULL it gets, for every stream byte, the
 * [start, end) of its character in the stream (units[2i], units[2i+1]) and
 * in the text (units[2n+2i], units[2n+2i+1]). */
static char *
stream_text (const guint8 *s, gsize n, int *units)
{
  GString *text = g_string_sized_new (n + 1);
  gsize p = 0;
  while (p < n)
    {
      int len = char_length (s + p, n - p);
      int out_start = (int)text->len;
      if (len > 0)
        g_string_append_len (text, (const char *)s + p, len);
      else
        {
          g_string_append (text, "\xEF\xBF\xBD"); /* U+FFFD */
          len = 1;
        }
      for (gsize k = p; units != NULL && k < p + (gsize)len; k++)
        {
          units[2 * k] = (int)p;
          units[2 * k + 1] = (int)p + len;
          units[2 * n + 2 * k] = out_start;
          units[2 * n + 2 * k + 1] = (int)text->len;
        }
      p += (gsize)len;
    }
  return g_string_free (text, FALSE);
}

char *
attn_bpe_decode (const AttnBpe *bpe, const int *ids, gsize n, GError **error)
{
  if (!check_ids (bpe, ids, n, error))
    return NULL;
  g_autoptr (GByteArray) s = stream_bytes (bpe, ids, n);
  return stream_text (s->data, s->len, NULL);
}

static void
label_clear (gpointer p)
{
  AttnBpeLabel *label = p;
  g_clear_pointer (&label->text, g_free);
}

GArray *
attn_bpe_labels (const AttnBpe *bpe, const int *ids, gsize n, char **text,
                 GError **error)
{
  if (!check_ids (bpe, ids, n, error))
    return NULL;
  g_autoptr (GByteArray) s = stream_bytes (bpe, ids, n);
  gsize len = s->len;
  g_autofree int *units = g_new (int, 4 * len + 1);
  g_autofree char *shown = stream_text (s->data, len, units);
  GArray *labels
      = g_array_sized_new (FALSE, TRUE, sizeof (AttnBpeLabel), (guint)n);
  g_array_set_clear_func (labels, label_clear);
  int at = 0;
  for (gsize i = 0; i < n; i++)
    {
      /* Tokens are never empty: first and last are bytes of this token. */
      int first = at;
      int last = at + bpe->bytes_off[ids[i] + 1] - bpe->bytes_off[ids[i]] - 1;
      AttnBpeLabel label = { 0 };
      label.start = units[2 * len + 2 * first];
      label.end = units[2 * len + 2 * last + 1];
      label.text
          = g_strndup (shown + label.start, (gsize)(label.end - label.start));
      label.partial
          = units[2 * first] != first || units[2 * last + 1] != last + 1;
      label.special = bpe->special[ids[i]];
      g_array_append_val (labels, label);
      at = last + 1;
    }
  if (text != NULL)
    *text = g_steal_pointer (&shown);
  return labels;
}
