/* attn-rnn.c: the RNN encoder-decoder with attention (ATTN_ARCH_RNN), an
 * AttnModelClass (attn-model.h).
 *
 * The model, for a source x_1 .. x_S (ending with </s>) and decoder inputs
 * y_0 = <s>, y_1 .. y_{T-1}:
 *
 *   encoder   e_s = Emb (x_s); [f_s | b_s] = BiGRU (e) (torch.nn.GRU,
 *             bidirectional, H per direction), outputs (S, 2H)
 *   memory    m_s = W_m [f_s | b_s]                          (S, H)
 *   bridge    h_0 = tanh (W_b [f_S | b_1] + b_b), the two final states
 *
 * The memory is both the keys and the values of the attention. It projects
 * the 2H-wide encoder outputs to the decoder's width H, so every score kind
 * (Luong dot included) compares vectors of one width and every context is H
 * wide; the decoder stays H wide as config.H says.
 *
 * Bahdanau et al. (2015), config.attention = ATTN_MECHANISM_ADDITIVE: the
 * previous state asks, the context feeds the GRU:
 *   a_t = softmax_s (v^T tanh (W_q h_{t-1} + W_k m_s + b)),  c_t = a_t m
 *   h_t = GRUCell ([Emb (y_{t-1}); c_t], h_{t-1})
 *   logits_t = W_o [h_t; c_t] + b_o        (output width F = 2H)
 *
 * Luong et al. (2015), LUONG_DOT / _GENERAL / _CONCAT / _LOCAL_P: the new
 * state asks, with input feeding of the attentional state:
 *   h_t = GRUCell ([Emb (y_{t-1}); h~_{t-1}], h_{t-1}),  h~_0 = 0
 *   a_t = align (h_t, m),  c_t = a_t m
 *   h~_t = tanh (W_c [c_t; h_t])            (no bias, as the paper)
 *   logits_t = W_o h~_t + b_o               (F = H)
 * with the scores of attn-attention.h: dot h^T m_s, general h^T W m_s,
 * concat v^T tanh (W_c' [h; m_s]). Local-p (eq. 9-10) predicts
 * p_t = S sigmoid (v_p^T tanh (W_p h_t)) and scores the window
 * |s - p_t| <= D with the general score; its weights are the window's
 * softmax times a Gaussian (sigma = D / 2), NOT renormalised, so its trace
 * block is marked normalised = FALSE.
 *
 * Padding: a sequence's length is where its first <pad> is (sources) or
 * one past its last counted target (targets). Each sequence runs at its own
 * length, so padded keys are never scored (their weight is exactly 0),
 * local-p's S is the true source length, and a batch row computes exactly
 * what forward computes for it alone.
 *
 * Dropout (config.dropout, training only): on the embedded source and
 * decoder inputs and on the input of the output layer.
 *
 * Parameters, named as the tensors of the model file (torch's layouts:
 * Linear (OC, C), GRU gate rows r, z, n):
 *   embedding.weight                    (V, E)   shared by both sides
 *   encoder.weight_ih_l0[_reverse]      (3H, E)  torch.nn.GRU (bidirectional)
 *   encoder.weight_hh_l0[_reverse]      (3H, H)
 *   encoder.bias_ih_l0[_reverse]        (3H)
 *   encoder.bias_hh_l0[_reverse]        (3H)
 *   memory.weight                       (H, 2H)  W_m
 *   bridge.weight, bridge.bias          (H, 2H), (H)
 *   decoder.weight_ih                   (3H, E + H)  torch.nn.GRUCell
 *   decoder.weight_hh                   (3H, H)
 *   decoder.bias_ih, decoder.bias_hh    (3H)
 *   attention.w_q, .w_k, .b, .v         (A, H), (A, H), (A), (A)  additive
 *   attention.w                         (H, H)   general, local-p
 *   attention.w_c, attention.v          (A, 2H), (A)  concat
 *   attention.w_p, attention.v_p        (A, H), (A)   local-p
 *   attentional.weight                  (H, 2H)  Luong's W_c
 *   out.weight, out.bias                (V, F), (V)
 */
#include "core/attn-model.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/attn-attention.h"
#include "core/attn-check.h"
#include "core/attn-gru.h"
#include "core/attn-kernels.h"

/* ---- parameters ------------------------------------------------------- */

/* Views of the parameters (or of gradients with the same layout). Members a
 * mechanism does not have are NULL. */
typedef struct {
  float *embedding;     /* (V, E) */
  AttnGruParams enc[2]; /* forward, reverse: (3H, E), (3H, H), (3H), (3H) */
  float *memory_w;      /* (H, 2H) */
  float *bridge_w;      /* (H, 2H) */
  float *bridge_b;      /* (H) */
  AttnGruParams dec;    /* (3H, E + H), (3H, H), (3H), (3H) */
  AttnLocalParams att;  /* score members as the kind needs; w_p (A, H),
                         * v_p (A) */
  float *attentional_w; /* (H, 2H) */
  float *out_w;         /* (V, F) */
  float *out_b;         /* (V) */
} RnnWeights;

typedef enum { DIM_1, DIM_V, DIM_E, DIM_H, DIM_2H, DIM_3H, DIM_EH, DIM_A,
               DIM_F } DimCode;

typedef enum {
  INIT_GRU,    /* uniform (-1/sqrt (H), 1/sqrt (H)), as torch.nn.GRU */
  INIT_XAVIER, /* uniform, bound sqrt (6 / (fan_in + fan_out)) */
  INIT_ZERO,
} InitKind;

#define MECH(m) (1u << ATTN_MECHANISM_##m)
#define LUONG                                                              \
  (MECH (LUONG_DOT) | MECH (LUONG_GENERAL) | MECH (LUONG_CONCAT)           \
   | MECH (LUONG_LOCAL_P))
#define ANY (MECH (ADDITIVE) | LUONG)

typedef struct {
  const char *name;
  guint mechanisms; /* bit set of the AttnMechanism values that have it */
  gsize offset;     /* of its float * in RnnWeights */
  int ndim;
  DimCode dims[2];
  InitKind init;
} ParamInfo;

