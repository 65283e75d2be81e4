#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "core/attn-safetensors.h"
#include "tests/attn-test-util.h"

/* Every file a test writes goes here; removed at exit. */
static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static guint32
float_bits (float f)
{
  guint32 b;
  memcpy (&b, &f, 4);
  return b;
}

static float
bits_float (guint32 b)
{
  float f;
  memcpy (&f, &b, 4);
  return f;
}

/* Fixture arrays of uint32 bit patterns: json-glib keeps them as gint64. */
static guint32 *
fixture_bits (JsonObject *obj, const char *key, gsize *n)
{
  JsonArray *arr = json_object_get_array_member (obj, key);
  g_assert_nonnull (arr);
  *n = json_array_get_length (arr);
  guint32 *bits = g_new (guint32, MAX (*n, 1));
  for (gsize i = 0; i < *n; i++)
    bits[i] = (guint32) json_array_get_int_element (arr, i);
  return bits;
}

static void
assert_bits_equal (const char *what, const float *got, const guint32 *want,
                   gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (float_bits (got[i]) != want[i])
      g_error ("%s[%" G_GSIZE_FORMAT "]: got 0x%08x, want 0x%08x", what, i,
               float_bits (got[i]), want[i]);
}

static void
assert_error_mentions (const GError *error, AttnErrorCode code,
                       const char *fragment)
{
  g_assert_nonnull (error);
  g_assert_error (error, ATTN_ERROR, (gint) code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("error “%s” does not mention “%s”", error->message, fragment);
}

static void
write_bytes (const char *path, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

/* ---- the PyTorch-made fixture --------------------------------------------- */

static const char *const fixture_float_tensors[] = {
  "f32.aligned", "f16.special", "bf16.special", "f16.odd",
  "f32.misaligned", "f16.empty", "f32.scalar",
};

static AttnSafetensors *
open_fixture (void)
{
  g_autofree char *path =
    attn_test_data_path ("safetensors-dtypes.safetensors");
  g_autoptr (GError) error = NULL;
  AttnSafetensors *st = attn_safetensors_open (path, &error);
  g_assert_no_error (error);
  return st;
}

static void
test_fixture_values (void)
{
  JsonObject *fx = attn_test_fixture ("safetensors-dtypes.json");
  g_autoptr (AttnSafetensors) st = open_fixture ();

  g_assert_cmpuint (attn_safetensors_get_n_tensors (st), ==, 10);
  g_assert_cmpuint (attn_safetensors_get_header_length (st), ==,
                    (gsize) attn_test_number (fx, "header_length"));
  g_assert_cmpstr (attn_safetensors_get_metadata (st, "format"), ==, "pt");
  g_assert_cmpstr (attn_safetensors_get_metadata (st, "description"), ==,
                   "注意力权重：每一个头都看得见");
  g_assert_cmpstr (attn_safetensors_get_metadata (st,
                                                  "attnscope.format_version"),
                   ==, "1");
  g_assert_null (attn_safetensors_get_metadata (st, "absent"));
  g_assert_cmpuint (g_hash_table_size (attn_safetensors_get_metadata_table (st)),
                    ==, 3);

  /* Names come in data-buffer order, which the fixture chose on purpose to
   * differ from name order. */
  static const char *const order[] = {
    "f32.aligned", "f16.special", "bf16.special", "f16.odd", "f32.misaligned",
    "u8.mask", "bool.flags", "i64.ids", "f16.empty", "f32.scalar", NULL,
  };
  g_autofree const char **names = attn_safetensors_list_names (st);
  g_assert_cmpstrv ((const char *const *) names, order);

  for (guint i = 0; i < G_N_ELEMENTS (fixture_float_tensors); i++)
    {
      const char *name = fixture_float_tensors[i];
      g_autofree char *key = g_strdelimit (g_strdup (name), ".", '_');
      g_autofree char *shape_key = g_strconcat (key, "_shape", NULL);
      g_autofree char *bits_key = g_strconcat (key, "_bits", NULL);
      g_autofree char *begin_key = g_strconcat (key, "_begin", NULL);

      gsize ndim, n;
      g_autofree guint32 *shape32 = fixture_bits (fx, shape_key, &ndim);
      g_autofree guint32 *want = fixture_bits (fx, bits_key, &n);
      gsize shape[ATTN_SAFETENSORS_MAX_DIMS];
      for (gsize d = 0; d < ndim; d++)
        shape[d] = shape32[d];

      const AttnSafetensorsEntry *e = attn_safetensors_lookup (st, name);
      g_assert_nonnull (e);
      g_assert_cmpuint (e->begin, ==,
                        (gsize) attn_test_number (fx, begin_key));

      g_autoptr (GError) error = NULL;
      g_auto (AttnSafetensorsF32) t = { 0 };
      g_assert_true (attn_safetensors_get_f32 (st, name, (int) ndim, shape,
                                               &t, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (t.numel, ==, n);
      g_assert_cmpint (t.ndim, ==, (int) ndim);
      assert_bits_equal (name, t.data, want, n);
      g_test_message ("%s: %" G_GSIZE_FORMAT " values bit-exact vs torch",
                      name, n);
    }

  /* A scalar has no dimensions and one element. */
  const AttnSafetensorsEntry *scalar = attn_safetensors_lookup (st, "f32.scalar");
  g_assert_cmpint (scalar->ndim, ==, 0);
  g_assert_cmpuint (scalar->numel, ==, 1);
}

static void
test_fixture_other_dtypes (void)
{
  g_autoptr (AttnSafetensors) st = open_fixture ();
  static const struct {
    const char *name;
    AttnDtype dtype;
    gsize numel, bytes;
  } want[] = {
    { "i64.ids", ATTN_DTYPE_I64, 3, 24 },
    { "u8.mask", ATTN_DTYPE_U8, 5, 5 },
    { "bool.flags", ATTN_DTYPE_BOOL, 4, 4 },
  };
  gsize data_len;
  const guint8 *data = attn_safetensors_get_data (st, &data_len);
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      const AttnSafetensorsEntry *e = attn_safetensors_lookup (st, want[i].name);
      g_assert_nonnull (e);
      g_assert_cmpint (e->dtype, ==, want[i].dtype);
      g_assert_cmpuint (e->numel, ==, want[i].numel);
      g_assert_cmpuint (e->end - e->begin, ==, want[i].bytes);

      g_autoptr (GError) error = NULL;
      g_auto (AttnSafetensorsF32) t = { 0 };
      g_assert_false (attn_safetensors_get_f32 (st, want[i].name, -1, NULL, &t,
                                                &error));
      g_autofree char *frag =
        g_strdup_printf ("has dtype %s", attn_dtype_name (want[i].dtype));
      assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE, frag);
      g_assert_null (t.data);
    }
  /* The raw bytes are reachable for callers that want them. */
  const AttnSafetensorsEntry *ids = attn_safetensors_lookup (st, "i64.ids");
  gint64 last;
  memcpy (&last, data + ids->begin + 16, 8);
  g_assert_cmpint (GINT64_FROM_LE (last), ==, -1);
  g_assert_true (ids->end <= data_len);
}

static void
test_zero_copy (void)
{
  JsonObject *fx = attn_test_fixture ("safetensors-dtypes.json");
  AttnSafetensors *st = open_fixture ();
  gsize data_len;
  const guint8 *data = attn_safetensors_get_data (st, &data_len);
  g_autoptr (GError) error = NULL;

  g_auto (AttnSafetensorsF32) aligned = { 0 };
  g_assert_true (attn_safetensors_get_f32 (st, "f32.aligned", -1, NULL,
                                           &aligned, &error));
  g_assert_no_error (error);
  const AttnSafetensorsEntry *e = attn_safetensors_lookup (st, "f32.aligned");
  g_assert_false (aligned.owned);
  g_assert_true ((const guint8 *) aligned.data == data + e->begin);

  g_auto (AttnSafetensorsF32) again = { 0 };
  g_assert_true (attn_safetensors_get_f32 (st, "f32.aligned", 2, NULL, &again,
                                           &error));
  g_assert_true (again.data == aligned.data);

  /* Offset 2 mod 4 from an 8-aligned data buffer: must be a copy, outside
   * the mapping, with the same bits. */
  g_auto (AttnSafetensorsF32) mis = { 0 };
  g_assert_true (attn_safetensors_get_f32 (st, "f32.misaligned", 1, NULL, &mis,
                                           &error));
  const AttnSafetensorsEntry *m = attn_safetensors_lookup (st, "f32.misaligned");
  g_assert_cmpuint ((guintptr) (data + m->begin) % 4, ==, 2);
  g_assert_true (mis.owned);
  g_assert_true ((const guint8 *) mis.data + 4 * mis.numel <= data
                 || (const guint8 *) mis.data >= data + data_len);
  g_assert_cmpuint ((guintptr) mis.data % 4, ==, 0);
  gsize n;
  g_autofree guint32 *want = fixture_bits (fx, "f32_misaligned_bits", &n);
  assert_bits_equal ("f32.misaligned", mis.data, want, n);

  /* A view keeps the file's memory alive after the reader is gone. */
  attn_safetensors_free (st);
  g_autofree guint32 *want_aligned = fixture_bits (fx, "f32_aligned_bits", &n);
  assert_bits_equal ("f32.aligned after free", aligned.data, want_aligned, n);

  attn_safetensors_f32_clear (&again);
  g_assert_null (again.data);
  g_assert_cmpuint (again.numel, ==, 0);
}

/* ---- conversions, every bit pattern --------------------------------------- */

/* Independent definitions by arithmetic: sign * 2^(e - bias) * 1.m, or the
 * subnormal m * 2^(1 - bias - mantissa bits). */
static float
half_reference (guint32 sign, int exp, guint32 mant, int exp_bits,
                int mant_bits)
{
  int bias = (1 << (exp_bits - 1)) - 1;
  double v;
  if (exp == 0)
    v = ldexp ((double) mant, 1 - bias - mant_bits);
  else if (exp == (1 << exp_bits) - 1)
    v = INFINITY; /* NaN is checked apart */
  else
    v = ldexp ((double) ((1u << mant_bits) + mant), exp - bias - mant_bits);
  return (float) (sign ? -v : v);
}

static void
test_convert_exhaustive (void)
{
  guint n_nan = 0, n_sub = 0;
  for (guint32 h = 0; h <= 0xffff; h++)
    {
      guint32 sign = h >> 15;
      int exp = (h >> 10) & 0x1f;
      guint32 mant = h & 0x3ff;
      guint32 got = attn_f16_to_f32_bits ((guint16) h);
      if (exp == 0x1f && mant != 0)
        {
          /* NaN: sign and payload kept, quiet bit set (as torch does). */
          g_assert_true (isnan (bits_float (got)));
          g_assert_cmpuint (got >> 31, ==, sign);
          g_assert_cmpuint ((got >> 13) & 0x3ff, ==, mant | 0x200);
          g_assert_cmpuint (got & 0x1fff, ==, 0);
          n_nan++;
          continue;
        }
      n_sub += exp == 0 && mant != 0;
      guint32 want = float_bits (half_reference (sign, exp, mant, 5, 10));
      if (got != want)
        g_error ("f16 0x%04x: got 0x%08x, want 0x%08x", h, got, want);
    }
  g_assert_cmpuint (n_nan, ==, 2 * 1023);
  g_assert_cmpuint (n_sub, ==, 2 * 1023);

  for (guint32 b = 0; b <= 0xffff; b++)
    {
      guint32 sign = b >> 15;
      int exp = (b >> 7) & 0xff;
      guint32 mant = b & 0x7f;
      guint32 got = attn_bf16_to_f32_bits ((guint16) b);
      if (exp == 0xff && mant != 0)
        {
          /* bf16 NaNs keep every bit, signalling ones included. */
          g_assert_true (isnan (bits_float (got)));
          g_assert_cmpuint (got, ==, b << 16);
          continue;
        }
      guint32 want = float_bits (half_reference (sign, exp, mant, 8, 7));
      if (got != want)
        g_error ("bf16 0x%04x: got 0x%08x, want 0x%08x", b, got, want);
    }
}

/* ---- writer ---------------------------------------------------------------- */

static void
test_round_trip (void)
{
  /* Special values whose bits must survive: NaNs with payloads (one
   * signalling), infinities, both zeros, subnormals, extremes. */
  static const guint32 special_bits[] = {
    0x7fc00000, 0xffc00001, 0x7fa00001, 0x7f800000, 0xff800000, 0x00000000,
    0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
    0x3f800000, 0x3eaaaaab,
  };
  float special[G_N_ELEMENTS (special_bits)]; /* (14) */
  for (guint i = 0; i < G_N_ELEMENTS (special_bits); i++)
    special[i] = bits_float (special_bits[i]);
  float cube[2 * 3 * 4 * 5]; /* (2, 3, 4, 5) */
  attn_test_fill_uniform (cube, G_N_ELEMENTS (cube), -4.0f, 4.0f, 7);
  float scalar = -0.0f; /* () */

  const AttnSafetensorsWriteSpec specs[] = {
    { "special", 1, { G_N_ELEMENTS (special) }, special },
    { "cube", 4, { 2, 3, 4, 5 }, cube },
    { "nothing", 2, { 0, 7 }, NULL },
    { "scalar", 0, { 0 }, &scalar },
  };
  g_autoptr (GHashTable) md = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (md, "attnscope.config",
                       "{\"d_model\": 32, \"heads\": [1, 2]}");
  g_hash_table_insert (md, "名字", "注意力 \"x\"\\ \n\t\x01 🙂");
  g_hash_table_insert (md, "empty", "");

  g_autofree char *path = tmp_path ("round-trip.safetensors");
  /* An existing file is replaced. */
  write_bytes (path, "old", 3);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_safetensors_write (path, specs, G_N_ELEMENTS (specs), md,
                                         &error));
  g_assert_no_error (error);

  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (attn_safetensors_get_header_length (st) % 8, ==, 0);

  /* Layout: tensors in name order, packed from offset 0 with no gaps, the
   * header padded with spaces only after its closing brace. */
  static const char *const sorted[] = { "cube", "nothing", "scalar",
                                        "special", NULL };
  g_autofree const char **names = attn_safetensors_list_names (st);
  g_assert_cmpstrv ((const char *const *) names, sorted);
  gsize offset = 0, data_len;
  const guint8 *data = attn_safetensors_get_data (st, &data_len);
  for (guint i = 0; i < attn_safetensors_get_n_tensors (st); i++)
    {
      const AttnSafetensorsEntry *e = attn_safetensors_get_entry (st, i);
      g_assert_cmpint (e->dtype, ==, ATTN_DTYPE_F32);
      g_assert_cmpuint (e->begin, ==, offset);
      offset = e->end;
    }
  g_assert_cmpuint (offset, ==, data_len);
  gsize hlen = attn_safetensors_get_header_length (st);
  const char *header = (const char *) data - hlen;
  gsize brace = hlen;
  while (brace > 0 && header[brace - 1] == ' ')
    brace--;
  g_assert_cmpint (header[brace - 1], ==, '}');
  g_assert_cmpuint (hlen - brace, <, 8);

  for (guint i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_auto (AttnSafetensorsF32) t = { 0 };
      g_assert_true (attn_safetensors_get_f32 (st, specs[i].name,
                                               specs[i].ndim, specs[i].shape,
                                               &t, &error));
      g_assert_no_error (error);
      g_assert_false (t.owned); /* written aligned, so read in place */
      for (gsize j = 0; j < t.numel; j++)
        g_assert_cmpuint (float_bits (t.data[j]), ==,
                          float_bits (specs[i].data[j]));
    }
  g_auto (AttnSafetensorsF32) nothing = { 0 };
  g_assert_true (attn_safetensors_get_f32 (st, "nothing", -1, NULL, &nothing,
                                           &error));
  g_assert_cmpuint (nothing.numel, ==, 0);
  g_assert_null (nothing.data);

  GHashTable *got_md = attn_safetensors_get_metadata_table (st);
  g_assert_cmpuint (g_hash_table_size (got_md), ==, g_hash_table_size (md));
  GHashTableIter iter;
  gpointer k, v;
  g_hash_table_iter_init (&iter, md);
  while (g_hash_table_iter_next (&iter, &k, &v))
    g_assert_cmpstr (attn_safetensors_get_metadata (st, k), ==, v);

  /* No temporary file is left beside it. */
  g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    g_assert_false (g_str_has_prefix (entry, "round-trip.safetensors."));
}

/* The tensors writer_tensors() in make-safetensors-fixtures.py defines. */
static void
test_write_matches_python (void)
{
  static const struct {
    const char *name;
    int ndim;
    gsize shape[2];
    int seed;
  } defs[] = {
    { "b.bias", 1, { 3 }, 10 },      { "a.weight", 2, { 2, 3 }, 0 },
    { "词.embedding", 2, { 2, 2 }, 20 }, { "z.empty", 2, { 0, 4 }, 0 },
    { "A.upper", 1, { 1 }, 30 },     { "scalar", 0, { 0 }, 40 },
  };
  AttnSafetensorsWriteSpec specs[G_N_ELEMENTS (defs)];
  float values[G_N_ELEMENTS (defs)][6]; /* each (numel) <= 6 */
  for (guint i = 0; i < G_N_ELEMENTS (defs); i++)
    {
      gsize numel = 1;
      for (int d = 0; d < defs[i].ndim; d++)
        numel *= defs[i].shape[d];
      for (gsize j = 0; j < numel; j++)
        values[i][j] = (float) ((defs[i].seed + (double) j) * 0.125 - 1.5);
      specs[i] = (AttnSafetensorsWriteSpec) { defs[i].name, defs[i].ndim,
                                              { 0 }, values[i] };
      memcpy (specs[i].shape, defs[i].shape, sizeof defs[i].shape);
    }
  g_autoptr (GHashTable) md = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (md, "attnscope.format_version", "1");
  g_hash_table_insert (md, "note",
                       "注意力 \"quoted\" back\\slash\n\ttab \x01 ctrl "
                       "\x7f del 🙂");
  g_hash_table_insert (md, "empty", "");

  /* ATTN_SAFETENSORS_OUT keeps the file for the Python check
   * (make-safetensors-fixtures.py --check). */
  const char *keep = g_getenv ("ATTN_SAFETENSORS_OUT");
  g_autofree char *path = keep ? g_strdup (keep)
                               : tmp_path ("writer.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_safetensors_write (path, specs, G_N_ELEMENTS (specs), md,
                                         &error));
  g_assert_no_error (error);

  g_autofree char *got = NULL, *want = NULL;
  gsize got_len, want_len;
  g_autofree char *want_path =
    attn_test_data_path ("safetensors-writer-expected.safetensors");
  g_assert_true (g_file_get_contents (path, &got, &got_len, NULL));
  g_assert_true (g_file_get_contents (want_path, &want, &want_len, NULL));
  g_assert_cmpmem (got, got_len, want, want_len);
}

