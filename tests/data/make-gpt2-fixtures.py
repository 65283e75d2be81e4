#!/usr/bin/python3
# Fixtures for tests/test-gpt2-reference.c: a small random GPT-2 written in
# the Hugging Face layout, and what PyTorch computes with it.
#
# Made with (from the project root):
#   /usr/bin/python3 tests/data/make-gpt2-fixtures.py
# which writes, beside this script:
#   gpt2-tiny/{config.json,model.safetensors}
#       F32, keys with the `transformer.` prefix (as GPT2LMHeadModel saves
#       them) plus an `lm_head.weight` equal to wte (tied, as the config says)
#   gpt2-tiny-noprefix/{config.json,model.safetensors}
#       F32, keys without the prefix and with the `h.N.attn.bias` causal-mask
#       buffers, as the hub's original gpt2 checkpoint; no lm_head
#   gpt2-tiny-f16/{config.json,model.safetensors}
#       every tensor F16 (torch's .half() of the same weights), prefixed, no
#       lm_head
#   gpt2.json
#       ids: the prompt (12 ids); greedy: the 8 tokens PyTorch's greedy
#       decoding appends to it; full: prompt + greedy (20 ids);
#       logits (20, V) and att (L, NH, 20, 20) of a forward over `full`;
#       f16_logits (12, V) and f16_att (L, NH, 12, 12) of a forward over the
#       prompt with the f16-rounded weights (computed in float32).
#
# The sizes are smaller than GPT-2's (L 2, NH 4, n_embd 32, n_positions 32,
# V 200) so that the three checkpoints and the numbers stay under 500 KB in
# all; the code paths are the same at any size. `transformers` is not
# installed here, so the forward below is GPT-2's written out: Conv1D
# (weights stored (in, out): y = x @ W + b), pre-LayerNorm blocks, causal
# softmax attention scaled by 1/sqrt(head size), gelu_new (the tanh form),
# final LayerNorm, logits = h @ wte^T.
#
# The weights are drawn larger than GPT-2's initialisation (std 0.02 would
# give near-uniform attention and near-zero logits, which test little), and
# the script refuses a seed whose greedy choices are near ties (top-2 gap
# under 1e-2), so float rounding cannot flip a token.

import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

L, NH, C, NPOS, V = 2, 4, 32, 32, 200
EPS = 1e-5
PROMPT = [17, 151, 3, 88, 42, 199, 0, 64, 120, 7, 95, 33]
N_GEN = 8
SEED = 20261137  # its greedy continuation has 8 different tokens


def sig9(values):
    return [float('%.9g' % v) for v in values]


