/* attn-model.h: a sequence model Attnscope can run (and, for the built-in
 * kinds, train), behind a small vtable.
 *
 * The built-in kinds are encoder-decoders over one shared character
 * vocabulary (attn-vocab.h):
 *   - ATTN_ARCH_TRANSFORMER: Vaswani et al.; core/attn-transformer.c
 *   - ATTN_ARCH_RNN: bidirectional GRU encoder, GRU decoder with Bahdanau or
 *     Luong attention; core/attn-rnn.c
 * Later kinds (GPT-2, ...) implement the same class.
 *
 * Sequences: a source is the text's characters followed by </s> (S tokens);
 * decoder inputs start with <s> (T tokens); decoder outputs are the inputs
 * shifted left, ending with </s>. Parameters live in one AttnTensorBlock
 * whose tensor names are the keys of the model file (safetensors), and the
 * gradients in a second block with the same specs, so the optimiser works
 * on two flat arrays. */
#pragma once

#include <glib.h>

#include "core/attn-dims.h"
#include "core/attn-tensor.h"
#include "core/attn-trace.h"
#include "core/attn-vocab.h"

G_BEGIN_DECLS

typedef enum {
  ATTN_ARCH_TRANSFORMER, /* "transformer" */
  ATTN_ARCH_RNN,         /* "rnn" */
} AttnArch;

/* Everything that fixes a model's shapes; stored as JSON under the
 * `attnscope.config` metadata key (attn_model_config_to_json). Members that
 * an architecture does not use are 0. */
typedef struct {
  AttnArch arch;
  int V;       /* vocabulary size, specials included */
  int max_len; /* longest source and longest decoder sequence, in tokens,
                * <s> / </s> included */
  /* transformer */
  int C;       /* d_model */
  int NH;      /* heads; C % NH == 0 */
  int L_enc;   /* encoder layers */
  int L_dec;   /* decoder layers */
  int F;       /* feed-forward width d_ff */
  gboolean pre_norm; /* LayerNorm before each sublayer (else after, as the
                      * paper) */
  /* rnn */
  int E;       /* embedding width */
  int H;       /* GRU hidden width (per direction in the encoder; the
                * decoder has H too) */
  int A;       /* hidden width of additive / concat scores and local-p's
                * position network */
  AttnMechanism attention; /* ADDITIVE, LUONG_DOT, _GENERAL, _CONCAT,
                            * _LOCAL_P */
  int D;       /* local-p window half-width */
  /* both */
  float dropout; /* training only */
} AttnModelConfig;

const char *attn_arch_to_string (AttnArch arch);
gboolean attn_arch_from_string (const char *str, AttnArch *arch);
/* Checks every member: ranges, divisibility, known enums, and that members
 * the architecture does not use are 0 (docs/model-format.md lists the
 * limits). ATTN_ERROR_INVALID_ARGUMENT naming the member. */
gboolean attn_model_config_validate (const AttnModelConfig *config,
                                     GError **error);
/* The JSON object of docs/model-format.md: the architecture's members only. */
char *attn_model_config_to_json (const AttnModelConfig *config);
/* Validates every member (attn_model_config_validate), refusing unknown and
 * missing members; ATTN_ERROR_INVALID_ARGUMENT naming the member. */
gboolean attn_model_config_from_json (const char *json,
                                      AttnModelConfig *config,
                                      GError **error);

/* A padded batch for teacher-forced training. */
typedef struct {
  int B, S, T;
  int *src;     /* (B, S) source ids, ATTN_VOCAB_PAD after each </s> */
  int *tgt_in;  /* (B, T) decoder inputs, <s> first, PAD after the end */
  int *tgt_out; /* (B, T) next tokens, -1 where no loss is taken */
} AttnBatch;

typedef struct _AttnModel AttnModel;

/* One hypothesis's decoder part-way through an output, for incremental
 * decoding (attn_decode_state_new). A class's state begins with this
 * struct and adds what it caches. */
typedef struct {
  AttnModel *model;
  int S;        /* source tokens */
  int n_inputs; /* decoder inputs consumed so far, <s> included */
} AttnDecodeState;