static void
test_write_errors (void)
{
  float x[2] = { 1.0f, 2.0f }; /* (2) */
  g_autofree char *good = tmp_path ("keep.safetensors");
  const AttnSafetensorsWriteSpec one[] = { { "x", 1, { 2 }, x } };
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_safetensors_write (good, one, 1, NULL, &error));
  g_autofree char *before = NULL;
  gsize before_len;
  g_assert_true (g_file_get_contents (good, &before, &before_len, NULL));
  /* Without metadata there is no __metadata__ key at all. */
  g_assert_null (strstr (before, "__metadata__"));

  static const struct {
    const char *what;
    AttnSafetensorsWriteSpec specs[2];
    guint n;
    const char *fragment;
  } cases[] = {
    { "duplicate", { { "x", 1, { 0 }, NULL }, { "x", 1, { 0 }, NULL } }, 2,
      "given twice" },
    { "reserved", { { "__metadata__", 1, { 0 }, NULL } }, 1, "reserved" },
    { "too many dims", { { "x", 9, { 0 }, NULL } }, 1, "too many dimensions" },
    { "null data", { { "x", 1, { 2 }, NULL } }, 1, "data is NULL" },
    { "huge", { { "x", 3, { 1u << 20, 1u << 20, 2 }, NULL } }, 1,
      "more than 2^40" },
    { "not utf-8", { { "\xff", 1, { 0 }, NULL } }, 1, "not UTF-8" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_clear_error (&error);
      g_assert_false (attn_safetensors_write (good, cases[i].specs,
                                              cases[i].n, NULL, &error));
      g_test_message ("%s: %s", cases[i].what, error->message);
      assert_error_mentions (error, ATTN_ERROR_INVALID_ARGUMENT,
                             cases[i].fragment);
    }
  /* A refused write leaves the existing file untouched. */
  g_autofree char *after = NULL;
  gsize after_len;
  g_assert_true (g_file_get_contents (good, &after, &after_len, NULL));
  g_assert_cmpmem (after, after_len, before, before_len);

  /* A folder that cannot hold files (its "parent" is a file: root ignores
   * permissions) is an IO error naming the path. */
  g_autofree char *below_file = g_build_filename (good, "x.safetensors", NULL);
  g_clear_error (&error);
  g_assert_false (attn_safetensors_write (below_file, one, 1, NULL, &error));
  assert_error_mentions (error, ATTN_ERROR_IO, "x.safetensors");
  g_assert_false (g_file_test (below_file, G_FILE_TEST_EXISTS));
}

