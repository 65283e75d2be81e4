/* attn-trace-json.c: AttnTrace to and from JSON, as docs/trace-format.md
 * specifies.
 *
 * The writer prints the JSON itself rather than through JsonGenerator:
 * json-glib prints doubles with 17 digits, and a float32 needs only 9 to
 * round-trip. The reader parses with json-glib and checks every member's
 * presence, type and range before using it. */
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/attn-error.h"
#include "core/attn-npy.h"
#include "core/attn-trace-private.h"

#define FORMAT_NAME "attnscope-trace"
#define FORMAT_VERSION 1
/* json-glib 1.6 parses recursively and overflows the stack on some 10^5
 * nested brackets; a trace needs 5 levels, members added later a few more. */
#define MAX_NESTING 256

/* --- writing --- */

static void
append_string (GString *out, const char *str)
{
  g_string_append_c (out, '"');
  for (const char *p = str; *p != '\0'; p++)
    {
      guchar c = *p;
      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, c);
        }
    }
  g_string_append_c (out, '"');
}

static void
append_float (GString *out, float value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.9g", value));
}

static void
append_token (GString *out, const AttnToken *t, gboolean last)
{
  g_string_append (out, "    {\"text\": ");
  append_string (out, t->text);
  g_string_append_printf (out, ", \"id\": %d, \"span\": ", t->id);
  if (t->start == -1 && t->end == -1)
    g_string_append (out, "null");
  else
    g_string_append_printf (out, "[%d, %d]", t->start, t->end);
  g_string_append_printf (out, ", \"special\": %s}%s\n",
                          t->special ? "true" : "false", last ? "" : ",");
}

static void
append_tokens (GString *out, const char *name, GArray *tokens)
{
  g_string_append_printf (out, "  \"%s\": [", name);
  if (tokens->len > 0)
    g_string_append_c (out, '\n');
  for (guint i = 0; i < tokens->len; i++)
    append_token (out, &g_array_index (tokens, AttnToken, i),
                  i + 1 == tokens->len);
  g_string_append (out, tokens->len > 0 ? "  ],\n" : "],\n");
}

static void
append_candidate (GString *out, const AttnCandidate *c)
{
  g_string_append_printf (out, "{\"id\": %d, \"text\": ", c->id);
  append_string (out, c->text);
  g_string_append (out, ", \"prob\": ");
  append_float (out, c->prob);
}

static gsize
block_numel (const AttnBlock *b)
{
  return (gsize) b->n_heads * b->n_queries * b->n_keys;
}

/* "run.json" -> "run.cross.L3.npy": the sidecar's bare file name. */
static char *
sidecar_name (const char *json_path, const AttnBlock *b)
{
  g_autofree char *base = g_path_get_basename (json_path);
  if (g_str_has_suffix (base, ".json"))
    base[strlen (base) - strlen (".json")] = '\0';
  return g_strdup_printf ("%s.%s.L%d.npy", base,
                          attn_kind_to_string (b->kind), b->layer);
}

static void
append_block (GString *out, const AttnBlock *b, const char *sidecar,
              gboolean last)
{
  g_string_append (out, "    {\n      \"kind\": ");
  append_string (out, attn_kind_to_string (b->kind));
  g_string_append_printf (out, ", \"layer\": %d, \"n_heads\": %d, "
                          "\"n_queries\": %d,\n      \"n_keys\": %d, "
                          "\"normalised\": %s,\n", b->layer, b->n_heads,
                          b->n_queries, b->n_keys,
                          b->normalised ? "true" : "false");
  if (sidecar != NULL)
    {
      g_string_append (out, "      \"weights_npy\": ");
      append_string (out, sidecar);
      g_string_append_c (out, '\n');
    }
  else
    {
      /* One query row per line. */
      gsize rows = (gsize) b->n_heads * b->n_queries;
      g_string_append (out, "      \"weights\": [");
      for (gsize r = 0; r < rows && b->n_keys > 0; r++)
        {
          g_string_append (out, "\n        ");
          for (int k = 0; k < b->n_keys; k++)
            {
              if (k > 0)
                g_string_append (out, ", ");
              append_float (out, b->weights[r * b->n_keys + k]);
            }
          if (r + 1 < rows)
            g_string_append_c (out, ',');
        }
      g_string_append (out, rows > 0 && b->n_keys > 0 ? "\n      ]\n"
                                                      : "]\n");
    }
  g_string_append_printf (out, "    }%s\n", last ? "" : ",");
}

