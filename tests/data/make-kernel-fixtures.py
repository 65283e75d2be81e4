#!/usr/bin/python3
# Makes kernels.json, the reference numbers for tests/test-kernels-reference.c.
#
# Command (from the project root, Debian's python3-torch 1.13):
#   /usr/bin/python3 tests/data/make-kernel-fixtures.py
#
# Every kernel of core/attn-kernels.h that has a PyTorch counterpart, run by
# PyTorch in float32 on random inputs (torch.manual_seed(1234)) with random
# upstream gradients (never ones, so a backward that ignored dout or summed
# the wrong axis would show). For an op f with upstream g, the scalar
# differentiated is sum(f(x) * g), so each grad_* below is exactly what the
# C backward given dout = g must add. Arrays are flat row-major in the C
# kernels' layout; dims are scalars beside them:
#   linear_*   torch.nn.functional.linear: inp (N, C), weight (OC, C),
#              bias (OC) -> out (N, OC); grads of inp, weight and bias.
#   emb_*      torch.nn.functional.embedding: table (V, C), ids (N) with
#              repeats -> out (N, C); grad of table.
#   ln_*       torch.nn.functional.layer_norm, eps 1e-5, random weight and
#              bias: inp (N, C) -> out (N, C); grads of inp, weight, bias.
#   gelu_erf_*, gelu_tanh_*  torch.nn.functional.gelu with approximate
#              'none' and 'tanh' on n inputs in [-6, 6); out and grad.
#   relu_*, tanh_*, sigmoid_*  the same, on n inputs in [-6, 6) (none is
#              exactly 0, where ReLU has no derivative).
#   softmax_*  torch.softmax over the last dim of (N, C), row 1 with three
#              entries masked to -inf (they must come out exactly 0). JSON
#              has no -inf: softmax_masked lists their flat indices, and
#              softmax_inp holds 0 there.
#   ce_*       torch.nn.functional.cross_entropy (mean), logits (N, V),
#              targets (N) with row 2 equal to ignore_index -1; loss is the
#              mean, losses the per-row values (reduction 'none'), dloss the
#              upstream gradient of the mean loss, grad_logits the result.
#   cels_*     the same with label_smoothing=cels_eps (0.1), as
#              torch.nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=-1),
#              on fresh logits (N, V), row 3 ignored. Drawn after every other
#              case, so adding it left the numbers above unchanged.
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'kernels.json')

fixture = {}


def put(name, t):
    """Flat float32 array, 9 significant digits: round-trips exactly."""
    flat = t.detach().to(torch.float32).reshape(-1).tolist()
    fixture[name] = [float('%.9g' % v) for v in flat]


def put_ints(name, t):
    fixture[name] = [int(v) for v in t.reshape(-1).tolist()]


def uniform(shape, lo, hi):
    return (torch.rand(shape, dtype=torch.float32) * (hi - lo) + lo)


def leaf(t):
    return t.clone().requires_grad_(True)


# ---- linear ---------------------------------------------------------------
N, C, OC = 6, 10, 7
bound = 1.0 / C ** 0.5  # torch.nn.Linear's init: outputs of unit scale
inp = leaf(uniform((N, C), -1.0, 1.0))
weight = leaf(uniform((OC, C), -bound, bound))
bias = leaf(uniform((OC,), -bound, bound))
out = F.linear(inp, weight, bias)
dout = uniform((N, OC), -1.0, 1.0)
(out * dout).sum().backward()
fixture.update(linear_N=N, linear_C=C, linear_OC=OC)
put('linear_inp', inp)
put('linear_weight', weight)
put('linear_bias', bias)
put('linear_out', out)
put('linear_dout', dout)
put('linear_grad_inp', inp.grad)
put('linear_grad_weight', weight.grad)
put('linear_grad_bias', bias.grad)

# ---- embedding ------------------------------------------------------------
N, V, C = 9, 11, 8
table = leaf(uniform((V, C), -1.0, 1.0))
ids = torch.tensor([3, 0, 10, 3, 7, 3, 0, 5, 10])
out = F.embedding(ids, table)
dout = uniform((N, C), -1.0, 1.0)
(out * dout).sum().backward()
fixture.update(emb_N=N, emb_V=V, emb_C=C)
put('emb_table', table)
put_ints('emb_ids', ids)
put('emb_out', out)
put('emb_dout', dout)
put('emb_grad_table', table.grad)