/* ---- malformed files -------------------------------------------------------- */

typedef enum {
  MAKE_HEADER, /* length field + header + data_len zero bytes */
  MAKE_RAW,    /* exactly raw_len bytes of header */
  MAKE_MISSING,
  MAKE_DIRECTORY,
} MakeKind;

typedef struct {
  const char *name;
  MakeKind kind;
  const char *header;
  gsize header_len; /* 0: strlen (header) */
  gsize data_len;
  guint64 length_field; /* 0: the header's real length */
  AttnErrorCode code;
  const char *fragment;
} MalformedCase;

#define BAD ATTN_ERROR_BAD_MODEL_FILE
#define F32_1 "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"

static const MalformedCase malformed_cases[] = {
  { "missing", MAKE_MISSING, NULL, 0, 0, 0, ATTN_ERROR_IO, "cannot open" },
  { "directory", MAKE_DIRECTORY, NULL, 0, 0, 0, BAD, "is a directory" },
  { "empty", MAKE_RAW, "", 0, 0, 0, BAD, "empty (0 bytes)" },
  { "short", MAKE_RAW, "\x10\0\0\0\0", 5, 0, 0, BAD,
    "5 bytes, shorter than the 8-byte header length" },
  { "header-past-end", MAKE_HEADER, "{}", 0, 0, 1000, BAD,
    "header length 1000 exceeds the 2 bytes" },
  { "header-absurd", MAKE_HEADER, "{}", 0, 0, G_GUINT64_CONSTANT (1) << 40,
    BAD, "absurd" },
  { "header-max-u64", MAKE_HEADER, "{}", 0, 0, G_MAXUINT64, BAD, "absurd" },
  { "header-empty", MAKE_HEADER, "", 0, 0, 0, BAD, "JSON header is empty" },
  { "not-utf8", MAKE_HEADER, "{\"\xff\xfe\":{}}", 0, 0, 0, BAD, "UTF-8" },
  { "nul-byte", MAKE_HEADER, "{}\0 ", 4, 0, 0, BAD, "UTF-8" },
  { "not-json", MAKE_HEADER, "{\"a\": ", 0, 0, 0, BAD, "not valid JSON" },
  { "not-object", MAKE_HEADER, "[1, 2]", 0, 0, 0, BAD,
    "header is not a JSON object" },
  { "nested-deep", MAKE_HEADER, "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
    0, 0, 0, BAD, "nests too deeply" },
  { "integer-wraps", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
    "\"data_offsets\":[0,18446744073709551620]}}", 0, 4, 0, BAD,
    "too many digits" },
  { "entry-not-object", MAKE_HEADER, "{\"a\":3}", 0, 0, 0, BAD,
    "entry “a” is not a JSON object" },
  { "dtype-missing", MAKE_HEADER,
    "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, 0, BAD,
    "dtype is missing" },
  { "dtype-not-string", MAKE_HEADER,
    "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, 0, BAD,
    "dtype is missing or not a string" },
  { "dtype-unknown", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
    0, BAD, "unknown dtype “F17”" },
  { "dtype-lowercase", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
    0, BAD, "unknown dtype “f32”" },
  { "shape-missing", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 0, 4, 0, BAD,
    "shape is missing or not an array" },
  { "shape-not-array", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 0, 4, 0,
    BAD, "shape is missing or not an array" },
  { "shape-negative", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0, 4,
    0, BAD, "shape is not an array of non-negative integers" },
  { "shape-float", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 0, 4,
    0, BAD, "shape is not an array of non-negative integers" },
  { "shape-string", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 0,
    4, 0, BAD, "non-negative integers" },
  { "shape-bool", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,4]}}", 0,
    4, 0, BAD, "non-negative integers" },
  { "shape-nested", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 0,
    4, 0, BAD, "non-negative integers" },
  { "shape-9-dims", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
    "\"data_offsets\":[0,4]}}", 0, 4, 0, BAD, "9 dimensions" },
  { "numel-overflow", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
    "\"data_offsets\":[0,0]}}", 0, 0, 0, BAD, "more than 2^40 elements" },
  { "numel-2^41", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"U8\",\"shape\":[1048576,2097152],"
    "\"data_offsets\":[0,4]}}", 0, 4, 0, BAD, "more than 2^40 elements" },
  { "zero-times-huge", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,1125899906842624],"
    "\"data_offsets\":[0,0]}}", 0, 0, 0, BAD, "dimension above 2^40" },
  { "offsets-missing", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, 4, 0, BAD,
    "data_offsets is not two non-negative integers" },
  { "offsets-one", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 0, 4, 0,
    BAD, "data_offsets is not two" },
  { "offsets-three", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 0, 8,
    0, BAD, "data_offsets is not two" },
  { "offsets-string", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 0,
    4, 0, BAD, "data_offsets is not two" },
  { "offsets-negative", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 0, 4,
    0, BAD, "data_offsets is not two non-negative integers" },
  { "offsets-object", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"b\":0}}}", 0,
    4, 0, BAD, "data_offsets is not two" },
  { "offsets-reversed", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 0, 8,
    0, BAD, "begin 8 is after end 4" },
  { "offsets-past-end", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 0,
    16, 0, BAD, "ends at byte 400, past the data buffer of 16 bytes" },
  { "length-mismatch", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 0, 12,
    0, BAD, "span 12 bytes, but shape (2) of F32 needs 8" },
  { "length-mismatch-f16", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 0,
    24, 0, BAD, "shape (2, 3) of F16 needs 12" },
  { "overlap", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12,
    0, BAD, "tensors “a” and “b” overlap" },
  { "overlap-nested", MAKE_HEADER,
    "{\"a\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
    "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]}}", 0, 16,
    0, BAD, "overlap" },
  { "overlap-same", MAKE_HEADER,
    "{\"a\":{" F32_1 "},\"b\":{" F32_1 "}}", 0, 4, 0, BAD, "overlap" },
  { "metadata-not-object", MAKE_HEADER,
    "{\"__metadata__\":\"x\",\"a\":{" F32_1 "}}", 0, 4, 0, BAD,
    "“__metadata__” is not a JSON object of strings" },
  { "metadata-null", MAKE_HEADER, "{\"__metadata__\":null}", 0, 0, 0, BAD,
    "“__metadata__” is not a JSON object" },
  { "metadata-number", MAKE_HEADER,
    "{\"__metadata__\":{\"format\":\"pt\",\"k\":1},\"a\":{" F32_1 "}}", 0, 4,
    0, BAD, "value of “k” is not a string" },
  { "metadata-nested", MAKE_HEADER,
    "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, 0, 0, BAD,
    "value of “k” is not a string" },
};

