/* attn-dims.h: the dimension letters, fixed project-wide.
 *
 * Every `float *` that is a tensor carries its shape in a comment built from
 * these letters, e.g. `float *att; (NH, T, S)`. Tensors are row-major
 * (C order): the last letter varies fastest.
 *
 *   B   batch (sequences processed together)
 *   N   rows of a flattened batch, N = B * T (or B * S)
 *   S   source length (encoder side, keys of cross-attention)
 *   T   target length (decoder side, queries); for self-attention of one
 *       stream, keys have length T too
 *   C   channels (model width, d_model)
 *   OC  output channels of a linear layer
 *   NH  attention heads
 *   HS  head size, C / NH
 *   A   width of the hidden layer of an additive / concat score
 *   H   hidden size of a recurrent layer
 *   F   feed-forward width (d_ff)
 *   L   layers
 *   V   vocabulary size
 */
#pragma once
