"""Our compiled sketch against rensa's own: the same minimum hashes, bit for bit."""

import numpy as np
import pytest
from rensa import RMinHash

from stages.curation.bucket_sketch import permutations

SIZES = [1, 2, 7, 16, 125, 128, 296]  # one coordinate, powers of two and others


def rensa_sketch(hashes: np.ndarray, parts: tuple[tuple[int, int], ...]) -> list[int]:
    return [
        value
        for size, seed in parts
        for value in RMinHash.digest_matrix_from_flat_token_hashes(
            hashes, [0, len(hashes)], size, seed
        ).to_rows()[0]
    ]


def ours(hashes: np.ndarray, parts: tuple[tuple[int, int], ...]) -> list[int]:
    sketch = permutations(parts)
    out = np.full(len(sketch.a), 0xFFFFFFFF, dtype=np.uint32)
    sketch.sketch_into(hashes, out)
    return out.tolist()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tokens", [1, 3, 40, 400, 5000])
def test_the_sketch_is_rensas(size: int, tokens: int) -> None:
    """Few tokens leave most coordinates to the fallback; many leave none."""
    rng = np.random.default_rng(size * 10_007 + tokens)
    for _ in range(5):
        hashes = rng.integers(0, 2**64 - 1, tokens, dtype=np.uint64, endpoint=True)
        seed = int(rng.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True))
        assert ours(hashes, ((size, seed),)) == rensa_sketch(hashes, ((size, seed),))


def test_signatures_made_end_to_end_are_each_rensas() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**64 - 1, 300, dtype=np.uint64, endpoint=True)
    repeated = np.concatenate([hashes, hashes[:100], [np.uint64(0), np.uint64(2**64 - 1)]])
    parts = ((125, 1), (296, 2), (7, 0))
    assert ours(repeated, parts) == rensa_sketch(repeated, parts)


def test_a_text_sketched_in_pieces_is_sketched_whole() -> None:
    """Every coordinate is a minimum over the tokens: the pieces' signatures fold into the
    signature of all of them, which is how a long text is sketched."""
    hashes = np.random.default_rng(11).integers(0, 2**63, 2000, dtype=np.uint64)
    sketch = permutations(((125, 1), (296, 2)))
    folded = np.full(len(sketch.a), 0xFFFFFFFF, dtype=np.uint32)
    for piece in np.array_split(hashes, [10, 700, 1900]):
        sketch.sketch_into(piece, folded)
    assert folded.tolist() == rensa_sketch(hashes, ((125, 1), (296, 2)))


def unmix(mixed: int) -> int:
    """The input SplitMix64's finalizer turns into `mixed`: each of its steps undone."""
    mask = (1 << 64) - 1
    z = mixed
    z ^= (z >> 31) ^ (z >> 62)
    z = (z * pow(0x94D049BB133111EB, -1, 1 << 64)) & mask
    z ^= (z >> 27) ^ (z >> 54)
    z = (z * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & mask
    z ^= (z >> 30) ^ (z >> 60)
    return (z - 0x9E3779B97F4A7C15) & mask


@pytest.mark.parametrize("size", [3, 7, 125, 296])
def test_a_hash_whose_bucket_is_rejected_is_mixed_again_as_rensa_does(size: int) -> None:
    """Lemire's multiply rejects a mixed hash whose low 32 bits fall under 2^32 mod size,
    about once in 40 million at these sizes: hashes made to mix to a low word of 0 reach it."""
    seed = 5
    sketch = permutations(((size, seed),))
    rounds = [int(r) for r in sketch.rounds[0]]
    assert (1 << 32) % size > 0  # a low word of 0 is rejected
    made = [unmix(k << 32) ^ rounds[k % 3] for k in range(1, 13)]  # round k % 3 mixes k << 32
    rng = np.random.default_rng(size)
    hashes = np.concatenate(
        [np.array(made, dtype=np.uint64), rng.integers(0, 2**63, 50, dtype=np.uint64)]
    )
    for part in (hashes[:12], hashes):
        assert ours(part, ((size, seed),)) == rensa_sketch(part, ((size, seed),))


def test_no_hash_leaves_the_signature_as_it_was() -> None:
    sketch = permutations(((125, 1), (7, 2)))
    out = np.arange(132, dtype=np.uint32)
    sketch.sketch_into(np.empty(0, dtype=np.uint64), out)
    assert out.tolist() == list(range(132))


def test_hashes_of_another_type_are_refused() -> None:
    """numba would compile the kernel anew for them and sketch something else."""
    sketch = permutations(((7, 2),))
    out = np.full(7, 0xFFFFFFFF, dtype=np.uint32)
    with pytest.raises(TypeError):
        sketch.sketch_into(np.arange(5, dtype=np.int64), out)
    with pytest.raises(TypeError):
        sketch.sketch_into(np.arange(5, dtype=np.uint64), out.astype(np.int64))
