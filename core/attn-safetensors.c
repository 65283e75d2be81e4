#include "core/attn-safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-json.h"

/* A header never nests deeper than root -> entry -> shape (3); anything far
 * deeper is hostile and refused before json-glib recurses into it. */
#define MAX_JSON_DEPTH 16
/* 18 digits stay below 2^63 (and 10^18 bytes is far beyond any file). */
#define MAX_JSON_DIGITS 18

struct _AttnSafetensors {
  char *name;               /* display name, for messages */
  GBytes *bytes;            /* the whole file (a mapping or caller bytes) */
  const guint8 *data;       /* the data buffer, after the header */
  gsize data_len;
  gsize header_len;
  AttnSafetensorsEntry *entries; /* sorted by (begin, end, name) */
  guint n_entries;
  GHashTable *by_name;      /* name -> AttnSafetensorsEntry *, borrowed */
  GHashTable *metadata;     /* string -> string, owned */
};

static const struct {
  const char *name;
  gsize size;
} dtype_table[] = {
  [ATTN_DTYPE_BOOL] = { "BOOL", 1 },
  [ATTN_DTYPE_U8] = { "U8", 1 },
  [ATTN_DTYPE_I8] = { "I8", 1 },
  [ATTN_DTYPE_F8_E5M2] = { "F8_E5M2", 1 },
  [ATTN_DTYPE_F8_E4M3] = { "F8_E4M3", 1 },
  [ATTN_DTYPE_I16] = { "I16", 2 },
  [ATTN_DTYPE_U16] = { "U16", 2 },
  [ATTN_DTYPE_F16] = { "F16", 2 },
  [ATTN_DTYPE_BF16] = { "BF16", 2 },
  [ATTN_DTYPE_I32] = { "I32", 4 },
  [ATTN_DTYPE_U32] = { "U32", 4 },
  [ATTN_DTYPE_F32] = { "F32", 4 },
  [ATTN_DTYPE_F64] = { "F64", 8 },
  [ATTN_DTYPE_I64] = { "I64", 8 },
  [ATTN_DTYPE_U64] = { "U64", 8 },
};

const char *
attn_dtype_name (AttnDtype dtype)
{
  attn_check ((guint) dtype < G_N_ELEMENTS (dtype_table));
  return dtype_table[dtype].name;
}

gsize
attn_dtype_size (AttnDtype dtype)
{
  attn_check ((guint) dtype < G_N_ELEMENTS (dtype_table));
  return dtype_table[dtype].size;
}

static gboolean
dtype_from_name (const char *name, AttnDtype *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtype_table); i++)
    if (strcmp (dtype_table[i].name, name) == 0)
      {
        *out = (AttnDtype) i;
        return TRUE;
      }
  return FALSE;
}

/* ---- conversions --------------------------------------------------------- */

guint32
attn_f16_to_f32_bits (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000u) << 16;
  guint32 exp = (h >> 10) & 0x1fu;
  guint32 mant = h & 0x3ffu;

  if (exp == 0x1f)
    {
      /* Inf keeps its sign; NaN keeps sign and payload and, as the IEEE
       * conversion (and torch) does, comes out quiet. */
      if (mant == 0)
        return sign | 0x7f800000u;
      return sign | 0x7fc00000u | (mant << 13);
    }
  if (exp == 0)
    {
      if (mant == 0)
        return sign;
      /* Subnormal mant * 2^-24: shift the leading 1 up to the implicit bit;
       * each shift lowers the exponent by one from 2^-14. */
      int shifts = 0;
      while ((mant & 0x400u) == 0)
        {
          mant <<= 1;
          shifts++;
        }
      return sign | ((guint32) (127 - 14 - shifts) << 23)
             | ((mant & 0x3ffu) << 13);
    }
  /* Rebias the exponent from 15 to 127. */
  return sign | ((exp + (127 - 15)) << 23) | (mant << 13);
}

guint32
attn_bf16_to_f32_bits (guint16 b)
{
  /* bf16 is the top half of a float32, NaN payloads included. */
  return (guint32) b << 16;
}

