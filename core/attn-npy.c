/* attn-npy.c: float32 .npy files, as NumPy's format.py writes and reads
 * them; see numpy.lib.format in NumPy's reference.
 *
 * The header is a Python dict literal,
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }
 * padded with spaces and ended by '\n' so the data starts on a 64-byte
 * boundary. */
#include "core/attn-npy.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define ALIGN 64
/* The reader takes headers up to this size (NumPy's are about 128 bytes). */
#define HEADER_MAX 65536
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

/* Writes all n bytes, through short writes and signals. */
static gboolean
write_all (int fd, const void *buf, gsize n)
{
  const guint8 *p = buf;
  while (n > 0)
    {
      gssize done = write (fd, p, MIN (n, (gsize) G_MAXSSIZE));
      if (done < 0 && errno == EINTR)
        continue;
      if (done <= 0)
        return FALSE;
      p += done;
      n -= done;
    }
  return TRUE;
}

/* Reads up to n bytes, stopping early only at the end of the file; returns
 * the count, or -1 on an error. */
static gssize
read_all (int fd, void *buf, gsize n)
{
  guint8 *p = buf;
  gsize got = 0;
  while (got < n)
    {
      gssize done = read (fd, p + got, MIN (n - got, (gsize) G_MAXSSIZE));
      if (done < 0 && errno == EINTR)
        continue;
      if (done < 0)
        return -1;
      if (done == 0)
        break;
      got += done;
    }
  return got;
}

/* Writes head then data to a temporary file beside path and renames it over
 * path: path ends up whole or untouched. Writing straight from data spares
 * a copy of what may be hundreds of megabytes. Like g_file_set_contents (),
 * it syncs before replacing an existing file. */
static gboolean
write_whole (const char *path, const void *head, gsize head_len,
             const void *data, gsize data_len, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  gboolean ok = write_all (fd, head, head_len)
                && write_all (fd, data, data_len)
                && (!g_file_test (path, G_FILE_TEST_EXISTS) || fsync (fd) == 0);
  int saved = errno;
  if (close (fd) != 0 && ok)
    {
      ok = FALSE;
      saved = errno;
    }
  if (ok && g_rename (tmp, path) != 0)
    {
      ok = FALSE;
      saved = errno;
    }
  if (!ok)
    {
      g_unlink (tmp);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot write %s: %s",
                   path, g_strerror (saved));
    }
  return ok;
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
  g_autofree guint8 *head = g_malloc (prefix + header_len);
  guint8 *p = head;
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
  *p = '\n';
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  return write_whole (path, head, prefix + header_len, data, data_bytes,
                      error);
#else
  g_autofree guint32 *le = g_new (guint32, MAX (numel, 1));
  for (gsize i = 0; i < numel; i++)
    {
      memcpy (&le[i], &data[i], 4);
      le[i] = GUINT32_TO_LE (le[i]);
    }
  return write_whole (path, head, prefix + header_len, le, data_bytes, error);
#endif
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

/* Checks the prefix and header of a .npy of size bytes, whose first
 * head_size bytes (all of the file up to MAGIC_LEN + 2 + 4 + HEADER_MAX) are
 * in bytes. On success the floats are the last *numel * 4 bytes of the
 * file, starting at *data_offset, with shape dims (*nd of them). */