#define W(field) offsetof (RnnWeights, field)

static const ParamInfo param_table[] = {
  { "embedding.weight", ANY, W (embedding), 2, { DIM_V, DIM_E }, INIT_XAVIER },
  { "encoder.weight_ih_l0", ANY, W (enc[0].weight_ih), 2, { DIM_3H, DIM_E },
    INIT_GRU },
  { "encoder.weight_hh_l0", ANY, W (enc[0].weight_hh), 2, { DIM_3H, DIM_H },
    INIT_GRU },
  { "encoder.bias_ih_l0", ANY, W (enc[0].bias_ih), 1, { DIM_3H }, INIT_GRU },
  { "encoder.bias_hh_l0", ANY, W (enc[0].bias_hh), 1, { DIM_3H }, INIT_GRU },
  { "encoder.weight_ih_l0_reverse", ANY, W (enc[1].weight_ih), 2,
    { DIM_3H, DIM_E }, INIT_GRU },
  { "encoder.weight_hh_l0_reverse", ANY, W (enc[1].weight_hh), 2,
    { DIM_3H, DIM_H }, INIT_GRU },
  { "encoder.bias_ih_l0_reverse", ANY, W (enc[1].bias_ih), 1, { DIM_3H },
    INIT_GRU },
  { "encoder.bias_hh_l0_reverse", ANY, W (enc[1].bias_hh), 1, { DIM_3H },
    INIT_GRU },
  { "memory.weight", ANY, W (memory_w), 2, { DIM_H, DIM_2H }, INIT_XAVIER },
  { "bridge.weight", ANY, W (bridge_w), 2, { DIM_H, DIM_2H }, INIT_XAVIER },
  { "bridge.bias", ANY, W (bridge_b), 1, { DIM_H }, INIT_ZERO },
  { "decoder.weight_ih", ANY, W (dec.weight_ih), 2, { DIM_3H, DIM_EH },
    INIT_GRU },
  { "decoder.weight_hh", ANY, W (dec.weight_hh), 2, { DIM_3H, DIM_H },
    INIT_GRU },
  { "decoder.bias_ih", ANY, W (dec.bias_ih), 1, { DIM_3H }, INIT_GRU },
  { "decoder.bias_hh", ANY, W (dec.bias_hh), 1, { DIM_3H }, INIT_GRU },
  { "attention.w_q", MECH (ADDITIVE), W (att.score.w_q), 2, { DIM_A, DIM_H },
    INIT_XAVIER },
  { "attention.w_k", MECH (ADDITIVE), W (att.score.w_k), 2, { DIM_A, DIM_H },
    INIT_XAVIER },
  { "attention.b", MECH (ADDITIVE), W (att.score.b), 1, { DIM_A },
    INIT_ZERO },
  { "attention.w", MECH (LUONG_GENERAL) | MECH (LUONG_LOCAL_P),
    W (att.score.w), 2, { DIM_H, DIM_H }, INIT_XAVIER },
  { "attention.w_c", MECH (LUONG_CONCAT), W (att.score.w_c), 2,
    { DIM_A, DIM_2H }, INIT_XAVIER },
  /* v acts as a Linear (A -> 1): (1, A) for Xavier's fans. */
  { "attention.v", MECH (ADDITIVE) | MECH (LUONG_CONCAT), W (att.score.v), 1,
    { DIM_A }, INIT_XAVIER },
  { "attention.w_p", MECH (LUONG_LOCAL_P), W (att.w_p), 2, { DIM_A, DIM_H },
    INIT_XAVIER },
  { "attention.v_p", MECH (LUONG_LOCAL_P), W (att.v_p), 1, { DIM_A },
    INIT_XAVIER },
  { "attentional.weight", LUONG, W (attentional_w), 2, { DIM_H, DIM_2H },
    INIT_XAVIER },
  { "out.weight", ANY, W (out_w), 2, { DIM_V, DIM_F }, INIT_XAVIER },
  { "out.bias", ANY, W (out_b), 1, { DIM_V }, INIT_ZERO },
};

#undef W

static gboolean
is_additive (const AttnModelConfig *c)
{
  return c->attention == ATTN_MECHANISM_ADDITIVE;
}

/* The width of the output layer's input: [h_t; c_t] or h~_t. */
static int
out_width (const AttnModelConfig *c)
{
  return is_additive (c) ? 2 * c->H : c->H;
}

static void
check_config (const AttnModelConfig *c)
{
  attn_check (c->arch == ATTN_ARCH_RNN);
  attn_check (c->V > ATTN_VOCAB_N_SPECIAL && c->E > 0 && c->H > 0);
  attn_check (c->attention == ATTN_MECHANISM_ADDITIVE
              || c->attention == ATTN_MECHANISM_LUONG_DOT
              || c->attention == ATTN_MECHANISM_LUONG_GENERAL
              || c->attention == ATTN_MECHANISM_LUONG_CONCAT
              || c->attention == ATTN_MECHANISM_LUONG_LOCAL_P);
  if (c->attention != ATTN_MECHANISM_LUONG_DOT
      && c->attention != ATTN_MECHANISM_LUONG_GENERAL)
    attn_check (c->A > 0);
  if (c->attention == ATTN_MECHANISM_LUONG_LOCAL_P)
    attn_check (c->D >= 1);
  attn_check (c->dropout >= 0.0f && c->dropout < 1.0f);
}

static gsize
dim_value (DimCode code, const AttnModelConfig *c)
{
  switch (code)
    {
    case DIM_1:
      return 1;
    case DIM_V:
      return c->V;
    case DIM_E:
      return c->E;
    case DIM_H:
      return c->H;
    case DIM_2H:
      return 2 * (gsize) c->H;
    case DIM_3H:
      return 3 * (gsize) c->H;
    case DIM_EH:
      return (gsize) c->E + c->H;
    case DIM_A:
      return c->A;
    case DIM_F:
      return out_width (c);
    default:
      attn_check (!"unknown DimCode");
      return 0;
    }
}

