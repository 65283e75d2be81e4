#include "core/attn-tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-error.h"

void
attn_check_failed (const char *file, int line, const char *func,
                   const char *expr)
{
  /* The one place core/ prints: a broken contract is a programming error,
   * and the message must reach whoever runs the program. */
  fprintf (stderr, "%s:%d: %s: check failed: (%s)\n", file, line, func, expr);
  abort ();
}

gsize
attn_shape_numel (int ndim, const gsize *shape, gsize max_numel,
                  GError **error)
{
  attn_check (ndim >= 0 && ndim <= ATTN_TENSOR_MAX_DIMS);
  gsize n = 1;
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] != 0 && n > G_MAXSIZE / shape[i])
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                       "tensor shape overflows the address space");
          return 0;
        }
      n *= shape[i];
    }
  if (max_numel != 0 && n > max_numel)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "tensor of %" G_GSIZE_FORMAT " elements exceeds the limit "
                   "of %" G_GSIZE_FORMAT, n, max_numel);
      return 0;
    }
  return n;
}

static gsize
round_up_floats (gsize n)
{
  const gsize per_line = ATTN_TENSOR_ALIGN / sizeof (float);
  return (n + per_line - 1) / per_line * per_line;
}

AttnTensorBlock *
attn_tensor_block_new (const AttnTensorSpec *specs, guint n_specs,
                       GError **error)
{
  /* First pass: sizes and offsets, refusing overflow before any allocation. */
  g_autofree gsize *offsets = g_new (gsize, n_specs + 1);
  gsize total = 0;
  for (guint i = 0; i < n_specs; i++)
    {
      GError *local = NULL;
      gsize numel = attn_shape_numel (specs[i].ndim, specs[i].shape, 0, &local);
      if (local != NULL)
        {
          g_propagate_prefixed_error (error, local, "tensor “%s”: ",
                                      specs[i].name);
          return NULL;
        }
      offsets[i] = total;
      gsize padded = round_up_floats (numel);
      if (padded < numel || total > G_MAXSIZE / sizeof (float) - padded)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                       "tensor block overflows the address space");
          return NULL;
        }
      total += padded;
    }

  AttnTensorBlock *block = g_new0 (AttnTensorBlock, 1);
  block->n_floats = total;
  if (total > 0)
    {
      block->memory = aligned_alloc (ATTN_TENSOR_ALIGN, total * sizeof (float));
      if (block->memory == NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                       "cannot allocate %" G_GSIZE_FORMAT " bytes for tensors",
                       total * sizeof (float));
          g_free (block);
          return NULL;
        }
      memset (block->memory, 0, total * sizeof (float));
    }
  block->n_tensors = n_specs;
  block->tensors = g_new0 (AttnTensor, n_specs);
  for (guint i = 0; i < n_specs; i++)
    {
      AttnTensor *t = &block->tensors[i];
      t->name = g_strdup (specs[i].name);
      t->ndim = specs[i].ndim;
      memcpy (t->shape, specs[i].shape, sizeof t->shape);
      t->numel = attn_shape_numel (t->ndim, t->shape, 0, NULL);
      t->data = block->memory + offsets[i];
    }
  return block;
}

void
attn_tensor_block_free (AttnTensorBlock *block)
{
  if (block == NULL)
    return;
  for (guint i = 0; i < block->n_tensors; i++)
    g_free (block->tensors[i].name);
  g_free (block->tensors);
  free (block->memory);
  g_free (block);
}

AttnTensor *
attn_tensor_block_lookup (AttnTensorBlock *block, const char *name)
{
  for (guint i = 0; i < block->n_tensors; i++)
    if (g_strcmp0 (block->tensors[i].name, name) == 0)
      return &block->tensors[i];
  return NULL;
}

void
attn_tensor_block_zero (AttnTensorBlock *block)
{
  if (block->memory != NULL)
    memset (block->memory, 0, block->n_floats * sizeof (float));
}

char *
attn_tensor_shape_to_string (const AttnTensor *t)
{
  GString *s = g_string_new ("(");
  for (int i = 0; i < t->ndim; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? ", " : "",
                            t->shape[i]);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

double
attn_max_abs_diff (const float *a, const float *b, gsize n)
{
  double m = 0.0;
  for (gsize i = 0; i < n; i++)
    {
      double d = fabs ((double) a[i] - (double) b[i]);
      if (!(d <= m)) /* also catches NaN */
        m = isnan (d) ? INFINITY : d;
    }
  return m;
}

double
attn_max_rel_diff (const float *a, const float *b, gsize n, double floor)
{
  double m = 0.0;
  for (gsize i = 0; i < n; i++)
    {
      double d = fabs ((double) a[i] - (double) b[i])
                 / fmax (fabs ((double) b[i]), floor);
      if (!(d <= m))
        m = isnan (d) ? INFINITY : d;
    }
  return m;
}
