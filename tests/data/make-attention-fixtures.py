#!/usr/bin/python3
# make-attention-fixtures.py: PyTorch reference numbers for
# core/attn-attention.c (tests/test-attention-reference.c reads them).
#
# Made with (PyTorch 1.13 from Debian's python3-torch), from the project root:
#   /usr/bin/python3 tests/data/make-attention-fixtures.py
# which writes tests/data/attention.json (beside this script, whatever the
# working directory).
#
# Inputs, parameters and upstream gradients are drawn in float32 and written
# exactly (9 significant digits); every reference output is then computed from
# those same values in float64, so the fixture adds no float32 rounding of its
# own and a test measures only the C code's error.
#
# Layout: one flat JSON object. Keys are "<case>.<name>", arrays flattened
# row-major; dimensions are scalars ("mha.B", ...). Masks are 0/1 ints with
# 1 = padding.
#
# 1. mha.*: torch.nn.MultiheadAttention (batch_first, need_weights,
#    average_attn_weights=False) with random biases; cases self (no mask),
#    causal, padding (self-attention with a key-padding mask) and cross
#    (S != T, with padding). Self-attention cases give one input x and the
#    summed gradient dx; cross gives xq/xkv and dxq/dxkv. Gradients are for
#    the loss sum (gout * out).
# 2. additive / dot / general / concat: single-head RNN attention written
#    from the papers' formulas (concat literally concatenates [q; k]), loss
#    sum (gctx * ctx) + sum (gatt * att).
# 3. local_general / local_additive: Luong local-p (window |s - p| <= D,
#    align = softmax within it, Gaussian sigma = D / 2, not renormalised).

import json
import math
import os

import torch

torch.manual_seed(20240601)
out = {}


def put(key, t):
    out[key] = [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


def put_int(key, t):
    out[key] = [int(v) for v in t.reshape(-1).tolist()]


def rnd(*shape, scale=1.0):
    """float32 uniform in [-scale, scale), exactly representable."""
    return ((torch.rand(*shape) * 2 - 1) * scale).float()


def d(t):
    """float64 leaf that collects a gradient."""
    return t.double().clone().requires_grad_(True)


# ---- 1. multi-head attention ----------------------------------------------

B, T, S, C, NH = 2, 5, 7, 16, 4
for k, v in dict(B=B, T=T, S=S, C=C, NH=NH).items():
    out['mha.' + k] = v

mha = torch.nn.MultiheadAttention(C, NH, bias=True, batch_first=True)
with torch.no_grad():
    mha.in_proj_weight.copy_(rnd(3 * C, C, scale=0.6))
    mha.in_proj_bias.copy_(rnd(3 * C, scale=0.3))
    mha.out_proj.weight.copy_(rnd(C, C, scale=0.6))
    mha.out_proj.bias.copy_(rnd(C, scale=0.3))
put('mha.wq', mha.in_proj_weight[:C])
put('mha.wk', mha.in_proj_weight[C:2 * C])
put('mha.wv', mha.in_proj_weight[2 * C:])
put('mha.bq', mha.in_proj_bias[:C])
put('mha.bk', mha.in_proj_bias[C:2 * C])
put('mha.bv', mha.in_proj_bias[2 * C:])
put('mha.wo', mha.out_proj.weight)
put('mha.bo', mha.out_proj.bias)
mha = mha.double()

x = rnd(B, T, C, scale=1.5)
put('mha.x', x)
xc = rnd(B, S, C, scale=1.5)
put('mha.xkv', xc)

causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
pad_self = torch.tensor([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1]], dtype=torch.bool)
pad_cross = torch.tensor([[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1, 1]],
                         dtype=torch.bool)

cases = [
    ('self', False, None, None),
    ('causal', False, causal, None),
    ('padding', False, None, pad_self),
    ('cross', True, None, pad_cross),
]
for name, cross, attn_mask, pad in cases:
    mha.zero_grad()
    xq = d(x)
    xkv = d(xc) if cross else xq
    o, w = mha(xq, xkv, xkv, key_padding_mask=pad, attn_mask=attn_mask,
               need_weights=True, average_attn_weights=False)
    assert w.shape == (B, NH, T, xkv.shape[1])
    assert torch.isfinite(w).all()
    gout = rnd(B, T, C)
    o.backward(gout.double())
    p = name + '.'
    if pad is not None:
        put_int(p + 'pad', pad.int())
    put(p + 'out', o)
    put(p + 'att', w)
    put(p + 'gout', gout)
    if cross:
        put(p + 'dxq', xq.grad)
        put(p + 'dxkv', xkv.grad)
    else:
        put(p + 'dx', xq.grad)
    g = mha.in_proj_weight.grad
    put(p + 'dwq', g[:C])
    put(p + 'dwk', g[C:2 * C])
    put(p + 'dwv', g[2 * C:])
    g = mha.in_proj_bias.grad
    put(p + 'dbq', g[:C])
    put(p + 'dbk', g[C:2 * C])
    put(p + 'dbv', g[2 * C:])
    put(p + 'dwo', mha.out_proj.weight.grad)
    put(p + 'dbo', mha.out_proj.bias.grad)

# ---- 2. single-head scores ------------------------------------------------