static gboolean
param_present (const ParamInfo *info, const AttnModelConfig *c)
{
  return (info->mechanisms & (1u << c->attention)) != 0;
}

static AttnTensorSpec *
rnn_param_specs (const AttnModelConfig *config, guint *n)
{
  check_config (config);
  AttnTensorSpec *specs = g_new0 (AttnTensorSpec, G_N_ELEMENTS (param_table));
  guint k = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (param_table); i++)
    {
      const ParamInfo *info = &param_table[i];
      if (!param_present (info, config))
        continue;
      specs[k].name = info->name;
      specs[k].ndim = info->ndim;
      for (int d = 0; d < info->ndim; d++)
        specs[k].shape[d] = dim_value (info->dims[d], config);
      k++;
    }
  *n = k;
  return specs;
}

/* Points w's members into block (params or grads), checking each tensor's
 * shape against the config. */
static void
weights_bind (RnnWeights *w, AttnTensorBlock *block,
              const AttnModelConfig *config)
{
  memset (w, 0, sizeof *w);
  for (gsize i = 0; i < G_N_ELEMENTS (param_table); i++)
    {
      const ParamInfo *info = &param_table[i];
      if (!param_present (info, config))
        continue;
      AttnTensor *t = attn_tensor_block_lookup (block, info->name);
      attn_check (t != NULL && t->ndim == info->ndim);
      for (int d = 0; d < info->ndim; d++)
        attn_check (t->shape[d] == dim_value (info->dims[d], config));
      *(float **) ((char *) w + info->offset) = t->data;
    }
}

static void
rnn_init_params (AttnModel *model, GRand *rng)
{
  const AttnModelConfig *c = &model->config;
  check_config (c);
  /* In table order, so that a seed always gives the same weights. */
  for (gsize i = 0; i < G_N_ELEMENTS (param_table); i++)
    {
      const ParamInfo *info = &param_table[i];
      if (!param_present (info, c))
        continue;
      AttnTensor *t = attn_tensor_block_lookup (model->params, info->name);
      attn_check (t != NULL);
      double bound = 0.0;
      switch (info->init)
        {
        case INIT_GRU:
          bound = 1.0 / sqrt ((double) c->H);
          break;
        case INIT_XAVIER:
          {
            /* A vector is a Linear (n -> 1); a matrix is (fan_out, fan_in). */
            double fan_out = info->ndim == 2 ? (double) t->shape[0] : 1.0;
            double fan_in = (double) t->shape[info->ndim - 1];
            bound = sqrt (6.0 / (fan_in + fan_out));
            break;
          }
        case INIT_ZERO:
          break;
        }
      for (gsize j = 0; j < t->numel; j++)
        t->data[j] = bound == 0.0
                       ? 0.0f
                       : (float) g_rand_double_range (rng, -bound, bound);
    }
}

/* ---- one sequence ----------------------------------------------------- */

/* The activations of one sequence, kept from its forward for its backward,
 * and its gradient scratch. Sized for up to cap_S source and cap_T target
 * positions; S and T are the lengths of the last forward. */
typedef struct {
  int cap_S, cap_T;
  int S, T;
  gboolean dropout;   /* masks below were drawn */
  AttnTensorBlock *block;
  float *src_emb;     /* (S, E) embedded source, after dropout */
  float *src_mask;    /* (S, E) dropout factors */
  float *enc;         /* (S, 2H) encoder outputs [forward | reverse] */
  float *enc_hn;      /* (2, H) final states, read as one (2H) row */
  float *mem;         /* (S, H) memory: keys and values */
  float *h0_pre;      /* (H) bridge before tanh */
  float *x;           /* (T, E + H) decoder inputs [Emb (y_{t-1}); c_t or
                       * h~_{t-1}] */
  float *x_mask;      /* (T, E) dropout factors of the embedding part */
  float *h;           /* (T + 1, H) decoder states, h[0] from the bridge */
  float *saved;       /* (T, 4H) GRU cell saved */
  float *ctx;         /* (T, H) contexts */
  float *cat;         /* (T, 2H) Luong: [c_t; h_t] */
  float *ht;          /* (T, H) Luong: attentional states h~_t */
  float *work;        /* (6H) GRU cell scratch */
  float *dh;          /* (T + 1, H) gradients of h */
  float *dht;         /* (T, H) gradients of h~ */
  float *dx;          /* (E + H) gradient of one decoder input */
  float *dctx;        /* (H) */
  float *dpre;        /* (H) gradient before a tanh */
  float *dcat;        /* (2H) */
  float *dmem;        /* (S, H) */
  float *denc;        /* (S, 2H) */
  float *denc_hn;     /* (2H) */
  float *dsrc_emb;    /* (S, E) */
  AttnGruActs *gru[2];
  gpointer *acts;     /* (cap_T) AttnScoreActs * or AttnLocalActs * */
  int acts_S;         /* the key count the acts were made for, 0: none */
} RnnSeq;

static void
seq_free_acts (RnnSeq *q, gboolean local)
{
  for (int t = 0; t < q->cap_T; t++)
    {
      if (local)
        g_clear_pointer (&q->acts[t], attn_local_acts_free);
      else
        g_clear_pointer (&q->acts[t], attn_score_acts_free);
    }
  q->acts_S = 0;
}

static void
seq_free (RnnSeq *q, gboolean local)
{
  if (q == NULL)
    return;
  if (q->acts != NULL)
    seq_free_acts (q, local);
  g_free (q->acts);
  attn_gru_acts_free (q->gru[0]);
  attn_gru_acts_free (q->gru[1]);
  attn_tensor_block_free (q->block);
  g_free (q);
}