# ---- layer norm -----------------------------------------------------------
N, C = 5, 16
inp = leaf(uniform((N, C), -2.0, 2.0) + uniform((N, 1), -3.0, 3.0))
weight = leaf(uniform((C,), 0.5, 1.5))
bias = leaf(uniform((C,), -0.5, 0.5))
out = F.layer_norm(inp, (C,), weight, bias, eps=1e-5)
dout = uniform((N, C), -1.0, 1.0)
(out * dout).sum().backward()
fixture.update(ln_N=N, ln_C=C, ln_eps=1e-5)
put('ln_inp', inp)
put('ln_weight', weight)
put('ln_bias', bias)
put('ln_out', out)
put('ln_dout', dout)
put('ln_grad_inp', inp.grad)
put('ln_grad_weight', weight.grad)
put('ln_grad_bias', bias.grad)

# ---- element-wise activations ---------------------------------------------
n = 200
fixture['act_n'] = n
acts = {
    'gelu_erf': lambda x: F.gelu(x, approximate='none'),
    'gelu_tanh': lambda x: F.gelu(x, approximate='tanh'),
    'relu': F.relu,
    'tanh': torch.tanh,
    'sigmoid': torch.sigmoid,
}
for name, fn in acts.items():
    x = uniform((n,), -6.0, 6.0)
    x[x == 0] = 0.5
    x = leaf(x)
    out = fn(x)
    dout = uniform((n,), -1.0, 1.0)
    (out * dout).sum().backward()
    put(name + '_inp', x)
    put(name + '_out', out)
    put(name + '_dout', dout)
    put(name + '_grad_inp', x.grad)

# ---- softmax --------------------------------------------------------------
N, C = 5, 12
x = uniform((N, C), -4.0, 4.0)
masked = [1 * C + 2, 1 * C + 7, 1 * C + 11]
x.view(-1)[masked] = float('-inf')
x = leaf(x)
out = torch.softmax(x, dim=-1)
dout = uniform((N, C), -1.0, 1.0)
(out * dout).sum().backward()
fixture.update(softmax_N=N, softmax_C=C)
fixture['softmax_masked'] = masked
put('softmax_inp', torch.where(torch.isinf(x), torch.zeros_like(x), x))
put('softmax_out', out)
put('softmax_dout', dout)
put('softmax_grad_inp', x.grad)

# ---- cross-entropy --------------------------------------------------------
N, V, IGNORE = 6, 13, -1
logits = leaf(uniform((N, V), -3.0, 3.0))
targets = torch.tensor([4, 0, IGNORE, 12, 7, 4])
loss = F.cross_entropy(logits, targets, ignore_index=IGNORE)
losses = F.cross_entropy(logits.detach(), targets, ignore_index=IGNORE,
                         reduction='none')
dloss = torch.tensor(0.83, dtype=torch.float32)
(loss * dloss).backward()
fixture.update(ce_N=N, ce_V=V, ce_ignore_index=IGNORE)
put('ce_logits', logits)
put_ints('ce_targets', targets)
fixture['ce_loss'] = float('%.9g' % loss.item())
put('ce_losses', losses)
fixture['ce_dloss'] = float('%.9g' % dloss.item())
put('ce_grad_logits', logits.grad)

# ---- cross-entropy with label smoothing -----------------------------------
N, V, IGNORE, EPS = 7, 13, -1, 0.1
logits = leaf(uniform((N, V), -3.0, 3.0))
targets = torch.tensor([4, 0, 12, IGNORE, 7, 4, 1])
loss = F.cross_entropy(logits, targets, ignore_index=IGNORE,
                       label_smoothing=EPS)
losses = F.cross_entropy(logits.detach(), targets, ignore_index=IGNORE,
                         label_smoothing=EPS, reduction='none')
dloss = torch.tensor(0.83, dtype=torch.float32)
(loss * dloss).backward()
fixture.update(cels_N=N, cels_V=V, cels_ignore_index=IGNORE, cels_eps=EPS)
put('cels_logits', logits)
put_ints('cels_targets', targets)
fixture['cels_loss'] = float('%.9g' % loss.item())
put('cels_losses', losses)
fixture['cels_dloss'] = float('%.9g' % dloss.item())
put('cels_grad_logits', logits.grad)

text = json.dumps(fixture, allow_nan=False)
with open(OUT, 'w') as f:
    f.write(text + '\n')
print('wrote %s (%d bytes)' % (OUT, len(text) + 1))