static void
convert_to_f32 (float *dst, const guint8 *src, AttnDtype dtype, gsize numel)
{
  /* dst (numel); src may be at any alignment, and is little-endian. */
  for (gsize i = 0; i < numel; i++)
    {
      guint32 bits;
      if (dtype == ATTN_DTYPE_F32)
        {
          memcpy (&bits, src + 4 * i, 4);
          bits = GUINT32_FROM_LE (bits);
        }
      else
        {
          guint16 half;
          memcpy (&half, src + 2 * i, 2);
          half = GUINT16_FROM_LE (half);
          bits = dtype == ATTN_DTYPE_F16 ? attn_f16_to_f32_bits (half)
                                         : attn_bf16_to_f32_bits (half);
        }
      memcpy (&dst[i], &bits, 4);
    }
}

/* ---- header parsing ------------------------------------------------------ */

static char *
shape_string (int ndim, const gsize *shape)
{
  GString *s = g_string_new ("(");
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* A name or string from the file, cut short for a message: a hostile
 * header can hold a 100 MB key. */
static char *
shorten (const char *s)
{
  if (g_utf8_strlen (s, 256) <= 64)
    return g_strdup (s);
  g_autofree char *head = g_utf8_substring (s, 0, 60);
  return g_strconcat (head, "…", NULL);
}

static G_GNUC_PRINTF (3, 4) void
bad_file (GError **error, const char *file, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE, "%s: %s", file,
               what);
}

/* A JSON integer >= 0 (json-glib keeps integers as gint64; floats, strings
 * and booleans are refused). */
static gboolean
node_get_uint (JsonNode *node, guint64 *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_metadata (AttnSafetensors *st, JsonNode *node, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_file (error, st->name,
                "“__metadata__” is not a JSON object of strings");
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);
  g_autoptr (GList) keys = json_object_get_members (obj);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *v = json_object_get_member (obj, key);
      if (v == NULL || !JSON_NODE_HOLDS_VALUE (v)
          || json_node_get_value_type (v) != G_TYPE_STRING)
        {
          g_autofree char *shown = shorten (key);
          bad_file (error, st->name,
                    "“__metadata__” value of “%s” is not a string", shown);
          return FALSE;
        }
      g_hash_table_replace (st->metadata, g_strdup (key),
                            g_strdup (json_node_get_string (v)));
    }
  return TRUE;
}

