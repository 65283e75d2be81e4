#!/usr/bin/python3
# bench-gpt2-vs-torch.py: a GPT-2-small-shaped model (12 layers, 12 heads,
# n_embd 768, vocabulary 50257, random weights) in attnscope and in PyTorch,
# side by side. A benchmark (figures to read), not a test.
#
#   /usr/bin/python3 bench/bench-gpt2-vs-torch.py --cli build/app/attnscope-cli \
#       [--seq 128,1024] [--threads 2] [--reps 3] [--size small] [--dir DIR]
#
# --size medium (24 layers, 16 heads, 1024; 355M parameters, 1.4 GB) or
# large / xl shows how load time and memory grow with the model (xl writes
# a 6.2 GB file); --no-torch leaves PyTorch out.
# The checkpoint is written once in the Hugging Face layout (config.json,
# model.safetensors with `transformer.` keys, F32, Conv1D weights (in, out),
# no lm_head: tied) into --dir (default /tmp/attnscope-gpt2-SIZE), outside
# the repository, and reused while its config matches. attnscope's figures come from
# `attnscope-cli bench --gpt2 DIR`: the load time and the RSS it adds, then
# at each T the best of --reps forward passes that keep every head's
# attention (L, NH, T, T) and compute the last position's logits (what a
# prediction needs), the full-sequence output layer separately, and a whole
# run as `attnscope-cli run` makes it (trace, a step with top 5 at every
# position). PyTorch (Debian's 1.13, torch.set_num_threads(threads)) runs the
# same forward written with torch ops (addmm for Conv1D, matmul attention
# returning per-head weights, tanh GELU, the same last-position logits), in
# this process after attnscope's has finished, so the two never share the
# cores. On a machine shared with other work run it with
# OMP_WAIT_POLICY=passive (PyTorch's spinning OpenMP threads otherwise lose
# time to the other processes).
import argparse
import json
import math
import os
import re
import struct
import subprocess
import time

import torch

SIZES = {'small': (12, 12, 768), 'medium': (24, 16, 1024),
         'large': (36, 20, 1280), 'xl': (48, 25, 1600)}
L, NH, C = SIZES['small']
V, NPOS = 50257, 1024


def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return -1.0


def names():
    out = ['wte.weight', 'wpe.weight', 'ln_f.weight', 'ln_f.bias']
    for l in range(L):
        for n in ('ln_1.weight', 'ln_1.bias', 'attn.c_attn.weight',
                  'attn.c_attn.bias', 'attn.c_proj.weight',
                  'attn.c_proj.bias', 'ln_2.weight', 'ln_2.bias',
                  'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight',
                  'mlp.c_proj.bias'):
            out.append('h.%d.%s' % (l, n))
    return out


def shape(name):
    n = name.split('.', 2)[-1] if name.startswith('h.') else name
    return {
        'wte.weight': (V, C), 'wpe.weight': (NPOS, C),
        'attn.c_attn.weight': (C, 3 * C), 'attn.c_attn.bias': (3 * C,),
        'attn.c_proj.weight': (C, C), 'mlp.c_fc.weight': (C, 4 * C),
        'mlp.c_fc.bias': (4 * C,), 'mlp.c_proj.weight': (4 * C, C),
    }.get(n, (C,))


def make_weights():
    g = torch.Generator().manual_seed(1)
    w = {}
    for n in names():
        s = shape(n)
        if n.endswith('ln_1.weight') or n.endswith('ln_2.weight') \
                or n == 'ln_f.weight':
            w[n] = torch.ones(s)
        elif len(s) == 1:
            w[n] = torch.zeros(s)
        else:
            w[n] = torch.randn(s, generator=g) * 0.02
    return w


def config():
    return {'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'],
            'activation_function': 'gelu_new', 'n_layer': L, 'n_head': NH,
            'n_embd': C, 'n_positions': NPOS, 'n_ctx': NPOS,
            'vocab_size': V, 'layer_norm_epsilon': 1e-5, 'n_inner': None}


def write_checkpoint(folder, w):
    os.makedirs(folder, exist_ok=True)
    header = {'__metadata__': {'format': 'pt'}}
    off = 0
    order = sorted(w)
    for n in order:
        size = w[n].numel() * 4
        header['transformer.' + n] = {'dtype': 'F32',
                                      'shape': list(w[n].shape),
                                      'data_offsets': [off, off + size]}
        off += size
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    tmp = os.path.join(folder, 'model.safetensors.tmp')
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for n in order:
            f.write(w[n].contiguous().numpy().astype('<f4').tobytes())
    os.replace(tmp, os.path.join(folder, 'model.safetensors'))
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config(), f, indent=2)


