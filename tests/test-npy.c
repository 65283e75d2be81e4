/* test-npy.c: the .npy reader and writer, against NumPy's own files.
 *
 * tests/data/numpy-*.npy were written by np.save (make-npy-fixtures.py). */
#include <math.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-npy.h"
#include "tests/attn-test-util.h"

static void
assert_bits_equal (const float *got, const float *want, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      guint32 a, b;
      memcpy (&a, &got[i], 4);
      memcpy (&b, &want[i], 4);
      if (a != b)
        g_error ("float %" G_GSIZE_FORMAT ": got %.9g (0x%08x), want %.9g "
                 "(0x%08x)", i, got[i], a, want[i], b);
    }
}

/* --- round trip --- */

typedef struct {
  const char *name;
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
} ShapeCase;

static const ShapeCase shape_cases[] = {
  { "scalar", 0, { 0 } },
  { "vector", 1, { 7 } },
  { "matrix", 2, { 3, 5 } },
  { "block", 3, { 4, 9, 11 } },
  { "empty", 2, { 0, 3 } },
  { "4d", 4, { 2, 1, 3, 2 } },
  { "wide-first-axis", 2, { 123456, 1 } },
};

static void
test_round_trip (gconstpointer data)
{
  const ShapeCase *c = data;
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-npy-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "x.npy", NULL);
  gsize n = 1;
  for (int i = 0; i < c->ndim; i++)
    n *= c->shape[i];
  g_autofree float *x = g_new (float, MAX (n, 1));
  attn_test_fill_uniform (x, n, -2.0f, 2.0f, 7);
  /* Bit patterns a decimal detour would lose. */
  const float special[] = { -0.0f, 1e-45f, INFINITY, 3.40282347e38f };
  for (gsize i = 0; i < MIN (n, G_N_ELEMENTS (special)); i++)
    x[i] = special[i];

  g_autoptr (GError) error = NULL;
  /* Written twice: the second replaces the first (other data, same path),
   * leaving no temporary file behind. */
  for (gsize i = 0; i < n; i++)
    x[i] += 1.0f;
  g_assert_true (attn_npy_write (path, x, c->ndim, c->shape, &error));
  for (gsize i = 0; i < n; i++)
    x[i] -= 1.0f;
  g_assert_true (attn_npy_write (path, x, c->ndim, c->shape, &error));
  g_assert_no_error (error);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (d), ==, "x.npy");
  g_assert_null (g_dir_read_name (d));

  int ndim = -1;
  gsize shape[ATTN_NPY_MAX_DIMS];
  g_autofree float *y = attn_npy_read (path, &ndim, shape, &error);
  g_assert_no_error (error);
  g_assert_nonnull (y);
  g_assert_cmpint (ndim, ==, c->ndim);
  for (int i = 0; i < ndim; i++)
    g_assert_cmpuint (shape[i], ==, c->shape[i]);
  assert_bits_equal (y, x, n);

  /* The data starts on a 64-byte boundary, as NumPy requires. */
  g_autofree char *bytes = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
  g_assert_cmpuint ((len - n * 4) % 64, ==, 0);
  attn_test_tmp_dir_remove (dir);
}

/* --- interoperability with NumPy --- */

static void
test_numpy_block (void)
{
  g_autofree char *path = attn_test_data_path ("numpy-block.npy");
  JsonObject *fixture = attn_test_fixture ("numpy-block.json");
  g_autofree int *want_shape = attn_test_ints (fixture, "shape", 3);
  g_autofree float *want = attn_test_floats (fixture, "weights", 3 * 4 * 5);

  g_autoptr (GError) error = NULL;
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  g_autofree float *got = attn_npy_read (path, &ndim, shape, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ndim, ==, 3);
  for (int i = 0; i < 3; i++)
    g_assert_cmpuint (shape[i], ==, (gsize) want_shape[i]);
  /* The JSON holds 9 significant digits, so equality is exact. */
  assert_bits_equal (got, want, 60);
  /* And it is what it claims to be: softmax rows. */
  for (int r = 0; r < 12; r++)
    {
      double sum = 0;
      for (int k = 0; k < 5; k++)
        sum += got[r * 5 + k];
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
    }
}

typedef struct {
  const char *file; /* written by np.save */
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  void (*fill) (float *x, gsize n);
} NumpyRefCase;

