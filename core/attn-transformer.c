/* attn-transformer.c: the Transformer encoder-decoder (see
 * attn-transformer.h for the architecture and the parameter names).
 *
 * Layout follows llm.c: the parameters are viewed as structs of `float *`
 * into model->params (and the same for model->grads); one forward pass keeps
 * every activation its backward needs in one allocation carved for the
 * batch's (B, S, T), grown when a batch needs more. Every matrix product is
 * one sgemm over all B * S (or B * T) rows; nothing is allocated per token. */
#include "core/attn-transformer.h"

#include <math.h>
#include <string.h>

#include "core/attn-attention.h"
#include "core/attn-check.h"
#include "core/attn-kernels.h"

/* ---- parameter views --------------------------------------------------- */

typedef struct {
  AttnMhaParams self_attn;
  AttnMhaParams cross_attn; /* decoder layers only */
  float *norm_w[3];         /* (C) norm1..3 (encoder: norm1, norm2) */
  float *norm_b[3];         /* (C) */
  float *w1;                /* (F, C) */
  float *b1;                /* (F) */
  float *w2;                /* (C, F) */
  float *b2;                /* (C) */
} TfLayer;

typedef struct {
  float *embed;  /* (V, C) */
  TfLayer *enc;  /* L_enc layers */
  TfLayer *dec;  /* L_dec layers */
  float *enc_norm_w, *enc_norm_b; /* (C) pre-norm only */
  float *dec_norm_w, *dec_norm_b; /* (C) pre-norm only */
  float *out_w;  /* (V, C) */
  float *out_b;  /* (V) */
} TfWeights;

typedef enum {
  INIT_XAVIER, /* uniform in +-sqrt (6 / (fan_in + fan_out)) */
  INIT_ZERO,
  INIT_ONE,
} TfInit;

/* One visit per parameter tensor, in file order: its name, shape (d1 == 0
 * for a vector), initialisation (fan_out is the rows Xavier counts, which
 * is 3C for the packed query/key/value projections) and the view slot. */
typedef void (*TfVisit) (gpointer user, const char *name, gsize d0, gsize d1,
                         TfInit init, gsize fan_out, float **slot);

static void
visit_mha (const char *prefix, int C, AttnMhaParams *p, TfVisit visit,
           gpointer user)
{
  char name[128];
  float **w[4] = { &p->wq, &p->wk, &p->wv, &p->wo };
  float **b[4] = { &p->bq, &p->bk, &p->bv, &p->bo };
  const char *letters = "qkvo";
  for (int i = 0; i < 4; i++)
    {
      /* torch packs q, k, v as one (3C, C) matrix and draws Xavier over
       * that shape; out_proj is its own (C, C). */
      gsize fan_out = i < 3 ? 3 * (gsize) C : (gsize) C;
      g_snprintf (name, sizeof name, "%s.w%c", prefix, letters[i]);
      visit (user, name, C, C, INIT_XAVIER, fan_out, w[i]);
      g_snprintf (name, sizeof name, "%s.b%c", prefix, letters[i]);
      visit (user, name, C, 0, INIT_ZERO, 0, b[i]);
    }
}

static void
visit_norm (const char *prefix, int C, float **w, float **b, TfVisit visit,
            gpointer user)
{
  char name[128];
  g_snprintf (name, sizeof name, "%s.weight", prefix);
  visit (user, name, C, 0, INIT_ONE, 0, w);
  g_snprintf (name, sizeof name, "%s.bias", prefix);
  visit (user, name, C, 0, INIT_ZERO, 0, b);
}

static void
visit_ffn (const char *prefix, int C, int F, TfLayer *ly, TfVisit visit,
           gpointer user)
{
  char name[128];
  g_snprintf (name, sizeof name, "%s.linear1.weight", prefix);
  visit (user, name, F, C, INIT_XAVIER, F, &ly->w1);
  g_snprintf (name, sizeof name, "%s.linear1.bias", prefix);
  visit (user, name, F, 0, INIT_ZERO, 0, &ly->b1);
  g_snprintf (name, sizeof name, "%s.linear2.weight", prefix);
  visit (user, name, C, F, INIT_XAVIER, C, &ly->w2);
  g_snprintf (name, sizeof name, "%s.linear2.bias", prefix);
  visit (user, name, C, 0, INIT_ZERO, 0, &ly->b2);
}

/* Walks every parameter of cfg in file order; w receives the slots (its
 * enc / dec arrays must hold L_enc / L_dec layers). */
static void
tf_visit (const AttnModelConfig *cfg, TfWeights *w, TfVisit visit,
          gpointer user)
{
  const int V = cfg->V, C = cfg->C, F = cfg->F;
  char prefix[96], sub[128];

  visit (user, "embed.weight", V, C, INIT_XAVIER, V, &w->embed);
  for (int l = 0; l < cfg->L_enc; l++)
    {
      TfLayer *ly = &w->enc[l];
      g_snprintf (prefix, sizeof prefix, "enc.%d", l);
      g_snprintf (sub, sizeof sub, "%s.self_attn", prefix);
      visit_mha (sub, C, &ly->self_attn, visit, user);
      g_snprintf (sub, sizeof sub, "%s.norm1", prefix);
      visit_norm (sub, C, &ly->norm_w[0], &ly->norm_b[0], visit, user);
      visit_ffn (prefix, C, F, ly, visit, user);
      g_snprintf (sub, sizeof sub, "%s.norm2", prefix);
      visit_norm (sub, C, &ly->norm_w[1], &ly->norm_b[1], visit, user);
    }
  if (cfg->pre_norm)
    visit_norm ("enc.norm", C, &w->enc_norm_w, &w->enc_norm_b, visit, user);
  for (int l = 0; l < cfg->L_dec; l++)
    {
      TfLayer *ly = &w->dec[l];
      g_snprintf (prefix, sizeof prefix, "dec.%d", l);
      g_snprintf (sub, sizeof sub, "%s.self_attn", prefix);
      visit_mha (sub, C, &ly->self_attn, visit, user);
      g_snprintf (sub, sizeof sub, "%s.norm1", prefix);
      visit_norm (sub, C, &ly->norm_w[0], &ly->norm_b[0], visit, user);
      g_snprintf (sub, sizeof sub, "%s.cross_attn", prefix);
      visit_mha (sub, C, &ly->cross_attn, visit, user);
      g_snprintf (sub, sizeof sub, "%s.norm2", prefix);
      visit_norm (sub, C, &ly->norm_w[1], &ly->norm_b[1], visit, user);
      visit_ffn (prefix, C, F, ly, visit, user);
      g_snprintf (sub, sizeof sub, "%s.norm3", prefix);
      visit_norm (sub, C, &ly->norm_w[2], &ly->norm_b[2], visit, user);
    }
  if (cfg->pre_norm)
    visit_norm ("dec.norm", C, &w->dec_norm_w, &w->dec_norm_b, visit, user);
  visit (user, "out.weight", V, C, INIT_XAVIER, V, &w->out_w);
  visit (user, "out.bias", V, 0, INIT_ZERO, 0, &w->out_b);
}

