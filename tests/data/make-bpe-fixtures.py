#!/usr/bin/python3
# Makes bpe.json, the reference encodings for tests/test-bpe.c.
#
# Command (from the project root; reads the real GPT-2 tokenizer files in
# ../shared/models/gpt2-tokenizer, which are not committed):
#   /usr/bin/python3 tests/data/make-bpe-fixtures.py
#
# The encoder is OpenAI's original gpt-2/src/encoder.py, reimplemented below
# line for line: bytes_to_unicode, get_pairs, bpe () with ranks from
# vocab.bpe, and the pre-tokenisation pattern
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# The Hugging Face `tokenizers` / `transformers` packages are not installed
# (no PyPI here), so this is an independent reference, not a copy of the C.
#
# The pattern needs the `regex` module (Debian's python3-regex), which is
# optional: the script also carries split_by_hand (), the same pattern
# written out as a scanner over unicodedata categories, and uses it when
# `regex` is absent. With `regex` present (as when bpe.json was made) it
# first checks, over every code point, that its character classes are the
# module's (\s is str.isspace () without U+001C..U+001F; \p{L} and \p{N}
# the general categories L* and N*, bar code points new in the module's
# later Unicode), then that both splits agree on every string, and encodes
# with `regex`. `splitter` in the output says which was used.
#
# Output (bpe.json): texts (the strings, UTF-8), and flat int arrays over
# all texts in order:
#   n_tokens        tokens per text, encoder.py's encoding (special tokens'
#                   text encoded as ordinary text)
#   ids             those tokens' ids
#   span_start/end  each token's byte span in its text (tokens tile it)
#   label_start/end the display span: the token's span widened to whole
#                   UTF-8 characters (core/attn-bpe.h's rule)
#   label_partial   1 when the token holds only some bytes of a character
#   n_tokens_special, ids_special
#                   the encoding with "<|endoftext|>" recognised: the text is
#                   cut at each occurrence, the pieces are encoded on their
#                   own and 50256 goes between (what Hugging Face's
#                   tokenizers and tiktoken's allowed_special do)
import functools
import json
import os
import random
import sys
import unicodedata

try:
    import regex
except ImportError:
    regex = None

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, '..', '..', '..', 'shared', 'models',
                         'gpt2-tokenizer')
PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = '<|endoftext|>'


# ---- encoder.py -----------------------------------------------------------

@functools.lru_cache()
def bytes_to_unicode():
    bs = (list(range(ord('!'), ord('~') + 1))
          + list(range(ord('¡'), ord('¬') + 1))
          + list(range(ord('®'), ord('ÿ') + 1)))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


class Encoder:
    def __init__(self, encoder, bpe_merges, split):
        self.encoder = encoder
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {}
        self.split = split

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = ' '.join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        for token in self.split(text):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(' '))
        return bpe_tokens

    def token_bytes(self, token_id):
        return bytes(self.byte_decoder[c] for c in self.decoder[token_id])

    def decode(self, tokens):
        text = ''.join(self.decoder[t] for t in tokens)
        return bytearray(self.byte_decoder[c] for c in text).decode('utf-8', errors='replace')


# ---- the pattern without `regex` --------------------------------------------

def is_space(c):
    # `regex`'s \s: str.isspace () less the four information separators.
    return c.isspace() and not '\x1c' <= c <= '\x1f'


def is_letter(c):
    return unicodedata.category(c)[0] == 'L'


def is_number(c):
    return unicodedata.category(c)[0] == 'N'


def is_other(c):
    return not (is_space(c) or is_letter(c) or is_number(c))


def split_by_hand(text):
    """re.findall (PATTERN, text): the alternatives tried in order at each
    position, as the regex engine does."""
    out = []
    i, n = 0, len(text)

    def run(j, pred):
        while j < n and pred(text[j]):
            j += 1
        return j

    while i < n:
        c = text[i]
        end = None
        if c == "'":
            for suffix in ('s', 't', 're', 've', 'm', 'll', 'd'):
                if text.startswith(suffix, i + 1):
                    end = i + 1 + len(suffix)
                    break
        for pred in (is_letter, is_number, is_other):
            if end is not None:
                break
            # ' ?X+': with the space when one follows, else without.
            if c == ' ' and i + 1 < n and pred(text[i + 1]):
                end = run(i + 1, pred)
            elif pred(c):
                end = run(i, pred)
        if end is None:
            # Whitespace: \s+(?!\S) backs off one character when the run is
            # followed by a non-space (keeping at least one); else \s+.
            j = run(i, is_space)
            assert j > i
            end = j - 1 if j < n and j - 1 > i else j
        out.append(text[i:end])
        i = end
    return out