static RnnSeq *
seq_new (const AttnModelConfig *c, int cap_S, int cap_T)
{
  const gsize S = cap_S, T = cap_T, E = c->E, H = c->H;
  const AttnTensorSpec specs[] = {
    { "src_emb", 2, { S, E } },     { "src_mask", 2, { S, E } },
    { "enc", 2, { S, 2 * H } },     { "enc_hn", 2, { 2, H } },
    { "mem", 2, { S, H } },         { "h0_pre", 1, { H } },
    { "x", 2, { T, E + H } },       { "x_mask", 2, { T, E } },
    { "h", 2, { T + 1, H } },       { "saved", 2, { T, 4 * H } },
    { "ctx", 2, { T, H } },         { "cat", 2, { T, 2 * H } },
    { "ht", 2, { T, H } },          { "work", 1, { 6 * H } },
    { "dh", 2, { T + 1, H } },      { "dht", 2, { T, H } },
    { "dx", 1, { E + H } },         { "dctx", 1, { H } },
    { "dpre", 1, { H } },           { "dcat", 1, { 2 * H } },
    { "dmem", 2, { S, H } },        { "denc", 2, { S, 2 * H } },
    { "denc_hn", 1, { 2 * H } },    { "dsrc_emb", 2, { S, E } },
  };
  g_autoptr (GError) error = NULL;
  RnnSeq *q = g_new0 (RnnSeq, 1);
  q->cap_S = cap_S;
  q->cap_T = cap_T;
  q->block = attn_tensor_block_new (specs, G_N_ELEMENTS (specs), &error);
  attn_check (q->block != NULL);
  float **slots[] = {
    &q->src_emb, &q->src_mask, &q->enc, &q->enc_hn, &q->mem, &q->h0_pre,
    &q->x, &q->x_mask, &q->h, &q->saved, &q->ctx, &q->cat, &q->ht, &q->work,
    &q->dh, &q->dht, &q->dx, &q->dctx, &q->dpre, &q->dcat, &q->dmem,
    &q->denc, &q->denc_hn, &q->dsrc_emb,
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (slots) == G_N_ELEMENTS (specs));
  for (gsize i = 0; i < G_N_ELEMENTS (slots); i++)
    *slots[i] = q->block->tensors[i].data;
  q->gru[0] = attn_gru_acts_new (cap_S, c->H, &error);
  attn_check (q->gru[0] != NULL);
  q->gru[1] = attn_gru_acts_new (cap_S, c->H, &error);
  attn_check (q->gru[1] != NULL);
  q->acts = g_new0 (gpointer, cap_T);
  return q;
}

static gboolean
is_local (const AttnModelConfig *c)
{
  return c->attention == ATTN_MECHANISM_LUONG_LOCAL_P;
}

static AttnScoreKind
score_kind (const AttnModelConfig *c)
{
  switch (c->attention)
    {
    case ATTN_MECHANISM_ADDITIVE:
      return ATTN_SCORE_ADDITIVE;
    case ATTN_MECHANISM_LUONG_DOT:
      return ATTN_SCORE_DOT;
    case ATTN_MECHANISM_LUONG_CONCAT:
      return ATTN_SCORE_CONCAT;
    case ATTN_MECHANISM_LUONG_GENERAL:
    case ATTN_MECHANISM_LUONG_LOCAL_P: /* local-p aligns with general */
      return ATTN_SCORE_GENERAL;
    default:
      attn_check (!"not an RNN attention mechanism");
      return ATTN_SCORE_DOT;
    }
}

/* The weights of step t's attention (1, S). */
static const float *
seq_att_row (const RnnSeq *q, const AttnModelConfig *c, int t)
{
  if (is_local (c))
    return ((const AttnLocalActs *) q->acts[t])->att;
  return ((const AttnScoreActs *) q->acts[t])->att;
}

/* The activations of one query's attention over S keys: AttnLocalActs
 * for local-p, else AttnScoreActs. */
static gpointer
attend_acts_new (const AttnModelConfig *c, int S)
{
  const AttnScoreDims sd = { score_kind (c), 1, S, c->H, c->H, c->A };
  gpointer acts;
  if (is_local (c))
    {
      const AttnLocalDims ld = { sd, c->A, c->D };
      acts = attn_local_acts_new (&ld, NULL);
    }
  else
    acts = attn_score_acts_new (&sd, NULL);
  attn_check (acts != NULL);
  return acts;
}

/* ctx (H) = attention of query (H) over mem (S, H), S and the weights in
 * acts (attend_acts_new). */
static void
attend (const AttnModelConfig *c, const RnnWeights *w, gpointer acts,
        const float *mem, const float *query, float *ctx)
{
  if (is_local (c))
    attn_local_forward (ctx, acts, query, mem, &w->att, NULL);
  else
    attn_score_attention_forward (ctx, acts, query, mem, &w->att.score,
                                  NULL);
}

/* Step t's attention activations, made on first use. */
static gpointer
seq_step_acts (RnnSeq *q, const AttnModelConfig *c, int t)
{
  if (q->acts_S != q->S)
    {
      seq_free_acts (q, is_local (c));
      q->acts_S = q->S;
    }
  if (q->acts[t] == NULL)
    q->acts[t] = attend_acts_new (c, q->S);
  return q->acts[t];
}

/* From dctx (H): dquery (H) +=, dmem +=, attention grads +=. */
static void
seq_attend_backward (RnnSeq *q, const AttnModelConfig *c,
                     const RnnWeights *w, RnnWeights *g, int t,
                     const float *query, float *dquery, const float *dctx)
{
  if (is_local (c))
    attn_local_backward (dquery, q->dmem, &g->att, dctx, NULL, q->acts[t],
                         query, q->mem, &w->att);
  else
    attn_score_attention_backward (dquery, q->dmem, &g->att.score, dctx,
                                   NULL, q->acts[t], query, q->mem,
                                   &w->att.score);
}

/* One decoder step's tensors (see the model above): rows of an RnnSeq in
 * the teacher-forced forward, or an incremental decoder's state. */