Tq, Sk, Dq, Dk, A = 4, 7, 6, 8, 5
for k, v in dict(Tq=Tq, S=Sk, Dq=Dq, Dk=Dk, A=A).items():
    out['rnn.' + k] = v

raw = {
    'q': rnd(Tq, Dq), 'qd': rnd(Tq, Dk), 'keys': rnd(Sk, Dk),
    'w_q': rnd(A, Dq), 'w_k': rnd(A, Dk), 'b': rnd(A, scale=0.5),
    'v': rnd(A, scale=1.5), 'w': rnd(Dq, Dk), 'w_c': rnd(A, Dq + Dk),
}
for k, v in raw.items():
    put('rnn.' + k, v)


def score(kind, q, keys, P):
    """(Tq, S) raw scores, straight from the papers' formulas."""
    if kind == 'additive':
        pre = (q @ P['w_q'].T + P['b'])[:, None, :] + (keys @ P['w_k'].T)[None]
        return torch.tanh(pre) @ P['v']
    if kind == 'dot':
        return q @ keys.T
    if kind == 'general':
        return q @ P['w'] @ keys.T
    if kind == 'concat':
        n, m = q.shape[0], keys.shape[0]
        qk = torch.cat([q[:, None, :].expand(n, m, q.shape[1]),
                        keys[None, :, :].expand(n, m, keys.shape[1])], dim=-1)
        return torch.tanh(qk @ P['w_c'].T) @ P['v']
    raise ValueError(kind)


PARAMS = {
    'additive': ['w_q', 'w_k', 'b', 'v'],
    'dot': [],
    'general': ['w'],
    'concat': ['w_c', 'v'],
}
pad_last = torch.tensor([0, 0, 0, 0, 0, 0, 1], dtype=torch.bool)

for kind, pad in [('additive', pad_last), ('dot', pad_last),
                  ('general', None), ('concat', None)]:
    P = {k: d(raw[k]) for k in PARAMS[kind]}
    q = d(raw['qd'] if kind == 'dot' else raw['q'])
    keys = d(raw['keys'])
    sc = score(kind, q, keys, P)
    if pad is not None:
        sc = sc.masked_fill(pad[None, :], float('-inf'))
        put_int(kind + '.pad', pad.int())
    att = torch.softmax(sc, dim=-1)
    ctx = att @ keys
    gctx, gatt = rnd(Tq, Dk), rnd(Tq, Sk)
    ((gctx.double() * ctx).sum() + (gatt.double() * att).sum()).backward()
    p = kind + '.'
    put(p + 'att', att)
    put(p + 'ctx', ctx)
    put(p + 'gctx', gctx)
    put(p + 'gatt', gatt)
    put(p + 'dq', q.grad)
    put(p + 'dkeys', keys.grad)
    for k in PARAMS[kind]:
        put(p + 'd' + k, P[k].grad)

# ---- 3. local-p ------------------------------------------------------------

Ap, D = 3, 2
sigma = D / 2.0
out['local.Ap'] = Ap
out['local.D'] = D
w_p, v_p = rnd(Ap, Dq, scale=1.5), rnd(Ap, scale=3.0)
put('local.w_p', w_p)
put('local.v_p', v_p)

for kind, pad in [('general', None), ('additive', pad_last)]:
    P = {k: d(raw[k]) for k in PARAMS[kind]}
    wp, vp = d(w_p), d(v_p)
    q, keys = d(raw['q']), d(raw['keys'])
    pos = Sk * torch.sigmoid(torch.tanh(q @ wp.T) @ vp)  # (Tq)
    # The window is piecewise constant in p; the C code finds it in float32,
    # so keep every edge well away from an integer.
    for edge in torch.cat([pos - D, pos + D]).tolist():
        assert abs(edge - round(edge)) > 1e-3, edge
    s = torch.arange(Sk, dtype=torch.float64)
    inwin = (s[None, :] - pos.detach()[:, None]).abs() <= D
    if pad is not None:
        inwin &= ~pad[None, :]
        put_int('local_' + kind + '.pad', pad.int())
    assert inwin.any(dim=1).all()
    sc = score(kind, q, keys, P).masked_fill(~inwin, float('-inf'))
    align = torch.softmax(sc, dim=-1)
    att = align * torch.exp(-(s[None, :] - pos[:, None]) ** 2
                            / (2 * sigma * sigma))
    ctx = att @ keys
    gctx, gatt = rnd(Tq, Dk), rnd(Tq, Sk)
    ((gctx.double() * ctx).sum() + (gatt.double() * att).sum()).backward()
    p = 'local_' + kind + '.'
    put(p + 'p', pos)
    put(p + 'att', att)
    put(p + 'ctx', ctx)
    put(p + 'gctx', gctx)
    put(p + 'gatt', gatt)
    put(p + 'dq', q.grad)
    put(p + 'dkeys', keys.grad)
    put(p + 'dw_p', wp.grad)
    put(p + 'dv_p', vp.grad)
    for k in PARAMS[kind]:
        put(p + 'd' + k, P[k].grad)
    print(p + 'p =', [round(v, 3) for v in pos.tolist()])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    'attention.json')
with open(path, 'w') as f:
    json.dump(out, f, separators=(',', ':'))
    f.write('\n')
size = os.path.getsize(path)
assert size < 300 * 1024, size
print('wrote %s (%d bytes)' % (path, size))
