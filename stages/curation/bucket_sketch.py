"""rensa 0.5's R-MinHash signature of token hashes, made in compiled code straight into an array.

rensa's `digest_matrix_from_flat_token_hashes` hands its signature back only as Python lists
of ints, and turning the 421 minima of a record into ints cost as much as making them
(tests/bench/README.md#pipeline). Its sketch is simple enough to make here, bit for bit:

- Each of the 3 rounds mixes a token hash with SplitMix64 (seeded from the first
  permutation's `b`), picks one coordinate from the low 32 bits (Lemire's multiply, with
  rejection), and offers it the rank `round << 30 | mixed >> 34` there.
- A coordinate no round reached takes, over every token, the least
  `3 << 30 | (a·h' + b) >> 34` of its own permutation `(a, b)`, with `h'` the token
  mixed once more (seeded from the first permutation's `a`).

The permutations are rensa's: Xoshiro256++ seeded through SplitMix64, `(next | 1, next)`.
Every coordinate is a minimum over the tokens, so a text hashed in pieces gives the minimum of
the pieces' signatures. tests/test_bucket_sketch.py compares this with rensa itself on token
hashes, tests/test_near_dup.py on whole texts, so a rensa that sketches differently fails
there, not silently.
"""

import functools
from collections.abc import Iterator

import numpy as np
from numba import njit

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
ROUNDS = 3
RANK_SHIFT = np.uint64(34)  # a rank is the top 30 bits of a mixed hash (of 64)
FALLBACK = np.uint32(ROUNDS << 30)
LARGEST_RANK = np.uint64((1 << 30) - 1)
LOW32 = np.uint64(0xFFFFFFFF)
BUCKET_DOMAIN = 0x6A09E667F3BCC909
ROUND_DOMAIN = 0x3C6EF372FE94F82B
FALLBACK_DOMAIN = 0xBB67AE8584CAA73B


def _xoshiro256pp(seed: int) -> Iterator[int]:
    """rand_xoshiro's Xoshiro256PlusPlus::seed_from_u64: its state from SplitMix64."""
    s, state = [], seed
    for _ in range(4):
        s.append(int(_mix(np.uint64(state))))  # SplitMix64's output for this state
        state = (state + GOLDEN) & MASK64

    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & MASK64

    while True:
        yield (rotl((s[0] + s[3]) & MASK64, 23) + s[0]) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)


class Permutations:
    """The `(a, b)` pairs of signatures made end to end (each of `(size, seed)`), and the seeds
    their rounds and fallbacks mix with: one compiled call makes them all."""

    def __init__(self, parts: tuple[tuple[int, int], ...]) -> None:
        pairs: list[tuple[int, int]] = []
        rounds: list[list[int]] = []
        fallbacks: list[int] = []
        for size, seed in parts:
            numbers = _xoshiro256pp(seed)
            own = [(next(numbers) | 1, next(numbers)) for _ in range(size)]
            first_a, first_b = own[0]
            domain = first_b ^ BUCKET_DOMAIN
            rounds.append([domain ^ ((r * ROUND_DOMAIN) & MASK64) for r in range(ROUNDS)])
            fallbacks.append(first_a ^ FALLBACK_DOMAIN)
            pairs += own
        self.a = np.array([a for a, _ in pairs], dtype=np.uint64)
        self.b = np.array([b for _, b in pairs], dtype=np.uint64)
        self.bounds = np.cumsum([0, *(size for size, _ in parts)], dtype=np.int64)
        self.rounds = np.array(rounds, dtype=np.uint64)
        self.fallbacks = np.array(fallbacks, dtype=np.uint64)

    def sketch_into(self, hashes: np.ndarray, out: np.ndarray) -> None:
        """Lower `out` to the signatures of `hashes`, end to end, where it is less. The kernel
        would compile anew for other types and sketch something else: they are refused."""
        if hashes.dtype != np.uint64 or out.dtype != np.uint32 or len(out) != len(self.a):
            raise TypeError(
                f"uint64 hashes into {len(self.a)} uint32, not {hashes.dtype} into {out.dtype}"
            )
        _sketch_into(hashes, self.a, self.b, self.bounds, self.rounds, self.fallbacks, out)


@functools.cache
def permutations(parts: tuple[tuple[int, int], ...]) -> Permutations:
    return Permutations(parts)


@njit(cache=True, nogil=True)
def _mix(x: np.uint64) -> np.uint64:
    z = x + np.uint64(GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _sketch_into(
    hashes: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    bounds: np.ndarray,
    rounds: np.ndarray,
    fallbacks: np.ndarray,
    out: np.ndarray,
) -> None:
    mixed = np.empty(len(hashes), dtype=np.uint64)
    for part in range(len(bounds) - 1):
        low, high = bounds[part], bounds[part + 1]
        count = np.uint64(high - low)
        threshold = np.uint64((1 << 32) % (high - low))
        own = np.full(high - low, np.uint32(0xFFFFFFFF), dtype=np.uint32)
        for r in range(ROUNDS):
            prefix = np.uint64(r << 30)
            seed = rounds[part, r]
            for i in range(len(hashes)):  # apart from the scatter below, so that it vectorizes
                mixed[i] = _mix(hashes[i] ^ seed)
            for m in mixed:
                product = (m & LOW32) * count
                candidate = m
                while (product & LOW32) < threshold:
                    candidate = _mix(candidate)
                    product = (candidate & LOW32) * count
                bucket = product >> np.uint64(32)
                rank = np.uint32(prefix | (m >> RANK_SHIFT))
                if rank < own[bucket]:
                    own[bucket] = rank
        missing = np.flatnonzero(own == np.uint32(0xFFFFFFFF))
        if len(missing):
            for i in range(len(hashes)):
                mixed[i] = _mix(hashes[i] ^ fallbacks[part])
            for i in missing:
                a_i, b_i = a[low + i], b[low + i]
                least = LARGEST_RANK
                for m in mixed:  # a minimum over the tokens: it vectorizes
                    least = min(least, (a_i * m + b_i) >> RANK_SHIFT)
                own[i] = FALLBACK | np.uint32(least)
        for i in range(high - low):
            if own[i] < out[low + i]:
                out[low + i] = own[i]