typedef struct {
  AttnArch arch;
  /* The tensors of a model of this config (names, shapes), into *n: a new
   * array the caller frees with g_free; the names are static or interned
   * (g_intern_string) and are not freed. */
  AttnTensorSpec *(*param_specs) (const AttnModelConfig *config, guint *n);
  /* Initialises model->params from rng (fresh model), deterministically.
   * Not called for a loaded model: model->priv starts NULL and the class
   * creates its workspace on first use (forward, loss_and_grad). */
  void (*init_params) (AttnModel *model, GRand *rng);
  /* Teacher-forced forward of ONE example: src (S), tgt (T) decoder inputs;
   * logits (T, V). When trace is non-NULL, adds every attention block of
   * the run to it (attn_trace_add_block; its tokens are already there):
   * transformer: encoder-self, decoder-self and cross for each layer, NH
   * heads; rnn: one cross block, layer 0, one head, rows = decoding steps,
   * normalised FALSE for local-p. No dropout. */
  void (*forward) (AttnModel *model, const int *src, int S, const int *tgt,
                   int T, float *logits, AttnTrace *trace);
  /* Teacher-forced mean token loss over the batch (label smoothing eps in
   * [0, 1)), gradients ACCUMULATED into model->grads; dropout from rng when
   * training. The accuracy of argmax predictions over counted tokens goes
   * to *token_acc when non-NULL. */
  float (*loss_and_grad) (AttnModel *model, const AttnBatch *batch,
                          float label_smoothing, GRand *rng,
                          float *token_acc);
  /* Frees model->priv (which may still be NULL). */
  void (*finalize) (AttnModel *model);
  /* Incremental decoding, optional: all four or none (without them the
   * decoders run forward on the whole prefix at every step). encode: a
   * state for src (S) that has consumed nothing, holding the source's
   * encoding, computed once; step: consumes one decoder input and writes
   * logits (V) for the next token, computing the new position only;
   * state_copy: an independent copy of what the class added (the header
   * is copied by attn_decode_state_copy); state_free. Contracts as
   * attn_decode_state_new and friends. */
  AttnDecodeState *(*encode) (AttnModel *model, const int *src, int S);
  void (*step) (AttnDecodeState *state, int token, float *logits);
  AttnDecodeState *(*state_copy) (const AttnDecodeState *state);
  void (*state_free) (AttnDecodeState *state);
} AttnModelClass;

struct _AttnModel {
  const AttnModelClass *klass;
  char *name;              /* e.g. "dates-transformer" */
  AttnModelConfig config;
  AttnVocab *vocab;
  AttnTensorBlock *params; /* every trainable tensor */
  AttnTensorBlock *grads;  /* same specs; NULL until training starts */
  char *card_json;         /* `attnscope.card`: task, architecture, attention,
                            * training command, seed, steps, accuracy; or NULL */
  gpointer priv;           /* the architecture's workspace */
};

/* A fresh model with initialised weights (takes ownership of vocab). */
AttnModel *attn_model_new (const char *name, const AttnModelConfig *config,
                           AttnVocab *vocab, guint32 seed, GError **error);
void attn_model_free (AttnModel *model);
/* Allocates model->grads (zeroed) if absent. */
gboolean attn_model_enable_training (AttnModel *model, GError **error);

/* Model files: safetensors with `attnscope.format_version` ("1"),
 * `attnscope.config`, `attnscope.vocab`, `attnscope.card` (docs/model-format.md).
 * Written whole or not at all. Loading checks every tensor's presence and
 * shape against the config (ATTN_ERROR_BAD_MODEL_FILE naming the file). */
gboolean attn_model_save (AttnModel *model, const char *path, GError **error);
AttnModel *attn_model_load (const char *path, GError **error);
/* The same from a whole model file already in memory (a GResource, a
 * fuzzer's input); name is used in messages and, without a card name, as
 * the model's name (its basename less ".safetensors"). Keeps no reference
 * to bytes once it returns. */
AttnModel *attn_model_load_from_bytes (GBytes *bytes, const char *name,
                                       GError **error);

typedef struct {
  int beam_width; /* 1 = greedy; at most ATTN_MAX_BEAM_WIDTH */
  int max_steps;  /* tokens emitted at most, </s> included; 0 =
                   * config.max_len - 1 (the most the decoder can take) */
  int top_k;      /* alternatives kept per step (<= ATTN_STEP_MAX_TOP); 5 */
  gboolean length_normalise; /* beam search ranks hypotheses by their mean
                              * token log-probability (sum / tokens emitted)
                              * instead of the sum, which favours short
                              * outputs */
  gboolean recompute_prefix; /* decode by running forward on <s> + the whole
                              * prefix at every step even when the class
                              * decodes incrementally: the slow reference
                              * that tests and benchmarks hold the
                              * incremental decoder to */
} AttnRunOptions;