static void
test_malformed (gconstpointer data)
{
  const MalformedCase *c = data;
  g_autofree char *file = g_strconcat ("bad-", c->name, ".safetensors", NULL);
  g_autofree char *path = tmp_path (file);

  if (c->kind == MAKE_DIRECTORY)
    g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  else if (c->kind == MAKE_RAW)
    write_bytes (path, c->header, c->header_len);
  else if (c->kind == MAKE_HEADER)
    {
      gsize hlen = c->header_len ? c->header_len : strlen (c->header);
      guint64 field = GUINT64_TO_LE (c->length_field ? c->length_field
                                                     : (guint64) hlen);
      gsize total = 8 + hlen + c->data_len;
      g_autofree guint8 *buf = g_malloc0 (total);
      memcpy (buf, &field, 8);
      memcpy (buf + 8, c->header, hlen);
      write_bytes (path, buf, total);
    }

  g_autoptr (GError) error = NULL;
  AttnSafetensors *st = attn_safetensors_open (path, &error);
  g_assert_null (st);
  g_test_message ("%s", error ? error->message : "(no error)");
  assert_error_mentions (error, c->code, c->fragment);
  /* Every message names the file. */
  assert_error_mentions (error, c->code, file);

  if (c->kind == MAKE_DIRECTORY)
    g_rmdir (path);
  else
    g_unlink (path);
}