static gboolean
parse_npy (const char *path, const guint8 *bytes, gsize head_size,
           gsize size, int *nd, gsize *dims, gsize *data_offset,
           gsize *numel, GError **error)
{
  if (size < MAGIC_LEN + 2 || memcmp (bytes, MAGIC, MAGIC_LEN) != 0)
    return bad_npy (error, path, "not a .npy file (bad magic)");
  guint major = bytes[MAGIC_LEN], minor = bytes[MAGIC_LEN + 1];
  /* Version 2.0 differs from 1.0 only in a 4-byte header length. */
  gsize len_bytes = major == 1 ? 2 : 4;
  if ((major != 1 && major != 2) || minor != 0)
    return bad_npy (error, path, ".npy version %u.%u is not supported (only "
                    "1.0 and 2.0)", major, minor);
  gsize prefix = MAGIC_LEN + 2 + len_bytes;
  if (size < prefix)
    return bad_npy (error, path, "truncated before the header length");
  gsize header_len = bytes[MAGIC_LEN + 2] | (gsize) bytes[MAGIC_LEN + 3] << 8;
  if (major == 2)
    header_len |= (gsize) bytes[MAGIC_LEN + 4] << 16
                  | (gsize) bytes[MAGIC_LEN + 5] << 24;
  if (header_len > size - prefix)
    return bad_npy (error, path, "header of %" G_GSIZE_FORMAT " bytes runs "
                    "past the end of the %" G_GSIZE_FORMAT "-byte file",
                    header_len, size);
  if (header_len > HEADER_MAX)
    return bad_npy (error, path, "header of %" G_GSIZE_FORMAT " bytes is "
                    "larger than the %d this reader takes", header_len,
                    HEADER_MAX);
  g_assert (prefix + header_len <= head_size);
  const char *header = (const char *) bytes + prefix;
  if (header_len == 0 || header[header_len - 1] != '\n')
    return bad_npy (error, path, "header does not end with a newline");
  if (!parse_header (path, header, header_len, nd, dims, error))
    return FALSE;

  /* Bound the allocation by the bytes actually present. */
  gsize data_bytes = size - prefix - header_len;
  GError *too_big = NULL;
  gsize n = attn_shape_numel (*nd, dims, G_MAXSIZE / sizeof (float),
                              &too_big);
  if (too_big != NULL)
    {
      g_error_free (too_big);
      return bad_npy (error, path, "header claims a shape beyond the address "
                      "space; the file holds %" G_GSIZE_FORMAT " bytes of "
                      "data", data_bytes);
    }
  if (n * sizeof (float) != data_bytes)
    return bad_npy (error, path, "header claims %" G_GSIZE_FORMAT " floats (%"
                    G_GSIZE_FORMAT " bytes) but the file holds %"
                    G_GSIZE_FORMAT " bytes of data%s", n, n * sizeof (float),
                    data_bytes,
                    data_bytes < n * sizeof (float) ? ": truncated" : "");
  *data_offset = prefix + header_len;
  *numel = n;
  return TRUE;
}

/* The little-endian floats of a file, in place, to host order. */
static void
from_le (float *data, gsize numel)
{
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
  for (gsize i = 0; i < numel; i++)
    {
      guint32 bits;
      memcpy (&bits, &data[i], 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&data[i], &bits, 4);
    }
#else
  (void) data;
  (void) numel;
#endif
}

/* The body of attn_npy_read () on an open file of size bytes. */
static float *
read_npy (const char *path, int fd, gsize size, int *ndim, gsize *shape,
          GError **error)
{
  /* The prefix and header are read first, into a buffer bounded by
   * HEADER_MAX; the data then goes straight into the result. */
  gsize head_size = MIN (size, MAGIC_LEN + 2 + 4 + HEADER_MAX);
  g_autofree guint8 *bytes = g_malloc (MAX (head_size, 1));
  gssize got = read_all (fd, bytes, head_size);
  if (got < 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: %s",
                   path, g_strerror (saved));
      return NULL;
    }
  if ((gsize) got < head_size)
    {
      bad_npy (error, path, "the file shrank while being read");
      return NULL;
    }

  int nd = 0;
  gsize dims[ATTN_NPY_MAX_DIMS] = { 0 };
  gsize offset = 0, numel = 0;
  if (!parse_npy (path, bytes, head_size, size, &nd, dims, &offset, &numel,
                  error))
    return NULL;

  gsize data_bytes = numel * sizeof (float);
  g_autofree float *data = g_new (float, MAX (numel, 1));
  gsize have = MIN (head_size - offset, data_bytes); /* data already read */
  memcpy (data, bytes + offset, have);
  got = read_all (fd, (guint8 *) data + have, data_bytes - have);
  if (got < 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: %s",
                   path, g_strerror (saved));
      return NULL;
    }
  if ((gsize) got < data_bytes - have)
    {
      bad_npy (error, path, "the file shrank while being read");
      return NULL;
    }
  from_le (data, numel);
  *ndim = nd;
  memcpy (shape, dims, sizeof (gsize) * nd);
  return g_steal_pointer (&data);
}

float *
attn_npy_read_data (const void *bytes, gsize len, const char *name,
                    int *ndim, gsize *shape, GError **error)
{
  int nd = 0;
  gsize dims[ATTN_NPY_MAX_DIMS] = { 0 };
  gsize offset = 0, numel = 0;
  if (!parse_npy (name, bytes, len, len, &nd, dims, &offset, &numel, error))
    return NULL;
  float *data = g_new (float, MAX (numel, 1));
  memcpy (data, (const guint8 *) bytes + offset, numel * sizeof (float));
  from_le (data, numel);
  *ndim = nd;
  memcpy (shape, dims, sizeof (gsize) * nd);
  return data;
}

float *
attn_npy_read (const char *path, int *ndim, gsize *shape, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: %s",
                   path, g_strerror (saved));
      return NULL;
    }
  struct stat st;
  float *data = NULL;
  if (fstat (fd, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: %s",
                   path, g_strerror (saved));
    }
  else if (!S_ISREG (st.st_mode))
    g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "cannot read %s: not a "
                 "regular file", path);
  else
    data = read_npy (path, fd, st.st_size, ndim, shape, error);
  close (fd);
  return data;
}