def read_checkpoint(folder):
    """The weights back from the file, as torch would load them."""
    path = os.path.join(folder, 'model.safetensors')
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    w = {}
    for k, info in header.items():
        if k == '__metadata__':
            continue
        b, e = info['data_offsets']
        t = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32)
        w[k[len('transformer.'):]] = t.view(info['shape'])
    return w


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                       * (x + 0.044715 * torch.pow(x, 3.0))))


def torch_forward(w, ids, full_logits):
    """Per-head attention of every layer kept, as attnscope keeps it;
    logits of the last position (or all)."""
    T = ids.numel()
    HS = C // NH
    h = w['wte.weight'][ids] + w['wpe.weight'][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    atts = []
    for l in range(L):
        p = 'h.%d.' % l
        a = torch.nn.functional.layer_norm(h, (C,), w[p + 'ln_1.weight'],
                                           w[p + 'ln_1.bias'], 1e-5)
        qkv = torch.addmm(w[p + 'attn.c_attn.bias'], a,
                          w[p + 'attn.c_attn.weight'])
        q, k, v = (x.view(T, NH, HS).transpose(0, 1)
                   for x in qkv.split(C, dim=1))
        s = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(HS)
        s = s.masked_fill(mask, float('-inf'))
        att = torch.softmax(s, dim=-1)
        atts.append(att)
        y = torch.matmul(att, v).transpose(0, 1).reshape(T, C)
        h = h + torch.addmm(w[p + 'attn.c_proj.bias'], y,
                            w[p + 'attn.c_proj.weight'])
        m = torch.nn.functional.layer_norm(h, (C,), w[p + 'ln_2.weight'],
                                           w[p + 'ln_2.bias'], 1e-5)
        m = gelu_new(torch.addmm(w[p + 'mlp.c_fc.bias'], m,
                                 w[p + 'mlp.c_fc.weight']))
        h = h + torch.addmm(w[p + 'mlp.c_proj.bias'], m,
                            w[p + 'mlp.c_proj.weight'])
    h = torch.nn.functional.layer_norm(h, (C,), w['ln_f.weight'],
                                       w['ln_f.bias'], 1e-5)
    rows = h if full_logits else h[-1:]
    return rows @ w['wte.weight'].t(), atts


def best_of(reps, fn):
    best = float('inf')
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cli', default='build/app/attnscope-cli')
    ap.add_argument('--size', choices=sorted(SIZES), default='small')
    ap.add_argument('--dir')
    ap.add_argument('--seq', default='128,1024')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--no-torch', action='store_true')
    args = ap.parse_args()
    seqs = [int(x) for x in args.seq.split(',')]
    global L, NH, C
    L, NH, C = SIZES[args.size]
    if args.dir is None:
        args.dir = '/tmp/attnscope-gpt2-' + args.size

    config_path = os.path.join(args.dir, 'config.json')
    fresh = True
    if os.path.exists(config_path):
        with open(config_path) as f:
            fresh = json.load(f) != config()
    if fresh:
        t0 = time.perf_counter()
        write_checkpoint(args.dir, make_weights())
        print('wrote %s in %.1f s' % (args.dir, time.perf_counter() - t0))

    # attnscope first, alone on the cores.
    cmd = [args.cli, 'bench', '--gpt2', args.dir, '--seq', args.seq,
           '--threads', str(args.threads), '--reps', str(args.reps)]
    print('$ ' + ' '.join(cmd))
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    print(res.stdout, end='')
    ours = {}
    for line in res.stdout.splitlines():
        m = re.match(r'T (\d+): forward with attention \+ last logits '
                     r'([\d.]+) s, full-sequence logits \+([\d.]+) s', line)
        if m:
            ours[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))

    if args.no_torch:
        return
    torch.set_num_threads(args.threads)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    w = read_checkpoint(args.dir)
    load = time.perf_counter() - t0
    print('pytorch %s, %d threads: load (read the file into tensors) %.3f '
          's, RSS +%.1f MB' % (torch.__version__, torch.get_num_threads(),
                               load, rss_mb() - rss0))
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for T in seqs:
            ids = torch.randint(0, V, (T,), generator=g)
            torch_forward(w, ids, False)  # warm-up
            fwd = best_of(args.reps, lambda: torch_forward(w, ids, False))
            full = best_of(args.reps, lambda: torch_forward(w, ids, True))
            line = ('T %d: pytorch forward with attention + last logits '
                    '%.4f s, with full-sequence logits %.4f s'
                    % (T, fwd, full))
            if T in ours:
                line += ('; attnscope %.4f s: %.2fx faster'
                         % (ours[T][0], fwd / ours[T][0]))
            print(line)


if __name__ == '__main__':
    main()
