/* attn-bench.h: speed figures for `attnscope-cli bench`.
 *
 * The core never prints: these functions time and return figures; the CLI
 * formats them. Each time is the best of reps runs (wall clock,
 * g_get_monotonic_time), on however many threads OpenBLAS was given
 * (OPENBLAS_NUM_THREADS). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  int T, C, NH;
  double seconds; /* best of reps */
  double gflop;   /* work of one run, 1e9 floating-point operations */
  double gflops;  /* gflop / seconds */
} AttnBenchResult;

/* GFLOP/s of one n x n x n sgemm (2 n^3 operations), best of reps: the
 * ceiling every other figure is measured against. */
double attn_bench_sgemm_gflops (int n, int reps);

/* Self-attention forward (attn_mha_forward, B = 1, no mask, weights kept in
 * the (NH, T, T) activations) on deterministic random inputs. Counted work:
 * projections 4 * 2 T C^2, scores 2 T^2 C, weighted sum 2 T^2 C (the softmax
 * and biases are not counted). */
void attn_bench_mha_forward (int T, int C, int NH, int reps,
                             AttnBenchResult *out);

G_END_DECLS
