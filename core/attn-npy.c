/* attn-npy.c: float32 .npy files, as NumPy's format.py writes and reads
 * them (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
 *
 * The header is a Python dict literal,
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }
 * padded with spaces and ended by '\n' so the data starts on a 64-byte
 * boundary. */
#include "core/attn-npy.h"

#include <string.h>

#include "core/attn-error.h"

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define ALIGN 64
/* NumPy 1.24 pads the header by 21 - len (repr (shape[0])) spaces so a file
 * can grow along axis 0 in place; writing the same keeps us byte-identical. */
#define GROWTH_AXIS_MAX_DIGITS 21

static gboolean
bad_npy (GError **error, const char *path, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
bad_npy (GError **error, const char *path, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE, "%s: %s", path, msg);
  return FALSE;
}

gboolean
attn_npy_write (const char *path, const float *data, int ndim,
                const gsize *shape, GError **error)
{
  attn_check (ndim >= 0 && ndim <= ATTN_NPY_MAX_DIMS);
  GError *too_big = NULL;
  gsize numel = attn_shape_numel (ndim, shape, G_MAXSIZE / sizeof (float),
                                  &too_big);
  if (too_big != NULL)
    {
      g_propagate_prefixed_error (error, too_big, "%s: ", path);
      return FALSE;
    }

  /* Python's repr of the shape tuple: (), (5,), (2, 3). */
  g_autoptr (GString) dict = g_string_new ("{'descr': '<f4', "
                                           "'fortran_order': False, "
                                           "'shape': (");
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (dict, i == 0 ? "%" G_GSIZE_FORMAT
                                         : ", %" G_GSIZE_FORMAT, shape[i]);
  g_string_append (dict, ndim == 1 ? ",), }" : "), }");
  if (ndim > 0)
    {
      g_autofree char *first = g_strdup_printf ("%" G_GSIZE_FORMAT, shape[0]);
      for (gsize i = strlen (first); i < GROWTH_AXIS_MAX_DIGITS; i++)
        g_string_append_c (dict, ' ');
    }
  /* Magic, version, 2-byte length, dict, spaces, '\n' to a multiple of 64;
   * like NumPy, a header already aligned gets 64 more spaces. */
  gsize prefix = MAGIC_LEN + 2 + 2;
  gsize pad = ALIGN - (prefix + dict->len + 1) % ALIGN;
  gsize header_len = dict->len + pad + 1;
  attn_check (header_len <= G_MAXUINT16);

  gsize data_bytes = numel * sizeof (float);
  if (data_bytes > G_MAXSIZE - prefix - header_len)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "%s: array too large to write", path);
      return FALSE;
    }
  gsize total = prefix + header_len + data_bytes;
  g_autofree guint8 *buf = g_malloc (total);
  guint8 *p = buf;
  memcpy (p, MAGIC, MAGIC_LEN);
  p += MAGIC_LEN;
  *p++ = 1; /* version 1.0 */
  *p++ = 0;
  *p++ = header_len & 0xff; /* little-endian uint16 */
  *p++ = header_len >> 8;
  memcpy (p, dict->str, dict->len);
  p += dict->len;
  memset (p, ' ', pad);
  p += pad;
  *p++ = '\n';
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (data_bytes > 0)
    memcpy (p, data, data_bytes);
#else
  for (gsize i = 0; i < numel; i++)
    {
      guint32 bits;
      memcpy (&bits, &data[i], 4);
      bits = GUINT32_TO_LE (bits);
      memcpy (p + 4 * i, &bits, 4);
    }
#endif

  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents (path, (const char *) buf, total, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   path, local->message);
      return FALSE;
    }
  return TRUE;
}

/* A cursor over the header dict; every function leaves it past what it read
 * and any spaces after that. */
typedef struct {
  const char *p;
  const char *end;
} Scan;

static void
skip_space (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'))
    s->p++;
}