/* Each fill rebuilds the array make-npy-fixtures.py saved. */
static void
fill_ref_3d (float *x, gsize n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = (float) i * 0.5f - 3.0f;
}

static void
fill_ref_1d (float *x, gsize n)
{
  const float v[] = { 1.5f, -2.25f, 0.0f, 1e-30f, 3.4e38f };
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (v));
  memcpy (x, v, sizeof v);
}

static void
fill_ref_0d (float *x, gsize n)
{
  x[0] = 2.5f;
}

static void
fill_ref_4d (float *x, gsize n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = 0.25f;
}

static const NumpyRefCase numpy_ref_cases[] = {
  { "numpy-ref-3d.npy", 3, { 2, 3, 4 }, fill_ref_3d },
  { "numpy-ref-1d.npy", 1, { 5 }, fill_ref_1d },
  { "numpy-ref-0d.npy", 0, { 0 }, fill_ref_0d },
  { "numpy-ref-empty.npy", 2, { 0, 7 }, NULL },
  { "numpy-ref-4d.npy", 4, { 1, 2, 1, 3 }, fill_ref_4d },
};

/* Our file for the same array is np.save's, byte for byte (header included),
 * and we read np.save's file to the same floats. */
static void
test_matches_numpy (gconstpointer data)
{
  const NumpyRefCase *c = data;
  gsize n = 1;
  for (int i = 0; i < c->ndim; i++)
    n *= c->shape[i];
  g_autofree float *x = g_new0 (float, MAX (n, 1));
  if (c->fill != NULL)
    c->fill (x, n);

  g_autofree char *dir = attn_test_tmp_dir_new ("attn-npy-XXXXXX");
  g_autofree char *ours = g_build_filename (dir, "ours.npy", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_npy_write (ours, x, c->ndim, c->shape, &error));
  g_assert_no_error (error);

  g_autofree char *theirs = attn_test_data_path (c->file);
  g_autofree char *a = NULL, *b = NULL;
  gsize a_len, b_len;
  g_assert_true (g_file_get_contents (ours, &a, &a_len, NULL));
  g_assert_true (g_file_get_contents (theirs, &b, &b_len, NULL));
  gsize header_len = b_len - n * 4;
  g_test_message ("%s: %" G_GSIZE_FORMAT " header bytes: %.*s", c->file,
                  header_len, (int) (header_len - 10), b + 10);
  g_assert_cmpmem (a, a_len, b, b_len);

  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  g_autofree float *y = attn_npy_read (theirs, &ndim, shape, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ndim, ==, c->ndim);
  for (int i = 0; i < ndim; i++)
    g_assert_cmpuint (shape[i], ==, c->shape[i]);
  assert_bits_equal (y, x, n);
  attn_test_tmp_dir_remove (dir);
}

typedef struct {
  const char *file;
  const char *fragment;
} RefusedCase;

static const RefusedCase refused_cases[] = {
  { "numpy-fortran.npy", "Fortran-ordered" },
  { "numpy-f8.npy", "dtype '<f8'" },
  { "numpy-be.npy", "dtype '>f4'" },
};

static void
test_refuses_numpy (gconstpointer data)
{
  const RefusedCase *c = data;
  g_autofree char *path = attn_test_data_path (c->file);
  g_autoptr (GError) error = NULL;
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  g_autofree float *y = attn_npy_read (path, &ndim, shape, &error);
  g_assert_null (y);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE);
  g_assert_nonnull (strstr (error->message, c->fragment));
  g_assert_nonnull (strstr (error->message, c->file));
}

/* --- malformed files --- */

typedef struct {
  const char *name;
  /* When raw is set the file is exactly raw[0 .. raw_len); otherwise it is
   * a version major.0 prefix, header (with a '\n' appended unless
   * no_newline), then data_bytes bytes of data. */
  const char *raw;
  gsize raw_len;
  int major;
  const char *header;
  gboolean no_newline;
  gsize header_pad; /* spaces appended to header */
  gsize data_bytes;
  int code; /* -1: the file is valid */
  const char *fragment;
} MalformedCase;

#define F4_23 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
#define BAD ATTN_ERROR_BAD_TRACE

/* name, raw, raw_len, major, header, no_newline, header_pad, data_bytes,
 * code, fragment */