/* Scratch slots for a walk that only wants names and shapes. */
typedef struct {
  TfWeights w;
  TfLayer *layers;
} TfSlots;

static void
tf_slots_init (TfSlots *s, const AttnModelConfig *cfg)
{
  s->layers = g_new0 (TfLayer, cfg->L_enc + cfg->L_dec);
  memset (&s->w, 0, sizeof s->w);
  s->w.enc = s->layers;
  s->w.dec = s->layers + cfg->L_enc;
}

static void
spec_visit (gpointer user, const char *name, gsize d0, gsize d1, TfInit init,
            gsize fan_out, float **slot)
{
  GArray *specs = user;
  AttnTensorSpec spec = { g_intern_string (name), d1 > 0 ? 2 : 1,
                          { d0, d1 } };
  g_array_append_val (specs, spec);
}

static AttnTensorSpec *
tf_param_specs (const AttnModelConfig *config, guint *n)
{
  attn_check (config->C > 0 && config->NH > 0 && config->C % config->NH == 0);
  attn_check (config->V > 0 && config->F > 0);
  attn_check (config->L_enc > 0 && config->L_dec > 0);
  TfSlots slots;
  tf_slots_init (&slots, config);
  GArray *specs = g_array_new (FALSE, TRUE, sizeof (AttnTensorSpec));
  tf_visit (config, &slots.w, spec_visit, specs);
  g_free (slots.layers);
  *n = specs->len;
  return (AttnTensorSpec *) g_array_free (specs, FALSE);
}

static void
bind_visit (gpointer user, const char *name, gsize d0, gsize d1, TfInit init,
            gsize fan_out, float **slot)
{
  AttnTensorBlock *block = user;
  AttnTensor *t = attn_tensor_block_lookup (block, name);
  /* The block was made from these specs (attn_model_new / _load check
   * every tensor): a missing or misshapen one is a bug. */
  attn_check (t != NULL);
  attn_check (t->numel == d0 * MAX (d1, 1));
  *slot = t->data;
}

typedef struct {
  GRand *rng;
} InitCtx;

static void
init_visit (gpointer user, const char *name, gsize d0, gsize d1, TfInit init,
            gsize fan_out, float **slot)
{
  InitCtx *ctx = user;
  float *x = *slot;
  const gsize n = d0 * MAX (d1, 1);
  switch (init)
    {
    case INIT_XAVIER:
      {
        /* torch: fan_in = columns, fan_out = rows of the (packed) matrix. */
        double bound = sqrt (6.0 / (double) (d1 + fan_out));
        for (gsize i = 0; i < n; i++)
          x[i] = (float) g_rand_double_range (ctx->rng, -bound, bound);
      }
      break;
    case INIT_ZERO:
      memset (x, 0, n * sizeof (float));
      break;
    case INIT_ONE:
      for (gsize i = 0; i < n; i++)
        x[i] = 1.0f;
      break;
    }
}

/* ---- activations ------------------------------------------------------- */

typedef enum {
  SUB_SELF,   /* encoder self-attention, source padding masked */
  SUB_CAUSAL, /* decoder self-attention */
  SUB_CROSS,  /* decoder queries over the encoder output */
  SUB_FFN,
  SUB_CAUSAL_STEP, /* incremental decoding, one new position: */
  SUB_CROSS_STEP,  /* attention over cached keys and values (kv_*) */
} TfSubKind;

/* One sublayer with its residual and LayerNorm. For input x (N, C):
 *   post-norm: out = f (x); r = x + drop (out); y = LN (r); result y
 *   pre-norm:  y = LN (x); out = f (y); r = x + drop (out); result r */
typedef struct {
  TfSubKind kind;
  float *y;      /* (N, C) LayerNorm output */
  float *mean;   /* (N) */
  float *rstd;   /* (N) */
  float *out;    /* (N, C) sublayer output, dropped out in place */
  float *mask;   /* (N, C) dropout factors; NULL without dropout */
  float *r;      /* (N, C) residual sum */
  AttnMhaActs mha; /* attention kinds: q, k, v, att (B, NH, Tq, Tk), ctx */
  float *h;      /* (N, F) FFN: ReLU (linear1 output), in place; its
                  * positive entries are where the ReLU passed, all that
                  * backward needs */
  /* Step kinds (N = 1): the layer's projected keys and values, kv_n rows
   * before the step. A causal step appends its position's as row kv_n and
   * attends to kv_n + 1 rows; a cross step attends to the kv_n (= S) of
   * the source. Its weights land in mha.att (NH, 1, keys). */
  float *kv_k;   /* (kv_n [+ 1], C) */
  float *kv_v;   /* (kv_n [+ 1], C) */
  int kv_n;
} TfSub;

typedef struct {
  int B, S, T;
  gboolean masks; /* dropout masks are carved (and applied) */
  gboolean train; /* backward scratch is carved */
  float *memory;  /* one 64-byte-aligned allocation */
  gsize capacity; /* floats in memory */

  guint8 *src_pad;  /* (B, S) nonzero where src is <pad> */
  float *src_x;     /* (B, S, C) embedded source, after dropout */
  float *src_mask;  /* (B, S, C) */
  TfSub *enc;       /* 2 per encoder layer: self-attention, FFN */
  float *enc_y;     /* (B, S, C) pre-norm: final LayerNorm output */
  float *enc_mean;  /* (B, S) */
  float *enc_rstd;  /* (B, S) */
  const float *mem; /* (B, S, C) encoder output: enc_y or the last result */

  float *tgt_x;     /* (B, T, C) embedded decoder input, after dropout */
  float *tgt_mask;  /* (B, T, C) */
  TfSub *dec;       /* 3 per decoder layer: self, cross, FFN */
  float *dec_y;     /* (B, T, C) pre-norm: final LayerNorm output */
  float *dec_mean;  /* (B, T) */
  float *dec_rstd;  /* (B, T) */
  const float *dec_out; /* (B, T, C) input of the output layer */
  float *logits;    /* (B, T, V) */

  /* backward scratch, rows Nm = max (B S, B T) */
  float *probs;     /* (B, T, V) */
  float *dlogits;   /* (B, T, V) */
  float *d_a;       /* (Nm, C) gradient of the stream, ping */
  float *d_b;       /* (Nm, C) and pong */
  float *d_r;       /* (Nm, C) of a residual sum */
  float *d_out;     /* (Nm, C) of a sublayer output */
  float *d_in;      /* (Nm, C) of a pre-norm sublayer's LayerNorm output */
  float *d_h;       /* (Nm, F) */
  float *d_g;       /* (Nm, F) */
  float *d_mem;     /* (B, S, C) of the encoder output */
  float *mha_scratch; /* attn_mha_backward_ws's, for the largest of the
                       * three attention shapes */
} TfActs;

