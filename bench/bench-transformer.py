#!/usr/bin/python3
# bench-transformer.py: training steps per second and greedy translation
# time of the built-in Transformer, attnscope against the same model in
# PyTorch, side by side. A benchmark (figures to read), not a test.
#
#   /usr/bin/python3 bench/bench-transformer.py --bench build/bench/attn-bench-train \
#       [--model dates-transformer.safetensors] [--threads 2] [--d-model 128] ...
#
# attnscope's figures come from bench/attn-bench-train --json (its own
# trainer: `threads` data-parallel workers, one OpenBLAS thread each; the
# translation figure needs a trained --model). PyTorch (Debian's 1.13,
# torch.set_num_threads(threads)) runs the same architecture
# (core/attn-transformer.h: shared embedding * sqrt(C) + sinusoidal
# positions, nn.MultiheadAttention, ReLU FFN, post- or pre-norm, dropout,
# untied output layer) with Adam on random batches of the padded shapes
# attnscope's trainer draws (B x mean S, B x mean T, source key padding),
# and greedy decoding that re-runs the whole model for each new token (the
# plain way; attnscope's decoder keeps keys and values and computes only the
# new position) for the mean input and output lengths. On a machine shared
# with other work, run it with OMP_WAIT_POLICY=passive: PyTorch's spinning
# OpenMP threads otherwise lose most of their time to the other processes.
import argparse
import json
import math
import subprocess
import time

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, V, C, NH, L, F, pre_norm, dropout, max_len=256):
        super().__init__()
        self.C, self.pre_norm = C, pre_norm
        self.embed = nn.Embedding(V, C)
        pe = torch.zeros(max_len, C)
        pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        div = torch.exp(torch.arange(0, C, 2, dtype=torch.float64)
                        * (-math.log(10000.0) / C))
        pe[:, 0::2] = torch.sin(pos * div).float()
        pe[:, 1::2] = torch.cos(pos * div).float()
        self.register_buffer('pe', pe)
        self.drop = nn.Dropout(dropout)

        def mha():
            return nn.MultiheadAttention(C, NH, batch_first=True)

        def block(n_att):
            m = nn.ModuleDict()
            m['att'] = nn.ModuleList([mha() for _ in range(n_att)])
            m['norm'] = nn.ModuleList([nn.LayerNorm(C)
                                       for _ in range(n_att + 1)])
            m['ff'] = nn.Sequential(nn.Linear(C, F), nn.ReLU(),
                                    nn.Linear(F, C))
            return m

        self.enc = nn.ModuleList([block(1) for _ in range(L)])
        self.dec = nn.ModuleList([block(2) for _ in range(L)])
        self.enc_norm = nn.LayerNorm(C)
        self.dec_norm = nn.LayerNorm(C)
        self.out = nn.Linear(C, V)

    def sub(self, x, norm, fn):
        if self.pre_norm:
            return x + self.drop(fn(norm(x)))
        return norm(x + self.drop(fn(x)))

    def forward(self, src, tgt):
        S, T = src.shape[1], tgt.shape[1]
        pad = src == 0
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        x = self.drop(self.embed(src) * math.sqrt(self.C) + self.pe[:S])
        for m in self.enc:
            a = m['att'][0]
            x = self.sub(x, m['norm'][0], lambda h: a(
                h, h, h, key_padding_mask=pad, need_weights=True,
                average_attn_weights=False)[0])
            x = self.sub(x, m['norm'][1], m['ff'])
        if self.pre_norm:
            x = self.enc_norm(x)
        y = self.drop(self.embed(tgt) * math.sqrt(self.C) + self.pe[:T])
        for m in self.dec:
            sa, ca = m['att'][0], m['att'][1]
            y = self.sub(y, m['norm'][0], lambda h: sa(
                h, h, h, attn_mask=causal, need_weights=True,
                average_attn_weights=False)[0])
            y = self.sub(y, m['norm'][1], lambda h: ca(
                h, x, x, key_padding_mask=pad, need_weights=True,
                average_attn_weights=False)[0])
            y = self.sub(y, m['norm'][2], m['ff'])
        if self.pre_norm:
            y = self.dec_norm(y)
        return self.out(y)


