/* attn-transformer.h: the Transformer encoder-decoder (Vaswani et al. 2017)
 * behind attn_transformer_class (attn-model.h), and what its tests and the
 * benchmark need beyond the vtable.
 *
 * Architecture (config members of AttnModelConfig):
 *   x = embed[src] * sqrt (C) + PE[position], then dropout;
 *     one embedding (V, C) is shared by the encoder and the decoder (one
 *     character vocabulary, as the paper shares its BPE embeddings); PE is
 *     the paper's sinusoid in the Annotated Transformer's interleaving:
 *     PE[pos, 2i] = sin (pos / 10000^(2i / C)),
 *     PE[pos, 2i + 1] = cos (pos / 10000^(2i / C));
 *   encoder layer: self-attention (source padding masked), then FFN;
 *   decoder layer: causal self-attention, cross-attention over the encoder
 *     output (source padding masked), then FFN;
 *   FFN (x) = linear2 (ReLU (linear1 (x))), width F (ReLU as the paper);
 *   each sublayer: post-norm (paper, pre_norm FALSE):
 *     x = LayerNorm (x + dropout (sublayer (x)));
 *   or pre-norm: x = x + dropout (sublayer (LayerNorm (x))), with a final
 *     LayerNorm after each stack;
 *   logits = out (decoder output): (V, C) weight and (V) bias, not tied to
 *     the embedding.
 * LayerNorm eps 1e-5. Target padding needs no mask: padded decoder inputs
 * come after every real one, so the causal mask hides them, and their
 * targets are -1 (no loss).
 *
 * Parameters (safetensors keys), in this order; torch.nn names where torch
 * has one, and the attention projections split (wq = rows [0, C) of torch's
 * in_proj_weight, and so on; wo, bo = out_proj):
 *   embed.weight                      (V, C)
 *   enc.<l>.self_attn.{wq,wk,wv,wo}   (C, C)  and {bq,bk,bv,bo} (C)
 *   enc.<l>.norm1.{weight,bias}       (C)     after/before self-attention
 *   enc.<l>.linear1.weight (F, C), enc.<l>.linear1.bias (F)
 *   enc.<l>.linear2.weight (C, F), enc.<l>.linear2.bias (C)
 *   enc.<l>.norm2.{weight,bias}       (C)     FFN
 *   enc.norm.{weight,bias}            (C)     pre-norm only
 *   dec.<l>.self_attn.*, dec.<l>.norm1.*, dec.<l>.cross_attn.*,
 *   dec.<l>.norm2.*, dec.<l>.linear1.*, dec.<l>.linear2.*, dec.<l>.norm3.*
 *   dec.norm.{weight,bias}            (C)     pre-norm only
 *   out.weight (V, C), out.bias (V)
 * (the members of one layer are listed in the order above: self_attn,
 * norm1, [cross_attn, norm2,] linear1, linear2, norm2 or norm3).
 *
 * Initialisation (init_params) as torch.nn.Transformer: Xavier-uniform for
 * every matrix, the three query/key/value projections bounded as the one
 * packed (3C, C) in_proj_weight they are in torch (sqrt (6 / 4C)); biases
 * 0; LayerNorm weights 1, biases 0. Values are drawn from the GRand in
 * parameter order. */
#pragma once

#include <glib.h>

#include "core/attn-model.h"

G_BEGIN_DECLS

#define ATTN_TRANSFORMER_LN_EPS 1e-5f

/* Teacher-forced forward of a padded batch by the same code path as
 * loss_and_grad: logits (B, T, V). Dropout as there: on when rng is given
 * and config.dropout > 0, drawing the same masks as loss_and_grad would from
 * a GRand in the same state. model->grads is not touched. */
void attn_transformer_forward_batch (AttnModel *model, const AttnBatch *batch,
                                     GRand *rng, float *logits);

/* The sinusoidal position table pe (n, C), as the model adds it. */
void attn_transformer_positions (float *pe, int n, int C);

G_END_DECLS