typedef struct {
  TfActs train; /* loss_and_grad and forward_batch */
  TfActs infer; /* forward of one example */
  float *pe;    /* (pe_rows, C) position table */
  int pe_rows;
  /* Views, rebuilt when the blocks they point into change. */
  TfWeights w, g;
  TfLayer *layers; /* storage of w's and g's layers */
  const float *w_memory, *g_memory;
} TfPriv;

static gsize
round_up (gsize n)
{
  const gsize per_line = ATTN_TENSOR_ALIGN / sizeof (float);
  return (n + per_line - 1) / per_line * per_line;
}

typedef struct {
  float *base; /* NULL while only counting */
  gsize off;
} Carver;

static float *
take (Carver *cv, gsize n)
{
  float *p = cv->base != NULL ? cv->base + cv->off : NULL;
  cv->off += round_up (MAX (n, 1));
  return p;
}

static void
carve_mha (Carver *cv, AttnMhaActs *acts, int B, int T, int S, int C, int NH)
{
  const AttnMhaDims dims = { .B = B, .T = T, .S = S, .C = C, .NH = NH };
  gsize n = attn_mha_acts_size (&dims, NULL);
  attn_check (n > 0);
  if (cv->base != NULL)
    attn_mha_acts_carve (acts, cv->base + cv->off, &dims);
  cv->off += n;
}

static void
carve_sub (Carver *cv, TfSub *sb, TfSubKind kind, int B, int Tq, int Tk,
           const AttnModelConfig *cfg, gboolean masks)
{
  const gsize N = (gsize) B * Tq, C = cfg->C;
  sb->kind = kind;
  sb->y = take (cv, N * C);
  sb->mean = take (cv, N);
  sb->rstd = take (cv, N);
  sb->out = take (cv, N * C);
  sb->mask = masks ? take (cv, N * C) : NULL;
  sb->r = take (cv, N * C);
  if (kind == SUB_FFN)
    {
      sb->h = take (cv, N * cfg->F);
    }
  else
    carve_mha (cv, &sb->mha, B, Tq, Tk, cfg->C, cfg->NH);
}

/* Points every member of a into cv (or only counts, base NULL). */
static void
carve_acts (Carver *cv, TfActs *a, const AttnModelConfig *cfg)
{
  const int B = a->B, S = a->S, T = a->T, C = cfg->C, V = cfg->V;
  const gsize Ns = (gsize) B * S, Nt = (gsize) B * T, Nm = MAX (Ns, Nt);

  a->src_pad = (guint8 *) take (cv, (Ns + sizeof (float) - 1) / sizeof (float));
  a->src_x = take (cv, Ns * C);
  a->src_mask = a->masks ? take (cv, Ns * C) : NULL;
  for (int l = 0; l < cfg->L_enc; l++)
    {
      carve_sub (cv, &a->enc[2 * l], SUB_SELF, B, S, S, cfg, a->masks);
      carve_sub (cv, &a->enc[2 * l + 1], SUB_FFN, B, S, S, cfg, a->masks);
    }
  a->enc_y = take (cv, Ns * C);
  a->enc_mean = take (cv, Ns);
  a->enc_rstd = take (cv, Ns);

  a->tgt_x = take (cv, Nt * C);
  a->tgt_mask = a->masks ? take (cv, Nt * C) : NULL;
  for (int l = 0; l < cfg->L_dec; l++)
    {
      carve_sub (cv, &a->dec[3 * l], SUB_CAUSAL, B, T, T, cfg, a->masks);
      carve_sub (cv, &a->dec[3 * l + 1], SUB_CROSS, B, T, S, cfg, a->masks);
      carve_sub (cv, &a->dec[3 * l + 2], SUB_FFN, B, T, T, cfg, a->masks);
    }
  a->dec_y = take (cv, Nt * C);
  a->dec_mean = take (cv, Nt);
  a->dec_rstd = take (cv, Nt);
  a->logits = take (cv, Nt * V);

  if (!a->train)
    return;
  a->probs = take (cv, Nt * V);
  a->dlogits = take (cv, Nt * V);
  a->d_a = take (cv, Nm * C);
  a->d_b = take (cv, Nm * C);
  a->d_r = take (cv, Nm * C);
  a->d_out = take (cv, Nm * C);
  a->d_in = take (cv, Nm * C);
  a->d_h = take (cv, Nm * cfg->F);
  a->d_g = take (cv, Nm * cfg->F);
  a->d_mem = take (cv, Ns * C);
  gsize most = 0;
  const AttnMhaDims shapes[3] = {
    { .B = B, .T = S, .S = S, .C = C, .NH = cfg->NH },
    { .B = B, .T = T, .S = T, .C = C, .NH = cfg->NH },
    { .B = B, .T = T, .S = S, .C = C, .NH = cfg->NH },
  };
  for (int i = 0; i < 3; i++)
    most = MAX (most, attn_mha_backward_scratch_size (&shapes[i]));
  a->mha_scratch = take (cv, most);
}