def check_classes():
    s, letter, number = (regex.compile(r'\s'), regex.compile(r'\p{L}'),
                         regex.compile(r'\p{N}'))
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if unicodedata.category(c) == 'Cn':
            continue  # unassigned in Python's Unicode: `regex` may be newer
        got = (is_space(c), is_letter(c), is_number(c))
        want = (bool(s.match(c)), bool(letter.match(c)), bool(number.match(c)))
        assert got == want, (hex(cp), got, want)


# ---- the strings -------------------------------------------------------------

TEXTS = [
    # English and contractions
    'Hello world', 'Hello, world!', 'hello world', 'HELLO WORLD',
    'The quick brown fox jumps over the lazy dog.',
    "I'm sure it's fine, isn't it? We've done what they'd've done.",
    "DON'T SHOUT, I'LL HEAR YOU", "rock 'n' roll", "'s 't 're 've 'm 'll 'd",
    "O'Neil's book", "can't won't shan't y'all", "it''s", "'", "''", "'sss",
    'Attention is all you need.',
    'She sells sea-shells by the sea-shore; the shells she sells are surely '
    'seashells.',
    'A man, a plan, a canal: Panama!', 'e.g. i.e. etc. vs. Mr. Dr.',
    '"Quoted" and (parenthesised) and [bracketed] and {braced}',
    'Supercalifragilisticexpialidocious', 'antidisestablishmentarianism',
    'pneumonoultramicroscopicsilicovolcanoconiosis',
    'a' * 150, 'ab' * 90, 'the' * 30, 'Ġ', 'ĠĠ and Ċ',
    # numbers
    '3.14159', '1,234,567', '2024-11-23', '0x1F600', '1e-5', '  42',
    '12345678901234567890', '007', '-273.15 °C', '$9.99 or €10,00 or £5',
    '٣٤٥ Arabic-Indic digits', 'Ⅻ and ⅷ', '½ ¾ ⅓', '①②③', '²³ x²',
    '１２３ fullwidth', '100%', '#1', 'v1.2.3-rc4',
    # whitespace
    'a  b', 'a   b', 'a    b', '  leading', 'trailing  ', 'trailing ',
    '\t\ttabs', 'line1\nline2', 'para\n\n\nnext', 'crlf\r\nline', ' ',
    '  ', '   ', '\n', '\n\n', '\t', ' \n ', 'mixed \t \n end', ' a',
    'a ', ' a ', '  a  b  ', 'x \n\n y', '\n\n\nHello', 'end\n',
    'NBSP\u00a0here', 'ideographic\u3000space', 'en\u2002em\u2003thin\u2009',
    'nel\u0085next', 'x\u180ey', 'a \u180e b', '!\u180e?', 'x\u180e!', ' \u180eb', ' \x1cx',
    ' \u0085 x', 'zero\u200bwidth', 'line\u2028sep',
    'ctrl\x1cfs\x1dgs', 'vt\x0bff\x0c', 'bell\x07', '\x01\x02\x7f',
    # code
    'def f(x):\n    return x**2\n', 'int main(void) { return 0; }',
    'for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}',
    '<div class="a">&amp;</div>', 'SELECT * FROM t WHERE id = 1;',
    'https://example.com/path?q=1&r=2#frag', 'foo_bar.baz()',
    '#!/usr/bin/env python3', 'x += 1  # comment', '    indented',
    '{"key": [1, 2, 3], "b": null}', 'λx. x + 1', 'a->b; c::d; e=>f',
    '/* comment */ // another', 'if (a && b || !c) return -1;',
    '    def __init__(self):\n        self.x = None',
    'git commit -m "msg"', 'C:\\Users\\name\\file.txt', '~/.config/app',
    '$HOME ${PATH} `cmd`', 'std::vector<int> v{1, 2};', '====', '-----',
    '....', '!!!???', '$$$', '***bold***', '__init__', '@decorator',
    # Chinese, Japanese, Korean and other scripts
    '注意力机制', '今天天气很好。', '我爱自然语言处理', '二〇二六年十一月二十三日',
    '你好，世界！', '机器学习 and deep learning 混合', '2026年11月23日',
    '「引号」和《书名》', '龘靐齉', 'こんにちは世界', 'カタカナとひらがな',
    '안녕하세요 세계', 'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया',
    'สวัสดีชาวโลก', 'Привет, мир!', 'Γειά σου Κόσμε', 'Բարեւ աշխարհ',
    'ሰላም ልዑል', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙', '𠀀𠀁 extension B',
    # emoji
    '😀', 'Hello 👋 world 🌍!', '👨\u200d👩\u200d👧\u200d👦 family',
    '🇨🇳🇺🇸 flags', '👍🏽 skin', '❤️ heart', '🤖🧠💡', 'emoji🙂inside',
    '🙂🙂🙂', ' 🙂', '✓ ✗ ★ ☆', '→ ← ↑ ↓', '∑∫∂√∞', '™©®',
    # accents
    'café', 'cafe\u0301', 'naïve résumé', 'Ångström', 'Zürich Straße',
    'ñandú', 'Ḁḁ', 'ǅemal', 'Ðð Þþ Ææ Œœ', 'İstanbul ıi',
    # special token text
    EOT, 'Hello' + EOT + 'world', 'a ' + EOT + ' b', EOT + EOT, '<|endoftext',
    EOT + '\n\nNew doc', ' ' + EOT, EOT + ' ', '<|endoftext|', '<<|endoftext|>>',
    'x<|endoftext|>y<|endoftext|>z', '<|startoftext|>',
    # empty
    '',
]