static void
append_step (GString *out, const AttnStep *s, gboolean last)
{
  g_string_append (out, "    ");
  append_candidate (out, &s->emitted);
  g_string_append (out, ", \"top\": [");
  for (int k = 0; k < s->n_top; k++)
    {
      g_string_append (out, "\n      ");
      append_candidate (out, &s->top[k]);
      g_string_append (out, k + 1 < s->n_top ? "}," : "}");
    }
  g_string_append (out, s->n_top > 0 ? "\n    ]}" : "]}");
  g_string_append (out, last ? "\n" : ",\n");
}

/* sidecars[i] is the sidecar name of block i, or NULL when inline. */
static GString *
trace_to_json (const AttnTrace *trace, char **sidecars)
{
  GString *out = g_string_new ("{\n  \"format\": \"" FORMAT_NAME "\",\n");
  g_string_append_printf (out, "  \"version\": %d,\n", FORMAT_VERSION);
  g_string_append (out, "  \"model\": {\n    \"name\": ");
  append_string (out, trace->model_name);
  g_string_append (out, ",\n    \"architecture\": ");
  append_string (out, trace->architecture);
  g_string_append (out, ",\n    \"attention\": ");
  append_string (out, attn_mechanism_to_string (trace->mechanism));
  g_string_append_printf (out, ",\n    \"n_layers\": %d,\n    \"n_heads\": "
                          "%d\n  },\n", trace->n_layers, trace->n_heads);
  g_string_append (out, "  \"source_text\": ");
  append_string (out, trace->source_text);
  g_string_append (out, ",\n  \"target_text\": ");
  append_string (out, trace->target_text);
  g_string_append (out, ",\n");
  append_tokens (out, "source_tokens", trace->source_tokens);
  append_tokens (out, "target_tokens", trace->target_tokens);

  guint n_blocks = trace->blocks->len;
  g_string_append (out, n_blocks > 0 ? "  \"blocks\": [\n" : "  \"blocks\": [");
  for (guint i = 0; i < n_blocks; i++)
    append_block (out, g_ptr_array_index (trace->blocks, i), sidecars[i],
                  i + 1 == n_blocks);
  g_string_append (out, n_blocks > 0 ? "  ],\n" : "],\n");

  guint n_steps = trace->steps->len;
  g_string_append (out, n_steps > 0 ? "  \"steps\": [\n" : "  \"steps\": [");
  for (guint i = 0; i < n_steps; i++)
    append_step (out, g_ptr_array_index (trace->steps, i), i + 1 == n_steps);
  g_string_append (out, n_steps > 0 ? "  ]\n}\n" : "]\n}\n");
  return out;
}

static void
remove_files (GPtrArray *paths)
{
  for (guint i = 0; i < paths->len; i++)
    g_remove (g_ptr_array_index (paths, i));
}

gboolean
attn_trace_save_json (const AttnTrace *trace, const char *path,
                      GError **error)
{
  GError *invalid = NULL;
  if (!attn_trace_validate (trace, &invalid))
    {
      g_propagate_prefixed_error (error, invalid, "not saving %s: ", path);
      return FALSE;
    }

  /* Sidecars first, so the JSON never names an unfinished one. */
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GPtrArray) sidecars = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) written = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (block_numel (b) <= ATTN_TRACE_INLINE_MAX)
        {
          g_ptr_array_add (sidecars, NULL);
          continue;
        }
      char *name = sidecar_name (path, b);
      g_ptr_array_add (sidecars, name);
      char *npy_path = g_build_filename (dir, name, NULL);
      const gsize shape[] = { b->n_heads, b->n_queries, b->n_keys };
      if (!attn_npy_write (npy_path, b->weights, 3, shape, error))
        {
          g_free (npy_path);
          remove_files (written);
          return FALSE;
        }
      g_ptr_array_add (written, npy_path);
    }

  g_autoptr (GString) json = trace_to_json (trace,
                                            (char **) sidecars->pdata);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents (path, json->str, json->len, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   path, local->message);
      remove_files (written);
      return FALSE;
    }
  return TRUE;
}

char *
attn_trace_to_json (const AttnTrace *trace, GError **error)
{
  if (!attn_trace_validate (trace, error))
    return NULL;
  g_autofree char **inline_all = g_new0 (char *, trace->blocks->len + 1);
  return g_string_free (trace_to_json (trace, inline_all), FALSE);
}