/* Carves a for (B, S, T), growing its memory when it is too small. */
static void
acts_prepare (TfActs *a, const AttnModelConfig *cfg, int B, int S, int T,
              gboolean masks, gboolean train)
{
  attn_check (B > 0 && S > 0 && T > 0);
  a->B = B;
  a->S = S;
  a->T = T;
  a->masks = masks;
  a->train = train;
  if (a->enc == NULL)
    {
      a->enc = g_new0 (TfSub, 2 * cfg->L_enc);
      a->dec = g_new0 (TfSub, 3 * cfg->L_dec);
    }
  Carver count = { NULL, 0 };
  carve_acts (&count, a, cfg);
  if (count.off > a->capacity)
    {
      /* Grow to (B, max_len) at least on both sides, so that decoding,
       * which calls forward with T = 1, 2, 3, ..., allocates once. Sizes
       * only grow with S and T, so this covers (B, S, T). */
      a->S = MAX (S, cfg->max_len);
      a->T = MAX (T, cfg->max_len);
      Carver most = { NULL, 0 };
      carve_acts (&most, a, cfg);
      a->S = S;
      a->T = T;
      g_aligned_free (a->memory);
      a->memory = g_aligned_alloc (most.off, sizeof (float),
                                   ATTN_TENSOR_ALIGN);
      a->capacity = most.off;
    }
  Carver cv = { a->memory, 0 };
  carve_acts (&cv, a, cfg);
}

static void
acts_clear (TfActs *a)
{
  g_aligned_free (a->memory);
  g_free (a->enc);
  g_free (a->dec);
  memset (a, 0, sizeof *a);
}

/* ---- positions --------------------------------------------------------- */

void
attn_transformer_positions (float *pe, int n, int C)
{
  /* pe (n, C) */
  attn_check (pe != NULL && n >= 0 && C > 0);
  for (int i = 0; i < C; i += 2)
    {
      /* The Annotated Transformer's exp (2i * -ln (10000) / C), in double. */
      double div = exp ((double) i * (-log (10000.0) / C));
      for (int pos = 0; pos < n; pos++)
        {
          pe[(gsize) pos * C + i] = (float) sin (pos * div);
          if (i + 1 < C)
            pe[(gsize) pos * C + i + 1] = (float) cos (pos * div);
        }
    }
}

static const float *
priv_positions (TfPriv *pv, int n, int C)
{
  if (n > pv->pe_rows)
    {
      /* Any length works (positions are a formula); config.max_len is the
       * usual ceiling, so this grows at most once in practice. */
      g_free (pv->pe);
      pv->pe = g_new (float, (gsize) n * C);
      attn_transformer_positions (pv->pe, n, C);
      pv->pe_rows = n;
    }
  return pv->pe;
}

/* ---- workspace --------------------------------------------------------- */

static void
bind_views (AttnModel *model, TfPriv *pv)
{
  const AttnModelConfig *cfg = &model->config;
  const float *gm = model->grads != NULL ? model->grads->memory : NULL;
  if (pv->w_memory == model->params->memory && pv->g_memory == gm)
    return;
  memset (&pv->w, 0, sizeof pv->w);
  memset (&pv->g, 0, sizeof pv->g);
  memset (pv->layers, 0, 2 * (cfg->L_enc + cfg->L_dec) * sizeof (TfLayer));
  pv->w.enc = pv->layers;
  pv->w.dec = pv->layers + cfg->L_enc;
  pv->g.enc = pv->w.dec + cfg->L_dec;
  pv->g.dec = pv->g.enc + cfg->L_enc;
  tf_visit (cfg, &pv->w, bind_visit, model->params);
  if (model->grads != NULL)
    tf_visit (cfg, &pv->g, bind_visit, model->grads);
  pv->w_memory = model->params->memory;
  pv->g_memory = gm;
}

static TfPriv *
get_priv (AttnModel *model)
{
  attn_check (model->config.arch == ATTN_ARCH_TRANSFORMER);
  attn_check (model->params != NULL);
  TfPriv *pv = model->priv;
  if (pv == NULL)
    {
      pv = g_new0 (TfPriv, 1);
      pv->layers = g_new0 (TfLayer,
                           2 * (model->config.L_enc + model->config.L_dec));
      model->priv = pv;
    }
  bind_views (model, pv);
  return pv;
}

static void
tf_finalize (AttnModel *model)
{
  TfPriv *pv = model->priv;
  if (pv == NULL)
    return;
  acts_clear (&pv->train);
  acts_clear (&pv->infer);
  g_free (pv->pe);
  g_free (pv->layers);
  g_free (pv);
  model->priv = NULL;
}

static void
tf_init_params (AttnModel *model, GRand *rng)
{
  TfPriv *pv = get_priv (model);
  InitCtx ctx = { rng };
  tf_visit (&model->config, &pv->w, init_visit, &ctx);
}

/* ---- forward ----------------------------------------------------------- */

typedef struct {
  const AttnModelConfig *cfg;
  float p;     /* dropout probability in effect (0: none) */
  GRand *rng;
} TfRun;

/* out (N, C) = embed[ids] * sqrt (C) + pe[position], positions counted per
 * row of the (B, L) ids; then dropout into mask. */
static void
embed_forward (const TfRun *run, float *out, float *mask, const int *ids,
               int B, int L, const float *embed, const float *pe)
{
  const int C = run->cfg->C;
  const gsize N = (gsize) B * L;
  attn_embedding_forward (out, ids, embed, (int) N, run->cfg->V, C);
  const float scale = sqrtf ((float) C);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < L; t++)
      {
        float *x = out + ((gsize) b * L + t) * C;
        const float *p = pe + (gsize) t * C;
        for (int c = 0; c < C; c++)
          x[c] = x[c] * scale + p[c];
      }
  if (mask != NULL)
    attn_dropout_forward (out, mask, out, N * C, run->p, TRUE, run->rng);
}

/* out (1, C) of a step sublayer: its one query in (1, C) over the n keys
 * and values of sb->kv_*, through p's query and output projections (the
 * key and value projections are cached). */
static void
step_attend (TfSub *sb, const float *in, const AttnMhaParams *p, int n,
             const guint8 *pad, int C, int NH)
{
  attn_linear_forward (sb->mha.q, in, p->wq, p->bq, 1, C, C);
  attn_mha_attend (sb->mha.ctx, sb->mha.att, sb->mha.q, sb->kv_k, sb->kv_v,
                   1, n, C, NH, FALSE, pad, NULL);
  attn_linear_forward (sb->out, sb->mha.ctx, p->wo, p->bo, 1, C, C);
}

/* Runs one sublayer on x (B, Tq, C) (see TfSub); returns its result.
 * mem (B, Tk, C) is the encoder output for cross-attention, pad (B, Tk) the
 * keys to mask. */