static gboolean
parse_entry (AttnSafetensors *st, const char *key, JsonNode *node,
             AttnSafetensorsEntry *e, GError **error)
{
  g_autofree char *name = shorten (key);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_file (error, st->name, "entry “%s” is not a JSON object", name);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);

  JsonNode *dtype_node = json_object_get_member (obj, "dtype");
  if (dtype_node == NULL || !JSON_NODE_HOLDS_VALUE (dtype_node)
      || json_node_get_value_type (dtype_node) != G_TYPE_STRING)
    {
      bad_file (error, st->name, "tensor “%s”: dtype is missing or not a string",
                name);
      return FALSE;
    }
  const char *dtype_name = json_node_get_string (dtype_node);
  if (!dtype_from_name (dtype_name, &e->dtype))
    {
      g_autofree char *shown = shorten (dtype_name);
      bad_file (error, st->name, "tensor “%s”: unknown dtype “%s”", name,
                shown);
      return FALSE;
    }

  JsonNode *shape_node = json_object_get_member (obj, "shape");
  if (shape_node == NULL || !JSON_NODE_HOLDS_ARRAY (shape_node))
    {
      bad_file (error, st->name, "tensor “%s”: shape is missing or not an array",
                name);
      return FALSE;
    }
  JsonArray *shape = json_node_get_array (shape_node);
  guint ndim = json_array_get_length (shape);
  if (ndim > ATTN_SAFETENSORS_MAX_DIMS)
    {
      bad_file (error, st->name,
                "tensor “%s”: shape has %u dimensions, more than the %d "
                "supported", name, ndim, ATTN_SAFETENSORS_MAX_DIMS);
      return FALSE;
    }
  /* Elements are counted in 64 bits and capped at 2^40 at every step, so the
   * product can neither wrap nor reach an allocation. A zero dimension makes
   * the product 0 however large the others are. */
  guint64 dims[ATTN_SAFETENSORS_MAX_DIMS];
  gboolean has_zero = FALSE;
  for (guint i = 0; i < ndim; i++)
    {
      if (!node_get_uint (json_array_get_element (shape, i), &dims[i]))
        {
          bad_file (error, st->name,
                    "tensor “%s”: shape is not an array of non-negative "
                    "integers", name);
          return FALSE;
        }
      has_zero |= dims[i] == 0;
    }
  guint64 numel = has_zero ? 0 : 1;
  for (guint i = 0; i < ndim && !has_zero; i++)
    {
      if (numel > ATTN_SAFETENSORS_MAX_NUMEL / dims[i])
        {
          bad_file (error, st->name,
                    "tensor “%s”: shape has more than 2^40 elements", name);
          return FALSE;
        }
      numel *= dims[i];
    }
  /* A zero dimension beside an absurd one still describes no data, but the
   * shape itself must fit in gsize. */
  for (guint i = 0; i < ndim; i++)
    if (dims[i] > ATTN_SAFETENSORS_MAX_NUMEL)
      {
        bad_file (error, st->name,
                  "tensor “%s”: shape has a dimension above 2^40", name);
        return FALSE;
      }

  JsonNode *off_node = json_object_get_member (obj, "data_offsets");
  guint64 begin, end;
  if (off_node == NULL || !JSON_NODE_HOLDS_ARRAY (off_node)
      || json_array_get_length (json_node_get_array (off_node)) != 2
      || !node_get_uint (json_array_get_element (json_node_get_array (off_node),
                                                 0), &begin)
      || !node_get_uint (json_array_get_element (json_node_get_array (off_node),
                                                 1), &end))
    {
      bad_file (error, st->name,
                "tensor “%s”: data_offsets is not two non-negative integers",
                name);
      return FALSE;
    }
  if (begin > end)
    {
      bad_file (error, st->name,
                "tensor “%s”: data_offsets begin %" G_GUINT64_FORMAT
                " is after end %" G_GUINT64_FORMAT, name, begin, end);
      return FALSE;
    }
  if (end > st->data_len)
    {
      bad_file (error, st->name,
                "tensor “%s”: data ends at byte %" G_GUINT64_FORMAT
                ", past the data buffer of %" G_GSIZE_FORMAT " bytes "
                "(truncated file?)", name, end, st->data_len);
      return FALSE;
    }
  e->ndim = (int) ndim;
  for (guint i = 0; i < ndim; i++)
    e->shape[i] = (gsize) dims[i];
  guint64 need = numel * attn_dtype_size (e->dtype);
  if (end - begin != need)
    {
      g_autofree char *s = shape_string (e->ndim, e->shape);
      bad_file (error, st->name,
                "tensor “%s”: data_offsets span %" G_GUINT64_FORMAT
                " bytes, but shape %s of %s needs %" G_GUINT64_FORMAT,
                name, end - begin, s, dtype_name, need);
      return FALSE;
    }
  /* All three now fit in gsize: they are bounded by the data buffer. */
  e->numel = (gsize) numel;
  e->begin = (gsize) begin;
  e->end = (gsize) end;
  return TRUE;
}

static int
compare_entries (const void *pa, const void *pb)
{
  const AttnSafetensorsEntry *a = pa, *b = pb;
  if (a->begin != b->begin)
    return a->begin < b->begin ? -1 : 1;
  if (a->end != b->end)
    return a->end < b->end ? -1 : 1;
  return strcmp (a->name, b->name);
}

