#!/usr/bin/python3
# Makes transformer-post.json and transformer-pre.json, the reference numbers
# for tests/test-transformer-reference.c.
#
# Command (from the project root, Debian's python3-torch 1.13):
#   /usr/bin/python3 tests/data/make-transformer-fixtures.py
#
# A tiny Transformer encoder-decoder (V=11, C=16, NH=4, L_enc=2, L_dec=2,
# F=32) built from torch.nn modules (nn.MultiheadAttention with
# batch_first=True, nn.LayerNorm, nn.Linear, nn.Embedding), the same
# architecture as core/attn-transformer.c:
#   x = Embedding(src) * sqrt(C) + PE (Annotated Transformer sin/cos
#       interleaving: PE[pos, 2i] = sin(pos / 10000^(2i/C)),
#       PE[pos, 2i+1] = cos(...));
#   encoder layer: self-attention (source key padding), ReLU FFN;
#   decoder layer: causal self-attention, cross-attention (source key
#   padding), ReLU FFN;
#   post-norm: x = LN(x + sublayer(x)); pre-norm: x = x + sublayer(LN(x))
#   and a final LayerNorm after each stack;
#   logits = Linear(C -> V) with bias (not tied to the embedding);
#   loss = nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=-1), the
#   mean over the target tokens that are not -1.
# No dropout. A padded batch of B=2: source lengths 6 and 4 (S=6, PAD=0
# after </s>), decoder inputs of 5 and 3 tokens (T=5).
#
# Both files hold the SAME weights (the pre-norm file adds enc.norm.* and
# dec.norm.*), stored as members "param.<name>" under the safetensors names of
# core/attn-transformer.c. Weights are random numbers rounded to 3 decimals:
# each decimal is read identically (to the nearest float32) by C and by
# Python, and the short numbers keep each file under 300 KB. The reference
# is computed in float64 from those float32 weights:
#   src (B, S), tgt_in (B, T), tgt_out (B, T) ints;
#   logits (B, T, V);
#   "att.<kind>.<layer>" (B, NH, Tq, Tk) per-head attention weights
#   (need_weights=True, average_attn_weights=False), kind encoder-self,
#   decoder-self or cross;
#   loss (scalar), label_smoothing, n_counted;
#   "grad.<name>" autograd's gradient of the loss for every parameter.
# Two files rather than one: the gradients of both variants at 9 significant
# digits would not fit in 300 KB.
import json
import math
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
V, C, NH, L_ENC, L_DEC, F = 11, 16, 4, 2, 2, 32
B, S, T = 2, 6, 5
PAD, BOS, EOS = 0, 1, 2
EPS_LS = 0.1

SRC = [[5, 9, 4, 10, 7, EOS],
       [8, 6, 4, EOS, PAD, PAD]]
TGT_IN = [[BOS, 7, 10, 4, 9],
          [BOS, 4, 6, PAD, PAD]]
TGT_OUT = [[7, 10, 4, 9, 5],
           [4, 6, EOS, -1, -1]]


def mha_names(prefix):
    return [prefix + '.' + n for n in
            ('wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo')]


def ln_names(prefix):
    return [prefix + '.weight', prefix + '.bias']


def lin_names(prefix):
    return [prefix + '.weight', prefix + '.bias']


def param_shapes(pre_norm):
    """(name, shape) in the order of core/attn-transformer.c's specs."""
    out = [('embed.weight', (V, C))]

    def mha(prefix):
        for n in mha_names(prefix):
            out.append((n, (C, C) if n[-2] == 'w' else (C,)))

    def ln(prefix):
        out.extend([(prefix + '.weight', (C,)), (prefix + '.bias', (C,))])

    def ffn(prefix):
        out.extend([(prefix + '.linear1.weight', (F, C)),
                    (prefix + '.linear1.bias', (F,)),
                    (prefix + '.linear2.weight', (C, F)),
                    (prefix + '.linear2.bias', (C,))])

    for l in range(L_ENC):
        p = 'enc.%d' % l
        mha(p + '.self_attn')
        ln(p + '.norm1')
        ffn(p)
        ln(p + '.norm2')
    if pre_norm:
        ln('enc.norm')
    for l in range(L_DEC):
        p = 'dec.%d' % l
        mha(p + '.self_attn')
        ln(p + '.norm1')
        mha(p + '.cross_attn')
        ln(p + '.norm2')
        ffn(p)
        ln(p + '.norm3')
    if pre_norm:
        ln('dec.norm')
    out.extend([('out.weight', (V, C)), ('out.bias', (V,))])
    return out


