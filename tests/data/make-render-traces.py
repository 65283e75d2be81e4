#!/usr/bin/python3
# Writes the traces the render tests draw, following docs/trace-format.md
# (version 1). Run by hand from the source root:
#
#   /usr/bin/python3 tests/data/make-render-traces.py
#
# which writes tests/data/render-dates.json and tests/data/render-dates-zh.json.
#
# Both are a character-level Transformer encoder-decoder (2 layers x 4 heads)
# turning a date into ISO 8601, as the built-in dates model does:
#   render-dates.json:    "23 Nov 2026"     -> "2026-11-23"
#   render-dates-zh.json: "2026年11月23日"   -> "2026-11-23"
# The weights are not from a trained model (none existed when the views were
# written) but are built to look like one: each head has a role — previous
# token, next token, same word, a sink on </s> or <s>, the source character
# being copied — given as a score pattern, plus seeded Gaussian noise, then a
# softmax per row computed in double and rounded to float32 (printed with 9
# significant digits, which round-trips). Decoder self-attention is causal,
# its masked entries exactly 0. The views only need rows that sum to 1 and
# show structure a person can check by eye.
import json
import math
import os
import random
import struct

SPECIALS = ['<pad>', '<s>', '</s>']


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def num(x):
    return float('%.9g' % f32(x))


def softmax(scores):
    m = max(scores)
    e = [math.exp(s - m) for s in scores]
    total = sum(e)
    return [v / total for v in e]


def char_tokens(text, ids, append_eos):
    """One token per character with its UTF-8 byte span, then </s>."""
    out = []
    pos = 0
    for ch in text:
        n = len(ch.encode('utf-8'))
        out.append({'text': ch, 'id': ids[ch], 'span': [pos, pos + n],
                    'special': False})
        pos += n
    if append_eos:
        out.append({'text': '</s>', 'id': 2, 'span': None, 'special': True})
    return out


def target_tokens(text, ids):
    """Decoder inputs: <s> then the characters of the output."""
    return ([{'text': '<s>', 'id': 1, 'span': None, 'special': True}]
            + char_tokens(text, ids, False))


def words(toks):
    """Word index of each token: runs of non-space characters; spaces and
    specials get their own."""
    out, w, prev_space = [], 0, True
    for t in toks:
        space = t['special'] or t['text'] == ' '
        if space or prev_space:
            w += 1
        out.append(w)
        prev_space = space
    return out


def block(rng, kind, layer, n_q, n_k, pattern, causal, noise):
    """pattern(h, q, k) -> score; rows softmaxed over the visible keys."""
    weights = []
    for h in range(4):
        for q in range(n_q):
            visible = q + 1 if causal else n_k
            scores = [pattern(h, q, k) + rng.gauss(0.0, noise)
                      for k in range(visible)]
            row = softmax(scores) + [0.0] * (n_k - visible)
            weights.extend(num(v) for v in row)
    return {'kind': kind, 'layer': layer, 'n_heads': 4, 'n_queries': n_q,
            'n_keys': n_k, 'normalised': True, 'weights': weights}


