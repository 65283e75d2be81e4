#!/usr/bin/python3
# Fixtures for tests/test-safetensors.c, made by hand from the published
# safetensors layout (the `safetensors` package is not installed here):
#   8-byte little-endian header length N, N bytes of JSON, the data buffer.
#
# Made with (from the project root):
#   /usr/bin/python3 tests/data/make-safetensors-fixtures.py
# which writes, beside this script:
#   safetensors-dtypes.safetensors   F32 / F16 / BF16 (specials, subnormals,
#                                    inf, NaN, -0.0), a deliberately misaligned
#                                    F32, I64 / U8 / BOOL, an empty and a
#                                    scalar tensor, and a __metadata__ map with
#                                    Chinese text
#   safetensors-dtypes.json          what each tensor must read as: float32
#                                    BITS (uint32) from torch's own .float(),
#                                    since NaN payloads and -0.0 do not survive
#                                    JSON numbers
#   safetensors-writer-expected.safetensors
#                                    the file attn_safetensors_write must
#                                    produce, byte for byte, for the tensors of
#                                    writer_tensors() below, laid out as the
#                                    reference (Hugging Face) library does
#
# A file written by the C writer can be read back and checked here with:
#   ATTN_SAFETENSORS_OUT=/tmp/c.safetensors G_TEST_SRCDIR=$PWD/tests \
#     build-f/tests/test-safetensors -p /attn/safetensors/write-matches-python
#   /usr/bin/python3 tests/data/make-safetensors-fixtures.py --check /tmp/c.safetensors

import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPE_SIZE = {'F32': 4, 'F16': 2, 'BF16': 2, 'I64': 8, 'U8': 1, 'BOOL': 1}


def header_bytes(header):
    # Compact JSON with raw UTF-8 and serde_json's escapes, padded with
    # spaces to a multiple of 8 (the reference library's layout).
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False)
    raw = text.encode('utf-8')
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    return raw


def write_file(path, metadata, placed, header_order):
    """placed: (name, dtype, shape, raw bytes) in data-buffer order;
    header_order: the order of the tensor keys in the JSON header."""
    offsets = {}
    data = b''
    for name, dtype, shape, raw in placed:
        assert len(raw) == int(np.prod(shape, dtype=np.int64)) * DTYPE_SIZE[dtype]
        offsets[name] = (dtype, list(shape), [len(data), len(data) + len(raw)])
        data += raw
    header = {}
    if metadata is not None:
        header['__metadata__'] = metadata
    for name in header_order:
        dtype, shape, off = offsets[name]
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': off}
    raw_header = header_bytes(header)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw_header)))
        f.write(raw_header)
        f.write(data)


def read_file(path):
    """An independent reader: returns (metadata, {name: (dtype, shape, raw)},
    header length, raw header)."""
    blob = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', blob[:8])
    raw_header = blob[8:8 + n]
    header = json.loads(raw_header.decode('utf-8'))
    data = blob[8 + n:]
    metadata = header.pop('__metadata__', None)
    tensors = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        assert 0 <= b <= e <= len(data), name
        tensors[name] = (info['dtype'], info['shape'], data[b:e])
    return metadata, tensors, n, raw_header, header


def u16(bits):
    return np.array(bits, dtype=np.uint16)


def f32_bits_of(t):
    return [int(x) & 0xffffffff for x in t.float().contiguous().view(torch.int32).tolist()]


def torch_from_u16(raw, dtype):
    a = np.frombuffer(raw, dtype='<u2').astype(np.uint16).view(np.int16).copy()
    return torch.from_numpy(a).view(dtype)


# ---- the dtypes file ---------------------------------------------------------