static const MalformedCase malformed_cases[] = {
  { "valid-v1", NULL, 0, 1, F4_23, FALSE, 0, 24, -1, NULL },
  { "valid-v2", NULL, 0, 2, F4_23, FALSE, 0, 24, -1, NULL },
  { "valid-key-order", NULL, 0, 1,
    "{\"shape\": (2,3), 'fortran_order':False,'descr':'<f4'}", FALSE, 0, 24,
    -1, NULL },
  { "empty", "", 0, 0, NULL, FALSE, 0, 0, BAD, "bad magic" },
  { "bad-magic", "\x93NUMPZ\x01\x00\x10\x00", 10, 0, NULL, FALSE, 0, 0, BAD,
    "bad magic" },
  { "no-header-length", "\x93NUMPY\x01\x00\x10", 9, 0, NULL, FALSE, 0, 0,
    BAD, "truncated before the header length" },
  { "version-3", NULL, 0, 3, F4_23, FALSE, 0, 24, BAD,
    "version 3.0 is not supported" },
  { "header-past-end", "\x93NUMPY\x01\x00\xff\x00{}\n", 13, 0, NULL, FALSE, 0,
    0, BAD, "header of 255 bytes runs past the end" },
  { "v2-header-too-large", NULL, 0, 2, F4_23, FALSE, 70000, 24, BAD,
    "header of 70060 bytes is larger than the 65536" },
  { "no-newline", NULL, 0, 1, F4_23, TRUE, 0, 24, BAD,
    "does not end with a newline" },
  { "not-a-dict", NULL, 0, 1, "[1, 2]", FALSE, 0, 0, BAD,
    "not a Python dict literal" },
  { "missing-descr", NULL, 0, 1, "{'fortran_order': False, 'shape': (2, 3), }",
    FALSE, 0, 24, BAD, "header lacks 'descr'" },
  { "missing-shape", NULL, 0, 1, "{'descr': '<f4', 'fortran_order': False}",
    FALSE, 0, 4, BAD, "header lacks 'shape'" },
  { "float64", NULL, 0, 1,
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", FALSE, 0,
    48, BAD, "dtype '<f8' is not supported" },
  { "int32", NULL, 0, 1,
    "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", FALSE, 0,
    24, BAD, "dtype '<i4' is not supported" },
  { "fortran", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", FALSE, 0,
    24, BAD, "Fortran-ordered arrays are not supported" },
  { "order-not-bool", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", FALSE, 0, 24,
    BAD, "'fortran_order' is not True or False" },
  { "negative-dim", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", FALSE, 0,
    24, BAD, "other than non-negative integers" },
  { "dim-not-int", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': ('a', 3), }", FALSE, 0,
    24, BAD, "other than non-negative integers" },
  { "shape-not-tuple", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", FALSE, 0,
    24, BAD, "'shape' is not a tuple" },
  { "five-dims", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }",
    FALSE, 0, 4, BAD, "more than 4 dimensions" },
  { "dim-overflows", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (99999999999999999999999, 1), }", FALSE, 0, 4, BAD,
    "other than non-negative integers" },
  /* 10^12 floats claimed, 24 bytes present: refused before allocating. */
  { "claims-10^12", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }",
    FALSE, 0, 24, BAD,
    "header claims 1000000000000 floats (4000000000000 bytes) but the file "
    "holds 24 bytes of data: truncated" },
  { "product-overflows", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (4294967296, 4294967296), }", FALSE, 0, 24, BAD,
    "shape beyond the address space" },
  { "truncated-data", NULL, 0, 1, F4_23, FALSE, 0, 20, BAD,
    "holds 20 bytes of data: truncated" },
  { "trailing-data", NULL, 0, 1, F4_23, FALSE, 0, 28, BAD,
    "claims 6 floats (24 bytes) but the file holds 28 bytes of data" },
  { "unexpected-key", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
    FALSE, 0, 24, BAD, "unexpected key 'x'" },
  { "text-after-dict", NULL, 0, 1, F4_23 " junk", FALSE, 0, 24, BAD,
    "text after its dict" },
  { "unterminated-string", NULL, 0, 1, "{'descr: '<f4'", FALSE, 0, 24, BAD,
    "header dict is malformed" },
  { "unclosed-dict", NULL, 0, 1,
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", FALSE, 0,
    24, BAD, "header dict is malformed" },
};

