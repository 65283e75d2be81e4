#!/usr/bin/python3
# Makes rnn.json, the reference numbers for tests/test-rnn-reference.c.
#
# Command (from the project root, Debian's python3-torch 1.13):
#   /usr/bin/python3 tests/data/make-rnn-fixtures.py
#
# The RNN encoder-decoder of core/attn-rnn.c, built here from torch.nn
# (Embedding, GRU bidirectional over a packed batch, GRUCell, Linear) with the
# attention written out from the papers, once per attention type: additive
# (Bahdanau), Luong dot, general, concat (global) and local-p (general align
# score, Gaussian window, not renormalised). Sizes V=11, E=6, H=5, A=7, D=2;
# a padded batch of B=2: sources of 7 and 4 tokens (S=7, the second padded),
# targets of 5 and 3 decoder steps (T=5; the second's last two decoder inputs
# are <pad> and its targets there -1, no loss).
#
# Weights: torch's default initialisation from a fixed seed, then rounded to
# float32; the model is then run in float64 (model.double()), so the numbers
# below are the exact result for those float32 weights, not another float32
# computation. For each case, keys "<case>.<name>":
#   param.<tensor>   every weight, under the model file's tensor names
#   grad.<tensor>    d loss / d weight (autograd)
#   logits           (B, T, V) teacher-forced, every step (padded ones too)
#   att              (B, T, S) attention weights, padded keys exactly 0
#   loss             mean token cross-entropy, label smoothing 0.1,
#                    ignore_index -1 (torch.nn.functional.cross_entropy)
#   correct          counted tokens whose argmax logit is the target
# and once: V, E, H, A, D, B, S, T, src (B, S), tgt_in (B, T),
# tgt_out (B, T), label_smoothing. Every array flat, row-major.
import json
import math
import os

import torch
import torch.nn.functional as Fn
from torch import nn

V, E, H, A, D = 11, 6, 5, 7, 2
B, S, T = 2, 7, 5
PAD, BOS, EOS = 0, 1, 2
EPS = 0.1
SRC = [[5, 9, 4, 10, 7, 6, EOS],
       [8, 4, 8, EOS, PAD, PAD, PAD]]
TGT_IN = [[BOS, 6, 7, 10, 4],
          [BOS, 8, 4, PAD, PAD]]
TGT_OUT = [[6, 7, 10, 4, EOS],
           [8, 4, EOS, -1, -1]]
CASES = ['additive', 'luong-dot', 'luong-general', 'luong-concat',
         'luong-local-p']


def flat(t):
    return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


class Attention(nn.Module):
    """Scores of attn-attention.h for queries q (B, H) over memory m
    (B, S, H); returns the weights (B, S)."""

    def __init__(self, kind, gen):
        super().__init__()
        self.kind = kind

        def param(*shape):
            return nn.Parameter(torch.rand(*shape, generator=gen) - 0.5)

        if kind == 'additive':
            self.w_q, self.w_k = param(A, H), param(A, H)
            self.b, self.v = param(A), param(A)
        if kind in ('luong-general', 'luong-local-p'):
            self.w = param(H, H)
        if kind == 'luong-concat':
            self.w_c, self.v = param(A, 2 * H), param(A)
        if kind == 'luong-local-p':
            self.w_p, self.v_p = param(A, H), param(A)

    def scores(self, q, m):
        if self.kind == 'additive':
            pre = (q @ self.w_q.T + self.b)[:, None, :] + m @ self.w_k.T
            return torch.tanh(pre) @ self.v
        if self.kind == 'luong-dot':
            return (m * q[:, None, :]).sum(-1)
        if self.kind in ('luong-general', 'luong-local-p'):
            return ((m @ self.w.T) * q[:, None, :]).sum(-1)
        qs = q[:, None, :].expand(-1, m.shape[1], -1)
        return torch.tanh(torch.cat([qs, m], -1) @ self.w_c.T) @ self.v

    def forward(self, q, m, pad, lengths):
        e = self.scores(q, m)
        if self.kind != 'luong-local-p':
            return torch.softmax(e.masked_fill(pad, -math.inf), -1)
        # p_t = S_b sigmoid (v_p^T tanh (W_p h_t)), S_b the true length.
        p = lengths * torch.sigmoid(torch.tanh(q @ self.w_p.T) @ self.v_p)
        pos = torch.arange(m.shape[1], dtype=q.dtype)
        pd = p.detach()
        # The window |s - p| <= D is held fixed (a step function of p); make
        # sure float32 p (what the C code computes) gives the same window.
        for edge in torch.cat([pd - D, pd + D]).tolist():
            assert abs(edge - round(edge)) > 1e-3, 'window edge at an integer'
        outside = ((pos[None, :] - pd[:, None]).abs() > D) | pad
        align = torch.softmax(e.masked_fill(outside, -math.inf), -1)
        sigma = D / 2.0
        gauss = torch.exp(-(pos[None, :] - p[:, None]) ** 2 / (2 * sigma ** 2))
        return align * gauss