/* Names from a hostile header are cut short in messages. */
static void
test_long_name (void)
{
  g_autoptr (GString) h = g_string_new ("{\"");
  for (int i = 0; i < 100000; i++)
    g_string_append (h, "名");
  g_string_append (h, "\":3}");
  guint64 field = GUINT64_TO_LE ((guint64) h->len);
  g_autoptr (GByteArray) file = g_byte_array_new ();
  g_byte_array_append (file, (const guint8 *) &field, 8);
  g_byte_array_append (file, (const guint8 *) h->str, h->len);
  g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&file));
  g_autoptr (GError) error = NULL;
  AttnSafetensors *st = attn_safetensors_new_from_bytes (bytes, "long", &error);
  g_assert_null (st);
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE,
                         "is not a JSON object");
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE, "名名…”");
  g_assert_cmpuint (g_utf8_strlen (error->message, -1), <, 120);
}

/* A small valid file, written by the writer. */
static GBytes *
small_valid_file (void)
{
  float w[6] = { 1, 2, 3, 4, 5, 6 }; /* (2, 3) */
  float b[3] = { -1, 0, 1 };         /* (3) */
  const AttnSafetensorsWriteSpec specs[] = {
    { "w", 2, { 2, 3 }, w },
    { "b", 1, { 3 }, b },
  };
  g_autoptr (GHashTable) md = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (md, "k", "值");
  g_autofree char *path = tmp_path ("small.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_safetensors_write (path, specs, 2, md, &error));
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_unlink (path);
  return g_bytes_new_take (g_steal_pointer (&contents), len);
}

static void
test_truncated (void)
{
  g_autoptr (GBytes) valid = small_valid_file ();
  gsize len;
  const guint8 *bytes = g_bytes_get_data (valid, &len);
  g_autofree char *path = tmp_path ("truncated.safetensors");
  g_autoptr (GError) error = NULL;

  write_bytes (path, bytes, len);
  g_autoptr (AttnSafetensors) whole = attn_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (attn_safetensors_get_n_tensors (whole), ==, 2);

  /* Every proper prefix, from nothing to one byte short, is refused. */
  for (gsize cut = 0; cut < len; cut++)
    {
      write_bytes (path, bytes, cut);
      g_clear_error (&error);
      AttnSafetensors *st = attn_safetensors_open (path, &error);
      if (st != NULL)
        g_error ("a prefix of %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                 " bytes was accepted", cut, len);
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE);
    }
  g_test_message ("%" G_GSIZE_FORMAT " prefixes refused", len);

  /* Bytes after the last tensor are tolerated, as gaps are. */
  g_autofree guint8 *longer = g_malloc0 (len + 5);
  memcpy (longer, bytes, len);
  write_bytes (path, longer, len + 5);
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, &error);
  g_assert_nonnull (st);
  g_unlink (path);
}

