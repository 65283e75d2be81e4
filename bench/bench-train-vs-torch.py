#!/usr/bin/python3
# bench-train-vs-torch.py: training steps per second of a bundled Transformer
# (by default dates-transformer, the app's default model) in attnscope and
# the same model in PyTorch, on the same threads, in one script; then greedy
# inference time per sentence of every bundled model. A benchmark (figures
# to read), not a test. Run it on a quiet machine (`uptime`).
#
#   /usr/bin/python3 bench/bench-train-vs-torch.py --cli build-s/app/attnscope-cli \
#       [--model dates-transformer] [--threads 2] [--steps 30] [--warmup 3] \
#       [--batch 64] [--sentences 200] [--infer-threads 1] [--repeat 3] \
#       [--infer MODEL ...]
#
# Every figure is the best (fastest) of --repeat runs, so that other work on
# a shared machine disturbs it less.
#
# attnscope: `attnscope-cli bench --model MODEL --train` (docs/cli.md): a
# fresh model of MODEL's config trains on its card's task with the real
# trainer (batches drawn from the task generator each step, `--threads`
# data-parallel workers with one OpenBLAS thread each, Adam, clipping at 1),
# and `--steps` steps are timed; then `attnscope-cli bench --model NAME` per
# bundled model for inference (greedy, one sentence at a time, test
# sentences of its task).
#
# PyTorch (Debian's 1.13, torch.set_num_threads(threads), float32): the
# Model class of tests/data/make-transformer-fixtures.py, the torch.nn
# build of core/attn-transformer.c's architecture that the reference tests
# check us against (shared embedding * sqrt(C) + sinusoidal positions,
# nn.MultiheadAttention returning per-head weights as ours keeps them, ReLU
# FFN, post- or pre-norm, untied output layer), sized from MODEL's config
# (`attnscope-cli info --model`), no dropout (the bundled config has none).
# Its batches are random tokens of the padded shapes attnscope's trainer
# reported (B x mean padded S, B x mean padded T; source lengths uniform
# from S/3 to S with key padding after them, every target counted), so the
# torch side does no data generation; attnscope's time includes drawing and
# encoding each batch. Each step: zero_grad, forward, cross-entropy,
# backward, clip_grad_norm_(1.0), Adam (lr 1e-3). Torch's greedy figure
# re-runs the whole model on the prefix for each new token (nn.Module has
# no incremental decoder) for attnscope's mean output length.
#
# On a machine busy with other work PyTorch's spinning OpenMP threads lose
# most of their time (measured here under load: 70 ms per step on 1 thread,
# 1400 ms on 2), so the script also times PyTorch on 1 thread; run it on a
# quiet machine, or with OMP_WAIT_POLICY=passive in the environment.
import argparse
import importlib.util
import math
import os
import re
import subprocess
import time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ['dates-transformer', 'dates-bahdanau', 'dates-luong-general',
           'dates-local-p', 'numbers-transformer', 'reverse-transformer']

TRAIN_RE = re.compile(
    r'^  training: batch (\d+), (\d+) workers?: ([0-9.]+) ms/step, '
    r'([0-9.]+) steps/s, ([0-9.]+) examples/s \((\d+) steps timed after '
    r'(\d+); padded S ([0-9.]+), T ([0-9.]+)\)$', re.M)
INFER_RE = re.compile(
    r'^  inference: (\d+) OpenBLAS threads?, (\d+) test sentences, '
    r'([0-9.]+) characters in, ([0-9.]+) out: greedy ([0-9.]+) ms/sentence '
    r'\(exact match ([0-9.]+)\), with the whole trace ([0-9.]+) '
    r'ms/sentence$', re.M)
MODEL_RE = re.compile(r'^model (\S+): (\S+), (\S+), (\d+) parameters, task '
                      r'(\S+)$', re.M)


