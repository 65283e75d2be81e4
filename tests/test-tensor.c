#include <math.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-tensor.h"

static void
test_block_layout (void)
{
  const AttnTensorSpec specs[] = {
    { "wte", 2, { 5, 3 } },   /* (V, C) */
    { "ln_w", 1, { 3 } },     /* (C) */
    { "att", 3, { 2, 4, 4 } } /* (NH, T, T) */
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTensorBlock) block =
    attn_tensor_block_new (specs, G_N_ELEMENTS (specs), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (block->n_tensors, ==, 3);

  AttnTensor *att = attn_tensor_block_lookup (block, "att");
  g_assert_nonnull (att);
  g_assert_cmpuint (att->numel, ==, 32);
  g_assert_null (attn_tensor_block_lookup (block, "nope"));

  /* Every tensor is aligned, zeroed, inside the block and disjoint. */
  float *end = block->memory + block->n_floats;
  for (guint i = 0; i < block->n_tensors; i++)
    {
      AttnTensor *t = &block->tensors[i];
      g_assert_cmpuint ((guintptr) t->data % ATTN_TENSOR_ALIGN, ==, 0);
      g_assert_true (t->data + t->numel <= end);
      if (i + 1 < block->n_tensors)
        g_assert_true (t->data + t->numel <= block->tensors[i + 1].data);
      for (gsize j = 0; j < t->numel; j++)
        g_assert_cmpfloat (t->data[j], ==, 0.0f);
    }
  g_autofree char *shape = attn_tensor_shape_to_string (att);
  g_assert_cmpstr (shape, ==, "(2, 4, 4)");

  att->data[5] = 3.0f;
  attn_tensor_block_zero (block);
  g_assert_cmpfloat (att->data[5], ==, 0.0f);
}

static void
test_block_overflow (void)
{
  /* 10^12 x 10^12 floats: refused before any allocation. */
  const AttnTensorSpec specs[] = {
    { "huge", 2, { 1000000000000ull, 1000000000000ull } },
  };
  g_autoptr (GError) error = NULL;
  AttnTensorBlock *block = attn_tensor_block_new (specs, 1, &error);
  g_assert_null (block);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
  g_assert_true (strstr (error->message, "huge") != NULL);
}

static void
test_numel_limit (void)
{
  const gsize shape[] = { 1000, 1000, 1000, 1000 };
  g_autoptr (GError) error = NULL;
  g_assert_cmpuint (attn_shape_numel (2, shape, 0, &error), ==, 1000000);
  g_assert_no_error (error);
  g_assert_cmpuint (attn_shape_numel (4, shape, 1ull << 32, &error), ==, 0);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
}

static void
test_diffs (void)
{
  const float a[] = { 1.0f, 2.0f, -3.0f };
  const float b[] = { 1.0f, 2.5f, -3.0f };
  g_assert_cmpfloat_with_epsilon (attn_max_abs_diff (a, b, 3), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (attn_max_rel_diff (a, b, 3, 1e-6), 0.2,
                                  1e-7);
  const float nan_a[] = { NAN };
  const float zero[] = { 0.0f };
  g_assert_true (isinf (attn_max_abs_diff (nan_a, zero, 1)));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/tensor/block-layout", test_block_layout);
  g_test_add_func ("/attn/tensor/block-overflow", test_block_overflow);
  g_test_add_func ("/attn/tensor/numel-limit", test_numel_limit);
  g_test_add_func ("/attn/tensor/diffs", test_diffs);
  return g_test_run ();
}