/* --- reading --- */

typedef struct {
  const char *path; /* of the JSON file, for messages */
  char *dir;        /* where its sidecars live */
  GError **error;
} Reader;

static gboolean
fail (Reader *r, const char *where, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
fail (Reader *r, const char *where, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (r->error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE, "%s: %s: %s",
               r->path, where, msg);
  return FALSE;
}

static JsonNode *
member (Reader *r, JsonObject *obj, const char *where, const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL)
    fail (r, where, "member “%s” is missing", name);
  return node;
}

static gboolean
value_of_type (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node)
         && json_node_get_value_type (node) == type;
}

static gboolean
get_string (Reader *r, JsonObject *obj, const char *where, const char *name,
            const char **out)
{
  JsonNode *node = member (r, obj, where, name);
  if (node == NULL)
    return FALSE;
  if (!value_of_type (node, G_TYPE_STRING))
    return fail (r, where, "member “%s” is not a string", name);
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_bool (Reader *r, JsonObject *obj, const char *where, const char *name,
          gboolean *out)
{
  JsonNode *node = member (r, obj, where, name);
  if (node == NULL)
    return FALSE;
  if (!value_of_type (node, G_TYPE_BOOLEAN))
    return fail (r, where, "member “%s” is not true or false", name);
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* An integer node in [min, max]; `what` names it in messages. */
static gboolean
check_int (Reader *r, JsonNode *node, const char *where, const char *what,
           gint64 min, gint64 max, int *out)
{
  if (!value_of_type (node, G_TYPE_INT64))
    return fail (r, where, "%s is not an integer", what);
  gint64 v = json_node_get_int (node);
  if (v < min || v > max)
    return fail (r, where, "%s = %" G_GINT64_FORMAT " is out of range "
                 "(%" G_GINT64_FORMAT " .. %" G_GINT64_FORMAT ")", what, v,
                 min, max);
  *out = (int) v;
  return TRUE;
}

static gboolean
get_int (Reader *r, JsonObject *obj, const char *where, const char *name,
         gint64 min, gint64 max, int *out)
{
  JsonNode *node = member (r, obj, where, name);
  if (node == NULL)
    return FALSE;
  g_autofree char *what = g_strdup_printf ("member “%s”", name);
  return check_int (r, node, where, what, min, max, out);
}

/* A JSON number (integer or not), as float32. */
static gboolean
number_as_float (JsonNode *node, float *out)
{
  if (value_of_type (node, G_TYPE_DOUBLE))
    *out = (float) json_node_get_double (node);
  else if (value_of_type (node, G_TYPE_INT64))
    *out = (float) json_node_get_int (node);
  else
    return FALSE;
  return TRUE;
}

static gboolean
get_float (Reader *r, JsonObject *obj, const char *where, const char *name,
           float *out)
{
  JsonNode *node = member (r, obj, where, name);
  if (node == NULL)
    return FALSE;
  if (!number_as_float (node, out))
    return fail (r, where, "member “%s” is not a number", name);
  return TRUE;
}

static JsonArray *
get_array (Reader *r, JsonObject *obj, const char *where, const char *name)
{
  JsonNode *node = member (r, obj, where, name);
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      fail (r, where, "member “%s” is not an array", name);
      return NULL;
    }
  return json_node_get_array (node);
}

/* Element i of arr as an object; `what` names the element in messages. */
static JsonObject *
element_object (Reader *r, JsonArray *arr, guint i, const char *what)
{
  JsonNode *node = json_array_get_element (arr, i);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      fail (r, what, "is not an object");
      return NULL;
    }
  return json_node_get_object (node);
}

static gboolean
read_model (Reader *r, JsonObject *root, AttnTrace *trace)
{
  JsonNode *node = member (r, root, "top level", "model");
  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (r, "top level", "member “model” is not an object");
  JsonObject *model = json_node_get_object (node);
  const char *name, *architecture, *attention;
  if (!get_string (r, model, "model", "name", &name)
      || !get_string (r, model, "model", "architecture", &architecture)
      || !get_string (r, model, "model", "attention", &attention)
      || !get_int (r, model, "model", "n_layers", 1, G_MAXINT,
                   &trace->n_layers)
      || !get_int (r, model, "model", "n_heads", 1, G_MAXINT,
                   &trace->n_heads))
    return FALSE;
  if (!attn_mechanism_from_string (attention, &trace->mechanism))
    return fail (r, "model", "unknown attention type “%s”", attention);
  g_free (trace->model_name);
  trace->model_name = g_strdup (name);
  g_free (trace->architecture);
  trace->architecture = g_strdup (architecture);
  return TRUE;
}