FRAGMENTS = [
    'the', ' the', 'The', ' cat', ' sat', ' on', ' mat', 'ing', "'s", "'ll",
    ' 2026', '42', '3.5', ' ', '  ', '\n', '\t', '!', '?', '...', ',',
    '注意', '力', '年', '月', '🙂', '👍🏽', 'é', 'e\u0301', 'ß', ' über',
    '(', ')', '{', '}', '->', '==', '_', 'x1', 'Привет', 'αβγ', 'ok',
    EOT, ' https://a.b/c', '😀😀', '한국', 'مرحبا', '\u3000', '\u00a0',
]


def random_texts(n, seed=20261123):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 12)
        out.append(''.join(rng.choice(FRAGMENTS) for _ in range(k)))
    return out


# ---- output ----------------------------------------------------------------

def labels(enc, ids, text):
    """Each token's span, and the display span widened to whole
    characters."""
    data = text.encode('utf-8')
    starts = set()
    ends = set()
    pos = 0
    for c in text:
        starts.add(pos)
        pos += len(c.encode('utf-8'))
        ends.add(pos)
    rows = []
    pos = 0
    for t in ids:
        b = enc.token_bytes(t)
        a, e = pos, pos + len(b)
        assert data[a:e] == b
        ls = max(s for s in starts if s <= a)
        le = min(x for x in ends if x >= e)
        rows.append((a, e, ls, le, int(a not in starts or e not in ends)))
        pos = e
    assert pos == len(data)
    return rows


def main():
    with open(os.path.join(TOKENIZER, 'encoder.json'), encoding='utf-8') as f:
        encoder = json.load(f)
    with open(os.path.join(TOKENIZER, 'vocab.bpe'), encoding='utf-8') as f:
        bpe_data = f.read()
    bpe_merges = [tuple(s.split()) for s in bpe_data.split('\n')[1:-1]]

    texts = TEXTS + random_texts(200 - len(TEXTS))
    if regex is not None:
        check_classes()
        pat = regex.compile(PATTERN)
        for t in texts:
            assert pat.findall(t) == split_by_hand(t), t
        split, splitter = pat.findall, 'regex %s' % regex.__version__
    else:
        split, splitter = split_by_hand, 'unicodedata (no regex module)'
    enc = Encoder(encoder, bpe_merges, split)
    eot = encoder[EOT]

    out = {'splitter': splitter, 'texts': texts, 'n_tokens': [], 'ids': [],
           'span_start': [], 'span_end': [], 'label_start': [],
           'label_end': [], 'label_partial': [], 'n_tokens_special': [],
           'ids_special': []}
    for t in texts:
        ids = enc.encode(t)
        assert enc.decode(ids) == t
        out['n_tokens'].append(len(ids))
        out['ids'].extend(ids)
        for a, e, ls, le, partial in labels(enc, ids, t):
            out['span_start'].append(a)
            out['span_end'].append(e)
            out['label_start'].append(ls)
            out['label_end'].append(le)
            out['label_partial'].append(partial)
        special = []
        for k, piece in enumerate(t.split(EOT)):
            if k > 0:
                special.append(eot)
            special.extend(enc.encode(piece))
        out['n_tokens_special'].append(len(special))
        out['ids_special'].extend(special)

    path = os.path.join(HERE, 'bpe.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, separators=(',', ':'))
        f.write('\n')
    print('%s: %d texts, %d tokens, split by %s' % (
        path, len(texts), len(out['ids']), splitter), file=sys.stderr)


if __name__ == '__main__':
    main()