static const float *
sub_forward (const TfRun *run, TfSub *sb, const TfLayer *ly, int norm,
             const float *x, const float *mem, const guint8 *pad, int B,
             int Tq)
{
  const AttnModelConfig *cfg = run->cfg;
  const int C = cfg->C, F = cfg->F, N = B * Tq;
  const float *in = x;
  if (cfg->pre_norm)
    {
      attn_layernorm_forward (sb->y, sb->mean, sb->rstd, x, ly->norm_w[norm],
                              ly->norm_b[norm], N, C,
                              ATTN_TRANSFORMER_LN_EPS);
      in = sb->y;
    }
  switch (sb->kind)
    {
    case SUB_SELF:
      attn_mha_forward (sb->out, &sb->mha, in, in, &ly->self_attn, FALSE, pad,
                        NULL);
      break;
    case SUB_CAUSAL:
      attn_mha_forward (sb->out, &sb->mha, in, in, &ly->self_attn, TRUE, NULL,
                        NULL);
      break;
    case SUB_CROSS:
      attn_mha_forward (sb->out, &sb->mha, in, mem, &ly->cross_attn, FALSE,
                        pad, NULL);
      break;
    case SUB_FFN:
      attn_linear_forward (sb->h, in, ly->w1, ly->b1, N, C, F);
      attn_relu_forward (sb->h, sb->h, (gsize) N * F);
      attn_linear_forward (sb->out, sb->h, ly->w2, ly->b2, N, F, C);
      break;
    case SUB_CAUSAL_STEP:
      attn_check (N == 1);
      attn_linear_forward (sb->kv_k + (gsize) sb->kv_n * C, in,
                           ly->self_attn.wk, ly->self_attn.bk, 1, C, C);
      attn_linear_forward (sb->kv_v + (gsize) sb->kv_n * C, in,
                           ly->self_attn.wv, ly->self_attn.bv, 1, C, C);
      step_attend (sb, in, &ly->self_attn, sb->kv_n + 1, NULL, C, cfg->NH);
      break;
    case SUB_CROSS_STEP:
      attn_check (N == 1);
      step_attend (sb, in, &ly->cross_attn, sb->kv_n, pad, C, cfg->NH);
      break;
    }
  if (sb->mask != NULL)
    attn_dropout_forward (sb->out, sb->mask, sb->out, (gsize) N * C, run->p,
                          TRUE, run->rng);
  attn_residual_forward (sb->r, x, sb->out, (gsize) N * C);
  if (cfg->pre_norm)
    return sb->r;
  attn_layernorm_forward (sb->y, sb->mean, sb->rstd, sb->r, ly->norm_w[norm],
                          ly->norm_b[norm], N, C, ATTN_TRANSFORMER_LN_EPS);
  return sb->y;
}

/* The encoder half of tf_forward_acts: a->mem (B, S, C) from src (B, S). */
static void
tf_encode_acts (TfPriv *pv, const TfRun *run, TfActs *a, const int *src)
{
  const AttnModelConfig *cfg = run->cfg;
  const TfWeights *w = &pv->w;
  const int B = a->B, S = a->S, T = a->T, C = cfg->C;
  const gsize Ns = (gsize) B * S;
  for (gsize i = 0; i < Ns; i++)
    {
      attn_check (src[i] >= 0 && src[i] < cfg->V);
      a->src_pad[i] = src[i] == ATTN_VOCAB_PAD;
    }
  const float *pe = priv_positions (pv, MAX (S, T), C);

  embed_forward (run, a->src_x, a->src_mask, src, B, S, w->embed, pe);
  const float *x = a->src_x;
  for (int l = 0; l < cfg->L_enc; l++)
    {
      x = sub_forward (run, &a->enc[2 * l], &w->enc[l], 0, x, NULL,
                       a->src_pad, B, S);
      x = sub_forward (run, &a->enc[2 * l + 1], &w->enc[l], 1, x, NULL, NULL,
                       B, S);
    }
  if (cfg->pre_norm)
    {
      attn_layernorm_forward (a->enc_y, a->enc_mean, a->enc_rstd, x,
                              w->enc_norm_w, w->enc_norm_b, (int) Ns, C,
                              ATTN_TRANSFORMER_LN_EPS);
      x = a->enc_y;
    }
  a->mem = x;
}

/* The whole teacher-forced forward into a (already prepared): src (B, S),
 * tgt (B, T); logits in a->logits (B, T, V). */
static void
tf_forward_acts (TfPriv *pv, const TfRun *run, TfActs *a, const int *src,
                 const int *tgt)
{
  const AttnModelConfig *cfg = run->cfg;
  const TfWeights *w = &pv->w;
  const int B = a->B, S = a->S, T = a->T, C = cfg->C;
  const gsize Nt = (gsize) B * T;
  tf_encode_acts (pv, run, a, src);
  const float *pe = priv_positions (pv, MAX (S, T), C);

  embed_forward (run, a->tgt_x, a->tgt_mask, tgt, B, T, w->embed, pe);
  const float *y = a->tgt_x;
  for (int l = 0; l < cfg->L_dec; l++)
    {
      const TfLayer *ly = &w->dec[l];
      y = sub_forward (run, &a->dec[3 * l], ly, 0, y, NULL, NULL, B, T);
      y = sub_forward (run, &a->dec[3 * l + 1], ly, 1, y, a->mem, a->src_pad,
                       B, T);
      y = sub_forward (run, &a->dec[3 * l + 2], ly, 2, y, NULL, NULL, B, T);
    }
  if (cfg->pre_norm)
    {
      attn_layernorm_forward (a->dec_y, a->dec_mean, a->dec_rstd, y,
                              w->dec_norm_w, w->dec_norm_b, (int) Nt, C,
                              ATTN_TRANSFORMER_LN_EPS);
      y = a->dec_y;
    }
  a->dec_out = y;
  attn_linear_forward (a->logits, y, w->out_w, w->out_b, (int) Nt, C,
                       cfg->V);
}

/* ---- backward ---------------------------------------------------------- */

/* Given dnext (N, C), the gradient of the sublayer's result, adds the
 * gradient of its input x to dx (N, C), of the encoder output to dmem
 * (cross-attention), and of its parameters to g. dx must not alias dnext. */
