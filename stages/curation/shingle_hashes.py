"""The hashes of a text's 5-character shingles, as rensa hashes a token, made in compiled code.

rensa turns a token into 64 bits with rustc-hash's FxHasher over its UTF-8 bytes
(`calculate_hash_fast` in rensa 0.5), then sketches them. Made here straight from the text's
bytes and sketched as rensa does (stages/curation/bucket_sketch.py), they give the signature
`RMinHash.update` gives from the slices as Python strings, which cost ten times rensa's own
work (tests/bench/README.md#pipeline). tests/test_near_dup.py checks that both
agree, so a rensa that hashes differently fails there, not silently.
"""

import numpy as np
from numba import njit

MASK32 = np.uint64(0xFFFFFFFF)
SEED1 = np.uint64(0x243F6A8885A308D3)
SEED2 = np.uint64(0x13198A2E03707344)
NONZERO = np.uint64(0xA4093822299F31D0)
FX_K = np.uint64(0xF1357AEA2E62A9C5)
ROTATE = np.uint64(26)


@njit(cache=True, nogil=True)
def _multiply_mix(x: np.uint64, y: np.uint64) -> np.uint64:
    """The low and high halves of the 128-bit product, xored."""
    x_lo, x_hi, y_lo, y_hi = x & MASK32, x >> np.uint64(32), y & MASK32, y >> np.uint64(32)
    lo_lo, hi_lo, lo_hi = x_lo * y_lo, x_hi * y_lo, x_lo * y_hi
    cross = (lo_lo >> np.uint64(32)) + (hi_lo & MASK32) + lo_hi
    high = (hi_lo >> np.uint64(32)) + (cross >> np.uint64(32)) + x_hi * y_hi
    return (x * y) ^ high


@njit(cache=True, nogil=True)
def _read_le(data: np.ndarray, at: int, width: int) -> np.uint64:
    value = np.uint64(0)
    for k in range(width):
        value |= np.uint64(data[at + k]) << np.uint64(8 * k)
    return value


@njit(cache=True, nogil=True)
def _token_hash(data: np.ndarray, start: int, stop: int) -> np.uint64:
    """FxHasher's `write` of data[start:stop], then its `finish`."""
    n = stop - start
    s0, s1 = SEED1, SEED2
    if n <= 16:
        if n >= 8:
            s0 ^= _read_le(data, start, 8)
            s1 ^= _read_le(data, stop - 8, 8)
        elif n >= 4:
            s0 ^= _read_le(data, start, 4)
            s1 ^= _read_le(data, stop - 4, 4)
        elif n > 0:
            s0 ^= np.uint64(data[start])
            s1 ^= (np.uint64(data[stop - 1]) << np.uint64(8)) | np.uint64(data[start + n // 2])
    else:
        at = start
        while at < stop - 16:
            mixed = _multiply_mix(s0 ^ _read_le(data, at, 8), NONZERO ^ _read_le(data, at + 8, 8))
            s0, s1 = s1, mixed
            at += 16
        s0 ^= _read_le(data, stop - 16, 8)
        s1 ^= _read_le(data, stop - 8, 8)
    folded = (_multiply_mix(s0, s1) ^ np.uint64(n)) * FX_K
    return (folded << ROTATE) | (folded >> (np.uint64(64) - ROTATE))


@njit(cache=True, nogil=True)
def _ascii_five_hashes(data: np.ndarray) -> np.ndarray:
    """`shingle_hashes(data, 5)` of ASCII data longer than 5 bytes: each shingle is 5 bytes,
    so FxHasher reads the 4 bytes at its start and the 4 after its first; branch-free, the
    loops vectorize."""
    n = len(data) - 3
    words = np.empty(n, dtype=np.uint64)
    for i in range(n):
        words[i] = (
            np.uint64(data[i])
            | (np.uint64(data[i + 1]) << np.uint64(8))
            | (np.uint64(data[i + 2]) << np.uint64(16))
            | (np.uint64(data[i + 3]) << np.uint64(24))
        )
    out = np.empty(n - 1, dtype=np.uint64)
    for i in range(n - 1):
        folded = (_multiply_mix(SEED1 ^ words[i], SEED2 ^ words[i + 1]) ^ np.uint64(5)) * FX_K
        out[i] = (folded << ROTATE) | (folded >> (np.uint64(64) - ROTATE))
    return out


@njit(cache=True, nogil=True)
def shingle_hashes(data: np.ndarray, width: int) -> np.ndarray:
    """The hash of every run of `width` characters of UTF-8 `data`, or of all of it when it
    is shorter."""
    if width == 5 and len(data) > 5 and data.max() < 0x80:  # most texts: 2.5 times faster
        return _ascii_five_hashes(data)
    return utf8_shingle_hashes(data, width)


@njit(cache=True, nogil=True)
def utf8_shingle_hashes(data: np.ndarray, width: int) -> np.ndarray:
    """`shingle_hashes` of any UTF-8, a character's bytes found one by one."""
    starts = np.empty(len(data) + 1, dtype=np.int64)
    n_chars = 0
    for at in range(len(data)):
        if data[at] & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            starts[n_chars] = at
            n_chars += 1
    starts[n_chars] = len(data)
    if n_chars <= width:
        out = np.empty(1, dtype=np.uint64)
        out[0] = _token_hash(data, 0, len(data))
        return out
    out = np.empty(n_chars - width + 1, dtype=np.uint64)
    for i in range(len(out)):
        out[i] = _token_hash(data, starts[i], starts[i + width])
    return out