static gboolean
read_tokens (Reader *r, JsonObject *root, AttnTrace *trace, AttnSide side)
{
  const char *name = side == ATTN_SIDE_SOURCE ? "source_tokens"
                                              : "target_tokens";
  JsonArray *arr = get_array (r, root, "top level", name);
  if (arr == NULL)
    return FALSE;
  guint n = json_array_get_length (arr);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *where = g_strdup_printf ("%s[%u]", name, i);
      JsonObject *obj = element_object (r, arr, i, where);
      const char *text;
      int id, start = -1, end = -1;
      gboolean special;
      if (obj == NULL || !get_string (r, obj, where, "text", &text)
          || !get_int (r, obj, where, "id", -1, G_MAXINT, &id)
          || !get_bool (r, obj, where, "special", &special))
        return FALSE;
      JsonNode *span = member (r, obj, where, "span");
      if (span == NULL)
        return FALSE;
      if (!JSON_NODE_HOLDS_NULL (span))
        {
          JsonArray *pair = JSON_NODE_HOLDS_ARRAY (span)
                            ? json_node_get_array (span) : NULL;
          if (pair == NULL || json_array_get_length (pair) != 2)
            return fail (r, where, "member “span” is neither null nor "
                         "[start, end]");
          if (!check_int (r, json_array_get_element (pair, 0), where,
                          "span start", 0, G_MAXINT, &start)
              || !check_int (r, json_array_get_element (pair, 1), where,
                             "span end", 0, G_MAXINT, &end))
            return FALSE;
        }
      attn_trace_add_token (trace, side, text, id, start, end, special);
    }
  return TRUE;
}

static gboolean
is_bare_file_name (const char *name)
{
  return name[0] != '\0' && strchr (name, '/') == NULL
         && strchr (name, '\\') == NULL && strcmp (name, ".") != 0
         && strcmp (name, "..") != 0;
}

/* The weights of a block stored in a sidecar, checked to be (NH, Tq, Tk). */
static float *
read_sidecar (Reader *r, const char *where, const char *name,
              const gsize *want)
{
  if (!is_bare_file_name (name))
    {
      fail (r, where, "weights_npy “%s” is not a bare file name", name);
      return NULL;
    }
  if (r->dir == NULL)
    {
      fail (r, where, "weights_npy “%s”: a trace read from memory has no "
            "folder to read sidecars from", name);
      return NULL;
    }
  g_autofree char *npy_path = g_build_filename (r->dir, name, NULL);
  g_autoptr (GError) local = NULL;
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  g_autofree float *data = attn_npy_read (npy_path, &ndim, shape, &local);
  if (data == NULL)
    {
      if (g_error_matches (local, ATTN_ERROR, ATTN_ERROR_IO))
        fail (r, where, "sidecar %s is missing or unreadable: %s", name,
              local->message);
      else
        fail (r, where, "sidecar %s: %s", name, local->message);
      return NULL;
    }
  if (ndim != 3 || shape[0] != want[0] || shape[1] != want[1]
      || shape[2] != want[2])
    {
      g_autoptr (GString) got = g_string_new ("(");
      for (int i = 0; i < ndim; i++)
        g_string_append_printf (got, i > 0 ? ", %" G_GSIZE_FORMAT
                                           : "%" G_GSIZE_FORMAT, shape[i]);
      g_string_append_c (got, ')');
      fail (r, where, "sidecar %s has shape %s, expected (%" G_GSIZE_FORMAT
            ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ")", name, got->str,
            want[0], want[1], want[2]);
      return NULL;
    }
  return g_steal_pointer (&data);
}

