/* attn-gpt2.h: GPT-2 family models (gpt2, distilgpt2, gpt2-medium ...
 * gpt2-xl) read from Hugging Face files, run with every head's attention
 * kept.
 *
 * A model folder holds config.json and model.safetensors (F32, F16 or BF16
 * tensors; keys with or without the `transformer.` prefix; `lm_head.weight`
 * optional, the output layer being wte when the embeddings are tied, as
 * GPT-2's are) and the tokenizer files (attn-bpe.h). Weights are Conv1D
 * layout, stored (in, out): y = x @ W + b. F32 tensors are used in place in
 * the memory-mapped file (zero-copy where 4-byte aligned); the others are
 * converted on load.
 *
 * The forward pass (llama2.c's shape: config, read-only weights, run state)
 * keeps a key/value cache, so a prompt is fed once and each generated token
 * computes only its own position. Every layer's per-head causal attention
 * (L, NH, T, T) is written where the caller asks, typically straight into
 * an AttnTrace's decoder-self blocks (a decoder-only model's one stream is
 * the trace's target side). */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "core/attn-bpe.h"
#include "core/attn-dims.h"
#include "core/attn-safetensors.h"
#include "core/attn-trace.h"

G_BEGIN_DECLS

/* Limits on config.json's numbers, refused as BAD_MODEL_FILE above them
 * (gpt2-xl has L 48, C 1600, NH 25, V 50257, n_positions 1024). */
#define ATTN_GPT2_MAX_LAYERS 1024
#define ATTN_GPT2_MAX_EMBD 65536
#define ATTN_GPT2_MAX_VOCAB 10000000
#define ATTN_GPT2_MAX_POSITIONS 1048576

typedef struct {
  int L;          /* n_layer */
  int NH;         /* n_head; C % NH == 0 */
  int C;          /* n_embd */
  int F;          /* n_inner: the MLP's width, 4 C when null */
  int n_positions; /* longest sequence (prompt + generated) */
  int V;          /* vocab_size */
  float eps;      /* layer_norm_epsilon */
  gboolean tied;  /* tie_word_embeddings (default true): the output layer is
                   * wte, whatever lm_head.weight the file may hold */
  int eos_id;     /* eos_token_id, or -1 */
} AttnGpt2Config;

/* One block's weights, pointers into the mapping or into converted copies. */
typedef struct {
  const float *ln_1_w;     /* (C) */
  const float *ln_1_b;     /* (C) */
  const float *attn_w;     /* (C, 3 C): columns q | k | v, heads of HS each */
  const float *attn_b;     /* (3 C) */
  const float *attn_proj_w; /* (C, C) */
  const float *attn_proj_b; /* (C) */
  const float *ln_2_w;     /* (C) */
  const float *ln_2_b;     /* (C) */
  const float *fc_w;       /* (C, F) */
  const float *fc_b;       /* (F) */
  const float *mlp_proj_w; /* (F, C) */
  const float *mlp_proj_b; /* (C) */
} AttnGpt2Layer;

typedef struct {
  const float *wte;     /* (V, C) */
  const float *wpe;     /* (n_positions, C) */
  AttnGpt2Layer *h;     /* (L) */
  const float *ln_f_w;  /* (C) */
  const float *ln_f_b;  /* (C) */
  const float *lm_head; /* (V, C): wte when tied */
} AttnGpt2Weights;

typedef struct {
  char *name;         /* the folder's base name, e.g. "gpt2" */
  char *dir;          /* the folder */
  char *config_path;  /* its config.json */
  char *weights_path; /* its model.safetensors */
  AttnGpt2Config config;
  AttnGpt2Weights w;
  AttnBpe *bpe;       /* the folder's tokenizer, or NULL when it has none
                       * (then only attn_gpt2_run_ids works) */
  gsize n_params;     /* floats of the weights used (lm_head counted once
                       * when tied) */
  gsize bytes_mapped; /* of those, read in place from the file */
  gsize bytes_copied; /* converted (F16, BF16) or misaligned F32, copied */
  /*< private >*/
  AttnSafetensors *st;
  GArray *tensors;    /* of AttnSafetensorsF32, kept alive for w */
} AttnGpt2;

/* TRUE when path names a GPT-2 folder (or its config.json or
 * model.safetensors): a config.json beside it whose model_type is "gpt2",
 * or, lacking model_type, whose architectures name a GPT2 class. Reads only
 * config.json; never fails (FALSE for anything unreadable). */