/* Every byte of a valid file changed in several ways, parsed from memory:
 * whatever opens must give in-bounds tensors; nothing may crash. */
static void
test_mutations (void)
{
  g_autoptr (GBytes) valid = small_valid_file ();
  gsize len;
  const guint8 *bytes = g_bytes_get_data (valid, &len);
  static const struct {
    guint8 xor_mask, set;
  } edits[] = {
    { 0x01, 0 }, { 0x80, 0 }, { 0xff, 0 }, { 0, '9' }, { 0, '"' },
    { 0, '{' },  { 0, ']' },  { 0, '-' },  { 0, 0 },
  };
  guint opened = 0, refused = 0;
  g_autofree guint8 *buf = g_malloc (len);
  for (gsize pos = 0; pos < len; pos++)
    for (guint k = 0; k < G_N_ELEMENTS (edits); k++)
      {
        memcpy (buf, bytes, len);
        buf[pos] = edits[k].xor_mask ? buf[pos] ^ edits[k].xor_mask
                                     : edits[k].set;
        g_autoptr (GBytes) mutated = g_bytes_new (buf, len);
        g_autoptr (GError) error = NULL;
        g_autoptr (AttnSafetensors) st =
          attn_safetensors_new_from_bytes (mutated, "mutant", &error);
        if (st == NULL)
          {
            g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE);
            g_assert_true (g_str_has_prefix (error->message, "mutant: "));
            refused++;
            continue;
          }
        opened++;
        gsize data_len;
        attn_safetensors_get_data (st, &data_len);
        for (guint i = 0; i < attn_safetensors_get_n_tensors (st); i++)
          {
            const AttnSafetensorsEntry *e = attn_safetensors_get_entry (st, i);
            g_assert_true (e->begin <= e->end && e->end <= data_len);
            g_assert_cmpuint (e->end - e->begin, ==,
                              e->numel * attn_dtype_size (e->dtype));
            g_auto (AttnSafetensorsF32) t = { 0 };
            g_autoptr (GError) terr = NULL;
            if (attn_safetensors_get_f32 (st, e->name, -1, NULL, &t, &terr))
              {
                volatile float sum = 0;
                for (gsize j = 0; j < t.numel; j++)
                  sum += t.data[j];
                (void) sum;
              }
          }
      }
  g_test_message ("%u mutants opened, %u refused", opened, refused);
  /* Editing a digit of the data or a metadata letter keeps a valid file;
   * breaking the length field or the JSON does not. */
  g_assert_cmpuint (opened, >, 0);
  g_assert_cmpuint (refused, >, 0);
}