static gboolean
parse (AttnSafetensors *st, GError **error)
{
  gsize len;
  const guint8 *file = g_bytes_get_data (st->bytes, &len);

  if (len == 0)
    {
      bad_file (error, st->name, "the file is empty (0 bytes)");
      return FALSE;
    }
  if (len < 8)
    {
      bad_file (error, st->name,
                "the file is %" G_GSIZE_FORMAT " bytes, shorter than the "
                "8-byte header length", len);
      return FALSE;
    }
  guint64 n;
  memcpy (&n, file, 8);
  n = GUINT64_FROM_LE (n);
  if (n > ATTN_SAFETENSORS_MAX_HEADER)
    {
      bad_file (error, st->name,
                "header length %" G_GUINT64_FORMAT " is absurd (more than "
                "%d bytes); not a safetensors file?", n,
                ATTN_SAFETENSORS_MAX_HEADER);
      return FALSE;
    }
  if (n > len - 8)
    {
      bad_file (error, st->name,
                "header length %" G_GUINT64_FORMAT " exceeds the %"
                G_GSIZE_FORMAT " bytes that follow it (truncated file?)",
                n, len - 8);
      return FALSE;
    }
  st->header_len = (gsize) n;
  st->data = file + 8 + st->header_len;
  st->data_len = len - 8 - st->header_len;

  const char *header = (const char *) file + 8;
  if (st->header_len == 0)
    {
      bad_file (error, st->name, "the JSON header is empty");
      return FALSE;
    }
  /* Also refuses NUL bytes, which JSON text cannot contain. */
  if (!g_utf8_validate_len (header, st->header_len, NULL))
    {
      bad_file (error, st->name, "the header is not valid UTF-8");
      return FALSE;
    }
  const char *problem = attn_json_prescan (header, st->header_len,
                                           MAX_JSON_DEPTH, MAX_JSON_DIGITS);
  if (problem != NULL)
    {
      bad_file (error, st->name, "the header JSON %s", problem);
      return FALSE;
    }

  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) json_error = NULL;
  if (!json_parser_load_from_data (parser, header, (gssize) st->header_len,
                                   &json_error))
    {
      bad_file (error, st->name, "the header is not valid JSON: %s",
                json_error->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      bad_file (error, st->name, "the header is not a JSON object");
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (root);
  g_autoptr (GList) members = json_object_get_members (obj);

  st->entries = g_new0 (AttnSafetensorsEntry, MAX (g_list_length (members), 1));
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *node = json_object_get_member (obj, key);
      if (strcmp (key, "__metadata__") == 0)
        {
          if (!parse_metadata (st, node, error))
            return FALSE;
          continue;
        }
      AttnSafetensorsEntry *e = &st->entries[st->n_entries];
      if (!parse_entry (st, key, node, e, error))
        return FALSE;
      e->name = g_strdup (key);
      st->n_entries++;
    }

  qsort (st->entries, st->n_entries, sizeof *st->entries, compare_entries);
  /* Sorted by begin, a tensor overlaps an earlier one exactly when it starts
   * before the furthest end seen so far. Empty tensors occupy nothing. */
  const AttnSafetensorsEntry *furthest = NULL;
  for (guint i = 0; i < st->n_entries; i++)
    {
      const AttnSafetensorsEntry *e = &st->entries[i];
      if (e->begin == e->end)
        continue;
      if (furthest != NULL && e->begin < furthest->end)
        {
          g_autofree char *a = shorten (furthest->name);
          g_autofree char *b = shorten (e->name);
          bad_file (error, st->name,
                    "tensors “%s” and “%s” overlap in the data buffer", a, b);
          return FALSE;
        }
      if (furthest == NULL || e->end > furthest->end)
        furthest = e;
    }
  for (guint i = 0; i < st->n_entries; i++)
    g_hash_table_insert (st->by_name, (gpointer) st->entries[i].name,
                         &st->entries[i]);
  return TRUE;
}

AttnSafetensors *
attn_safetensors_new_from_bytes (GBytes *bytes, const char *name,
                                 GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  AttnSafetensors *st = g_new0 (AttnSafetensors, 1);
  st->name = g_strdup (name ? name : "(memory)");
  st->bytes = g_bytes_ref (bytes);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        g_free);
  if (!parse (st, error))
    {
      attn_safetensors_free (st);
      return NULL;
    }
  return st;
}

AttnSafetensors *
attn_safetensors_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *name = g_filename_display_name (path);

  /* Checked before mapping: a FIFO would block and a directory would fail
   * with a vaguer message. */
  GStatBuf sb;
  if (g_stat (path, &sb) != 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot open: %s",
                   name, g_strerror (saved));
      return NULL;
    }
  if (S_ISDIR (sb.st_mode))
    {
      bad_file (error, name, "is a directory, not a safetensors file");
      return NULL;
    }
  if (!S_ISREG (sb.st_mode))
    {
      bad_file (error, name, "is not a regular file");
      return NULL;
    }

  g_autoptr (GError) map_error = NULL;
  GMappedFile *mapping = g_mapped_file_new (path, FALSE, &map_error);
  if (mapping == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot map: %s",
                   name, map_error->message);
      return NULL;
    }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (mapping);
  g_mapped_file_unref (mapping);
  return attn_safetensors_new_from_bytes (bytes, name, error);
}

void
attn_safetensors_free (AttnSafetensors *st)
{
  if (st == NULL)
    return;
  for (guint i = 0; i < st->n_entries; i++)
    g_free ((char *) st->entries[i].name);
  g_free (st->entries);
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->metadata, g_hash_table_unref);
  g_clear_pointer (&st->bytes, g_bytes_unref);
  g_free (st->name);
  g_free (st);
}