static gboolean
read_block (Reader *r, JsonArray *blocks, guint index, AttnTrace *trace)
{
  g_autofree char *where = g_strdup_printf ("blocks[%u]", index);
  JsonObject *obj = element_object (r, blocks, index, where);
  const char *kind_name;
  AttnKind kind;
  int layer, n_heads, n_queries, n_keys;
  gboolean normalised;
  if (obj == NULL || !get_string (r, obj, where, "kind", &kind_name))
    return FALSE;
  if (!attn_kind_from_string (kind_name, &kind))
    return fail (r, where, "unknown kind “%s”", kind_name);
  if (!get_int (r, obj, where, "layer", 0, G_MAXINT, &layer)
      || !get_int (r, obj, where, "n_heads", 1, G_MAXINT, &n_heads)
      || !get_int (r, obj, where, "n_queries", 0, G_MAXINT, &n_queries)
      || !get_int (r, obj, where, "n_keys", 0, G_MAXINT, &n_keys)
      || !get_bool (r, obj, where, "normalised", &normalised))
    return FALSE;

  /* Dims are checked against what the file already holds (token counts),
   * so the weights below are bounded by the size of the input. */
  g_free (where);
  where = g_strdup_printf ("blocks[%u] (%s L%d)", index, kind_name, layer);
  if (attn_trace_lookup_block (trace, kind, layer) != NULL)
    return fail (r, where, "appears twice");
  if (n_heads != trace->n_heads)
    return fail (r, where, "n_heads = %d, but the model's n_heads is %d",
                 n_heads, trace->n_heads);
  guint nq = attn_trace_n_tokens (trace, attn_kind_query_side (kind));
  guint nk = attn_trace_n_tokens (trace, attn_kind_key_side (kind));
  if ((guint) n_queries != nq || (guint) n_keys != nk)
    return fail (r, where, "%d queries x %d keys, but the token lists give "
                 "%u x %u", n_queries, n_keys, nq, nk);
  const gsize shape[] = { n_heads, n_queries, n_keys };
  GError *too_big = NULL;
  gsize numel = attn_shape_numel (3, shape, 0, &too_big);
  if (too_big != NULL)
    {
      g_error_free (too_big);
      return fail (r, where, "%d x %d x %d weights overflow", n_heads,
                   n_queries, n_keys);
    }

  JsonNode *inline_node = json_object_get_member (obj, "weights");
  JsonNode *npy_node = json_object_get_member (obj, "weights_npy");
  if ((inline_node == NULL) == (npy_node == NULL))
    return fail (r, where, "needs exactly one of “weights” and "
                 "“weights_npy”");
  g_autofree float *weights = NULL; /* (NH, Tq, Tk) */
  if (inline_node != NULL)
    {
      if (!JSON_NODE_HOLDS_ARRAY (inline_node))
        return fail (r, where, "member “weights” is not an array");
      JsonArray *arr = json_node_get_array (inline_node);
      guint n = json_array_get_length (arr);
      if (n != numel)
        return fail (r, where, "“weights” holds %u numbers, but %d x %d x %d "
                     "= %" G_GSIZE_FORMAT " are needed", n, n_heads,
                     n_queries, n_keys, numel);
      weights = g_new (float, MAX (numel, 1));
      for (guint i = 0; i < n; i++)
        if (!number_as_float (json_array_get_element (arr, i), &weights[i]))
          return fail (r, where, "weights[%u] is not a number", i);
    }
  else
    {
      if (!value_of_type (npy_node, G_TYPE_STRING))
        return fail (r, where, "member “weights_npy” is not a string");
      weights = read_sidecar (r, where, json_node_get_string (npy_node),
                              shape);
      if (weights == NULL)
        return FALSE;
    }
  AttnBlock *block = attn_trace_take_block (trace, kind, layer, n_heads,
                                            n_queries, n_keys,
                                            g_steal_pointer (&weights));
  block->normalised = normalised;
  return TRUE;
}

static gboolean
read_candidate (Reader *r, JsonObject *obj, const char *where,
                AttnCandidate *c)
{
  const char *text;
  if (!get_int (r, obj, where, "id", -1, G_MAXINT, &c->id)
      || !get_string (r, obj, where, "text", &text)
      || !get_float (r, obj, where, "prob", &c->prob))
    return FALSE;
  c->text = (char *) text; /* borrowed from the parser until copied */
  return TRUE;
}