def make_weights(gen):
    def rnd(*shape, std):
        return torch.randn(*shape, generator=gen, dtype=torch.float32) * std

    w = {
        'wte.weight': rnd(V, C, std=0.5),
        'wpe.weight': rnd(NPOS, C, std=0.3),
        'ln_f.weight': 1.0 + rnd(C, std=0.1),
        'ln_f.bias': rnd(C, std=0.1),
    }
    for l in range(L):
        p = 'h.%d.' % l
        w[p + 'ln_1.weight'] = 1.0 + rnd(C, std=0.1)
        w[p + 'ln_1.bias'] = rnd(C, std=0.1)
        w[p + 'attn.c_attn.weight'] = rnd(C, 3 * C, std=0.35)  # (in, out)
        w[p + 'attn.c_attn.bias'] = rnd(3 * C, std=0.1)
        w[p + 'attn.c_proj.weight'] = rnd(C, C, std=0.2)
        w[p + 'attn.c_proj.bias'] = rnd(C, std=0.1)
        w[p + 'ln_2.weight'] = 1.0 + rnd(C, std=0.1)
        w[p + 'ln_2.bias'] = rnd(C, std=0.1)
        w[p + 'mlp.c_fc.weight'] = rnd(C, 4 * C, std=0.2)
        w[p + 'mlp.c_fc.bias'] = rnd(4 * C, std=0.1)
        w[p + 'mlp.c_proj.weight'] = rnd(4 * C, C, std=0.1)
        w[p + 'mlp.c_proj.bias'] = rnd(C, std=0.1)
    return w


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                       * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(w, ids):
    """logits (T, V), att (L, NH, T, T), in float32."""
    T = len(ids)
    HS = C // NH
    ids_t = torch.tensor(ids, dtype=torch.long)
    h = w['wte.weight'][ids_t] + w['wpe.weight'][torch.arange(T)]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    atts = []
    for l in range(L):
        p = 'h.%d.' % l
        a = torch.nn.functional.layer_norm(h, (C,), w[p + 'ln_1.weight'],
                                           w[p + 'ln_1.bias'], EPS)
        qkv = a @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']
        q, k, v = qkv.split(C, dim=1)
        q = q.view(T, NH, HS).transpose(0, 1)  # (NH, T, HS)
        k = k.view(T, NH, HS).transpose(0, 1)
        v = v.view(T, NH, HS).transpose(0, 1)
        s = (q @ k.transpose(1, 2)) / math.sqrt(HS)
        s = s.masked_fill(~causal, float('-inf'))
        att = torch.softmax(s, dim=-1)  # (NH, T, T)
        atts.append(att)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        h = h + y @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias']
        m = torch.nn.functional.layer_norm(h, (C,), w[p + 'ln_2.weight'],
                                           w[p + 'ln_2.bias'], EPS)
        m = gelu_new(m @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias'])
        h = h + m @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias']
    h = torch.nn.functional.layer_norm(h, (C,), w['ln_f.weight'],
                                       w['ln_f.bias'], EPS)
    return h @ w['wte.weight'].t(), torch.stack(atts)


def greedy(w, ids, n):
    """Greedy decoding by full recomputation; asserts no near ties."""
    ids = list(ids)
    for _ in range(n):
        logits, _ = forward(w, ids)
        top2 = torch.topk(logits[-1], 2).values
        assert float(top2[0] - top2[1]) > 1e-2, 'near tie: pick another seed'
        ids.append(int(torch.argmax(logits[-1])))
    return ids


DTYPE_NAME = {torch.float32: 'F32', torch.float16: 'F16'}


def write_safetensors(path, tensors):
    """tensors: {name: tensor}; laid out as the reference library does
    (names sorted, packed in that order, header padded with spaces to a
    multiple of 8, `__metadata__` {"format": "pt"})."""
    header = {'__metadata__': {'format': 'pt'}}
    data = b''
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPE_NAME[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    raw_header = json.dumps(header, separators=(',', ':')).encode('utf-8')
    raw_header += b' ' * ((8 - len(raw_header) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw_header)))
        f.write(raw_header)
        f.write(data)


def write_model(folder, tensors):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    config = {
        'activation_function': 'gelu_new',
        'architectures': ['GPT2LMHeadModel'],
        'bos_token_id': V - 1,
        'eos_token_id': V - 1,
        'layer_norm_epsilon': EPS,
        'model_type': 'gpt2',
        'n_ctx': NPOS,
        'n_embd': C,
        'n_head': NH,
        'n_inner': None,
        'n_layer': L,
        'n_positions': NPOS,
        'scale_attn_weights': True,
        'vocab_size': V,
    }
    with open(os.path.join(HERE, folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(HERE, folder, 'model.safetensors'), tensors)


def main():
    gen = torch.Generator().manual_seed(SEED)
    w = make_weights(gen)

    with torch.no_grad():
        full = greedy(w, PROMPT, N_GEN)
        logits, att = forward(w, full)
        w16 = {k: v.half().float() for k, v in w.items()}
        f16_logits, f16_att = forward(w16, PROMPT)

    prefixed = {'transformer.' + k: v for k, v in w.items()}
    prefixed['lm_head.weight'] = w['wte.weight'].clone()
    write_model('gpt2-tiny', prefixed)

    bare = dict(w)
    mask = torch.tril(torch.ones(NPOS, NPOS)).view(1, 1, NPOS, NPOS)
    for l in range(L):
        bare['h.%d.attn.bias' % l] = mask
    write_model('gpt2-tiny-noprefix', bare)

    write_model('gpt2-tiny-f16',
                {'transformer.' + k: v.half() for k, v in w.items()})

    out = {
        'L': L, 'NH': NH, 'C': C, 'V': V, 'n_positions': NPOS,
        'ids': PROMPT,
        'greedy': full[len(PROMPT):],
        'full': full,
        'logits': sig9(logits.flatten().tolist()),
        'att': sig9(att.flatten().tolist()),
        'f16_logits': sig9(f16_logits.flatten().tolist()),
        'f16_att': sig9(f16_att.flatten().tolist()),
    }
    with open(os.path.join(HERE, 'gpt2.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')

    print('greedy continuation:', full[len(PROMPT):])
    print('logits range: %.3f .. %.3f' % (float(logits.min()),
                                          float(logits.max())))
    print('max attention weight off the diagonal start: %.3f'
          % float(att[:, :, 4:, :].max()))


if __name__ == '__main__':
    main()
