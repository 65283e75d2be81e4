#!/usr/bin/python3
# Writes the .npy fixtures of tests/test-npy.c with NumPy's own np.save.
#
# Made with (from the project root):
#   /usr/bin/python3 tests/data/make-npy-fixtures.py tests/data
#
# numpy-block.npy   a softmax attention block (3, 4, 5), float32, and
# numpy-block.json  the same numbers (9 significant digits) and shape, so the
#                   C reader's values can be checked exactly;
# numpy-ref-*.npy   arrays the C test rebuilds and writes itself, to compare
#                   its files byte for byte with np.save's;
# numpy-fortran.npy, numpy-f8.npy, numpy-be.npy
#                   real NumPy files the reader must refuse (Fortran order,
#                   float64, big-endian float32).
import json
import os
import sys

import numpy as np


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
    rng = np.random.default_rng(20240601)
    logits = rng.standard_normal((3, 4, 5)).astype(np.float32) * 2
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    block = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    np.save(os.path.join(out, 'numpy-block.npy'), block)
    with open(os.path.join(out, 'numpy-block.json'), 'w') as f:
        json.dump({'shape': list(block.shape),
                   'weights': [float('%.9g' % v) for v in block.ravel()]}, f)
        f.write('\n')

    # Rebuilt in test-npy.c; keep the two in step.
    refs = {
        'numpy-ref-3d.npy':
            np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3,
        'numpy-ref-1d.npy':
            np.array([1.5, -2.25, 0.0, 1e-30, 3.4e38], dtype=np.float32),
        'numpy-ref-0d.npy': np.array(2.5, dtype=np.float32),
        'numpy-ref-empty.npy': np.zeros((0, 7), dtype=np.float32),
        'numpy-ref-4d.npy': np.full((1, 2, 1, 3), 0.25, dtype=np.float32),
    }
    for name, arr in refs.items():
        np.save(os.path.join(out, name), arr)

    small = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(os.path.join(out, 'numpy-fortran.npy'), np.asfortranarray(small))
    np.save(os.path.join(out, 'numpy-f8.npy'), small.astype(np.float64))
    np.save(os.path.join(out, 'numpy-be.npy'), small.astype('>f4'))


if __name__ == '__main__':
    main()