static void
sub_backward (const AttnModelConfig *cfg, TfActs *a, float *dx, float *dmem,
              const float *dnext, const TfSub *sb, const TfLayer *ly,
              TfLayer *g, int norm, const float *x, const float *mem,
              int B, int Tq)
{
  const int C = cfg->C, F = cfg->F, N = B * Tq;
  const gsize NC = (gsize) N * C;
  const float *dr = dnext;
  if (!cfg->pre_norm)
    {
      memset (a->d_r, 0, NC * sizeof (float));
      attn_layernorm_backward (a->d_r, g->norm_w[norm], g->norm_b[norm],
                               dnext, sb->r, ly->norm_w[norm], sb->mean,
                               sb->rstd, N, C);
      dr = a->d_r;
    }
  /* r = x + drop (out) */
  attn_residual_backward (dx, NULL, dr, NC);
  const float *dout = dr;
  if (sb->mask != NULL)
    {
      memset (a->d_out, 0, NC * sizeof (float));
      attn_dropout_backward (a->d_out, dr, sb->mask, NC);
      dout = a->d_out;
    }

  /* The sublayer's input: x itself (post-norm) or LN (x) (pre-norm). */
  const float *in = cfg->pre_norm ? sb->y : x;
  float *din = dx;
  if (cfg->pre_norm)
    {
      din = a->d_in;
      memset (din, 0, NC * sizeof (float));
    }
  switch (sb->kind)
    {
    case SUB_SELF:
    case SUB_CAUSAL:
      attn_mha_backward_ws (a->mha_scratch, din, din, &g->self_attn, dout,
                            &sb->mha, in, in, &ly->self_attn, NULL);
      break;
    case SUB_CROSS:
      attn_mha_backward_ws (a->mha_scratch, din, dmem, &g->cross_attn, dout,
                            &sb->mha, in, mem, &ly->cross_attn, NULL);
      break;
    case SUB_FFN:
      memset (a->d_g, 0, (gsize) N * F * sizeof (float));
      attn_linear_backward (a->d_g, g->w2, g->b2, dout, sb->h, ly->w2, N, F,
                            C);
      memset (a->d_h, 0, (gsize) N * F * sizeof (float));
      attn_relu_backward (a->d_h, a->d_g, sb->h, (gsize) N * F);
      attn_linear_backward (din, g->w1, g->b1, a->d_h, in, ly->w1, N, C, F);
      break;
    case SUB_CAUSAL_STEP:
    case SUB_CROSS_STEP:
      attn_check (!"incremental decoding has no backward");
      break;
    }
  if (cfg->pre_norm)
    attn_layernorm_backward (dx, g->norm_w[norm], g->norm_b[norm], din, x,
                             ly->norm_w[norm], sb->mean, sb->rstd, N, C);
}

/* The input of sublayer i of a stack whose first input is x0. */
static const float *
sub_input (const TfSub *subs, int i, const float *x0, gboolean pre_norm)
{
  if (i == 0)
    return x0;
  return pre_norm ? subs[i - 1].r : subs[i - 1].y;
}

/* Embedding gradient of out = embed[ids] * sqrt (C) + pe, through the
 * dropout mask; dx (N, C) is scaled in place. */
static void
embed_backward (const AttnModelConfig *cfg, float *dembed, float *dx,
                const float *mask, const int *ids, gsize N)
{
  const int C = cfg->C;
  const float scale = sqrtf ((float) C);
  for (gsize i = 0; i < N * C; i++)
    dx[i] *= scale * (mask != NULL ? mask[i] : 1.0f);
  attn_embedding_backward (dembed, dx, ids, (int) N, cfg->V, C);
}

/* From a->dlogits (B, T, V): every parameter gradient, accumulated. */
static void
tf_backward (TfPriv *pv, const AttnModelConfig *cfg, TfActs *a,
             const int *src, const int *tgt)
{
  const TfWeights *w = &pv->w, *g = &pv->g;
  const int B = a->B, S = a->S, T = a->T, C = cfg->C;
  const gsize Ns = (gsize) B * S, Nt = (gsize) B * T;
  float *dcur = a->d_a, *dnext_buf = a->d_b;

  /* decoder: output layer, final norm, layers in reverse */
  memset (dcur, 0, Nt * C * sizeof (float));
  attn_linear_backward (dcur, g->out_w, g->out_b, a->dlogits, a->dec_out,
                        w->out_w, (int) Nt, C, cfg->V);
  const int n_dec = 3 * cfg->L_dec, n_enc = 2 * cfg->L_enc;
  if (cfg->pre_norm)
    {
      float *d = dnext_buf;
      memset (d, 0, Nt * C * sizeof (float));
      attn_layernorm_backward (d, g->dec_norm_w, g->dec_norm_b, dcur,
                               a->dec[n_dec - 1].r, w->dec_norm_w,
                               a->dec_mean, a->dec_rstd, (int) Nt, C);
      dnext_buf = dcur;
      dcur = d;
    }
  memset (a->d_mem, 0, Ns * C * sizeof (float));
  for (int i = n_dec - 1; i >= 0; i--)
    {
      const int l = i / 3, norm = i % 3;
      float *dx = dnext_buf;
      memset (dx, 0, Nt * C * sizeof (float));
      sub_backward (cfg, a, dx, a->d_mem, dcur, &a->dec[i], &w->dec[l],
                    &g->dec[l], norm,
                    sub_input (a->dec, i, a->tgt_x, cfg->pre_norm), a->mem, B,
                    T);
      dnext_buf = dcur;
      dcur = dx;
    }
  embed_backward (cfg, g->embed, dcur, a->tgt_mask, tgt, Nt);

  /* encoder: from the gradient of its output */
  if (cfg->pre_norm)
    {
      memset (dcur, 0, Ns * C * sizeof (float));
      attn_layernorm_backward (dcur, g->enc_norm_w, g->enc_norm_b, a->d_mem,
                               a->enc[n_enc - 1].r, w->enc_norm_w,
                               a->enc_mean, a->enc_rstd, (int) Ns, C);
    }
  else
    memcpy (dcur, a->d_mem, Ns * C * sizeof (float));
  for (int i = n_enc - 1; i >= 0; i--)
    {
      const int l = i / 2, norm = i % 2;
      float *dx = dnext_buf;
      memset (dx, 0, Ns * C * sizeof (float));
      sub_backward (cfg, a, dx, NULL, dcur, &a->enc[i], &w->enc[l],
                    &g->enc[l], norm,
                    sub_input (a->enc, i, a->src_x, cfg->pre_norm), NULL, B,
                    S);
      dnext_buf = dcur;
      dcur = dx;
    }
  embed_backward (cfg, g->embed, dcur, a->src_mask, src, Ns);
}

/* ---- the class --------------------------------------------------------- */

static void
check_batch (const AttnModelConfig *cfg, const AttnBatch *batch)
{
  attn_check (batch != NULL && batch->B > 0 && batch->S > 0 && batch->T > 0);
  attn_check (batch->src != NULL && batch->tgt_in != NULL);
  const gsize Nt = (gsize) batch->B * batch->T;
  for (gsize i = 0; i < Nt; i++)
    attn_check (batch->tgt_in[i] >= 0 && batch->tgt_in[i] < cfg->V);
}