#define ATTN_RUN_OPTIONS_INIT { 1, 0, 5, FALSE, FALSE }
#define ATTN_MAX_BEAM_WIDTH 64

/* Encodes text, decodes (greedy or beam), then runs one teacher-forced
 * forward on the chosen output to fill the trace: tokens of both sides with
 * spans, every attention block, one step per emitted token with its
 * probability and top-k alternatives. Characters outside the vocabulary are
 * replaced by <unk> and listed in *unknown (may be NULL; as
 * attn_vocab_encode); text longer than the model's max_len is refused with
 * ATTN_ERROR_BAD_TEXT naming the limit. */
AttnTrace *attn_model_run (AttnModel *model, const char *text,
                           const AttnRunOptions *options, GPtrArray *unknown,
                           GError **error);
/* Just the output text (greedy), for evaluation. */
char *attn_model_translate (AttnModel *model, const char *text,
                            GError **error);

/* One hypothesis left at the end of a beam search, for drawing the beam
 * tree: hypotheses that share a prefix share a path. */
typedef struct {
  int n_tokens;
  int *tokens;       /* (n_tokens) emitted ids, ending with </s> when
                      * finished */
  float *log_probs;  /* (n_tokens) log-probability of each emitted token */
  double log_prob;   /* their sum */
  double score;      /* what the beam ranked by: log_prob, or
                      * log_prob / n_tokens with length_normalise */
  gboolean finished; /* ended with </s> (else cut off at max_steps) */
  int n_top;         /* alternatives kept per step (options->top_k) */
  int *top_ids;      /* (n_tokens, n_top) most probable first */
  float *top_probs;  /* (n_tokens, n_top) */
  int n_layers;      /* cross-attention layers: transformer L_dec, rnn 1 */
  int n_heads;       /* transformer NH, rnn 1 */
  int S;             /* source tokens, </s> included */
  float *cross;      /* (n_tokens, n_layers, n_heads, S): for each emitted
                      * token, the cross-attention row of the query that
                      * emitted it (rows of local-p are not normalised) */
} AttnHypothesis;

void attn_hypothesis_free (AttnHypothesis *hyp);

/* Beam search over src (S ids, the text's then </s>, S <= max_len), with
 * options->beam_width beams (1 is greedy): each step extends every
 * unfinished hypothesis by each token, keeps the beam_width best of those
 * and of the finished ones, and stops when all kept are finished or after
 * max_steps. Returns those hypotheses (fewer only when V is smaller than the
 * width), best first, equal scores in the order the search met them: a
 * GPtrArray of AttnHypothesis that frees them. Bad options are
 * ATTN_ERROR_INVALID_ARGUMENT. */
GPtrArray *attn_model_beam_search (AttnModel *model, const int *src, int S,
                                   const AttnRunOptions *options,
                                   GError **error);

/* Incremental decoding: the source is encoded once, then each step feeds
 * one decoder input and computes only the new position (the Transformer
 * keeps every decoder layer's self-attention keys and values and the
 * cross-attention keys and values of the source; the RNN its GRU state,
 * input-feeding vector and last context).
 *
 * A state for src (S ids, as attn_model_beam_search takes them) that has
 * consumed nothing, or NULL when the model's class has no incremental
 * decoder. The model must outlive it (and its copies), whose steps share
 * scratch with it: step them from one thread at a time. */
AttnDecodeState *attn_decode_state_new (AttnModel *model, const int *src,
                                        int S);
/* Consumes decoder input token (the first input is <s>; at most max_len
 * inputs in all) and writes logits (V) for the next token: the last row of
 * what forward gives on the src and every input consumed so far (equal
 * up to float rounding). */
void attn_decode_state_step (AttnDecodeState *state, int token,
                             float *logits);
/* An independent copy: stepping either leaves the other as it was (beam
 * search forks hypotheses this way). */
AttnDecodeState *attn_decode_state_copy (const AttnDecodeState *state);
void attn_decode_state_free (AttnDecodeState *state);

/* The classes, for attn_model_new / attn_model_load dispatch. */
extern const AttnModelClass attn_transformer_class;
extern const AttnModelClass attn_rnn_class;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnModel, attn_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnHypothesis, attn_hypothesis_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnDecodeState, attn_decode_state_free)

G_END_DECLS