gboolean attn_gpt2_detect (const char *path);

/* Opens a folder, its config.json or its model.safetensors. A missing file
 * is ATTN_ERROR_IO naming it; a config.json that is not GPT-2's, a member
 * missing, of the wrong type or out of range, a missing tensor or a tensor
 * of the wrong shape are ATTN_ERROR_BAD_MODEL_FILE naming the file and the
 * member or tensor; options GPT-2 checkpoints do not use
 * (scale_attn_by_inverse_layer_idx, no scale_attn_weights, cross-attention)
 * are ATTN_ERROR_UNSUPPORTED. The tokenizer is loaded when the folder has
 * one (a broken one is an error; none at all is not). */
AttnGpt2 *attn_gpt2_open (const char *path, GError **error);
/* config.json's checks on its len bytes of text in memory (a fuzzer's
 * input), name used in messages: the same errors as attn_gpt2_open gives
 * for the file. */
gboolean attn_gpt2_config_from_data (const char *json, gsize len,
                                     const char *name, AttnGpt2Config *config,
                                     GError **error);
void attn_gpt2_free (AttnGpt2 *model);

/* Bytes of a trace's attention for T tokens: L * NH * T * T * 4. */
guint64 attn_gpt2_trace_bytes (const AttnGpt2Config *config, int T);

/* ---- the forward pass, with a key/value cache ------------------------- */

/* What one sequence has consumed: every layer's keys and values so far,
 * and the scratch a feed needs. Capacity max_T <= n_positions. */
typedef struct {
  AttnGpt2 *model;
  int max_T;  /* positions the cache holds */
  int n;      /* positions consumed so far */
  float *k;   /* (L, max_T, C) keys, heads side by side */
  float *v;   /* (L, max_T, C) values */
  /*< private >*/
  float *x;   /* (max_T, C) the residual stream */
  float *a;   /* (max_T, C) layer-normed input of a sublayer */
  float *q;   /* (max_T, C) queries */
  float *ctx; /* (max_T, C) heads' outputs side by side */
  float *fc;  /* (max_T, F) the MLP's hidden layer */
  float *att; /* (NH, max_T) or (NH, max_T, max_T): scratch weights */
  gsize att_floats;
} AttnGpt2State;

/* A state for up to max_T positions (1 <= max_T <= n_positions), or NULL
 * with ATTN_ERROR_TOO_LARGE when its memory cannot be had. */
AttnGpt2State *attn_gpt2_state_new (AttnGpt2 *model, int max_T,
                                    GError **error);
void attn_gpt2_state_free (AttnGpt2State *state);
/* Forgets what was consumed (the cache is reused). */
void attn_gpt2_state_reset (AttnGpt2State *state);

/* Consumes n ids (each in [0, V); state->n + n <= max_T) at positions
 * p0 = state->n .. p0 + n - 1, then state->n = p0 + n.
 * att: NULL, or L pointers, att[l] an (NH, ld, ld) array (ld >= p0 + n):
 *   for each head and each new position p, row p receives the weights of
 *   query p over keys 0 .. p (the causal row; keys p + 1 .. p0 + n - 1 are
 *   written 0, columns from p0 + n on are not touched). Feeding a whole
 *   sequence at once with ld = n fills an (NH, n, n) block; feeding a
 *   prompt then one token at a time with ld = the final length fills the
 *   same block row by row.
 * hidden: NULL, or (n, C) receiving the new positions' final layer-normed
 *   states, which attn_gpt2_logits turns into logits.
 * cancellable is checked between layers: FALSE with ATTN_ERROR_CANCELLED
 * (the state is then unusable until reset). Otherwise TRUE. */
gboolean attn_gpt2_state_feed (AttnGpt2State *state, const int *ids, int n,
                               float *const *att, int ld, float *hidden,
                               GCancellable *cancellable, GError **error);

/* logits (n, V) = hidden (n, C) @ lm_head^T: one sgemm, so pass only the
 * rows needed (the last one for a prediction: the full output layer of a
 * long prompt costs more than the rest of the forward). */
void attn_gpt2_logits (const AttnGpt2 *model, const float *hidden, int n,
                       float *logits);

/* ---- prediction and generation ---------------------------------------- */

/* Where a run is, for a progress display. A run feeds its prompt through
 * the layers, then generates its tokens one at a time. */
