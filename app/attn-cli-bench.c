/* attn-cli-bench.c: the bench subcommand, a table of figures from
 * core/attn-bench. The table's layout is part of docs/cli.md: scripts and
 * tests read it. */
#include "app/attn-cli.h"

#include <cblas.h>

#include "core/attn-bench.h"

gboolean
attn_cli_bench (const AttnCliOptions *o, FILE *out, GError **error)
{
  if (o->threads > 0)
    openblas_set_num_threads (o->threads);
  int threads = openblas_get_num_threads ();

  double ceiling = attn_bench_sgemm_gflops (o->sgemm_n, o->reps);
  fprintf (out,
           "sgemm ceiling: %.1f GFLOP/s (n = %d, %d thread%s, best of %d)\n",
           ceiling, o->sgemm_n, threads, threads == 1 ? "" : "s", o->reps);
  fprintf (out,
           "multi-head attention forward: C = %d, NH = %d, B = 1, weights "
           "kept, best of %d\n",
           o->dim, o->heads, o->reps);
  fprintf (out, "%6s %12s %12s %10s %9s\n", "T", "seconds", "GFLOP",
           "GFLOP/s", "ceiling");
  for (guint i = 0; i < o->n_seq; i++)
    {
      AttnBenchResult r = { 0 };
      attn_bench_mha_forward (o->seq[i], o->dim, o->heads, o->reps, &r);
      fprintf (out, "%6d %12.6g %12.6g %10.2f %8.1f%%\n", r.T, r.seconds,
               r.gflop, r.gflops, ceiling > 0 ? 100.0 * r.gflops / ceiling
                                              : 0.0);
    }
  return TRUE;
}