/* Dropout is on when a rng is given and the config has some. */
static TfRun
run_for (const AttnModelConfig *cfg, GRand *rng)
{
  const gboolean drop = rng != NULL && cfg->dropout > 0.0f;
  const TfRun run = { cfg, drop ? cfg->dropout : 0.0f, drop ? rng : NULL };
  return run;
}

void
attn_transformer_forward_batch (AttnModel *model, const AttnBatch *batch,
                                GRand *rng, float *logits)
{
  /* logits (B, T, V) */
  attn_check (logits != NULL);
  check_batch (&model->config, batch);
  TfPriv *pv = get_priv (model);
  TfActs *a = &pv->train;
  const TfRun run = run_for (&model->config, rng);
  acts_prepare (a, &model->config, batch->B, batch->S, batch->T, run.p > 0,
                FALSE);
  tf_forward_acts (pv, &run, a, batch->src, batch->tgt_in);
  memcpy (logits, a->logits,
          (gsize) batch->B * batch->T * model->config.V * sizeof (float));
}

static void
copy_block (AttnTrace *trace, AttnKind kind, int layer, const TfSub *sb,
            int NH, int Tq, int Tk)
{
  AttnBlock *block = attn_trace_add_block (trace, kind, layer, NH, Tq, Tk);
  /* B = 1: att (1, NH, Tq, Tk) is the block's (NH, Tq, Tk). */
  memcpy (block->weights, sb->mha.att, (gsize) NH * Tq * Tk * sizeof (float));
}

static void
tf_forward (AttnModel *model, const int *src, int S, const int *tgt, int T,
            float *logits, AttnTrace *trace)
{
  /* src (S), tgt (T), logits (T, V) */
  const AttnModelConfig *cfg = &model->config;
  attn_check (src != NULL && tgt != NULL && logits != NULL);
  attn_check (S > 0 && T > 0);
  for (int t = 0; t < T; t++)
    attn_check (tgt[t] >= 0 && tgt[t] < cfg->V);
  TfPriv *pv = get_priv (model);
  TfActs *a = &pv->infer;
  acts_prepare (a, cfg, 1, S, T, FALSE, FALSE);
  const TfRun run = run_for (cfg, NULL);
  tf_forward_acts (pv, &run, a, src, tgt);
  memcpy (logits, a->logits, (gsize) T * cfg->V * sizeof (float));

  if (trace == NULL)
    return;
  for (int l = 0; l < cfg->L_enc; l++)
    copy_block (trace, ATTN_KIND_ENCODER_SELF, l, &a->enc[2 * l], cfg->NH, S,
                S);
  for (int l = 0; l < cfg->L_dec; l++)
    copy_block (trace, ATTN_KIND_DECODER_SELF, l, &a->dec[3 * l], cfg->NH, T,
                T);
  for (int l = 0; l < cfg->L_dec; l++)
    copy_block (trace, ATTN_KIND_CROSS, l, &a->dec[3 * l + 1], cfg->NH, T, S);
}

static float
tf_loss_and_grad (AttnModel *model, const AttnBatch *batch,
                  float label_smoothing, GRand *rng, float *token_acc)
{
  const AttnModelConfig *cfg = &model->config;
  attn_check (model->grads != NULL);
  check_batch (cfg, batch);
  attn_check (label_smoothing >= 0.0f && label_smoothing < 1.0f);
  TfPriv *pv = get_priv (model);
  TfActs *a = &pv->train;
  const TfRun run = run_for (cfg, rng);
  acts_prepare (a, cfg, batch->B, batch->S, batch->T, run.p > 0, TRUE);
  tf_forward_acts (pv, &run, a, batch->src, batch->tgt_in);

  const int Nt = batch->B * batch->T, V = cfg->V;
  int counted = 0;
  float loss = attn_cross_entropy_smoothed_forward (
    NULL, a->probs, a->logits, batch->tgt_out, Nt, V, label_smoothing, -1,
    &counted);
  if (token_acc != NULL)
    {
      int right = 0;
      for (int n = 0; n < Nt; n++)
        {
          if (batch->tgt_out[n] < 0)
            continue;
          const float *row = a->logits + (gsize) n * V;
          int best = 0;
          for (int v = 1; v < V; v++)
            if (row[v] > row[best])
              best = v;
          right += best == batch->tgt_out[n];
        }
      *token_acc = counted > 0 ? (float) right / counted : 0.0f;
    }
  if (counted == 0)
    return 0.0f;

  memset (a->dlogits, 0, (gsize) Nt * V * sizeof (float));
  attn_cross_entropy_smoothed_backward (a->dlogits, a->probs, batch->tgt_out,
                                        1.0f / counted, Nt, V,
                                        label_smoothing, -1);
  tf_backward (pv, cfg, a, batch->src, batch->tgt_in);
  return loss;
}

/* ---- incremental decoding ---------------------------------------------- */

/* What every hypothesis decoded from one source shares (refcounted with
 * g_rc_box): the encoding, read-only, and the scratch of one step, so
 * states of one encoding step one at a time. */
typedef struct {
  int S;
  guint8 *pad;     /* (S) nonzero where src is <pad>; NULL when none is */
  float *mem;      /* (S, C) encoder output */
  float *cross_k;  /* (L_dec, S, C) each decoder layer's cross-attention
                    * keys of mem */
  float *cross_v;  /* (L_dec, S, C) and values */
  TfSub *subs;     /* 3 per decoder layer, carved for one position */
  float *x;        /* (C) embedded input */
  float *y;        /* (C) pre-norm: the final LayerNorm's output */
  float *memory;   /* one 64-byte-aligned allocation */
} TfEncoding;

typedef struct {
  AttnDecodeState parent;
  TfEncoding *enc;
  float *self_k;   /* (L_dec, max_len, C) each decoder layer's self-attention
                    * keys of the inputs consumed (parent.n_inputs rows) */
  float *self_v;   /* (L_dec, max_len, C) and values */
} TfDecodeState;