typedef struct {
  float *x;             /* (E + H) [Emb (y_{t-1}); c_t or h~_{t-1}] */
  const float *h_prev;  /* (H) h_{t-1} */
  float *h;             /* (H) h_t; may be h_prev (the cell steps in place) */
  float *saved;         /* (4H) the GRU cell's */
  float *work;          /* (6H) GRU cell scratch */
  float *ctx;           /* (H) c_t */
  float *cat;           /* (2H) Luong: [c_t; h_t] */
  const float *ht_prev; /* (H) Luong: h~_{t-1}; NULL at t = 0 (zeros) */
  float *ht;            /* (H) Luong: h~_t; may be ht_prev */
  float *pre;           /* (H) Luong: W_c [c_t; h_t] */
  float *feat;          /* (F) the output layer's input */
  float *x_mask;        /* (E) dropout factors (p > 0) */
  gpointer acts;        /* the attention's (attend_acts_new) */
} RnnStep;

/* Decoder step of input token over mem (S, H) (the S of st->acts).
 * Dropout on the embedding with probability p when p > 0, drawn from
 * rng. */
static void
step_forward (const AttnModelConfig *c, const RnnWeights *w,
              const float *mem, int token, const RnnStep *st, float p,
              GRand *rng)
{
  const int E = c->E, H = c->H, EH = E + H;
  const gsize hs = H * sizeof (float);
  attn_embedding_forward (st->x, &token, w->embedding, 1, c->V, E);
  if (p > 0.0f)
    attn_dropout_forward (st->x, st->x_mask, st->x, E, p, TRUE, rng);
  if (is_additive (c))
    {
      attend (c, w, st->acts, mem, st->h_prev, st->ctx);
      memcpy (st->x + E, st->ctx, hs);
      attn_gru_cell_forward (st->h, st->saved, st->work, st->x, st->h_prev,
                             &w->dec, 1, EH, H);
      memcpy (st->feat, st->h, hs);
      memcpy (st->feat + H, st->ctx, hs);
    }
  else
    {
      if (st->ht_prev == NULL)
        memset (st->x + E, 0, hs);
      else
        memcpy (st->x + E, st->ht_prev, hs);
      attn_gru_cell_forward (st->h, st->saved, st->work, st->x, st->h_prev,
                             &w->dec, 1, EH, H);
      attend (c, w, st->acts, mem, st->h, st->ctx);
      memcpy (st->cat, st->ctx, hs);
      memcpy (st->cat + H, st->h, hs);
      attn_linear_forward (st->pre, st->cat, w->attentional_w, NULL, 1, 2 * H,
                           H);
      attn_tanh_forward (st->ht, st->pre, H);
      memcpy (st->feat, st->ht, hs);
    }
}

/* The encoder of one sequence: src (S) without padding into q->mem (S, H)
 * and the bridge's h_0 into q->h[0]. Dropout as seq_forward. */
static void
seq_encode (RnnSeq *q, const AttnModelConfig *c, const RnnWeights *w,
            const int *src, int S, float p, GRand *rng)
{
  const int V = c->V, E = c->E, H = c->H;
  attn_check (S >= 1 && S <= q->cap_S);
  q->S = S;
  q->dropout = p > 0.0f;

  attn_embedding_forward (q->src_emb, src, w->embedding, S, V, E);
  if (q->dropout)
    attn_dropout_forward (q->src_emb, q->src_mask, q->src_emb,
                          (gsize) S * E, p, TRUE, rng);
  attn_gru_bi_forward (q->enc, q->enc_hn, q->gru, q->src_emb, NULL, w->enc,
                       S, S, E, H);
  attn_linear_forward (q->mem, q->enc, w->memory_w, NULL, S, 2 * H, H);
  attn_linear_forward (q->h0_pre, q->enc_hn, w->bridge_w, w->bridge_b, 1,
                       2 * H, H);
  attn_tanh_forward (q->h, q->h0_pre, H);
}

/* Teacher-forced forward of one sequence: src (S) without padding, tgt (T)
 * decoder inputs; feat (T, F) receives the output layer's inputs. Dropout
 * with probability p when p > 0, drawn from rng. */
static void
seq_forward (RnnSeq *q, const AttnModelConfig *c, const RnnWeights *w,
             const int *src, int S, const int *tgt, int T, float *feat,
             float p, GRand *rng)
{
  const int E = c->E, H = c->H, EH = E + H, F = out_width (c);
  attn_check (T >= 1 && T <= q->cap_T);
  seq_encode (q, c, w, src, S, p, rng);
  q->T = T;

  for (int t = 0; t < T; t++)
    {
      const RnnStep st = {
        .x = q->x + (gsize) t * EH,
        .h_prev = q->h + (gsize) t * H,
        .h = q->h + (gsize) (t + 1) * H,
        .saved = q->saved + (gsize) t * 4 * H,
        .work = q->work,
        .ctx = q->ctx + (gsize) t * H,
        .cat = q->cat + (gsize) t * 2 * H,
        .ht_prev = t > 0 ? q->ht + (gsize) (t - 1) * H : NULL,
        .ht = q->ht + (gsize) t * H,
        .pre = q->dpre,
        .feat = feat + (gsize) t * F,
        .x_mask = q->x_mask + (gsize) t * E,
        .acts = seq_step_acts (q, c, t),
      };
      step_forward (c, w, q->mem, tgt[t], &st, p, rng);
    }
}

/* Backpropagation through the sequence of the last seq_forward on q (same
 * src, tgt), from dfeat (T, F); every gradient is accumulated into g. */
