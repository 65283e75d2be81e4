/* test-bench.c: the benchmark functions run and return sane figures.
 *
 * No timing is asserted (the CPU is shared); only that the figures are
 * positive, finite and consistent with the documented FLOP count. */
#include <math.h>

#include "core/attn-bench.h"

static void
test_sgemm (void)
{
  double gflops = attn_bench_sgemm_gflops (64, 2);
  g_assert_true (isfinite (gflops));
  g_assert_cmpfloat (gflops, >, 0.0);
}

static void
test_mha_forward (void)
{
  AttnBenchResult r = { 0 };
  attn_bench_mha_forward (16, 32, 4, 2, &r);
  g_assert_cmpint (r.T, ==, 16);
  g_assert_cmpint (r.C, ==, 32);
  g_assert_cmpint (r.NH, ==, 4);
  /* 4 * 2 T C^2 + 2 * 2 T^2 C = 131072 + 32768 */
  g_assert_cmpfloat_with_epsilon (r.gflop, 163840e-9, 1e-15);
  g_assert_true (isfinite (r.seconds) && r.seconds > 0.0);
  g_assert_cmpfloat_with_epsilon (r.gflops, r.gflop / r.seconds, 1e-9);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/bench/sgemm", test_sgemm);
  g_test_add_func ("/attn/bench/mha-forward", test_mha_forward);
  return g_test_run ();
}
