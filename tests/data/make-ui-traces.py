#!/usr/bin/python3
# Writes the trace the GUI tests (tests/test-window.c,
# tests/test-attention-view.c) open, following docs/trace-format.md
# (version 1). Run by hand from the source root:
#
#   /usr/bin/python3 tests/data/make-ui-traces.py
#
# which writes tests/data/ui-trace-zh.json.
#
# ui-trace-zh.json: a character-level encoder-decoder (2 layers x 2 heads)
#   reading the Chinese date "2026年11月23日" (10 characters and </s>) and
#   writing "2026-11-23" (<s> and 10 characters), all three kinds, 11
#   decoding steps with three alternatives each. Chinese tokens on the
#   source side are what the GUI tests draw and describe. Cross-attention
#   looks where a date model would (the year digits at the year, "11" at
#   "11月", "23" at "23日"), sharp in layer 1 head 0 so that each view has
#   one clearly strongest link; other heads are broader.
#
# Each weight row is the softmax of a score row (structure plus seeded
# Gaussian noise) computed in double and rounded to float32, printed with
# 9 significant digits (which round-trips); decoder self-attention is
# causal, its masked entries exactly 0.
import json
import math
import os
import random
import struct

SOURCE = '2026年11月23日'
TARGET = '2026-11-23'
# Which source character each target character comes from (the hyphens
# from the 年 and 月 that end the year and the month).
ALIGN = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def num(x):
    return float('%.9g' % f32(x))


def softmax(scores, visible):
    m = max(scores[:visible])
    e = [math.exp(s - m) for s in scores[:visible]]
    total = sum(e)
    return [num(v / total) for v in e] + [0.0] * (len(scores) - visible)


def char_tokens(text, ids, bos, eos):
    out = []
    if bos:
        out.append({'text': '<s>', 'id': 1, 'span': None, 'special': True})
    pos = 0
    for ch in text:
        n = len(ch.encode('utf-8'))
        out.append({'text': ch, 'id': ids[ch], 'span': [pos, pos + n],
                    'special': False})
        pos += n
    if eos:
        out.append({'text': '</s>', 'id': 2, 'span': None, 'special': True})
    return out


def block(kind, layer, rows):
    return {'kind': kind, 'layer': layer, 'n_heads': len(rows),
            'n_queries': len(rows[0]), 'n_keys': len(rows[0][0]),
            'normalised': True,
            'weights': [w for head in rows for row in head for w in row]}


def main():
    rng = random.Random(20261123)
    ids = {}
    for ch in sorted(set(SOURCE + TARGET)):
        ids[ch] = 3 + len(ids)
    src = char_tokens(SOURCE, ids, False, True)
    tgt = char_tokens(TARGET, ids, True, False)
    S, T = len(src), len(tgt)
    n_layers, n_heads = 2, 2

    def noise(scale):
        return rng.gauss(0.0, scale)

    blocks = []
    for layer in range(n_layers):
        # Encoder self: head 0 looks at the previous character, head 1 at
        # itself and its neighbours.
        heads = []
        for h in range(n_heads):
            rows = []
            for q in range(S):
                target = max(q - 1, 0) if h == 0 else q
                sharp = 5.0 if h == 0 else 2.0
                scores = [noise(0.5) - sharp * abs(k - target)
                          for k in range(S)]
                rows.append(softmax(scores, S))
            heads.append(rows)
        blocks.append(block('encoder-self', layer, heads))
    for layer in range(n_layers):
        # Decoder self (causal): head 0 the previous token, head 1 <s>.
        heads = []
        for h in range(n_heads):
            rows = []
            for q in range(T):
                target = max(q - 1, 0) if h == 0 else 0
                scores = [noise(0.5) - 3.0 * abs(k - target)
                          for k in range(T)]
                rows.append(softmax(scores, q + 1))
            heads.append(rows)
        blocks.append(block('decoder-self', layer, heads))
        # Cross: query q (emitting target character q) looks at the source
        # character it copies; layer 1 head 0 sharpest, the last query
        # (emitting </s>) at 日.
        heads = []
        for h in range(n_heads):
            sharp = 8.0 if (layer == 1 and h == 0) else 1.5 + h
            rows = []
            for q in range(T):
                target = ALIGN[q] if q < len(ALIGN) else len(SOURCE) - 1
                scores = [noise(0.4) - sharp * abs(k - target)
                          for k in range(S)]
                rows.append(softmax(scores, S))
            heads.append(rows)
        blocks.append(block('cross', layer, heads))

    steps = []
    emitted = [(ids[ch], ch) for ch in TARGET] + [(2, '</s>')]
    for i, (tid, text) in enumerate(emitted):
        p = num(0.97 - 0.02 * (i % 4))
        alt = '0' if text != '0' else '1'
        top = [{'id': tid, 'text': text, 'prob': p},
               {'id': ids.get(alt, 3), 'text': alt,
                'prob': num((1.0 - p) * 0.6)},
               {'id': 2 if text != '</s>' else ids['-'],
                'text': '</s>' if text != '</s>' else '-',
                'prob': num((1.0 - p) * 0.3)}]
        steps.append({'id': tid, 'text': text, 'prob': p, 'top': top})

    trace = {
        'format': 'attnscope-trace', 'version': 1,
        'model': {'name': 'ui-dates-zh',
                  'architecture': 'transformer-encoder-decoder',
                  'attention': 'scaled-dot-product',
                  'n_layers': n_layers, 'n_heads': n_heads},
        'source_text': SOURCE, 'target_text': TARGET,
        'source_tokens': src, 'target_tokens': tgt,
        'blocks': blocks, 'steps': steps,
    }
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, 'ui-trace-zh.json'), 'w',
              encoding='utf-8') as f:
        json.dump(trace, f, ensure_ascii=False, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
