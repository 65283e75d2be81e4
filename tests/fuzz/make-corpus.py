#!/usr/bin/python3
# make-corpus.py: writes the seed corpora of tests/fuzz/corpus/<target>/
# from small real files: the shipped models' safetensors headers (no
# weights), test fixtures of tests/data/, tiny models trained for two steps
# by attnscope-cli and traces of their runs, trimmed GPT-2 tokenizer files
# (../shared/models), and texts as users type them.
#
# Made with (from the project root, after `ninja -C build-asan
# app/attnscope-cli`):
#   /usr/bin/python3 tests/fuzz/make-corpus.py build-asan/app/attnscope-cli
#
# Inputs of targets that take a selector byte (fuzz-model-json, fuzz-text,
# fuzz-bpe, fuzz-bpe-encode; see their comments) begin with it. The script
# replaces what it wrote before and nothing else (files found by the
# fuzzers are added by tools/fuzz under other names).
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, 'tests', 'fuzz', 'corpus')
MODELS = os.path.join(ROOT, 'assets', 'models')
DATA = os.path.join(ROOT, 'tests', 'data')
SHARED = os.path.join(ROOT, '..', 'shared', 'models')
SHIPPED = ['dates-transformer', 'dates-bahdanau', 'dates-luong-general',
           'dates-local-p', 'numbers-transformer', 'reverse-transformer']


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(os.path.join(folder, 'seed-' + name), 'wb') as f:
        f.write(data)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def header_of(path):
    """The 8-byte length and the JSON header of a safetensors file."""
    data = read(path)
    n = struct.unpack('<Q', data[:8])[0]
    return data[:8 + n], json.loads(data[8:8 + n])


def safetensors(tensors, metadata=None):
    """A safetensors file: tensors is a list of (name, dtype, shape, bytes)."""
    header, blobs, at = {}, [], 0
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, blob in tensors:
        header[name] = {'dtype': dtype, 'shape': shape,
                        'data_offsets': [at, at + len(blob)]}
        blobs.append(blob)
        at += len(blob)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(blobs)


# Tiny models: the reverse task (40 symbols), two optimiser steps, so every
# architecture and attention is a file of a few KB that loads and runs.
TINY = [
    ('tiny-transformer-post', ['--arch', 'transformer', '--layers', '1',
                               '--heads', '2', '--d-model', '4',
                               '--d-ff', '8']),
    ('tiny-transformer-pre', ['--arch', 'transformer', '--layers', '1',
                              '--heads', '1', '--d-model', '2', '--d-ff', '2',
                              '--pre-norm']),
    ('tiny-bahdanau', ['--arch', 'rnn', '--attention', 'bahdanau',
                       '--embed', '2', '--hidden', '3']),
    ('tiny-luong-dot', ['--arch', 'rnn', '--attention', 'luong-dot',
                        '--embed', '2', '--hidden', '3']),
    ('tiny-luong-general', ['--arch', 'rnn', '--attention', 'luong-general',
                            '--embed', '2', '--hidden', '3']),
    ('tiny-luong-concat', ['--arch', 'rnn', '--attention', 'luong-concat',
                           '--embed', '2', '--hidden', '3']),
    ('tiny-local-p', ['--arch', 'rnn', '--attention', 'local-p',
                      '--embed', '2', '--hidden', '3', '--window', '2']),
]


def tiny_models(cli, tmp):
    out = {}
    for name, args in TINY:
        path = os.path.join(tmp, name + '.safetensors')
        # Run in tmp with a bare -o, so the card's command (which quotes
        # it) is the same on every machine.
        subprocess.run([cli, 'train', '--task', 'reverse'] + args +
                       ['--steps', '2', '--warmup', '1', '--batch', '2',
                        '--eval-every', '0', '--test-examples', '2',
                        '--threads', '1', '--name', name,
                        '-o', name + '.safetensors'],
                       check=True, stdout=subprocess.DEVNULL, cwd=tmp)
        out[name] = path
    return out