static void
test_shape_checks (void)
{
  g_autoptr (AttnSafetensors) st = open_fixture ();
  g_autoptr (GError) error = NULL;
  g_auto (AttnSafetensorsF32) t = { 0 };

  const gsize wrong[] = { 4, 3 };
  g_assert_false (attn_safetensors_get_f32 (st, "f32.aligned", 2, wrong, &t,
                                            &error));
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE,
                         "tensor “f32.aligned” has shape (3, 4), expected "
                         "(4, 3)");
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE,
                         "safetensors-dtypes.safetensors");
  g_assert_null (t.data);

  g_clear_error (&error);
  g_assert_false (attn_safetensors_get_f32 (st, "f32.aligned", 3, NULL, &t,
                                            &error));
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE,
                         "has shape (3, 4), expected 3 dimensions");

  g_clear_error (&error);
  g_assert_false (attn_safetensors_get_f32 (st, "f32.scalar", 1, NULL, &t,
                                            &error));
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE,
                         "has shape (), expected 1 dimensions");

  g_clear_error (&error);
  g_assert_false (attn_safetensors_get_f32 (st, "lm_head.weight", -1, NULL, &t,
                                            &error));
  assert_error_mentions (error, ATTN_ERROR_BAD_MODEL_FILE,
                         "has no tensor “lm_head.weight”");

  const gsize right[] = { 3, 4 };
  g_clear_error (&error);
  g_assert_true (attn_safetensors_get_f32 (st, "f32.aligned", 2, right, &t,
                                           &error));
  g_assert_no_error (error);
}