class Seq2Seq(nn.Module):
    def __init__(self, kind, gen):
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(V, E)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.memory = nn.Linear(2 * H, H, bias=False)
        self.bridge = nn.Linear(2 * H, H)
        self.decoder = nn.GRUCell(E + H, H)
        self.attention = Attention(kind, gen)
        if kind != 'additive':
            self.attentional = nn.Linear(2 * H, H, bias=False)
        self.out = nn.Linear(2 * H if kind == 'additive' else H, V)

    def forward(self, src, tgt_in):
        lengths = (src != PAD).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(src), lengths, batch_first=True,
            enforce_sorted=False)
        out, h_n = self.encoder(packed)
        enc, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=S)
        mem = self.memory(enc)                             # (B, S, H)
        h = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], -1)))
        pad = src == PAD
        len_f = lengths.to(mem.dtype)
        ht = torch.zeros(B, H, dtype=mem.dtype)
        logits, atts = [], []
        for t in range(T):
            y = self.embedding(tgt_in[:, t])
            if self.kind == 'additive':
                a = self.attention(h, mem, pad, len_f)
                c = (a[:, :, None] * mem).sum(1)
                h = self.decoder(torch.cat([y, c], -1), h)
                f = torch.cat([h, c], -1)
            else:
                h = self.decoder(torch.cat([y, ht], -1), h)
                a = self.attention(h, mem, pad, len_f)
                c = (a[:, :, None] * mem).sum(1)
                ht = torch.tanh(self.attentional(torch.cat([c, h], -1)))
                f = ht
            logits.append(self.out(f))
            atts.append(a)
        return torch.stack(logits, 1), torch.stack(atts, 1)


def make_case(kind, gen, fx):
    torch.manual_seed(1000 + CASES.index(kind))
    # Created in float32, so double() holds the same values exactly.
    model = Seq2Seq(kind, gen).double()
    src = torch.tensor(SRC)
    tgt_in = torch.tensor(TGT_IN)
    tgt_out = torch.tensor(TGT_OUT)
    logits, att = model(src, tgt_in)
    loss = Fn.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1),
                            ignore_index=-1, label_smoothing=EPS)
    loss.backward()
    counted = tgt_out.reshape(-1) >= 0
    correct = (logits.reshape(-1, V).argmax(-1) == tgt_out.reshape(-1))
    for name, p in model.named_parameters():
        fx['%s.param.%s' % (kind, name)] = flat(p)
        fx['%s.grad.%s' % (kind, name)] = flat(p.grad)
    fx[kind + '.logits'] = flat(logits)
    fx[kind + '.att'] = flat(att)
    fx[kind + '.loss'] = float('%.9g' % loss.item())
    fx[kind + '.correct'] = int((correct & counted).sum())
    print('%-14s loss %.6f, %d parameter tensors' %
          (kind, loss.item(), len(list(model.parameters()))))


def main():
    gen = torch.Generator().manual_seed(20261123)
    fx = {'V': V, 'E': E, 'H': H, 'A': A, 'D': D, 'B': B, 'S': S, 'T': T,
          'label_smoothing': EPS,
          'src': sum(SRC, []), 'tgt_in': sum(TGT_IN, []),
          'tgt_out': sum(TGT_OUT, [])}
    for kind in CASES:
        make_case(kind, gen, fx)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'rnn.json')
    with open(path, 'w') as f:
        json.dump(fx, f, separators=(',', ':'))
        f.write('\n')
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))


if __name__ == '__main__':
    main()
