#!/usr/bin/env python3
"""Writes loader/unicode_tables.inc: the Unicode tables of frost's WordPiece tokenizer, read off the pinned
Hugging Face `tokenizers` library by probing its BertNormalizer, NFD normaliser and BertPreTokenizer one code
point at a time (0..0x10FFFF, surrogates excepted), so that frost's tokenizer equals that version's on every
code point whatever Unicode version the machine's utf8proc, Python or Rust happen to carry.

    pip install tokenizers==0.23.3
    python3 loader/data/make_unicode_tables.py

What is probed, per code point c (each step of BertNormalizer alone, the others off):
  - clean_text: c dropped (controls, format, private use, NUL, U+FFFD, ... as `tokenizers` sees them), c
    mapped to ' ' (whitespace), or kept;
  - handle_chinese_chars: c padded with spaces or not;
  - NFD (normalizers.NFD, the decomposition strip_accents runs): c's full canonical decomposition, and for
    code points that do not decompose: whether strip_accents drops it (Mn) and its canonical combining
    class (nonzero or not by reordering against U+0334 and U+0345; the order among nonzero classes by
    reordering every pair, so canonical reordering in a sequence is the library's);
  - lowercase: c's full lowercase mapping (one to several code points: U+0130 gives two);
  - BertPreTokenizer on "a" + c + "b": c splits as whitespace, is isolated as punctuation, or stays in the word.
Hangul syllables decompose by the algorithm (checked here, not tabulated). The output is committed; the
build does not need Python. tests/fixtures/tokenizer_unicode checks the composed result against the library.
"""
import functools
import hashlib
import pathlib
import sys
import unicodedata

import tokenizers
from tokenizers import normalizers, pre_tokenizers

TOKENIZERS_VERSION = "0.23.3"
assert tokenizers.__version__ == TOKENIZERS_VERSION, (
    f"tokenizers {tokenizers.__version__} is installed; the tables are pinned to {TOKENIZERS_VERSION}")

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "unicode_tables.inc"
CODE_POINTS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]

# Class bits (kept in step with loader/tokenizer.cpp).
DROP, SPACE, CJK, MN, SPLIT_WS, SPLIT_PUNCT = 1, 2, 4, 8, 16, 32

S_BASE, L_BASE, V_BASE, T_BASE, L_COUNT, V_COUNT, T_COUNT = 0xAC00, 0x1100, 0x1161, 0x11A7, 19, 21, 28
N_COUNT = V_COUNT * T_COUNT
S_COUNT = L_COUNT * N_COUNT