F16_SPECIAL = [
    0x0000, 0x8000,          # +0, -0
    0x0001, 0x8001,          # smallest subnormals, 2^-24
    0x0002, 0x0155, 0x0200, 0x03ff, 0x83ff,  # subnormals up to the largest
    0x0400, 0x8400,          # smallest normals, 2^-14
    0x3c00, 0xbc00, 0x3555,  # 1, -1, ~1/3
    0x7bff, 0xfbff,          # +-65504, the largest finite
    0x7c00, 0xfc00,          # +-inf
    0x7e00, 0xfe00,          # quiet NaNs
    0x7c01, 0x7d55, 0xfc01,  # signalling NaNs with payloads (torch quiets them)
    0x7fff,                  # NaN, all payload bits
]
F16_SWEEP = list(range(0, 65536, 61)) + [0x8000 | k for k in range(1, 1024, 29)]

BF16_SPECIAL = [
    0x0000, 0x8000,          # +-0
    0x0001, 0x8001, 0x007f,  # subnormals
    0x0080,                  # smallest normal, 2^-126
    0x3f80, 0xbf80, 0x3eab,  # 1, -1, ~1/3
    0x7f7f, 0xff7f,          # +-3.39e38, the largest finite
    0x7f80, 0xff80,          # +-inf
    0x7fc0, 0xffc0, 0x7f81, 0x7fff,  # NaNs (bf16 -> f32 keeps the payload)
    0x4049, 0xc2f7,          # 3.140625, -123.5
]