/* ---- accessors ----------------------------------------------------------- */

guint
attn_safetensors_get_n_tensors (AttnSafetensors *st)
{
  return st->n_entries;
}

const AttnSafetensorsEntry *
attn_safetensors_get_entry (AttnSafetensors *st, guint i)
{
  attn_check (i < st->n_entries);
  return &st->entries[i];
}

const AttnSafetensorsEntry *
attn_safetensors_lookup (AttnSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

const char **
attn_safetensors_list_names (AttnSafetensors *st)
{
  const char **names = g_new (const char *, st->n_entries + 1);
  for (guint i = 0; i < st->n_entries; i++)
    names[i] = st->entries[i].name;
  names[st->n_entries] = NULL;
  return names;
}

const char *
attn_safetensors_get_metadata (AttnSafetensors *st, const char *key)
{
  return g_hash_table_lookup (st->metadata, key);
}

GHashTable *
attn_safetensors_get_metadata_table (AttnSafetensors *st)
{
  return st->metadata;
}

const guint8 *
attn_safetensors_get_data (AttnSafetensors *st, gsize *len)
{
  if (len != NULL)
    *len = st->data_len;
  return st->data;
}

gsize
attn_safetensors_get_header_length (AttnSafetensors *st)
{
  return st->header_len;
}

const char *
attn_safetensors_get_name (AttnSafetensors *st)
{
  return st->name;
}

gboolean
attn_safetensors_get_f32 (AttnSafetensors *st, const char *name,
                          int expect_ndim, const gsize *expect_shape,
                          AttnSafetensorsF32 *out, GError **error)
{
  attn_check (expect_ndim <= ATTN_SAFETENSORS_MAX_DIMS);
  attn_check (expect_shape == NULL || expect_ndim >= 0);
  memset (out, 0, sizeof *out);

  const AttnSafetensorsEntry *e = attn_safetensors_lookup (st, name);
  if (e == NULL)
    {
      bad_file (error, st->name, "has no tensor “%s”", name);
      return FALSE;
    }
  if (expect_ndim >= 0)
    {
      gboolean same = e->ndim == expect_ndim;
      for (int i = 0; same && expect_shape != NULL && i < expect_ndim; i++)
        same = e->shape[i] == expect_shape[i];
      if (!same)
        {
          g_autofree char *got = shape_string (e->ndim, e->shape);
          g_autofree char *want = NULL;
          if (expect_shape != NULL)
            want = shape_string (expect_ndim, expect_shape);
          else
            want = g_strdup_printf ("%d dimensions", expect_ndim);
          bad_file (error, st->name, "tensor “%s” has shape %s, expected %s",
                    name, got, want);
          return FALSE;
        }
    }
  if (e->dtype != ATTN_DTYPE_F32 && e->dtype != ATTN_DTYPE_F16
      && e->dtype != ATTN_DTYPE_BF16)
    {
      bad_file (error, st->name,
                "tensor “%s” has dtype %s; only F32, F16 and BF16 can be read "
                "as float32", name, attn_dtype_name (e->dtype));
      return FALSE;
    }

  out->ndim = e->ndim;
  memcpy (out->shape, e->shape, sizeof out->shape);
  out->numel = e->numel;
  if (e->numel == 0)
    return TRUE;

  const guint8 *src = st->data + e->begin;
  if (e->dtype == ATTN_DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN
      && (guintptr) src % G_ALIGNOF (float) == 0)
    {
      out->data = (const float *) src;
      out->keep = g_bytes_ref (st->bytes);
      return TRUE;
    }
  /* numel * 4 <= 2 * the file's size, so this cannot overflow. */
  float *copy = g_try_new (float, e->numel);
  if (copy == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "%s: cannot allocate %" G_GSIZE_FORMAT " floats for "
                   "tensor “%s”", st->name, e->numel, name);
      return FALSE;
    }
  convert_to_f32 (copy, src, e->dtype, e->numel);
  out->data = copy;
  out->owned = TRUE;
  return TRUE;
}

void
attn_safetensors_f32_clear (AttnSafetensorsF32 *t)
{
  if (t->owned)
    g_free ((float *) t->data);
  g_clear_pointer (&t->keep, g_bytes_unref);
  memset (t, 0, sizeof *t);
}

/* ---- writer -------------------------------------------------------------- */