def hangul(cp):
    s = cp - S_BASE
    out = [L_BASE + s // N_COUNT, V_BASE + (s % N_COUNT) // T_COUNT]
    if s % T_COUNT:
        out.append(T_BASE + s % T_COUNT)
    return out


def bert(clean=False, chinese=False, strip=False, lower=False):
    return normalizers.BertNormalizer(clean_text=clean, handle_chinese_chars=chinese, strip_accents=strip,
                                      lowercase=lower)


def cps(s):
    return [ord(ch) for ch in s]


def main():
    clean, chinese, strip, lower = bert(clean=True), bert(chinese=True), bert(strip=True), bert(lower=True)
    nfd = normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()

    flags = {}
    decomposition = {}  # cp -> full canonical decomposition (Hangul syllables excepted)
    lowercase = {}  # cp -> full lowercase mapping, where it is not cp itself
    stable = []  # code points whose NFD is themselves
    for cp in CODE_POINTS:
        c = chr(cp)
        f = 0
        n = clean.normalize_str(c)
        if n == "":
            f |= DROP
        elif n == " " and c != " ":
            f |= SPACE
        else:
            assert n == c, hex(cp)
        n = chinese.normalize_str(c)
        if n == " " + c + " ":
            f |= CJK
        else:
            assert n == c, hex(cp)
        d = nfd.normalize_str(c)
        if d != c:
            if S_BASE <= cp < S_BASE + S_COUNT:
                assert cps(d) == hangul(cp), hex(cp)
            else:
                decomposition[cp] = cps(d)
        else:
            stable.append(cp)
            n = strip.normalize_str(c)
            if n == "":
                f |= MN
            else:
                assert n == c, hex(cp)
        n = lower.normalize_str(c)
        if n != c:
            lowercase[cp] = cps(n)
        words = [w for w, _ in pre.pre_tokenize_str("a" + c + "b")]
        if words == ["a", "b"]:
            f |= SPLIT_WS
        elif words == ["a", c, "b"]:
            f |= SPLIT_PUNCT
        else:
            assert words == ["a" + c + "b"], (hex(cp), words)
        flags[cp] = f
    assert not any(S_BASE <= cp < S_BASE + S_COUNT for cp in stable)
    mn = {cp for cp in stable if flags[cp] & MN}
    # strip_accents is NFD then dropping Mn: check the two probes agree for the decomposing code points.
    for cp, d in decomposition.items():
        assert strip.normalize_str(chr(cp)) == "".join(chr(x) for x in d if x not in mn), hex(cp)
        assert all(x in flags and not (S_BASE <= x < S_BASE + S_COUNT) and nfd.normalize_str(chr(x)) == chr(x)
                   for x in d), hex(cp)

    # Canonical combining classes of the non-decomposing code points: nonzero iff the code point reorders
    # against U+0334 (class 1) or U+0345 (class 240).
    lo, hi = "\u0334", "\u0345"
    nonzero = [cp for cp in stable
               if nfd.normalize_str(chr(cp) + lo) == lo + chr(cp) or nfd.normalize_str(hi + chr(cp)) == chr(cp) + hi]

    def order(x, y):  # the library's order of two nonzero classes: does y move before x?
        xy = chr(x) + chr(y)
        yx = chr(y) + chr(x)
        if x == y:
            return 0
        if nfd.normalize_str(xy) == yx:
            return 1
        if nfd.normalize_str(yx) == xy:
            return -1
        return 0

    ranked = sorted(nonzero, key=functools.cmp_to_key(order))
    # Label the library's classes with Unicode's values where those give the same order (they do for
    # tokenizers 0.23.3); fall back to ranks otherwise.
    ccc = {cp: unicodedata.combining(chr(cp)) for cp in nonzero}
    consistent = all(ccc[x] != 0 for x in nonzero) and all(
        order(x, y) == (ccc[x] > ccc[y]) - (ccc[x] < ccc[y]) for x in nonzero for y in nonzero)
    if not consistent:
        print("Unicode's combining classes order differently from the library's: writing ranks", file=sys.stderr)
        rank, prev = 0, None
        for cp in ranked:
            if prev is None or order(prev, cp) != 0:
                rank += 1
            ccc[cp], prev = rank, cp

    # Range-compress the flags.
    runs = []
    for cp in CODE_POINTS:
        f = flags[cp]
        if runs and runs[-1][2] == f and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        elif runs and runs[-1][2] == f and cp == 0xE000 and runs[-1][1] == 0xD7FF:
            runs[-1][1] = cp  # surrogates never reach the tables (decoding refuses them)
        else:
            runs.append([cp, cp, f])
    ccc_runs = []
    for cp in sorted(nonzero):
        if ccc_runs and ccc_runs[-1][2] == ccc[cp] and ccc_runs[-1][1] == cp - 1:
            ccc_runs[-1][1] = cp
        else:
            ccc_runs.append([cp, cp, ccc[cp]])

    pool = []
    pool_at = {}

    def intern(seq):
        key = tuple(seq)
        if key not in pool_at:
            pool_at[key] = len(pool)
            pool.extend(seq)
        return pool_at[key]

    def mapping_rows(table):
        rows = []
        for cp in sorted(table):
            seq = table[cp]
            assert 1 <= len(seq) <= 255
            rows.append(f"{{0x{cp:X}, {intern(seq)}, {len(seq)}}}")
        return rows

    decomposition_rows = mapping_rows(decomposition)
    lowercase_rows = mapping_rows(lowercase)
    assert len(pool) < 65536

    def block(rows, per_line):
        return "\n".join("    " + ", ".join(rows[i:i + per_line]) + "," for i in range(0, len(rows), per_line))

    script_sha = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()
    counts = {name: sum(1 for cp in CODE_POINTS if flags[cp] & bit)
              for name, bit in (("drop", DROP), ("space", SPACE), ("cjk", CJK), ("mn", MN),
                                ("split_ws", SPLIT_WS), ("split_punct", SPLIT_PUNCT))}
    text = f"""// Generated by loader/data/make_unicode_tables.py from tokenizers {TOKENIZERS_VERSION}; do not edit.
// Script SHA-256: {script_sha}
// {len(CODE_POINTS)} code points probed; {', '.join(f'{k} {v}' for k, v in counts.items())};
// {len(decomposition)} canonical decompositions (+ {S_COUNT} Hangul syllables by the algorithm), {len(nonzero)} nonzero
// combining classes, {len(lowercase)} lowercase mappings.
// clang-format off

// Per-code-point classes, as runs [first, last] of one set of flags (kDrop | kSpace | kCjk | kMn |
// kSplitWhitespace | kSplitPunctuation); code points in no run have none. Sorted, disjoint.
inline constexpr ClassRun kClassRuns[] = {{
{block([f"{{0x{a:X}, 0x{b:X}, {f}}}" for a, b, f in runs if f], 6)}
}};

// Canonical combining classes that are not 0, as runs [first, last] of one class. Sorted, disjoint.
inline constexpr ClassRun kCombiningClassRuns[] = {{
{block([f"{{0x{a:X}, 0x{b:X}, {c}}}" for a, b, c in ccc_runs], 6)}
}};

// The code points that mappings point into: {{code point, offset, length}} rows index this pool.
inline constexpr char32_t kMappingPool[] = {{
{block([f"0x{x:X}" for x in pool], 12)}
}};

// Full canonical decompositions (NFD of the code point alone), Hangul syllables excepted. Sorted.
inline constexpr Mapping kDecompositions[] = {{
{block(decomposition_rows, 5)}
}};

// Full lowercase mappings, per code point (no context: final sigma is not special). Sorted.
inline constexpr Mapping kLowercase[] = {{
{block(lowercase_rows, 5)}
}};
"""
    OUT.write_text(text)
    print(f"wrote {OUT}: {len([r for r in runs if r[2]])} class runs, {len(ccc_runs)} combining-class runs, "
          f"{len(decomposition)} decompositions, {len(lowercase)} lowercase mappings, pool {len(pool)}; {counts}")
    nonmn = [cp for cp in nonzero if cp not in mn]
    print("non-Mn code points with a nonzero combining class:", " ".join(f"{cp:04X}" for cp in nonmn))


if __name__ == "__main__":
    main()