static void
test_malformed (gconstpointer data)
{
  const MalformedCase *c = data;
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-npy-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "bad.npy", NULL);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  if (c->raw != NULL)
    g_byte_array_append (bytes, (const guint8 *) c->raw, c->raw_len);
  else
    {
      gsize hlen = strlen (c->header) + c->header_pad
                   + (c->no_newline ? 0 : 1);
      guint8 prefix[12] = { 0x93, 'N', 'U', 'M', 'P', 'Y', c->major, 0,
                            hlen & 0xff, (hlen >> 8) & 0xff,
                            (hlen >> 16) & 0xff, 0 };
      g_byte_array_append (bytes, prefix, c->major == 1 ? 10 : 12);
      g_byte_array_append (bytes, (const guint8 *) c->header,
                           strlen (c->header));
      for (gsize i = 0; i < c->header_pad; i++)
        g_byte_array_append (bytes, (const guint8 *) " ", 1);
      if (!c->no_newline)
        g_byte_array_append (bytes, (const guint8 *) "\n", 1);
      for (gsize i = 0; i < c->data_bytes; i++)
        {
          /* 0x3f800000 little-endian: 1.0f in every whole float. */
          const guint8 one[4] = { 0, 0, 0x80, 0x3f };
          g_byte_array_append (bytes, &one[i % 4], 1);
        }
    }
  g_assert_true (g_file_set_contents (path, (const char *) bytes->data,
                                      bytes->len, NULL));

  g_autoptr (GError) error = NULL;
  int ndim = -1;
  gsize shape[ATTN_NPY_MAX_DIMS];
  g_autofree float *y = attn_npy_read (path, &ndim, shape, &error);
  if (c->code < 0)
    {
      g_assert_no_error (error);
      g_assert_cmpint (ndim, ==, 2);
      g_assert_cmpuint (shape[0], ==, 2);
      g_assert_cmpuint (shape[1], ==, 3);
      for (int i = 0; i < 6; i++)
        g_assert_cmpfloat (y[i], ==, 1.0f);
    }
  else
    {
      g_assert_null (y);
      g_assert_error (error, ATTN_ERROR, c->code);
      g_test_message ("%s", error->message);
      if (strstr (error->message, c->fragment) == NULL)
        g_error ("message “%s” lacks “%s”", error->message, c->fragment);
      g_assert_nonnull (strstr (error->message, path));
    }
  attn_test_tmp_dir_remove (dir);
}

static void
test_directory (void)
{
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-npy-XXXXXX");
  g_autoptr (GError) error = NULL;
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  float *y = attn_npy_read (dir, &ndim, shape, &error);
  g_assert_null (y);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  attn_test_tmp_dir_remove (dir);
}

static void
test_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  int ndim;
  gsize shape[ATTN_NPY_MAX_DIMS];
  float *y = attn_npy_read ("/nonexistent/attn.npy", &ndim, shape, &error);
  g_assert_null (y);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/attn.npy"));
}

/* A failed write leaves nothing: the folder's "parent" is a file. */
static void
test_unwritable (void)
{
  g_autofree char *dir = attn_test_tmp_dir_new ("attn-npy-XXXXXX");
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  g_autofree char *path = g_build_filename (file, "x.npy", NULL);
  const float x[] = { 1.0f };
  const gsize shape[] = { 1 };
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_npy_write (path, x, 1, shape, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  attn_test_tmp_dir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (shape_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/npy/round-trip/%s",
                                               shape_cases[i].name);
      g_test_add_data_func (name, &shape_cases[i], test_round_trip);
    }
  g_test_add_func ("/attn/npy/numpy-block", test_numpy_block);
  for (guint i = 0; i < G_N_ELEMENTS (numpy_ref_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/npy/matches-numpy/%s",
                                               numpy_ref_cases[i].file);
      g_test_add_data_func (name, &numpy_ref_cases[i], test_matches_numpy);
    }
  for (guint i = 0; i < G_N_ELEMENTS (refused_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/npy/refuses-numpy/%s",
                                               refused_cases[i].file);
      g_test_add_data_func (name, &refused_cases[i], test_refuses_numpy);
    }
  for (guint i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/npy/malformed/%s",
                                               malformed_cases[i].name);
      g_test_add_data_func (name, &malformed_cases[i], test_malformed);
    }
  g_test_add_func ("/attn/npy/missing-file", test_missing_file);
  g_test_add_func ("/attn/npy/directory", test_directory);
  g_test_add_func ("/attn/npy/unwritable", test_unwritable);
  return g_test_run ();
}