typedef struct {
  int layers_done;  /* prompt layers fed, 0 .. n_layers */
  int n_layers;
  int generated;    /* tokens generated so far, 0 .. n_generate */
  int n_generate;   /* tokens asked for (the run may stop sooner at the
                     * end-of-text token) */
  double fraction;  /* of the run's work done, 0 .. 1, counting a prompt
                     * token through one layer and a generated token
                     * through one layer as the same work */
} AttnGpt2Progress;

/* Called in the thread running the model, after each prompt layer and
 * after each generated token; it may cancel the run's cancellable. */
typedef void (*AttnGpt2ProgressFunc) (const AttnGpt2Progress *progress,
                                      gpointer user_data);

typedef struct {
  int n_generate;    /* tokens to generate after the prompt; 0: none */
  float temperature; /* <= 0: greedy (argmax); else sample from
                      * softmax (logits / temperature) */
  int top_k;         /* sampling: only the top_k most probable (0: all) */
  float top_p;       /* sampling: only the smallest most-probable set whose
                      * probability reaches top_p (>= 1: all), as Hugging
                      * Face's top-p; applied after top_k */
  guint32 seed;      /* of the sampler; a run is deterministic given it */
  int n_top;         /* alternatives per step, 1 .. ATTN_STEP_MAX_TOP */
  guint64 max_trace_bytes; /* refuse a run whose attention would take more
                            * (attn_gpt2_trace_bytes); 0: no limit */
  gboolean ignore_eos; /* generate all n_generate tokens even past the
                        * end-of-text token (config eos_token_id); by
                        * default generation stops when it is chosen */
  GCancellable *cancellable; /* may be NULL */
  AttnGpt2ProgressFunc progress; /* may be NULL */
  gpointer progress_data;
} AttnGpt2RunOptions;

#define ATTN_GPT2_RUN_OPTIONS_INIT                                            \
  { .n_generate = 0, .temperature = 0.0f, .top_k = 0, .top_p = 1.0f,          \
    .seed = 0, .n_top = 5, .max_trace_bytes = 0, .ignore_eos = FALSE,         \
    .cancellable = NULL, .progress = NULL, .progress_data = NULL }

/* The next token chosen from logits (V) under options (greedy, or sampled
 * with rng after temperature, top_k and top_p). */
int attn_gpt2_choose (const float *logits, int V,
                      const AttnGpt2RunOptions *options, GRand *rng);

/* Runs the prompt ids (1 <= n; n + n_generate <= n_positions, else
 * ATTN_ERROR_BAD_TEXT naming the limit) and generates n_generate tokens
 * with the cache. The trace (architecture "gpt2") has:
 * - target tokens: the prompt then the generated tokens, their texts the
 *   tokenizer's display labels (without a tokenizer, "⟨id⟩"), spans into
 *   target_text, which is the decoded stream;
 * - one decoder-self block per layer, (NH, T, T) with T = n + n_generate:
 *   the prompt's rows from the prompt's forward, each generated position's
 *   row from its cached step;
 * - one step per position p = 0 .. T - 1: the token at p + 1 (for the last
 *   position, the model's next choice, never fed back) with the model's
 *   probability for it (softmax at temperature 1) and the n_top most
 *   probable tokens.
 * Unless options->ignore_eos, generation stops when the end-of-text token
 * (eos_id >= 0) is chosen: that choice is the last step's, never fed back,
 * and T = n + the tokens generated before it, possibly fewer than asked
 * (n alone when the prompt's last position chooses it).
 * A run above max_trace_bytes is ATTN_ERROR_TOO_LARGE with the figure in
 * MB; a cancelled one ATTN_ERROR_CANCELLED. */
AttnTrace *attn_gpt2_run_ids (AttnGpt2 *model, const int *ids, int n,
                              const AttnGpt2RunOptions *options,
                              GError **error);

/* attn_gpt2_run_ids on text encoded by the model's tokenizer; spans of the
 * prompt's tokens index text. ATTN_ERROR_UNSUPPORTED when the folder has no
 * tokenizer; ATTN_ERROR_BAD_TEXT for empty or invalid UTF-8 text. */
AttnTrace *attn_gpt2_run (AttnGpt2 *model, const char *text,
                          const AttnGpt2RunOptions *options, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnGpt2, attn_gpt2_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnGpt2State, attn_gpt2_state_free)

G_END_DECLS