/* JSON string escaping exactly as serde_json (the reference library) and
 * Python's json.dumps(ensure_ascii=False) do it, so files match byte for
 * byte: the two-character escapes where JSON has them, \u00xx for other
 * control characters, everything else (UTF-8 included) as is. */
static void
append_json_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const unsigned char *p = (const unsigned char *) str; *p; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (s, "\\\""); break;
        case '\\': g_string_append (s, "\\\\"); break;
        case '\b': g_string_append (s, "\\b"); break;
        case '\f': g_string_append (s, "\\f"); break;
        case '\n': g_string_append (s, "\\n"); break;
        case '\r': g_string_append (s, "\\r"); break;
        case '\t': g_string_append (s, "\\t"); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (s, "\\u%04x", *p);
          else
            g_string_append_c (s, (char) *p);
        }
    }
  g_string_append_c (s, '"');
}

static int
compare_specs_by_name (const void *pa, const void *pb)
{
  const AttnSafetensorsWriteSpec *const *a = pa, *const *b = pb;
  return strcmp ((*a)->name, (*b)->name);
}

static int
compare_strings (const void *pa, const void *pb)
{
  return strcmp (*(const char *const *) pa, *(const char *const *) pb);
}

static gboolean
write_all (FILE *f, const void *buf, gsize len)
{
  return len == 0 || fwrite (buf, 1, len, f) == len;
}

/* Writes data (numel floats) little-endian whatever the host's order. */
static gboolean
write_floats_le (FILE *f, const float *data, gsize numel)
{
  if (G_BYTE_ORDER == G_LITTLE_ENDIAN)
    return write_all (f, data, numel * sizeof (float));
  guint32 chunk[1024];
  for (gsize i = 0; i < numel; i += G_N_ELEMENTS (chunk))
    {
      gsize n = MIN (numel - i, G_N_ELEMENTS (chunk));
      memcpy (chunk, data + i, n * sizeof (float));
      for (gsize j = 0; j < n; j++)
        chunk[j] = GUINT32_TO_LE (chunk[j]);
      if (!write_all (f, chunk, n * sizeof (float)))
        return FALSE;
    }
  return TRUE;
}

static char *
build_header (const AttnSafetensorsWriteSpec **sorted, const gsize *numels,
              guint n, GHashTable *metadata)
{
  GString *h = g_string_new ("{");
  gboolean first = TRUE;
  if (metadata != NULL)
    {
      guint n_keys;
      g_autofree const char **keys =
        (const char **) g_hash_table_get_keys_as_array (metadata, &n_keys);
      qsort (keys, n_keys, sizeof *keys, compare_strings);
      g_string_append (h, "\"__metadata__\":{");
      for (guint i = 0; i < n_keys; i++)
        {
          if (i > 0)
            g_string_append_c (h, ',');
          append_json_string (h, keys[i]);
          g_string_append_c (h, ':');
          append_json_string (h, g_hash_table_lookup (metadata, keys[i]));
        }
      g_string_append_c (h, '}');
      first = FALSE;
    }
  guint64 offset = 0;
  for (guint i = 0; i < n; i++)
    {
      const AttnSafetensorsWriteSpec *t = sorted[i];
      if (!first)
        g_string_append_c (h, ',');
      first = FALSE;
      append_json_string (h, t->name);
      g_string_append (h, ":{\"dtype\":\"F32\",\"shape\":[");
      for (int d = 0; d < t->ndim; d++)
        g_string_append_printf (h, "%s%" G_GSIZE_FORMAT, d ? "," : "",
                                t->shape[d]);
      guint64 end = offset + (guint64) numels[i] * sizeof (float);
      g_string_append_printf (h,
                              "],\"data_offsets\":[%" G_GUINT64_FORMAT
                              ",%" G_GUINT64_FORMAT "]}", offset, end);
      offset = end;
    }
  g_string_append_c (h, '}');
  /* The data buffer starts 8-byte aligned in the file (spec: pad with
   * spaces). */
  while (h->len % 8 != 0)
    g_string_append_c (h, ' ');
  return g_string_free (h, FALSE);
}