def run_json(cli, model, text):
    return subprocess.run([cli, 'run', '--model', model, '--json', text],
                          check=True, stdout=subprocess.PIPE).stdout


def gpt2_trimmed(k):
    """GPT-2's 256 byte tokens and first k merges (and their k tokens):
    vocab.json, merges.txt and tokenizer.json texts."""
    enc = json.loads(read(os.path.join(SHARED, 'gpt2-tokenizer',
                                       'encoder.json')))
    lines = read(os.path.join(SHARED, 'gpt2-tokenizer',
                              'vocab.bpe')).decode('utf-8').split('\n')
    merges = lines[1:1 + k]
    vocab = {t: i for t, i in enc.items() if i < 256 + k}
    for i, m in enumerate(merges):
        assert vocab[m.replace(' ', '')] == 256 + i
    vocab_json = json.dumps(vocab, ensure_ascii=False, separators=(',', ':'))
    merges_txt = '#version: 0.2\n' + '\n'.join(merges) + '\n'
    tok = json.loads(read(os.path.join(SHARED, 'hf-fake-gpt2',
                                       'tokenizer.json')))
    eot = len(vocab)
    tok['model']['vocab'] = dict(vocab, **{'<|endoftext|>': eot})
    tok['model']['merges'] = merges
    for t in tok['added_tokens']:
        t['id'] = eot
    tokenizer_json = json.dumps(tok, ensure_ascii=False)
    return vocab_json, merges_txt, tokenizer_json


TEXTS_DATES = ['23 Nov 2026', '2026年11月23日', '11/23/2026', '23.11.2026',
               '2026-11-23', 'Monday, November 23, 2026',
               'November 23rd, 2026', '23 November 26', 'mon 23 NOV 2026',
               '29 Feb 2023', '31/31/2020']
TEXTS_NUMBERS = ['two thousand three hundred forty-five',
                 'three hundred and twelve', 'forty two', 'zero',
                 '两千零五', '二百', '一十二', '一千五', '一万', '9999']
TEXTS_USER = ['23 Nov 2026', '', ' \t ', 'a\x01b\x7f\x1b[31m', '\u200b\u00a0Nov',
              '日本語 🙂 é', 'x' * 40, 'ab\n\ncd\r\n']
TEXTS_BPE = ['Hello world', 'Hello world 注意力!  ok',
             '<|endoftext|>The end.<|endoftext|>', "it's I'll they've 'S",
             '   leading and trailing   \n\n', '🙂👍🏽 emoji', '1234567890 3.14',
             '\t\r\n\u00a0\u3000\u180e\u2028', 'Ġ ĠĠ Ċ']


