#!/usr/bin/python3
# Makes gru.json, the reference numbers for tests/test-gru-reference.c.
#
# Command (from the project root, Debian's python3-torch 1.13):
#   /usr/bin/python3 tests/data/make-gru-fixtures.py
#
# Three cases, each torch.nn's own module in float32 with random weights
# (uniform in [-0.7, 0.7), wider than torch's default init so that gates
# reach their curved regions), random inputs and initial states, and random
# upstream gradients:
#   cell_*  torch.nn.GRUCell(I=5, H=6), a batch of 3 rows, one step;
#   uni_*   torch.nn.GRU(5, 6, batch_first=True), B=2 sequences of T=7;
#   bi_*    torch.nn.GRU(5, 6, batch_first=True, bidirectional=True), B=2,
#           lengths 7 and 4, run through pack_padded_sequence and
#           pad_packed_sequence(total_length=7) so the second sequence's
#           padding neither feeds the reverse direction nor gets gradient.
# For the sequence cases the scalar differentiated is
#   sum(out * dout) + sum(h_n * dh_n)
# (for the cell, sum(h' * dh')), so the gradients below are exactly what a
# backward pass given upstream dout and dh_n must produce. Every array is
# flat row-major in torch's own layout: x (B, T, I), out (B, T, D*H),
# h0 / h_n (D, B, H), weight_ih (3H, I) with gate rows r, z, n, ...
# The _reverse suffix is torch's name for the second direction.
import json
import os

import torch

I, H, T, B = 5, 6, 7, 2
BI_LENGTHS = [7, 4]
CELL_B = 3
W_RANGE = 0.7


def flat(t):
    return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


def init_params(module, gen):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) * 2 * W_RANGE - W_RANGE)


def param_entries(prefix, module, suffixes):
    out = {}
    for name in ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'):
        for suffix, tag in suffixes:
            p = getattr(module, name + suffix)
            out['%s_%s%s' % (prefix, name, tag)] = flat(p)
            out['%s_d%s%s' % (prefix, name, tag)] = flat(p.grad)
    return out


def make_cell(gen):
    cell = torch.nn.GRUCell(I, H)
    init_params(cell, gen)
    x = torch.randn(CELL_B, I, generator=gen).requires_grad_()
    h = torch.randn(CELL_B, H, generator=gen).requires_grad_()
    dh_out = torch.randn(CELL_B, H, generator=gen)
    h_out = cell(x, h)
    (h_out * dh_out).sum().backward()
    d = {'cell_B': CELL_B, 'cell_x': flat(x), 'cell_h': flat(h),
         'cell_h_out': flat(h_out), 'cell_dh_out': flat(dh_out),
         'cell_dx': flat(x.grad), 'cell_dh': flat(h.grad)}
    d.update(param_entries('cell', cell, [('', '')]))
    return d


def make_seq(gen, prefix, bidirectional, lengths):
    D = 2 if bidirectional else 1
    gru = torch.nn.GRU(I, H, batch_first=True, bidirectional=bidirectional)
    init_params(gru, gen)
    x = torch.randn(B, T, I, generator=gen).requires_grad_()
    h0 = torch.randn(D, B, H, generator=gen).requires_grad_()
    dout = torch.randn(B, T, D * H, generator=gen)
    dh_n = torch.randn(D, B, H, generator=gen)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    out_packed, h_n = gru(packed, h0)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(
        out_packed, batch_first=True, total_length=T)
    ((out * dout).sum() + (h_n * dh_n).sum()).backward()
    d = {prefix + '_lengths': lengths, prefix + '_x': flat(x),
         prefix + '_h0': flat(h0), prefix + '_out': flat(out),
         prefix + '_h_n': flat(h_n), prefix + '_dout': flat(dout),
         prefix + '_dh_n': flat(dh_n), prefix + '_dx': flat(x.grad),
         prefix + '_dh0': flat(h0.grad)}
    suffixes = [('_l0', '')]
    if bidirectional:
        suffixes.append(('_l0_reverse', '_reverse'))
    d.update(param_entries(prefix, gru, suffixes))
    return d


def main():
    gen = torch.Generator().manual_seed(20240611)
    fixture = {'I': I, 'H': H, 'T': T, 'B': B}
    fixture.update(make_cell(gen))
    fixture.update(make_seq(gen, 'uni', False, [T] * B))
    fixture.update(make_seq(gen, 'bi', True, BI_LENGTHS))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'gru.json')
    with open(path, 'w') as f:
        f.write('{\n')
        f.write(',\n'.join('  %s: %s' % (json.dumps(k), json.dumps(v))
                           for k, v in fixture.items()))
        f.write('\n}\n')


if __name__ == '__main__':
    main()