/* Points e's members into cv (or only counts, base NULL). */
static void
carve_encoding (Carver *cv, TfEncoding *e, const AttnModelConfig *cfg)
{
  const gsize S = e->S, C = cfg->C;
  e->mem = take (cv, S * C);
  e->cross_k = take (cv, cfg->L_dec * S * C);
  e->cross_v = take (cv, cfg->L_dec * S * C);
  for (int l = 0; l < cfg->L_dec; l++)
    {
      carve_sub (cv, &e->subs[3 * l], SUB_CAUSAL_STEP, 1, 1, cfg->max_len,
                 cfg, FALSE);
      carve_sub (cv, &e->subs[3 * l + 1], SUB_CROSS_STEP, 1, 1, e->S, cfg,
                 FALSE);
      carve_sub (cv, &e->subs[3 * l + 2], SUB_FFN, 1, 1, 1, cfg, FALSE);
    }
  e->x = take (cv, C);
  e->y = take (cv, C);
}

static void
encoding_clear (gpointer data)
{
  TfEncoding *e = data;
  g_free (e->pad);
  g_free (e->subs);
  g_aligned_free (e->memory);
}

static TfDecodeState *
tf_state_alloc (AttnModel *model, TfEncoding *enc)
{
  const AttnModelConfig *cfg = &model->config;
  const gsize n = (gsize) cfg->L_dec * cfg->max_len * cfg->C;
  TfDecodeState *st = g_new0 (TfDecodeState, 1);
  st->parent.model = model;
  st->parent.S = enc->S;
  st->enc = g_rc_box_acquire (enc);
  st->self_k = g_new (float, 2 * n);
  st->self_v = st->self_k + n;
  return st;
}

static AttnDecodeState *
tf_encode (AttnModel *model, const int *src, int S)
{
  /* src (S) */
  const AttnModelConfig *cfg = &model->config;
  const int C = cfg->C;
  TfPriv *pv = get_priv (model);
  TfActs *a = &pv->infer;
  acts_prepare (a, cfg, 1, S, 1, FALSE, FALSE);
  const TfRun run = run_for (cfg, NULL);
  tf_encode_acts (pv, &run, a, src);

  TfEncoding *e = g_rc_box_new0 (TfEncoding);
  e->S = S;
  e->subs = g_new0 (TfSub, 3 * cfg->L_dec);
  Carver count = { NULL, 0 };
  carve_encoding (&count, e, cfg);
  e->memory = g_aligned_alloc (count.off, sizeof (float), ATTN_TENSOR_ALIGN);
  Carver cv = { e->memory, 0 };
  carve_encoding (&cv, e, cfg);

  gboolean padded = FALSE;
  for (int s = 0; s < S; s++)
    padded |= a->src_pad[s];
  if (padded)
    e->pad = g_memdup2 (a->src_pad, S);
  memcpy (e->mem, a->mem, (gsize) S * C * sizeof (float));
  /* The projections attn_mha_forward makes of mem at every forward, made
   * once. */
  for (int l = 0; l < cfg->L_dec; l++)
    {
      const AttnMhaParams *p = &pv->w.dec[l].cross_attn;
      attn_linear_forward (e->cross_k + (gsize) l * S * C, e->mem, p->wk,
                           p->bk, S, C, C);
      attn_linear_forward (e->cross_v + (gsize) l * S * C, e->mem, p->wv,
                           p->bv, S, C, C);
    }

  TfDecodeState *st = tf_state_alloc (model, e);
  g_rc_box_release_full (e, encoding_clear);
  return &st->parent;
}

static void
tf_step (AttnDecodeState *state, int token, float *logits)
{
  /* logits (V) */
  TfDecodeState *st = (TfDecodeState *) state;
  AttnModel *model = state->model;
  const AttnModelConfig *cfg = &model->config;
  const int C = cfg->C, S = state->S, pos = state->n_inputs;
  TfPriv *pv = get_priv (model);
  const TfWeights *w = &pv->w;
  TfEncoding *e = st->enc;
  const TfRun run = run_for (cfg, NULL);

  /* The decoder of tf_forward_acts for position pos alone. */
  const float *pe = priv_positions (pv, pos + 1, C);
  embed_forward (&run, e->x, NULL, &token, 1, 1, w->embed,
                 pe + (gsize) pos * C);
  const float *y = e->x;
  for (int l = 0; l < cfg->L_dec; l++)
    {
      const TfLayer *ly = &w->dec[l];
      TfSub *sb = &e->subs[3 * l];
      sb[0].kv_k = st->self_k + (gsize) l * cfg->max_len * C;
      sb[0].kv_v = st->self_v + (gsize) l * cfg->max_len * C;
      sb[0].kv_n = pos;
      sb[1].kv_k = e->cross_k + (gsize) l * S * C;
      sb[1].kv_v = e->cross_v + (gsize) l * S * C;
      sb[1].kv_n = S;
      y = sub_forward (&run, &sb[0], ly, 0, y, NULL, NULL, 1, 1);
      y = sub_forward (&run, &sb[1], ly, 1, y, NULL, e->pad, 1, 1);
      y = sub_forward (&run, &sb[2], ly, 2, y, NULL, NULL, 1, 1);
    }
  if (cfg->pre_norm)
    {
      attn_layernorm_forward (e->y, NULL, NULL, y, w->dec_norm_w,
                              w->dec_norm_b, 1, C, ATTN_TRANSFORMER_LN_EPS);
      y = e->y;
    }
  attn_linear_forward (logits, y, w->out_w, w->out_b, 1, C, cfg->V);
}

static AttnDecodeState *
tf_state_copy (const AttnDecodeState *state)
{
  const TfDecodeState *st = (const TfDecodeState *) state;
  const AttnModelConfig *cfg = &state->model->config;
  TfDecodeState *c = tf_state_alloc (state->model, st->enc);
  /* Only the rows consumed so far hold anything. */
  const gsize layer = (gsize) cfg->max_len * cfg->C;
  const gsize used = (gsize) state->n_inputs * cfg->C * sizeof (float);
  for (int l = 0; l < cfg->L_dec; l++)
    {
      memcpy (c->self_k + l * layer, st->self_k + l * layer, used);
      memcpy (c->self_v + l * layer, st->self_v + l * layer, used);
    }
  return &c->parent;
}

static void
tf_state_free (AttnDecodeState *state)
{
  TfDecodeState *st = (TfDecodeState *) state;
  g_rc_box_release_full (st->enc, encoding_clear);
  g_free (st->self_k);
  g_free (st);
}

const AttnModelClass attn_transformer_class = {
  .arch = ATTN_ARCH_TRANSFORMER,
  .param_specs = tf_param_specs,
  .init_params = tf_init_params,
  .forward = tf_forward,
  .loss_and_grad = tf_loss_and_grad,
  .finalize = tf_finalize,
  .encode = tf_encode,
  .step = tf_step,
  .state_copy = tf_state_copy,
  .state_free = tf_state_free,
};