# config.json of the gpt2 checkpoint on the Hugging Face hub.
GPT2_CONFIG = {
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1,
    "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024,
    "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
    "resid_pdrop": 0.1, "summary_activation": None,
    "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
    "summary_type": "cls_index", "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True,
                                                 "max_length": 50}},
    "vocab_size": 50257,
}


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: make-corpus.py PATH/TO/attnscope-cli')
    cli = os.path.abspath(sys.argv[1])
    for target in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        for name in os.listdir(os.path.join(CORPUS, target)):
            if name.startswith('seed-'):
                os.remove(os.path.join(CORPUS, target, name))

    tmp = tempfile.mkdtemp()
    try:
        tiny = tiny_models(cli, tmp)

        # safetensors: real headers without their data, fixtures, tiny
        # models, and small files of each float dtype.
        for m in SHIPPED:
            head, _ = header_of(os.path.join(MODELS, m + '.safetensors'))
            write('safetensors', m + '-header', head)
        head, _ = header_of(os.path.join(SHARED, 'hf-fake-gpt2',
                                         'model.safetensors'))
        write('safetensors', 'hf-fake-gpt2-header', head)
        for f in ['safetensors-dtypes.safetensors',
                  'safetensors-writer-expected.safetensors']:
            write('safetensors', f, read(os.path.join(DATA, f)))
        write('safetensors', 'tiny-bahdanau', read(tiny['tiny-bahdanau']))
        write('safetensors', 'dtypes-small', safetensors([
            ('a', 'F16', [2], struct.pack('<2H', 0x3c00, 0x7c01)),
            ('b', 'BF16', [1, 1], struct.pack('<H', 0x3f80)),
            ('c', 'F32', [], struct.pack('<f', -0.5)),
            ('d', 'F32', [0, 3], b''),
            ('e', 'I64', [1], struct.pack('<q', 7)),
        ], {'format': 'pt'}))

        # model: whole tiny model files.
        for name, path in tiny.items():
            write('model', name, read(path))

        # model-json: 0 + config, 1 + vocabulary of each shipped model.
        seen = set()
        for m in SHIPPED:
            _, header = header_of(os.path.join(MODELS, m + '.safetensors'))
            md = header['__metadata__']
            write('model-json', m + '-config', b'\x00' +
                  md['attnscope.config'].encode('utf-8'))
            vocab = md['attnscope.vocab']
            if vocab not in seen:
                seen.add(vocab)
                write('model-json', m + '-vocab', b'\x01' +
                      vocab.encode('utf-8'))

        # trace: the fixtures that fit in 16 KB, and runs of tiny models.
        for f in ['trace-example.json', 'cli-trace.json',
                  'cli-trace-gpt.json', 'views-gpt.json']:
            write('trace', f, read(os.path.join(DATA, f)))
        write('trace', 'run-tiny-transformer-post.json',
              run_json(cli, tiny['tiny-transformer-post'], 'ab'))
        write('trace', 'run-tiny-local-p.json',
              run_json(cli, tiny['tiny-local-p'], 'x1'))

        # npy: NumPy's own files of tests/data.
        for f in sorted(os.listdir(DATA)):
            if f.endswith('.npy'):
                write('npy', f, read(os.path.join(DATA, f)))

        # text: 0 encode, 1 date, 2 number, 3 a run of the default model.
        for i, t in enumerate(TEXTS_USER):
            write('text', 'encode-%d' % i, b'\x00' + t.encode('utf-8'))
        write('text', 'encode-invalid', b'\x00ab\xc3')
        for i, t in enumerate(TEXTS_DATES):
            write('text', 'date-%d' % i, b'\x01' + t.encode('utf-8'))
        for i, t in enumerate(TEXTS_NUMBERS):
            write('text', 'number-%d' % i, b'\x02' + t.encode('utf-8'))
        for i, t in enumerate(TEXTS_USER[:6]):
            write('text', 'run-%d' % i, b'\x03' + t.encode('utf-8'))

        # bpe: 0 + vocab.json NUL merges.txt, 1 + tokenizer.json, trimmed to
        # GPT-2's first 40 merges.
        vocab_json, merges_txt, tokenizer_json = gpt2_trimmed(40)
        write('bpe', 'gpt2-40-pair', b'\x00' + vocab_json.encode('utf-8') +
              b'\x00' + merges_txt.encode('utf-8'))
        write('bpe', 'gpt2-40-tokenizer-json', b'\x01' +
              tokenizer_json.encode('utf-8'))

        # bpe-encode: 0 plain, 1 with special tokens.
        for i, t in enumerate(TEXTS_BPE):
            write('bpe-encode', 'text-%d' % i, bytes([i % 2]) +
                  t.encode('utf-8'))
        write('bpe-encode', 'invalid', b'\x00ab\xe4\xbd')

        # gpt2-config: the Hugging Face folders' config.json files, and
        # gpt2's own (as the hub has it).
        write('gpt2-config', 'hf-fake-gpt2',
              read(os.path.join(SHARED, 'hf-fake-gpt2', 'config.json')))
        for d in ['gpt2-tiny', 'gpt2-tiny-f16', 'gpt2-tiny-noprefix']:
            write('gpt2-config', d,
                  read(os.path.join(DATA, d, 'config.json')))
        write('gpt2-config', 'gpt2', json.dumps(GPT2_CONFIG, indent=2))
    finally:
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