def fixture_module():
    path = os.path.join(ROOT, 'tests', 'data', 'make-transformer-fixtures.py')
    spec = importlib.util.spec_from_file_location('transformer_fixtures',
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cli(args, *rest):
    out = subprocess.run([args.cli] + list(rest), check=True,
                         capture_output=True, text=True)
    return out.stdout


def model_config(args, model):
    """The config section of `attnscope-cli info --model`."""
    text = cli(args, 'info', '--model', model)
    section = text.split('\nconfig:\n', 1)[1].split('\ncard:', 1)[0]
    config = {}
    for line in section.splitlines():
        key, _, value = line.strip().partition(': ')
        config[key] = value
    return config


def torch_train(mod, cfg, B, S, T, threads, warmup, steps):
    """Seconds per training step of the fixture Model sized as cfg."""
    torch.manual_seed(1)
    V = int(cfg['vocab_size'])
    # The fixture's module constants size its Model and its forward.
    mod.V, mod.C, mod.NH = V, int(cfg['d_model']), int(cfg['n_heads'])
    mod.L_ENC = int(cfg['n_encoder_layers'])
    mod.L_DEC = int(cfg['n_decoder_layers'])
    mod.F = int(cfg['d_ff'])
    mod.S, mod.T = int(cfg['max_len']), int(cfg['max_len'])
    model = mod.Model(cfg['norm'] == 'pre').float()
    mod.S, mod.T = S, T
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    g = torch.Generator().manual_seed(2)

    def batch():
        src = torch.randint(4, V, (B, S), generator=g)
        lengths = torch.randint(max(1, S // 3), S + 1, (B,), generator=g)
        src[torch.arange(S)[None, :] >= lengths[:, None]] = mod.PAD
        src[torch.arange(B), lengths - 1] = mod.EOS
        tgt_in = torch.randint(4, V, (B, T), generator=g)
        tgt_in[:, 0] = mod.BOS
        tgt_out = torch.randint(4, V, (B, T), generator=g)
        return src, tgt_in, tgt_out

    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        src, tgt_in, tgt_out = batch()
        opt.zero_grad()
        logits, _ = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, V), tgt_out.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return (time.perf_counter() - t0) / steps, model


def torch_greedy_ms(mod, model, V, S, n_out, sentences):
    """Milliseconds per sentence of greedy decoding that re-runs the model
    on the prefix for each of n_out + 1 tokens (the characters, </s>)."""
    model.eval()
    g = torch.Generator().manual_seed(3)
    src = torch.randint(4, V, (1, S), generator=g)
    src[0, -1] = mod.EOS
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(sentences):
            tgt = torch.full((1, 1), mod.BOS, dtype=torch.long)
            for _ in range(n_out + 1):
                mod.S, mod.T = S, tgt.shape[1]
                logits, _ = model(src, tgt)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                tgt = torch.cat([tgt, nxt], dim=1)
    return (time.perf_counter() - t0) / sentences * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cli', default=os.path.join(ROOT, 'build', 'app',
                                                  'attnscope-cli'))
    ap.add_argument('--model', default='dates-transformer',
                    help='the Transformer whose architecture is trained')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=30, help='steps timed')
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--sentences', type=int, default=200)
    ap.add_argument('--infer-threads', type=int, default=1,
                    help='OpenBLAS / torch threads for inference')
    ap.add_argument('--infer', nargs='*', default=SHIPPED,
                    help='models whose inference is timed')
    ap.add_argument('--repeat', type=int, default=3,
                    help='runs of each figure, the fastest kept')
    args = ap.parse_args()

    cfg = model_config(args, args.model)
    if cfg.get('arch') != 'transformer':
        raise SystemExit('%s is not a Transformer' % args.model)
    def ours_train(threads):
        # attnscope times steps - 1 of its --steps (docs/cli.md).
        out = cli(args, 'bench', '--model', args.model, '--train',
                  '--threads', str(threads), '--steps', str(args.steps + 1),
                  '--warmup', str(args.warmup), '--batch', str(args.batch),
                  '--sentences', '1')
        head, tr = MODEL_RE.search(out), TRAIN_RE.search(out)
        if head is None or tr is None:
            raise SystemExit('unexpected attnscope-cli bench output:\n' + out)
        return head, tr

    head, tr = ours_train(args.threads)
    ours_ms = min([float(tr.group(3))]
                  + [float(ours_train(args.threads)[1].group(3))
                     for _ in range(args.repeat - 1)])
    ours_ms1 = None
    if args.threads > 1:
        ours_ms1 = min(float(ours_train(1)[1].group(3))
                       for _ in range(args.repeat))
    mean_S, mean_T = float(tr.group(8)), float(tr.group(9))
    S, T = round(mean_S), round(mean_T)

    torch.set_num_threads(args.threads)
    mod = fixture_module()
    step_s, model = min((torch_train(mod, cfg, args.batch, S, T,
                                     args.threads, args.warmup, args.steps)
                         for _ in range(args.repeat)), key=lambda r: r[0])
    # The fixture's Model always has the pre-norm stacks' final LayerNorms;
    # post-norm never uses them (no gradient, so Adam skips them too).
    n_torch = sum(p.numel() for n, p in model.named_parameters()
                  if cfg['norm'] == 'pre'
                  or not n.startswith(('enc_norm.', 'dec_norm.')))
    # On 2 busy cores PyTorch's OpenMP threads can wait on each other for
    # far longer than the work takes: one thread is the check on that.
    step_s1 = None
    if args.threads > 1:
        torch.set_num_threads(1)
        step_s1 = min(torch_train(mod, cfg, args.batch, S, T, 1,
                                  args.warmup, args.steps)[0]
                      for _ in range(args.repeat))
        torch.set_num_threads(args.threads)

    print('%s (task %s): transformer, C %s, NH %s, %s+%s layers, F %s, '
          '%s-norm, V %s: %s parameters (PyTorch: %d)'
          % (args.model, head.group(5), cfg['d_model'], cfg['n_heads'],
             cfg['n_encoder_layers'], cfg['n_decoder_layers'], cfg['d_ff'],
             cfg['norm'], cfg['vocab_size'], head.group(4), n_torch))
    print('training: batch %d, padded S %.1f / T %.1f on average (PyTorch: '
          '%d / %d), %d threads, %d steps timed after %d'
          % (args.batch, mean_S, mean_T, S, T, args.threads, args.steps,
             args.warmup))
    print('%-10s %10s %10s' % ('', 'steps/s', 'ms/step'))
    print('%-10s %10.2f %10.1f' % ('attnscope', 1e3 / ours_ms, ours_ms))
    print('%-10s %10.2f %10.1f' % ('pytorch', 1.0 / step_s, step_s * 1e3))
    print('attnscope / pytorch on %d threads: %.2fx the steps per second'
          % (args.threads, step_s * 1e3 / ours_ms))
    if step_s1 is not None:
        print('%-10s %10.2f %10.1f  (1 thread)' % ('attnscope', 1e3 / ours_ms1,
                                                  ours_ms1))
        print('%-10s %10.2f %10.1f  (1 thread)' % ('pytorch', 1.0 / step_s1,
                                                  step_s1 * 1e3))
        print('attnscope / pytorch on 1 thread: %.2fx the steps per second'
              % (step_s1 * 1e3 / ours_ms1))

    print()
    print('greedy inference, one sentence at a time, %d test sentences, %d '
          'thread%s:' % (args.sentences, args.infer_threads,
                         '' if args.infer_threads == 1 else 's'))
    print('%-22s %6s %6s %12s %12s %8s' % ('model', 'in', 'out', 'ms/sentence',
                                         'with trace', 'exact'))
    dates_in_out = None
    for name in args.infer:
        greedy, whole = [], []
        for _ in range(args.repeat):
            out = cli(args, 'bench', '--model', name, '--sentences',
                      str(args.sentences), '--threads',
                      str(args.infer_threads))
            m = INFER_RE.search(out)
            if m is None:
                raise SystemExit('unexpected attnscope-cli bench output:\n'
                                 + out)
            greedy.append(float(m.group(5)))
            whole.append(float(m.group(7)))
        print('%-22s %6s %6s %12.3f %12.3f %8s' % (name, m.group(3),
                                                   m.group(4), min(greedy),
                                                   min(whole), m.group(6)))
        if name == args.model:
            dates_in_out = (float(m.group(3)), float(m.group(4)),
                            min(greedy))
    if dates_in_out is not None:
        torch.set_num_threads(args.infer_threads)
        n_in, n_out, ours_infer = dates_in_out
        ms = min(torch_greedy_ms(mod, model, int(cfg['vocab_size']),
                                 round(n_in) + 1, round(n_out),
                                 args.sentences)
                 for _ in range(args.repeat))
        print('%-22s %6d %6d %12.3f %12s %8s  (same architecture, prefix '
              're-run per token)' % ('pytorch ' + args.model, round(n_in),
                                     round(n_out), ms, '-', '-'))
        print('attnscope / pytorch: %.1fx faster per sentence'
              % (ms / ours_infer))


main()