static gboolean
check_specs (const char *path, const AttnSafetensorsWriteSpec *tensors,
             guint n, GHashTable *metadata, gsize *numels, GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      const AttnSafetensorsWriteSpec *t = &tensors[i];
      const char *why = NULL;
      guint64 numel = 1;
      if (t->name == NULL || !g_utf8_validate (t->name, -1, NULL))
        why = "its name is NULL or not UTF-8";
      else if (strcmp (t->name, "__metadata__") == 0)
        why = "the name is reserved";
      else if (t->ndim < 0 || t->ndim > ATTN_SAFETENSORS_MAX_DIMS)
        why = "it has too many dimensions";
      for (int d = 0; why == NULL && d < t->ndim; d++)
        {
          if (t->shape[d] != 0
              && numel > ATTN_SAFETENSORS_MAX_NUMEL / t->shape[d])
            why = "it has more than 2^40 elements";
          numel *= t->shape[d];
        }
      if (why == NULL && numel > G_MAXSIZE / sizeof (float))
        why = "it does not fit in memory";
      if (why == NULL && numel > 0 && t->data == NULL)
        why = "its data is NULL";
      if (why != NULL)
        {
          /* Messages are UTF-8: a name that is not is left out. */
          g_autofree char *shown =
            t->name && g_utf8_validate (t->name, -1, NULL) ? shorten (t->name)
                                                           : NULL;
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "%s: cannot write tensor “%s”: %s", path,
                       shown ? shown : "?", why);
          return FALSE;
        }
      numels[i] = (gsize) numel;
    }
  if (metadata != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;
      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (!g_utf8_validate (key, -1, NULL) || value == NULL
            || !g_utf8_validate (value, -1, NULL))
          {
            g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                         "%s: metadata key or value is NULL or not UTF-8",
                         path);
            return FALSE;
          }
    }
  return TRUE;
}

gboolean
attn_safetensors_write (const char *path,
                        const AttnSafetensorsWriteSpec *tensors,
                        guint n_tensors, GHashTable *metadata, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_autofree char *name = g_filename_display_name (path);
  g_autofree gsize *numels = g_new0 (gsize, MAX (n_tensors, 1));
  if (!check_specs (name, tensors, n_tensors, metadata, numels, error))
    return FALSE;

  g_autofree const AttnSafetensorsWriteSpec **sorted =
    g_new (const AttnSafetensorsWriteSpec *, MAX (n_tensors, 1));
  for (guint i = 0; i < n_tensors; i++)
    sorted[i] = &tensors[i];
  qsort (sorted, n_tensors, sizeof *sorted, compare_specs_by_name);
  for (guint i = 1; i < n_tensors; i++)
    if (strcmp (sorted[i - 1]->name, sorted[i]->name) == 0)
      {
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "%s: tensor name “%s” is given twice", name,
                     sorted[i]->name);
        return FALSE;
      }
  /* numels follow the caller's order; reorder them with the specs. */
  g_autofree gsize *sorted_numels = g_new0 (gsize, MAX (n_tensors, 1));
  for (guint i = 0; i < n_tensors; i++)
    sorted_numels[i] = numels[sorted[i] - tensors];

  g_autofree char *header =
    build_header (sorted, sorted_numels, n_tensors, metadata);
  gsize header_len = strlen (header);
  guint64 len_le = GUINT64_TO_LE ((guint64) header_len);

  /* A temporary file beside the target, so the final rename stays on one
   * file system and is atomic. */
  g_autofree char *tmp_path = g_strdup_printf ("%s.XXXXXX", path);
  int fd = g_mkstemp_full (tmp_path, O_RDWR, 0666);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                   "%s: cannot create a file in its folder: %s", name,
                   g_strerror (saved));
      return FALSE;
    }
  FILE *f = fdopen (fd, "wb");
  if (f == NULL)
    {
      int saved = errno;
      g_close (fd, NULL);
      g_unlink (tmp_path);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot write: %s",
                   name, g_strerror (saved));
      return FALSE;
    }
  gboolean ok = write_all (f, &len_le, 8) && write_all (f, header, header_len);
  for (guint i = 0; ok && i < n_tensors; i++)
    ok = write_floats_le (f, sorted[i]->data, sorted_numels[i]);
  ok = ok && fflush (f) == 0 && g_fsync (fileno (f)) == 0;
  int saved = errno;
  if (fclose (f) != 0 && ok)
    {
      ok = FALSE;
      saved = errno;
    }
  if (ok && g_rename (tmp_path, path) != 0)
    {
      ok = FALSE;
      saved = errno;
    }
  if (!ok)
    {
      g_unlink (tmp_path);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot write: %s",
                   name, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