static void
seq_backward (RnnSeq *q, const AttnModelConfig *c, const RnnWeights *w,
              RnnWeights *g, const int *src, const int *tgt,
              const float *dfeat)
{
  const int V = c->V, E = c->E, H = c->H, EH = E + H, F = out_width (c);
  const int S = q->S, T = q->T;
  const gsize fs = sizeof (float);

  memset (q->dh, 0, (gsize) (T + 1) * H * fs);
  memset (q->dht, 0, (gsize) T * H * fs);
  memset (q->dmem, 0, (gsize) S * H * fs);
  memset (q->denc, 0, (gsize) S * 2 * H * fs);
  memset (q->denc_hn, 0, 2 * (gsize) H * fs);
  memset (q->dsrc_emb, 0, (gsize) S * E * fs);

  for (int t = T - 1; t >= 0; t--)
    {
      const float *x = q->x + (gsize) t * EH;     /* (E + H) */
      const float *h_prev = q->h + (gsize) t * H; /* (H) */
      const float *h_t = h_prev + H;              /* (H) */
      const float *saved = q->saved + (gsize) t * 4 * H;
      const float *df = dfeat + (gsize) t * F;    /* (F) */
      float *dh_prev = q->dh + (gsize) t * H;     /* (H) */
      float *dh_t = dh_prev + H;                  /* (H) */

      memset (q->dx, 0, (gsize) EH * fs);
      if (is_additive (c))
        {
          /* f = [h_t; c_t]; c_t also fed the GRU. */
          for (int j = 0; j < H; j++)
            dh_t[j] += df[j];
          memcpy (q->dctx, df + H, H * fs);
          attn_gru_cell_backward (q->dx, dh_prev, &g->dec, q->work, dh_t,
                                  saved, x, h_prev, &w->dec, 1, EH, H);
          for (int j = 0; j < H; j++)
            q->dctx[j] += q->dx[E + j];
          seq_attend_backward (q, c, w, g, t, h_prev, dh_prev, q->dctx);
        }
      else
        {
          const float *cat = q->cat + (gsize) t * 2 * H;
          float *dht = q->dht + (gsize) t * H;
          for (int j = 0; j < H; j++)
            dht[j] += df[j];
          memset (q->dpre, 0, H * fs);
          memset (q->dcat, 0, 2 * (gsize) H * fs);
          attn_tanh_backward (q->dpre, dht, q->ht + (gsize) t * H, H);
          attn_linear_backward (q->dcat, g->attentional_w, NULL, q->dpre,
                                cat, w->attentional_w, 1, 2 * H, H);
          for (int j = 0; j < H; j++)
            dh_t[j] += q->dcat[H + j];
          seq_attend_backward (q, c, w, g, t, h_t, dh_t, q->dcat);
          attn_gru_cell_backward (q->dx, dh_prev, &g->dec, q->work, dh_t,
                                  saved, x, h_prev, &w->dec, 1, EH, H);
          if (t > 0)
            {
              float *dht_prev = q->dht + (gsize) (t - 1) * H; /* (H) */
              for (int j = 0; j < H; j++)
                dht_prev[j] += q->dx[E + j];
            }
        }
      if (q->dropout)
        for (int j = 0; j < E; j++)
          q->dx[j] *= q->x_mask[(gsize) t * E + j];
      attn_embedding_backward (g->embedding, q->dx, tgt + t, 1, V, E);
    }

  /* h_0 = tanh (W_b [f_S | b_1] + b_b) */
  memset (q->dpre, 0, H * fs);
  attn_tanh_backward (q->dpre, q->dh, q->h, H);
  attn_linear_backward (q->denc_hn, g->bridge_w, g->bridge_b, q->dpre,
                        q->enc_hn, w->bridge_w, 1, 2 * H, H);
  attn_linear_backward (q->denc, g->memory_w, NULL, q->dmem, q->enc,
                        w->memory_w, S, 2 * H, H);
  attn_gru_bi_backward (q->dsrc_emb, NULL, g->enc, q->gru, q->denc,
                        q->denc_hn, q->src_emb, w->enc, S, S, E, H);
  if (q->dropout)
    for (gsize i = 0; i < (gsize) S * E; i++)
      q->dsrc_emb[i] *= q->src_mask[i];
  attn_embedding_backward (g->embedding, q->dsrc_emb, src, S, V, E);
}

/* ---- the model's workspace -------------------------------------------- */

typedef struct {
  GPtrArray *seqs;     /* of RnnSeq *, one per batch row */
  gsize cap_rows;
  float *feat;         /* (B * T, F) output layer inputs */
  float *feat_mask;    /* (B * T, F) dropout factors */
  float *logits;       /* (B * T, V) */
  float *probs;        /* (B * T, V) */
  float *dlogits;      /* (B * T, V) */
  float *dfeat;        /* (B * T, F) */
} Rnn;

static void
rnn_free (Rnn *rnn, gboolean local)
{
  for (guint i = 0; i < rnn->seqs->len; i++)
    seq_free (rnn->seqs->pdata[i], local);
  g_ptr_array_free (rnn->seqs, TRUE);
  g_free (rnn->feat);
  g_free (rnn->feat_mask);
  g_free (rnn->logits);
  g_free (rnn->probs);
  g_free (rnn->dlogits);
  g_free (rnn->dfeat);
  g_free (rnn);
}

static Rnn *
rnn_get (AttnModel *model)
{
  check_config (&model->config);
  if (model->priv == NULL)
    {
      Rnn *rnn = g_new0 (Rnn, 1);
      rnn->seqs = g_ptr_array_new ();
      model->priv = rnn;
    }
  return model->priv;
}

/* Sequence workspace i, with room for S and T. */
static RnnSeq *
rnn_seq (Rnn *rnn, const AttnModelConfig *c, guint i, int S, int T)
{
  while (rnn->seqs->len <= i)
    g_ptr_array_add (rnn->seqs, NULL);
  RnnSeq *q = rnn->seqs->pdata[i];
  if (q == NULL || q->cap_S < S || q->cap_T < T)
    {
      int cap_S = MAX (S, q != NULL ? q->cap_S : 0);
      int cap_T = MAX (T, q != NULL ? q->cap_T : 0);
      seq_free (q, is_local (c));
      q = seq_new (c, cap_S, cap_T);
      rnn->seqs->pdata[i] = q;
    }
  return q;
}

static void
rnn_reserve_rows (Rnn *rnn, const AttnModelConfig *c, gsize rows)
{
  if (rows <= rnn->cap_rows)
    return;
  const gsize F = out_width (c), V = c->V;
  rnn->feat = g_renew (float, rnn->feat, rows * F);
  rnn->feat_mask = g_renew (float, rnn->feat_mask, rows * F);
  rnn->logits = g_renew (float, rnn->logits, rows * V);
  rnn->probs = g_renew (float, rnn->probs, rows * V);
  rnn->dlogits = g_renew (float, rnn->dlogits, rows * V);
  rnn->dfeat = g_renew (float, rnn->dfeat, rows * F);
  rnn->cap_rows = rows;
}