def make_dtypes():
    f16_bits = u16(F16_SPECIAL + F16_SWEEP)
    bf16_bits = u16(BF16_SPECIAL)
    f32_vals = np.array([1.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 1.17549435e-38,
                         3.4028235e38, -2.5, 0.1, 12345.678, -7.0e-20], dtype='<f4')
    # 3 F16 values (6 bytes) put right before it push this one to offset
    # 2 mod 4: misaligned in memory, so the reader must copy it.
    mis_vals = np.array([0.25, -1.5, np.pi, -np.e, 1e30], dtype='<f4')
    odd_f16 = u16([0x3c00, 0xc000, 0x3800])
    ids = np.array([0, 50256, -1], dtype='<i8')
    mask = np.array([0, 1, 255, 7, 128], dtype=np.uint8)
    flags = np.array([1, 0, 0, 1], dtype=np.uint8)
    scalar = np.array([-3.75], dtype='<f4')

    placed = [
        ('f32.aligned', 'F32', (3, 4), f32_vals.tobytes()),
        ('f16.special', 'F16', (len(f16_bits),), f16_bits.astype('<u2').tobytes()),
        ('bf16.special', 'BF16', (len(bf16_bits),), bf16_bits.astype('<u2').tobytes()),
        ('f16.odd', 'F16', (3,), odd_f16.astype('<u2').tobytes()),
        ('f32.misaligned', 'F32', (5,), mis_vals.tobytes()),
        ('u8.mask', 'U8', (5,), mask.tobytes()),
        ('bool.flags', 'BOOL', (2, 2), flags.tobytes()),
        ('i64.ids', 'I64', (3,), ids.tobytes()),
        ('f16.empty', 'F16', (0, 4), b''),
        ('f32.scalar', 'F32', (), scalar.tobytes()),
    ]
    metadata = {
        'format': 'pt',
        'description': '注意力权重：每一个头都看得见',
        'attnscope.format_version': '1',
    }
    path = os.path.join(HERE, 'safetensors-dtypes.safetensors')
    write_file(path, metadata, placed, sorted(p[0] for p in placed))

    # Expected values through torch, from the file as written.
    md, tensors, n, _, header = read_file(path)
    assert md == metadata and n % 8 == 0
    out = {'header_length': n}
    b_mis = header['f32.misaligned']['data_offsets'][0]
    assert b_mis % 4 == 2, b_mis
    for name, (dtype, shape, raw) in tensors.items():
        key = name.replace('.', '_')
        out[key + '_shape'] = shape
        out[key + '_begin'] = header[name]['data_offsets'][0]
        if dtype == 'F32':
            t = torch.from_numpy(np.frombuffer(raw, dtype='<f4').copy())
        elif dtype == 'F16':
            t = torch_from_u16(raw, torch.float16)
            out[key + '_input'] = [int(x) for x in np.frombuffer(raw, dtype='<u2')]
        elif dtype == 'BF16':
            t = torch_from_u16(raw, torch.bfloat16)
            out[key + '_input'] = [int(x) for x in np.frombuffer(raw, dtype='<u2')]
        else:
            continue
        out[key + '_bits'] = f32_bits_of(t)
    # Spot checks that torch did what the comments above claim.
    bits = dict(zip(F16_SPECIAL, out['f16_special_bits']))
    assert bits[0x0001] == 0x33800000 and bits[0x8000] == 0x80000000
    assert bits[0x7c01] == 0x7fc02000  # signalling NaN comes out quiet
    assert bits[0x7c00] == 0x7f800000
    bbits = dict(zip(BF16_SPECIAL, out['bf16_special_bits']))
    assert bbits[0x7f81] == 0x7f810000
    with open(os.path.join(HERE, 'safetensors-dtypes.json'), 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')


# ---- the writer's expected output -------------------------------------------

def writer_tensors():
    """The tensors (name, shape, float32 values) that test-safetensors.c also
    builds, in the same (unsorted) order. Values are k * 0.125 - 1.5 for the
    k-th element of each tensor counted from seed, all exact in float32."""
    specs = [
        ('b.bias', (3,), 10),
        ('a.weight', (2, 3), 0),
        ('词.embedding', (2, 2), 20),  # non-ASCII: sorts after ASCII by bytes
        ('z.empty', (0, 4), 0),
        ('A.upper', (1,), 30),         # upper case sorts before lower
        ('scalar', (), 40),
    ]
    out = []
    for name, shape, seed in specs:
        n = int(np.prod(shape, dtype=np.int64))
        vals = (np.arange(seed, seed + n, dtype=np.float64) * 0.125 - 1.5)
        out.append((name, shape, vals.astype('<f4')))
    return out


WRITER_METADATA = {
    'attnscope.format_version': '1',
    'note': '注意力 "quoted" back\\slash\n\ttab \x01 ctrl \x7f del 🙂',
    'empty': '',
}


def make_writer_expected():
    tensors = writer_tensors()
    placed = [(name, 'F32', shape, vals.tobytes())
              for name, shape, vals in sorted(tensors, key=lambda t: t[0].encode())]
    path = os.path.join(HERE, 'safetensors-writer-expected.safetensors')
    metadata = {k: WRITER_METADATA[k] for k in sorted(WRITER_METADATA)}
    write_file(path, metadata, placed, [p[0] for p in placed])
    check(path)


def check(path):
    """Reads a file written by attn_safetensors_write for writer_tensors()
    and checks it against the spec and the reference library's layout."""
    blob = open(path, 'rb').read()
    md, tensors, n, raw_header, header = read_file(path)
    assert n % 8 == 0, 'header length %d is not a multiple of 8' % n
    # The reference layout exactly: compact JSON, __metadata__ first with
    # sorted keys, space padding only.
    assert list(md) == sorted(md), list(md)
    assert raw_header == header_bytes({'__metadata__': md, **header}), raw_header
    assert md == WRITER_METADATA, md
    expected = writer_tensors()
    names = [k for k in header]
    assert names == sorted((t[0] for t in expected), key=str.encode), names
    offset = 0
    for name in names:
        dtype, shape, raw = tensors[name]
        assert dtype == 'F32'
        assert header[name]['data_offsets'][0] == offset, name
        offset = header[name]['data_offsets'][1]
    assert 8 + n + offset == len(blob), 'trailing bytes'
    for name, shape, vals in expected:
        dtype, got_shape, raw = tensors[name]
        assert tuple(got_shape) == shape, (name, got_shape)
        got = torch.from_numpy(np.frombuffer(raw, dtype='<f4').copy())
        assert got.view(torch.int32).tolist() == torch.from_numpy(vals.copy()).view(torch.int32).tolist(), name
    print('%s: ok (%d tensors, header %d bytes)' % (path, len(names), n))


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--check':
        check(sys.argv[2])
    else:
        make_dtypes()
        make_writer_expected()