def make_trace(name, source, target, align, seed):
    """align[i]: the source positions target character i was read from."""
    rng = random.Random(seed)
    chars = sorted(set(source) | set(target))
    ids = {c: 3 + i for i, c in enumerate(chars)}
    src = char_tokens(source, ids, True)
    tgt = target_tokens(target, ids)
    S, T = len(src), len(tgt)
    sw = words(src)
    eos = S - 1

    def enc(layer):
        def p(h, q, k):
            if h == 0:   # previous token
                return 4.0 if k == q - 1 else (1.5 if k == q else 0.0)
            if h == 1:   # next token
                return 4.0 if k == q + 1 else (1.5 if k == q else 0.0)
            if h == 2:   # the rest of the same word
                return 3.0 if sw[k] == sw[q] else 0.0
            # a sink on </s>, sharper in the upper layer
            return (3.0 + 2.0 * layer) if k == eos else 0.5 * (k == q)
        return p

    def dec(layer):
        def p(h, q, k):
            if h == 0:
                return 4.0 if k == q - 1 else 0.0
            if h == 1:   # <s> as a sink
                return 4.0 if k == 0 else 0.0
            if h == 2:   # the last separator written so far
                seps = [i for i in range(1, q + 1) if tgt[i]['text'] == '-']
                return 4.0 if seps and k == seps[-1] else 1.0 * (k == q)
            return 0.3 * k   # drifting towards recent tokens
        return p

    def cross(layer):
        sharp = 2.5 + 3.0 * layer

        def p(h, q, k):
            # Query q (decoder input q) emits target character q, whose
            # source characters are align[q]; the last query emits </s>.
            src_of = align[q] if q < len(align) else [eos]
            if h == 0:   # the character being copied
                return sharp if k in src_of else 0.0
            if h == 1:   # the whole source word it comes from
                return (0.6 * sharp
                        if any(sw[k] == sw[j] for j in src_of) else 0.0)
            if h == 2:   # the next one to copy
                nxt = align[q + 1] if q + 1 < len(align) else [eos]
                return sharp if k in nxt else 0.0
            return 3.5 if k == eos else 0.0
        return p

    blocks = []
    for layer in range(2):
        noise = 0.8 - 0.3 * layer
        blocks.append(block(rng, 'encoder-self', layer, S, S, enc(layer),
                            False, noise))
        blocks.append(block(rng, 'decoder-self', layer, T, T, dec(layer),
                            True, noise))
        blocks.append(block(rng, 'cross', layer, T, S, cross(layer), False,
                            noise))

    # Step i emits target token i + 1 (the last emits </s>), confidently,
    # with look-alike digits as the runners-up.
    steps = []
    emitted = [t['text'] for t in tgt[1:]] + ['</s>']
    pool = [c for c in '0123456789-' if c in ids]
    for i, text in enumerate(emitted):
        tid = 2 if text == '</s>' else ids[text]
        p = num(0.99 - 0.25 * rng.random() ** 3)
        rest = 1.0 - p
        alts = [c for c in pool if c != text]
        rng.shuffle(alts)
        top = [{'id': tid, 'text': text, 'prob': p}]
        share = [rng.random() for _ in range(4)]
        total = sum(share) * 1.25
        for c, s in zip(alts[:4], sorted(share, reverse=True)):
            top.append({'id': ids[c], 'text': c, 'prob': num(rest * s / total)})
        steps.append({'id': tid, 'text': text, 'prob': p, 'top': top})

    return {
        'format': 'attnscope-trace',
        'version': 1,
        'model': {'name': name, 'architecture': 'transformer-encoder-decoder',
                  'attention': 'scaled-dot-product', 'n_layers': 2,
                  'n_heads': 4},
        'source_text': source,
        'target_text': target,
        'source_tokens': src,
        'target_tokens': tgt,
        'blocks': blocks,
        'steps': steps,
    }


def write(path, trace):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(trace, f, ensure_ascii=False, indent=1)
        f.write('\n')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    # "23 Nov 2026": 2=0 3=1 ' '=2 N=3 o=4 v=5 ' '=6 2=7 0=8 2=9 6=10
    write(os.path.join(here, 'render-dates.json'),
          make_trace('dates-transformer', '23 Nov 2026', '2026-11-23',
                     [[7], [8], [9], [10], [6], [3, 4, 5], [3, 4, 5], [2],
                      [0], [1]], seed=4))
    # "2026年11月23日": 2=0 0=1 2=2 6=3 年=4 1=5 1=6 月=7 2=8 3=9 日=10
    write(os.path.join(here, 'render-dates-zh.json'),
          make_trace('dates-transformer', '2026年11月23日', '2026-11-23',
                     [[0], [1], [2], [3], [4], [5], [6], [7], [8], [9]],
                     seed=5))


if __name__ == '__main__':
    main()