static void
rnn_finalize (AttnModel *model)
{
  if (model->priv != NULL)
    rnn_free (model->priv, is_local (&model->config));
  model->priv = NULL;
}

/* Real source tokens: up to the first <pad>. */
static int
source_length (const int *src, int S)
{
  int n = 0;
  while (n < S && src[n] != ATTN_VOCAB_PAD)
    n++;
  return n;
}

/* ---- forward of one example ------------------------------------------ */

static void
rnn_forward (AttnModel *model, const int *src, int S, const int *tgt, int T,
             float *logits, AttnTrace *trace)
{
  const AttnModelConfig *c = &model->config;
  Rnn *rnn = rnn_get (model);
  attn_check (src != NULL && tgt != NULL && logits != NULL);
  attn_check (S >= 1 && T >= 1);
  const int S_real = source_length (src, S);
  attn_check (S_real >= 1);

  RnnWeights w;
  weights_bind (&w, model->params, c);
  RnnSeq *q = rnn_seq (rnn, c, 0, S_real, T);
  rnn_reserve_rows (rnn, c, T);
  seq_forward (q, c, &w, src, S_real, tgt, T, rnn->feat, 0.0f, NULL);
  attn_linear_forward (logits, rnn->feat, w.out_w, w.out_b, T, out_width (c),
                       c->V);

  if (trace != NULL)
    {
      /* Keys past S_real (padding) keep the block's zeros. */
      AttnBlock *block = attn_trace_add_block (trace, ATTN_KIND_CROSS, 0, 1,
                                               T, S);
      block->normalised = !is_local (c);
      for (int t = 0; t < T; t++)
        memcpy (block->weights + (gsize) t * S, seq_att_row (q, c, t),
                S_real * sizeof (float));
    }
}

/* ---- the batch: loss and gradients ----------------------------------- */

/* Counted rows (target >= 0) whose first maximum logit is the target. */
static int
count_correct (const float *logits, const int *targets, int N, int V)
{
  int correct = 0;
  for (int n = 0; n < N; n++)
    {
      if (targets[n] < 0)
        continue;
      const float *x = logits + (gsize) n * V; /* (V) */
      int best = 0;
      for (int v = 1; v < V; v++)
        if (x[v] > x[best])
          best = v;
      correct += best == targets[n];
    }
  return correct;
}

static float
rnn_loss_and_grad (AttnModel *model, const AttnBatch *batch,
                   float label_smoothing, GRand *rng, float *token_acc)
{
  const AttnModelConfig *c = &model->config;
  Rnn *rnn = rnn_get (model);
  const int B = batch->B, S = batch->S, T = batch->T;
  const int V = c->V, F = out_width (c);
  const gsize rows = (gsize) B * T;
  attn_check (model->grads != NULL);
  attn_check (B >= 1 && S >= 1 && T >= 1);
  attn_check (label_smoothing >= 0.0f && label_smoothing < 1.0f);

  RnnWeights w, g;
  weights_bind (&w, model->params, c);
  weights_bind (&g, model->grads, c);
  const float p = rng != NULL ? c->dropout : 0.0f;

  /* Each row runs at its own lengths: the source up to its first <pad>,
   * the decoder up to its last counted target (0: nothing to learn). */
  g_autofree int *T_real = g_new (int, B);
  rnn_reserve_rows (rnn, c, rows);
  memset (rnn->feat, 0, rows * F * sizeof (float));
  for (int b = 0; b < B; b++)
    {
      const int *src = batch->src + (gsize) b * S;
      const int *out = batch->tgt_out + (gsize) b * T;
      const int S_real = source_length (src, S);
      T_real[b] = 0;
      for (int t = 0; t < T; t++)
        if (out[t] >= 0)
          T_real[b] = t + 1;
      if (T_real[b] == 0)
        continue;
      attn_check (S_real >= 1);
      RnnSeq *q = rnn_seq (rnn, c, b, S_real, T_real[b]);
      seq_forward (q, c, &w, src, S_real, batch->tgt_in + (gsize) b * T,
                   T_real[b], rnn->feat + (gsize) b * T * F, p, rng);
    }

  /* The output layer over every row at once. */
  if (p > 0.0f)
    attn_dropout_forward (rnn->feat, rnn->feat_mask, rnn->feat, rows * F, p,
                          TRUE, rng);
  attn_linear_forward (rnn->logits, rnn->feat, w.out_w, w.out_b, (int) rows,
                       F, V);
  int counted = 0;
  float loss = attn_cross_entropy_smoothed_forward (
    NULL, rnn->probs, rnn->logits, batch->tgt_out, (int) rows, V,
    label_smoothing, -1, &counted);
  if (token_acc != NULL)
    *token_acc = counted > 0 ? (float) count_correct (rnn->logits,
                                                      batch->tgt_out,
                                                      (int) rows, V) / counted
                             : 0.0f;
  if (counted == 0)
    return 0.0f;

  memset (rnn->dlogits, 0, rows * V * sizeof (float));
  attn_cross_entropy_smoothed_backward (rnn->dlogits, rnn->probs,
                                        batch->tgt_out, 1.0f / counted,
                                        (int) rows, V, label_smoothing, -1);
  memset (rnn->dfeat, 0, rows * F * sizeof (float));
  attn_linear_backward (rnn->dfeat, g.out_w, g.out_b, rnn->dlogits,
                        rnn->feat, w.out_w, (int) rows, F, V);
  if (p > 0.0f)
    for (gsize i = 0; i < rows * F; i++)
      rnn->dfeat[i] *= rnn->feat_mask[i];

  for (int b = 0; b < B; b++)
    if (T_real[b] > 0)
      seq_backward (rnn->seqs->pdata[b], c, &w, &g,
                    batch->src + (gsize) b * S,
                    batch->tgt_in + (gsize) b * T,
                    rnn->dfeat + (gsize) b * T * F);
  return loss;
}