def make_weights():
    """Random weights rounded to 3 decimals, float32 values."""
    g = torch.Generator().manual_seed(4321)
    w = {}
    for name, shape in param_shapes(True):
        u = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
        if 'norm' in name and name.endswith('.weight'):
            t = 1.0 + 0.3 * u          # LayerNorm gains around 1
        elif len(shape) == 1:
            t = 0.1 * u                # biases: small, nonzero
        else:
            t = u * math.sqrt(6.0 / (shape[0] + shape[1]))  # Xavier range
        t = torch.round(t * 1000) / 1000
        w[name] = t.to(torch.float32)
    return w


def positions(n, c):
    pe = torch.zeros(n, c, dtype=torch.float64)
    pos = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, c, 2, dtype=torch.float64)
                    * (-math.log(10000.0) / c))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    # The C code keeps the table in float32.
    return pe.to(torch.float32).to(torch.float64)


class Model(nn.Module):
    def __init__(self, pre_norm):
        super().__init__()
        self.pre_norm = pre_norm
        kw = dict(dtype=torch.float64)
        self.embed = nn.Embedding(V, C, **kw)

        def mha():
            return nn.MultiheadAttention(C, NH, dropout=0.0, batch_first=True,
                                         **kw)

        def block(cross):
            m = nn.ModuleDict()
            m['self_attn'] = mha()
            m['norm1'] = nn.LayerNorm(C, eps=1e-5, **kw)
            if cross:
                m['cross_attn'] = mha()
                m['norm2'] = nn.LayerNorm(C, eps=1e-5, **kw)
                m['norm3'] = nn.LayerNorm(C, eps=1e-5, **kw)
            else:
                m['norm2'] = nn.LayerNorm(C, eps=1e-5, **kw)
            m['linear1'] = nn.Linear(C, F, **kw)
            m['linear2'] = nn.Linear(F, C, **kw)
            return m

        self.enc = nn.ModuleList([block(False) for _ in range(L_ENC)])
        self.dec = nn.ModuleList([block(True) for _ in range(L_DEC)])
        self.enc_norm = nn.LayerNorm(C, eps=1e-5, **kw)
        self.dec_norm = nn.LayerNorm(C, eps=1e-5, **kw)
        self.out = nn.Linear(C, V, **kw)
        self.register_buffer('pe', positions(max(S, T), C))

    # (our name) -> (tensor, rows): a view of the torch parameter that the
    # C tensor of that name corresponds to.
    def named_views(self):
        views = {'embed.weight': self.embed.weight,
                 'out.weight': self.out.weight, 'out.bias': self.out.bias}

        def mha(prefix, m):
            for i, n in enumerate(('q', 'k', 'v')):
                views[prefix + '.w' + n] = (m.in_proj_weight, i)
                views[prefix + '.b' + n] = (m.in_proj_bias, i)
            views[prefix + '.wo'] = m.out_proj.weight
            views[prefix + '.bo'] = m.out_proj.bias

        def mod(prefix, m):
            views[prefix + '.weight'] = m.weight
            views[prefix + '.bias'] = m.bias

        for l, m in enumerate(self.enc):
            p = 'enc.%d' % l
            mha(p + '.self_attn', m['self_attn'])
            for n in ('norm1', 'norm2', 'linear1', 'linear2'):
                mod(p + '.' + n, m[n])
        for l, m in enumerate(self.dec):
            p = 'dec.%d' % l
            mha(p + '.self_attn', m['self_attn'])
            mha(p + '.cross_attn', m['cross_attn'])
            for n in ('norm1', 'norm2', 'norm3', 'linear1', 'linear2'):
                mod(p + '.' + n, m[n])
        mod('enc.norm', self.enc_norm)
        mod('dec.norm', self.dec_norm)
        return views

    def load(self, weights):
        views = self.named_views()
        with torch.no_grad():
            for name, val in weights.items():
                v = views[name]
                if isinstance(v, tuple):
                    t, i = v
                    t[i * C:(i + 1) * C].copy_(val.to(torch.float64))
                else:
                    v.copy_(val.to(torch.float64))

    def grad_of(self, name):
        v = self.named_views()[name]
        if isinstance(v, tuple):
            t, i = v
            return t.grad[i * C:(i + 1) * C]
        return v.grad

    def sub(self, x, norm, fn):
        if self.pre_norm:
            y, w = fn(norm(x))
            return x + y, w
        y, w = fn(x)
        return norm(x + y), w

    def forward(self, src, tgt):
        att = {}
        src_pad = src == PAD
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

        def attn(m, q, kv, **kw):
            return m(q, kv, kv, need_weights=True,
                     average_attn_weights=False, **kw)

        def ffn(m):
            return lambda h: (m['linear2'](torch.relu(m['linear1'](h))),
                              None)

        x = self.embed(src) * math.sqrt(C) + self.pe[:S]
        for l, m in enumerate(self.enc):
            x, w = self.sub(x, m['norm1'], lambda h: attn(
                m['self_attn'], h, h, key_padding_mask=src_pad))
            att['encoder-self.%d' % l] = w
            x, _ = self.sub(x, m['norm2'], ffn(m))
        if self.pre_norm:
            x = self.enc_norm(x)
        mem = x

        y = self.embed(tgt) * math.sqrt(C) + self.pe[:T]
        for l, m in enumerate(self.dec):
            y, w = self.sub(y, m['norm1'], lambda h: attn(
                m['self_attn'], h, h, attn_mask=causal))
            att['decoder-self.%d' % l] = w
            y, w = self.sub(y, m['norm2'], lambda h: attn(
                m['cross_attn'], h, mem, key_padding_mask=src_pad))
            att['cross.%d' % l] = w
            y, _ = self.sub(y, m['norm3'], ffn(m))
        if self.pre_norm:
            y = self.dec_norm(y)
        return self.out(y), att


