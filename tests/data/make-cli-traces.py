#!/usr/bin/python3
# Writes the traces tests/test-cli.c feeds to attnscope-cli, following
# docs/trace-format.md (version 1). Run by hand from the source root:
#
#   /usr/bin/python3 tests/data/make-cli-traces.py
#
# which writes tests/data/cli-trace.json and tests/data/cli-trace-gpt.json.
#
# cli-trace.json: an encoder-decoder with 2 layers x 3 heads and all three
#   kinds; 6 source tokens and 5 target tokens (so a transposed cross block
#   shows), tokens with leading spaces, a comma, quotes and Chinese (so CSV
#   quoting and UTF-8 show), decoding steps with alternatives.
# cli-trace-gpt.json: a decoder-only model with 2 layers x 1 head: one kind
#   and one head, so the CLI's defaults for --kind and --head apply.
#
# Weights are softmaxes of seeded random scores, computed in double and
# rounded to float32 (printed with 9 significant digits, which round-trips);
# decoder self-attention is causal, its masked entries exactly 0.
import json
import math
import os
import random
import struct


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def num(x):
    return float('%.9g' % f32(x))


def softmax_rows(rng, n_heads, n_queries, n_keys, causal):
    out = []
    for _h in range(n_heads):
        for q in range(n_queries):
            visible = q + 1 if causal else n_keys
            scores = [rng.gauss(0.0, 1.5) for _ in range(visible)]
            m = max(scores)
            e = [math.exp(s - m) for s in scores]
            total = sum(e)
            row = [v / total for v in e] + [0.0] * (n_keys - visible)
            out.extend(num(v) for v in row)
    return out


def tokens(text, pieces):
    """pieces: (text, id, special); non-special pieces are found in text
    left to right and given their UTF-8 byte span."""
    raw = text.encode('utf-8')
    pos = 0
    out = []
    for piece, tid, special in pieces:
        if special:
            out.append({'text': piece, 'id': tid, 'span': None,
                        'special': True})
            continue
        b = piece.encode('utf-8')
        start = raw.index(b, pos)
        pos = start + len(b)
        out.append({'text': piece, 'id': tid, 'span': [start, pos],
                    'special': False})
    return out


def block(rng, kind, layer, n_heads, n_queries, n_keys):
    return {
        'kind': kind, 'layer': layer, 'n_heads': n_heads,
        'n_queries': n_queries, 'n_keys': n_keys, 'normalised': True,
        'weights': softmax_rows(rng, n_heads, n_queries, n_keys,
                                kind == 'decoder-self'),
    }


def encoder_decoder():
    rng = random.Random(20261123)
    source_text = 'He said "hi", 你好'
    target_text = 'Il a dit «salut», 你好'
    src = tokens(source_text, [
        ('He', 11, False), (' said', 12, False), (' "hi"', 13, False),
        (',', 14, False), (' 你好', 15, False), ('</s>', 2, True)])
    tgt = tokens(target_text, [
        ('<s>', 1, True), ('Il', 21, False), (' a dit', 22, False),
        (' «salut»,', 23, False), (' 你好', 15, False)])
    n_layers, n_heads = 2, 3
    S, T = len(src), len(tgt)
    blocks = []
    for layer in range(n_layers):
        blocks.append(block(rng, 'encoder-self', layer, n_heads, S, S))
    for layer in range(n_layers):
        blocks.append(block(rng, 'decoder-self', layer, n_heads, T, T))
        blocks.append(block(rng, 'cross', layer, n_heads, T, S))
    steps = []
    emitted = [(21, 'Il'), (22, ' a dit'), (23, ' «salut»,'), (15, ' 你好'),
               (2, '</s>')]
    for i, (tid, text) in enumerate(emitted):
        p = num(0.9 - 0.1 * i)
        steps.append({'id': tid, 'text': text, 'prob': p, 'top': [
            {'id': tid, 'text': text, 'prob': p},
            {'id': 30 + i, 'text': 'alt%d' % i, 'prob': num(0.05)}]})
    return {
        'format': 'attnscope-trace', 'version': 1,
        'model': {'name': 'cli-demo',
                  'architecture': 'transformer-encoder-decoder',
                  'attention': 'scaled-dot-product',
                  'n_layers': n_layers, 'n_heads': n_heads},
        'source_text': source_text, 'target_text': target_text,
        'source_tokens': src, 'target_tokens': tgt,
        'blocks': blocks, 'steps': steps,
    }


def decoder_only():
    rng = random.Random(7)
    text = 'The cat sat'
    tgt = tokens(text, [('The', 464, False), (' cat', 3797, False),
                        (' sat', 3332, False)])
    blocks = [block(rng, 'decoder-self', layer, 1, 3, 3)
              for layer in range(2)]
    return {
        'format': 'attnscope-trace', 'version': 1,
        'model': {'name': 'tiny-gpt', 'architecture': 'gpt2',
                  'attention': 'scaled-dot-product',
                  'n_layers': 2, 'n_heads': 1},
        'source_text': '', 'target_text': text,
        'source_tokens': [], 'target_tokens': tgt,
        'blocks': blocks, 'steps': [],
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, trace in (('cli-trace.json', encoder_decoder()),
                        ('cli-trace-gpt.json', decoder_only())):
        with open(os.path.join(here, name), 'w', encoding='utf-8') as f:
            json.dump(trace, f, ensure_ascii=False, indent=1)
            f.write('\n')


if __name__ == '__main__':
    main()