/* ---- incremental decoding ---------------------------------------------- */

/* What every hypothesis decoded from one source shares (refcounted with
 * g_rc_box): the encoding, read-only, and the scratch of one step, so
 * states of one encoding step one at a time. */
typedef struct {
  RnnWeights w;    /* views of model->params, bound once */
  int S_real;      /* source tokens up to the first <pad>: the keys */
  float *mem;      /* (S_real, H) memory: keys and values */
  float *h0;       /* (H) the bridge's initial decoder state */
  gpointer acts;   /* one query's attention over the memory */
  float *x;        /* (E + H) step scratch, as RnnStep's */
  float *saved;    /* (4H) */
  float *work;     /* (6H) */
  float *cat;      /* (2H) */
  float *pre;      /* (H) */
  float *feat;     /* (F) */
  gboolean local;  /* acts are AttnLocalActs */
  AttnTensorBlock *block;
} RnnEncoding;

typedef struct {
  AttnDecodeState parent;
  RnnEncoding *enc;
  float h[];       /* (3, H): the GRU state h_t after the inputs consumed
                    * (h_0 before any), Luong's input-feeding h~_t (zeros
                    * before any) and the last context c_t (zeros before
                    * any) */
} RnnDecodeState;

static void
rnn_encoding_clear (gpointer data)
{
  RnnEncoding *e = data;
  if (e->local)
    attn_local_acts_free (e->acts);
  else
    attn_score_acts_free (e->acts);
  attn_tensor_block_free (e->block);
}

static RnnDecodeState *
rnn_state_alloc (AttnModel *model, RnnEncoding *enc, int S)
{
  const gsize H = model->config.H;
  RnnDecodeState *st = g_malloc0 (sizeof (RnnDecodeState)
                                  + 3 * H * sizeof (float));
  st->parent.model = model;
  st->parent.S = S;
  st->enc = g_rc_box_acquire (enc);
  return st;
}

static AttnDecodeState *
rnn_encode (AttnModel *model, const int *src, int S)
{
  /* src (S) */
  const AttnModelConfig *c = &model->config;
  const gsize E = c->E, H = c->H;
  Rnn *rnn = rnn_get (model);
  const int S_real = source_length (src, S);
  attn_check (S_real >= 1);
  RnnEncoding *e = g_rc_box_new0 (RnnEncoding);
  weights_bind (&e->w, model->params, c);
  RnnSeq *q = rnn_seq (rnn, c, 0, S_real, 1);
  seq_encode (q, c, &e->w, src, S_real, 0.0f, NULL);

  const AttnTensorSpec specs[] = {
    { "mem", 2, { S_real, H } }, { "h0", 1, { H } },
    { "x", 1, { E + H } },       { "saved", 1, { 4 * H } },
    { "work", 1, { 6 * H } },    { "cat", 1, { 2 * H } },
    { "pre", 1, { H } },         { "feat", 1, { out_width (c) } },
  };
  e->block = attn_tensor_block_new (specs, G_N_ELEMENTS (specs), NULL);
  attn_check (e->block != NULL);
  float **slots[] = { &e->mem, &e->h0, &e->x, &e->saved, &e->work, &e->cat,
                      &e->pre, &e->feat };
  G_STATIC_ASSERT (G_N_ELEMENTS (slots) == G_N_ELEMENTS (specs));
  for (gsize i = 0; i < G_N_ELEMENTS (slots); i++)
    *slots[i] = e->block->tensors[i].data;
  e->S_real = S_real;
  e->local = is_local (c);
  e->acts = attend_acts_new (c, S_real);
  memcpy (e->mem, q->mem, S_real * H * sizeof (float));
  memcpy (e->h0, q->h, H * sizeof (float));

  RnnDecodeState *st = rnn_state_alloc (model, e, S);
  memcpy (st->h, e->h0, H * sizeof (float));
  g_rc_box_release_full (e, rnn_encoding_clear);
  return &st->parent;
}

static void
rnn_step (AttnDecodeState *state, int token, float *logits)
{
  /* logits (V) */
  RnnDecodeState *st = (RnnDecodeState *) state;
  const AttnModelConfig *c = &state->model->config;
  const int H = c->H;
  RnnEncoding *e = st->enc;
  float *h = st->h, *ht = st->h + H, *ctx = st->h + 2 * H; /* (H) each */
  /* The state steps in place: the cell allows it, and h~_{t-1} is read
   * before h~_t is written. */
  const RnnStep step = {
    .x = e->x, .h_prev = h, .h = h, .saved = e->saved, .work = e->work,
    .ctx = ctx, .cat = e->cat, .ht_prev = ht, .ht = ht, .pre = e->pre,
    .feat = e->feat, .x_mask = NULL, .acts = e->acts,
  };
  step_forward (c, &e->w, e->mem, token, &step, 0.0f, NULL);
  attn_linear_forward (logits, e->feat, e->w.out_w, e->w.out_b, 1,
                       out_width (c), c->V);
}

static AttnDecodeState *
rnn_state_copy (const AttnDecodeState *state)
{
  const RnnDecodeState *st = (const RnnDecodeState *) state;
  RnnDecodeState *copy = rnn_state_alloc (state->model, st->enc, state->S);
  memcpy (copy->h, st->h, 3 * (gsize) state->model->config.H * sizeof (float));
  return &copy->parent;
}

static void
rnn_state_free (AttnDecodeState *state)
{
  RnnDecodeState *st = (RnnDecodeState *) state;
  g_rc_box_release_full (st->enc, rnn_encoding_clear);
  g_free (st);
}

const AttnModelClass attn_rnn_class = {
  .arch = ATTN_ARCH_RNN,
  .param_specs = rnn_param_specs,
  .init_params = rnn_init_params,
  .forward = rnn_forward,
  .loss_and_grad = rnn_loss_and_grad,
  .finalize = rnn_finalize,
  .encode = rnn_encode,
  .step = rnn_step,
  .state_copy = rnn_state_copy,
  .state_free = rnn_state_free,
};