def put(fixture, name, t):
    """Flat float array, 9 significant digits."""
    flat = t.detach().reshape(-1).tolist()
    fixture[name] = [float('%.9g' % v) for v in flat]


def make(pre_norm, weights):
    model = Model(pre_norm)
    model.load(weights)
    src = torch.tensor(SRC)
    tgt_in = torch.tensor(TGT_IN)
    tgt_out = torch.tensor(TGT_OUT)
    logits, att = model(src, tgt_in)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=EPS_LS, ignore_index=-1)
    loss = loss_fn(logits.reshape(-1, V), tgt_out.reshape(-1))
    loss.backward()

    fx = {'V': V, 'C': C, 'NH': NH, 'L_enc': L_ENC, 'L_dec': L_DEC, 'F': F,
          'B': B, 'S': S, 'T': T, 'pre_norm': int(pre_norm),
          'label_smoothing': EPS_LS,
          'n_counted': int((tgt_out != -1).sum()),
          'src': sum(SRC, []), 'tgt_in': sum(TGT_IN, []),
          'tgt_out': sum(TGT_OUT, [])}
    names = [n for n, _ in param_shapes(pre_norm)]
    fx['param_names'] = names
    for n in names:
        # 3-decimal values: print the decimal they were made from.
        fx['param.' + n] = [float('%.3f' % v)
                            for v in weights[n].reshape(-1).tolist()]
    put(fx, 'logits', logits)
    for k, w in att.items():
        put(fx, 'att.' + k, w)
    fx['loss'] = float('%.9g' % loss.item())
    for n in names:
        put(fx, 'grad.' + n, model.grad_of(n))
    name = 'transformer-%s.json' % ('pre' if pre_norm else 'post')
    text = json.dumps(fx, allow_nan=False, separators=(',', ':'))
    with open(os.path.join(HERE, name), 'w') as f:
        f.write(text + '\n')
    print('wrote %s (%d bytes), loss %.6f' % (name, len(text) + 1,
                                              loss.item()))


def main():
    weights = make_weights()
    make(False, weights)
    make(True, weights)


# Imported (bench/bench-train-vs-torch.py reuses Model), it writes nothing.
if __name__ == '__main__':
    main()
