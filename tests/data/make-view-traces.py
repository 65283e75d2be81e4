#!/usr/bin/python3
# Writes the decoder-only trace the view tests (tests/test-views.c) draw,
# following docs/trace-format.md (version 1); the encoder-decoder they draw
# is render-dates.json (make-render-traces.py). Run by hand from the source
# root:
#
#   /usr/bin/python3 tests/data/make-view-traces.py
#
# which writes tests/data/views-gpt.json: a GPT-2-like model (2 layers x 4
# heads) on "The cat sat on the mat because it was tired" with GPT-2's token
# texts and ids, one decoding step per position (the prompt's own next
# tokens with their probabilities and four alternatives each; the last step
# emits "."), for the step view's decoder-only path and the head view. The
# weights are made to look like a trained model's, not random: per layer a
# first-token sink head, a previous-token head, a head that looks back at
# the word a token refers to ("it" at "cat") and a self head.
#
# Each weight row is the softmax of a score row (structure plus seeded
# Gaussian noise) computed in double and rounded to float32, printed with
# 9 significant digits (which round-trips); decoder self-attention is
# causal, its masked entries exactly 0.
import json
import math
import random
import struct


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def num(x):
    return float('%.9g' % f32(x))


def softmax(scores):
    m = max(s for s in scores if s is not None)
    e = [0.0 if s is None else math.exp(s - m) for s in scores]
    total = sum(e)
    return [v / total for v in e]


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


def block(kind, layer, rows_per_head, n_queries, n_keys):
    """rows_per_head: list over heads of a function q -> score list (None
    for a masked key)."""
    weights = []
    for head_rows in rows_per_head:
        for q in range(n_queries):
            weights.extend(num(v) for v in softmax(head_rows(q)))
    return {
        'kind': kind, 'layer': layer, 'n_heads': len(rows_per_head),
        'n_queries': n_queries, 'n_keys': n_keys, 'normalised': True,
        'weights': weights,
    }


def peaks(rng, n, targets, height, noise):
    """Scores of n keys: Gaussian noise plus `height` at each target (a
    dict key -> weight in [0, 1])."""
    s = [rng.gauss(0.0, noise) for _ in range(n)]
    for k, w in targets.items():
        if 0 <= k < n:
            s[k] += height * w
    return s


def causal(scores, q):
    return [s if k <= q else None for k, s in enumerate(scores)]


def steps_from(rng, emitted, alternatives, probs):
    """emitted: (text, id) per step; alternatives: list of (text, id) per
    step (four each); probs: the emitted token's probability per step. The
    remaining mass is shared by the alternatives, decreasing."""
    out = []
    for (text, tid), alts, p in zip(emitted, alternatives, probs):
        rest = 1.0 - p
        shares = [0.55, 0.22, 0.1, 0.05]
        top = [{'id': tid, 'text': text, 'prob': num(p)}]
        for (atext, aid), share in zip(alts, shares):
            top.append({'id': aid, 'text': atext,
                        'prob': num(rest * share * rng.uniform(0.9, 1.0))})
        top.sort(key=lambda c: -c['prob'])
        out.append({'id': tid, 'text': text, 'prob': num(p), 'top': top})
    return out


def gpt():
    rng = random.Random(1955)
    text = 'The cat sat on the mat because it was tired'
    pieces = [('The', 464), (' cat', 3797), (' sat', 3332), (' on', 319),
              (' the', 262), (' mat', 2603), (' because', 780),
              (' it', 340), (' was', 373), (' tired', 10032)]
    tgt = tokens(text, [(p, i, False) for p, i in pieces])
    T = len(tgt)
    # What each position refers back to, beyond the previous token: "the"
    # -> "The", "mat" -> "sat"/"on", "it" -> "cat", "tired" -> "cat"/"it".
    refers = {4: {0: 1.0}, 5: {2: 0.6, 3: 0.8}, 7: {1: 1.0},
              8: {7: 1.0}, 9: {1: 0.8, 7: 0.6}}

    def heads(layer):
        sharp = 6.0 if layer == 1 else 4.0
        return [
            # first-token sink
            lambda q: causal(peaks(rng, T, {0: 1.0}, sharp, 0.5), q),
            # previous token
            lambda q: causal(peaks(rng, T, {max(q - 1, 0): 1.0}, sharp, 0.5),
                             q),
            # coreference-like
            lambda q: causal(peaks(rng, T, refers.get(q, {q: 1.0}), sharp,
                                   0.5), q),
            # self
            lambda q: causal(peaks(rng, T, {q: 1.0}, sharp * 0.6, 0.5), q),
        ]

    blocks = [block('decoder-self', layer, heads(layer), T, T)
              for layer in range(2)]
    emitted = [(p, i) for p, i in pieces[1:]] + [('.', 13)]
    alternatives = [
        [(' dog', 3290), (' first', 717), (' man', 582), (' same', 976)],
        [(' was', 373), (' is', 318), (' sat', 3332), (' and', 290)],
        [(' down', 866), (' in', 287), (' there', 612), (' up', 510)],
        [(' a', 257), (' his', 465), (' her', 607), (' top', 1353)],
        [(' floor', 4314), (' bed', 3996), (' couch', 18507),
         (' table', 3084)],
        [('.', 13), (',', 11), (' and', 290), (' for', 329)],
        [(' he', 339), (' she', 673), (' the', 262), (' of', 286)],
        [(' had', 550), (' is', 318), (' did', 750), (' could', 714)],
        [(' hungry', 14720), (' sleepy', 29380), (' sick', 6639),
         (' cold', 4692)],
        [(',', 11), (' and', 290), ('!', 0), (' of', 286)],
    ]
    probs = [0.012, 0.084, 0.41, 0.57, 0.18, 0.066, 0.35, 0.52, 0.23, 0.61]
    steps = steps_from(rng, emitted, alternatives, probs)
    return {
        'format': 'attnscope-trace', 'version': 1,
        'model': {'name': 'gpt2-example', 'architecture': 'gpt2',
                  'attention': 'scaled-dot-product',
                  'n_layers': 2, 'n_heads': 4},
        'source_text': '', 'target_text': text,
        'source_tokens': [], 'target_tokens': tgt,
        'blocks': blocks, 'steps': steps,
    }


def write(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, ensure_ascii=False, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    write('tests/data/views-gpt.json', gpt())