static gboolean
eat (Scan *s, char c)
{
  skip_space (s);
  if (s->p < s->end && *s->p == c)
    {
      s->p++;
      skip_space (s);
      return TRUE;
    }
  return FALSE;
}

/* A Python string literal in single or double quotes, without escapes (none
 * of NumPy's keys or dtypes has one). Returns NULL when there is none. */
static char *
scan_string (Scan *s)
{
  skip_space (s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
    return NULL;
  char quote = *s->p++;
  const char *start = s->p;
  while (s->p < s->end && *s->p != quote && *s->p != '\\')
    s->p++;
  if (s->p >= s->end || *s->p != quote)
    return NULL;
  char *str = g_strndup (start, s->p - start);
  s->p++;
  skip_space (s);
  return str;
}

static gboolean
scan_word (Scan *s, const char *word)
{
  gsize len = strlen (word);
  skip_space (s);
  if ((gsize) (s->end - s->p) >= len && memcmp (s->p, word, len) == 0)
    {
      s->p += len;
      skip_space (s);
      return TRUE;
    }
  return FALSE;
}

/* A non-negative decimal integer (Python 2 era files may append 'L'). */
static gboolean
scan_dim (Scan *s, gsize *value)
{
  skip_space (s);
  if (s->p >= s->end || !g_ascii_isdigit (*s->p))
    return FALSE;
  gsize v = 0;
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    {
      gsize digit = *s->p - '0';
      if (v > (G_MAXSIZE - digit) / 10)
        return FALSE;
      v = v * 10 + digit;
      s->p++;
    }
  if (s->p < s->end && *s->p == 'L')
    s->p++;
  *value = v;
  skip_space (s);
  return TRUE;
}

/* Parses the header dict into *ndim and shape, checking dtype and order. */
static gboolean
parse_header (const char *path, const char *text, gsize len, int *ndim,
              gsize *shape, GError **error)
{
  Scan s = { text, text + len };
  gboolean have_descr = FALSE, have_order = FALSE, have_shape = FALSE;
  if (!eat (&s, '{'))
    return bad_npy (error, path, "header is not a Python dict literal");
  while (!eat (&s, '}'))
    {
      g_autofree char *key = scan_string (&s);
      if (key == NULL || !eat (&s, ':'))
        return bad_npy (error, path, "header dict is malformed");
      if (strcmp (key, "descr") == 0)
        {
          g_autofree char *descr = scan_string (&s);
          if (descr == NULL)
            return bad_npy (error, path, "header 'descr' is not a string");
          if (strcmp (descr, "<f4") != 0)
            return bad_npy (error, path, "dtype '%s' is not supported: "
                            "only little-endian float32 '<f4'", descr);
          have_descr = TRUE;
        }
      else if (strcmp (key, "fortran_order") == 0)
        {
          if (scan_word (&s, "True"))
            return bad_npy (error, path, "Fortran-ordered arrays are not "
                            "supported: save a C-ordered array");
          if (!scan_word (&s, "False"))
            return bad_npy (error, path, "header 'fortran_order' is not "
                            "True or False");
          have_order = TRUE;
        }
      else if (strcmp (key, "shape") == 0)
        {
          if (!eat (&s, '('))
            return bad_npy (error, path, "header 'shape' is not a tuple");
          *ndim = 0;
          while (!eat (&s, ')'))
            {
              gsize dim;
              if (*ndim == ATTN_NPY_MAX_DIMS)
                return bad_npy (error, path, "arrays of more than %d "
                                "dimensions are not supported",
                                ATTN_NPY_MAX_DIMS);
              if (!scan_dim (&s, &dim))
                return bad_npy (error, path, "header 'shape' holds something "
                                "other than non-negative integers");
              shape[(*ndim)++] = dim;
              if (!eat (&s, ',') && !(s.p < s.end && *s.p == ')'))
                return bad_npy (error, path, "header 'shape' is malformed");
            }
          have_shape = TRUE;
        }
      else
        return bad_npy (error, path, "header has an unexpected key '%s'", key);
      if (!eat (&s, ',') && !(s.p < s.end && *s.p == '}'))
        return bad_npy (error, path, "header dict is malformed");
    }
  skip_space (&s);
  if (s.p != s.end)
    return bad_npy (error, path, "header has text after its dict");
  if (!have_descr || !have_order || !have_shape)
    return bad_npy (error, path, "header lacks '%s'",
                    !have_descr ? "descr"
                                : !have_order ? "fortran_order" : "shape");
  return TRUE;
}

float *
attn_npy_read (const char *path, int *ndim, gsize *shape, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, &local);
  if (file == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: %s",
                   path, local->message);
      return NULL;
    }
  /* Empty files map to NULL contents. */
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (file);
  gsize size = g_mapped_file_get_length (file);

  if (size < MAGIC_LEN + 2 || memcmp (bytes, MAGIC, MAGIC_LEN) != 0)
    {
      bad_npy (error, path, "not a .npy file (bad magic)");
      return NULL;
    }
  guint major = bytes[MAGIC_LEN], minor = bytes[MAGIC_LEN + 1];
  /* Version 2.0 differs from 1.0 only in a 4-byte header length. */
  gsize len_bytes = major == 1 ? 2 : 4;
  if ((major != 1 && major != 2) || minor != 0)
    {
      bad_npy (error, path, ".npy version %u.%u is not supported (only 1.0 "
               "and 2.0)", major, minor);
      return NULL;
    }
  gsize prefix = MAGIC_LEN + 2 + len_bytes;
  if (size < prefix)
    {
      bad_npy (error, path, "truncated before the header length");
      return NULL;
    }
  gsize header_len = bytes[MAGIC_LEN + 2] | (gsize) bytes[MAGIC_LEN + 3] << 8;
  if (major == 2)
    header_len |= (gsize) bytes[MAGIC_LEN + 4] << 16
                  | (gsize) bytes[MAGIC_LEN + 5] << 24;
  if (header_len > size - prefix)
    {
      bad_npy (error, path, "header of %" G_GSIZE_FORMAT " bytes runs past "
               "the end of the %" G_GSIZE_FORMAT "-byte file", header_len,
               size);
      return NULL;
    }
  const char *header = (const char *) bytes + prefix;
  if (header_len == 0 || header[header_len - 1] != '\n')
    {
      bad_npy (error, path, "header does not end with a newline");
      return NULL;
    }
  int nd = 0;
  gsize dims[ATTN_NPY_MAX_DIMS] = { 0 };
  if (!parse_header (path, header, header_len, &nd, dims, error))
    return NULL;

  /* Bound the allocation by the bytes actually present. */
  gsize data_bytes = size - prefix - header_len;
  GError *too_big = NULL;
  gsize numel = attn_shape_numel (nd, dims, G_MAXSIZE / sizeof (float),
                                  &too_big);
  if (too_big != NULL)
    {
      g_error_free (too_big);
      bad_npy (error, path, "header claims a shape beyond the address space; "
               "the file holds %" G_GSIZE_FORMAT " bytes of data", data_bytes);
      return NULL;
    }
  if (numel * sizeof (float) != data_bytes)
    {
      bad_npy (error, path, "header claims %" G_GSIZE_FORMAT " floats (%"
               G_GSIZE_FORMAT " bytes) but the file holds %" G_GSIZE_FORMAT
               " bytes of data%s", numel, numel * sizeof (float), data_bytes,
               data_bytes < numel * sizeof (float) ? ": truncated" : "");
      return NULL;
    }

  float *data = g_new (float, MAX (numel, 1));
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (data_bytes > 0)
    memcpy (data, bytes + prefix + header_len, data_bytes);
#else
  for (gsize i = 0; i < numel; i++)
    {
      guint32 bits;
      memcpy (&bits, bytes + prefix + header_len + 4 * i, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&data[i], &bits, 4);
    }
#endif
  *ndim = nd;
  memcpy (shape, dims, sizeof (gsize) * nd);
  return data;
}