/* ---- a real Hugging Face file ----------------------------------------------- */

static void
test_hf_gpt2 (void)
{
  g_autofree char *path =
    attn_test_shared_model ("hf-fake-gpt2/model.safetensors");
  if (path == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < attn_safetensors_get_n_tensors (st); i++)
    {
      const AttnSafetensorsEntry *e = attn_safetensors_get_entry (st, i);
      g_autofree char *shape = NULL;
      GString *s = g_string_new ("(");
      for (int d = 0; d < e->ndim; d++)
        g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, d ? ", " : "",
                                e->shape[d]);
      g_string_append_c (s, ')');
      shape = g_string_free (s, FALSE);
      g_test_message ("%s %s %s", e->name, attn_dtype_name (e->dtype), shape);
    }

  g_assert_cmpuint (attn_safetensors_get_n_tensors (st), ==, 16);
  g_assert_cmpuint (attn_safetensors_get_header_length (st), ==, 1392);
  g_assert_cmpstr (attn_safetensors_get_metadata (st, "format"), ==, "pt");
  g_assert_null (attn_safetensors_lookup (st, "lm_head.weight"));

  static const struct {
    const char *name;
    int ndim;
    gsize shape[2];
  } want[] = {
    { "transformer.wte.weight", 2, { 50257, 2 } },
    { "transformer.wpe.weight", 2, { 1024, 2 } },
    { "transformer.h.0.attn.c_attn.weight", 2, { 2, 6 } },
    { "transformer.h.0.attn.c_attn.bias", 1, { 6 } },
    { "transformer.h.0.mlp.c_fc.weight", 2, { 2, 8 } },
    { "transformer.h.0.mlp.c_proj.weight", 2, { 8, 2 } },
    { "transformer.ln_f.weight", 1, { 2 } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_auto (AttnSafetensorsF32) t = { 0 };
      g_assert_true (attn_safetensors_get_f32 (st, want[i].name, want[i].ndim,
                                               want[i].shape, &t, &error));
      g_assert_no_error (error);
      g_assert_false (t.owned);
      /* A randomly initialised network: finite, not all zero. */
      gboolean any_nonzero = FALSE;
      for (gsize j = 0; j < t.numel; j++)
        {
          g_assert_true (isfinite (t.data[j]));
          any_nonzero |= t.data[j] != 0.0f;
        }
      g_assert_true (any_nonzero || g_str_has_suffix (want[i].name, "bias"));
    }
  /* The last tensor ends exactly at the end of the file. */
  gsize data_len;
  attn_safetensors_get_data (st, &data_len);
  const AttnSafetensorsEntry *wte =
    attn_safetensors_lookup (st, "transformer.wte.weight");
  g_assert_cmpuint (wte->end, ==, data_len);
  g_assert_cmpuint (data_len, ==, 50257 * 2 * 4 + 8504);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_dir = attn_test_tmp_dir_new ("attn-safetensors-XXXXXX");

  g_test_add_func ("/attn/safetensors/fixture-values", test_fixture_values);
  g_test_add_func ("/attn/safetensors/fixture-other-dtypes",
                   test_fixture_other_dtypes);
  g_test_add_func ("/attn/safetensors/zero-copy", test_zero_copy);
  g_test_add_func ("/attn/safetensors/convert-exhaustive",
                   test_convert_exhaustive);
  g_test_add_func ("/attn/safetensors/round-trip", test_round_trip);
  g_test_add_func ("/attn/safetensors/write-matches-python",
                   test_write_matches_python);
  g_test_add_func ("/attn/safetensors/write-errors", test_write_errors);
  for (guint i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *name = g_strconcat ("/attn/safetensors/malformed/",
                                           malformed_cases[i].name, NULL);
      g_test_add_data_func (name, &malformed_cases[i], test_malformed);
    }
  g_test_add_func ("/attn/safetensors/truncated", test_truncated);
  g_test_add_func ("/attn/safetensors/mutations", test_mutations);
  g_test_add_func ("/attn/safetensors/long-name", test_long_name);
  g_test_add_func ("/attn/safetensors/shape-checks", test_shape_checks);
  g_test_add_func ("/attn/safetensors/hf-gpt2", test_hf_gpt2);

  int status = g_test_run ();
  attn_test_tmp_dir_remove (tmp_dir);
  g_free (tmp_dir);
  return status;
}