def torch_train(args, V, S, T, warmup, steps):
    torch.manual_seed(1)
    model = Model(V, args.d_model, args.heads, args.layers, args.d_ff,
                  args.pre_norm, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    B = args.batch

    def batch():
        src = torch.randint(4, V, (B, S))
        lengths = torch.randint(S // 3, S + 1, (B,))
        src[torch.arange(S)[None, :] >= lengths[:, None]] = 0
        tgt_in = torch.randint(4, V, (B, T))
        tgt_out = torch.randint(4, V, (B, T))
        return src, tgt_in, tgt_out

    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        src, tgt_in, tgt_out = batch()
        opt.zero_grad()
        loss = loss_fn(model(src, tgt_in).reshape(-1, V), tgt_out.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return (time.perf_counter() - t0) / steps, model


def torch_translate(model, V, S, n_out, sentences):
    model.eval()
    src = torch.randint(4, V, (1, S))
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(sentences):
            tgt = torch.ones(1, 1, dtype=torch.long)
            for _ in range(n_out + 1):  # the characters, then </s>
                logits = model(src, tgt)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                tgt = torch.cat([tgt, nxt], dim=1)
    return (time.perf_counter() - t0) / sentences * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bench', default='build/bench/attn-bench-train')
    ap.add_argument('--model', help='a trained model for the translation '
                    'figures')
    ap.add_argument('--task', default='dates')
    ap.add_argument('--d-model', type=int, default=128)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--d-ff', type=int, default=256)
    ap.add_argument('--pre-norm', action='store_true')
    ap.add_argument('--dropout', type=float, default=0.1)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--sentences', type=int, default=100)
    args = ap.parse_args()

    cmd = [args.bench, '--json', '--task', args.task,
           '--d-model', str(args.d_model), '--heads', str(args.heads),
           '--layers', str(args.layers), '--d-ff', str(args.d_ff),
           '--dropout', str(args.dropout), '--batch', str(args.batch),
           '--threads', str(args.threads), '--warmup', str(args.warmup),
           '--steps', str(args.steps), '--sentences', str(args.sentences)]
    if args.pre_norm:
        cmd.append('--pre-norm')
    if args.model:
        cmd += ['--model', args.model]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                     text=True).stdout)

    torch.set_num_threads(args.threads)
    V = ours['V']
    S, T = round(ours['mean_S']), round(ours['mean_T'])
    step_s, model = torch_train(args, V, S, T, args.warmup, args.steps)

    print('transformer on %s: C %d, NH %d, %d+%d layers, F %d, %s, dropout '
          '%g, batch %d, %d threads; padded S %.1f, T %.1f on average'
          % (args.task, args.d_model, args.heads, args.layers, args.layers,
             args.d_ff, 'pre-norm' if args.pre_norm else 'post-norm',
             args.dropout, args.batch, args.threads, ours['mean_S'],
             ours['mean_T']))
    print('%-12s %14s %14s' % ('', 'steps/s', 'ms/step'))
    print('%-12s %14.2f %14.1f' % ('attnscope', ours['steps_per_s'],
                                   ours['step_seconds'] * 1e3))
    print('%-12s %14.2f %14.1f' % ('pytorch', 1.0 / step_s, step_s * 1e3))
    if args.model:
        n_in, n_out = round(ours['in_chars']), round(ours['out_chars'])
        ms = torch_translate(model, V, n_in + 1, n_out, args.sentences)
        print('greedy translation, one sentence at a time, %d characters '
              'in, %d out:' % (n_in, n_out))
        print('%-12s %14.2f ms/sentence (exact match %.3f)'
              % ('attnscope', ours['translate_ms'], ours['exact_match']))
        print('%-12s %14.2f ms/sentence' % ('pytorch', ms))


main()