static gboolean
read_steps (Reader *r, JsonObject *root, AttnTrace *trace)
{
  JsonArray *arr = get_array (r, root, "top level", "steps");
  if (arr == NULL)
    return FALSE;
  guint n = json_array_get_length (arr);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *where = g_strdup_printf ("steps[%u]", i);
      JsonObject *obj = element_object (r, arr, i, where);
      AttnCandidate emitted;
      if (obj == NULL || !read_candidate (r, obj, where, &emitted))
        return FALSE;
      JsonArray *top = get_array (r, obj, where, "top");
      if (top == NULL)
        return FALSE;
      guint n_top = json_array_get_length (top);
      if (n_top > ATTN_STEP_MAX_TOP)
        return fail (r, where, "%u alternatives in “top”, at most %d "
                     "allowed", n_top, ATTN_STEP_MAX_TOP);
      AttnStep *step = attn_trace_add_step (trace, emitted.id, emitted.text,
                                            emitted.prob);
      for (guint k = 0; k < n_top; k++)
        {
          g_autofree char *where_k = g_strdup_printf ("steps[%u].top[%u]", i,
                                                      k);
          JsonObject *alt = element_object (r, top, k, where_k);
          AttnCandidate c;
          if (alt == NULL || !read_candidate (r, alt, where_k, &c))
            return FALSE;
          attn_step_add_top (step, c.id, c.text, c.prob);
        }
    }
  return TRUE;
}

static gboolean
read_header (Reader *r, JsonObject *root)
{
  const char *format;
  if (!get_string (r, root, "top level", "format", &format))
    return FALSE;
  if (strcmp (format, FORMAT_NAME) != 0)
    return fail (r, "top level", "format is “%s”, not “" FORMAT_NAME "”",
                 format);
  JsonNode *version = member (r, root, "top level", "version");
  if (version == NULL)
    return FALSE;
  if (!value_of_type (version, G_TYPE_INT64))
    return fail (r, "top level", "member “version” is not an integer");
  gint64 v = json_node_get_int (version);
  if (v != FORMAT_VERSION)
    return fail (r, "top level", "version %" G_GINT64_FORMAT " is not "
                 "supported: this build reads version %d", v,
                 FORMAT_VERSION);
  return TRUE;
}

static gboolean
read_trace (Reader *r, JsonObject *root, AttnTrace *trace)
{
  const char *source_text, *target_text;
  if (!read_header (r, root) || !read_model (r, root, trace)
      || !get_string (r, root, "top level", "source_text", &source_text)
      || !get_string (r, root, "top level", "target_text", &target_text))
    return FALSE;
  attn_trace_set_text (trace, ATTN_SIDE_SOURCE, source_text);
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, target_text);
  if (!read_tokens (r, root, trace, ATTN_SIDE_SOURCE)
      || !read_tokens (r, root, trace, ATTN_SIDE_TARGET))
    return FALSE;
  JsonArray *blocks = get_array (r, root, "top level", "blocks");
  if (blocks == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (blocks); i++)
    if (!read_block (r, blocks, i, trace))
      return FALSE;
  return read_steps (r, root, trace);
}

/* The deepest nesting of arrays and objects in text, brackets inside
 * strings not counted; stops counting once past limit. */
static int
nesting_depth (const char *text, gsize len, int limit)
{
  int depth = 0, deepest = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len && deepest <= limit; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          depth++;
          deepest = MAX (deepest, depth);
        }
      else if (c == ']' || c == '}')
        depth--;
    }
  return deepest;
}

AttnTrace *
attn_trace_load_json (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: %s",
                   path, local->message);
      return NULL;
    }
  g_autofree char *dir = g_path_get_dirname (path);
  return attn_trace_load_json_data (text, len, path, dir, error);
}

AttnTrace *
attn_trace_load_json_data (const char *text, gsize len, const char *name,
                           const char *dir, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (len > G_MAXSSIZE)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "%s: %" G_GSIZE_FORMAT " bytes is too large a trace", name,
                   len);
      return NULL;
    }
  if (nesting_depth (text, len, MAX_NESTING) > MAX_NESTING)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE,
                   "%s: arrays and objects nested deeper than %d levels",
                   name, MAX_NESTING);
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE,
                   "%s: not valid JSON: %s", name, local->message);
      return NULL;
    }

  g_autofree char *dir_copy = g_strdup (dir);
  Reader r = { name, dir_copy, error };
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      fail (&r, "top level", "not a JSON object");
      return NULL;
    }
  /* Filled in by read_trace (); the mechanism is overwritten. */
  g_autoptr (AttnTrace) trace =
    attn_trace_new ("", "", ATTN_MECHANISM_SCALED_DOT_PRODUCT, 0, 0);
  if (!read_trace (&r, json_node_get_object (root), trace))
    return NULL;
  GError *invalid = NULL;
  if (!attn_trace_validate (trace, &invalid))
    {
      g_propagate_prefixed_error (error, invalid, "%s: ", name);
      return NULL;
    }
  return g_steal_pointer (&trace);
}
