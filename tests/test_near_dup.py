"""Near-duplicate groups: the copies of a group's first record, found by looking up first
records only, so that a run of copies costs a comparison a record, not one per copy."""

import hashlib
import itertools
import subprocess
import sys
from collections.abc import Iterator

import numba
import numpy as np
import pytest
from rensa import RMinHash

from stages.curation.band_kernels import merge_last_runs
from stages.curation.near_dup import (
    BAND_SEED,
    CANDIDATE_RECALL,
    MAX_BANDS,
    MINHASH_SEED,
    NUM_PERM,
    SHINGLE_BATCH,
    SHINGLE_CHARS,
    BandIndex,
    Fingerprint,
    NearDuplicates,
    band_keys,
    band_recall,
    bands,
    fingerprint,
    minhash,
    shingles,
    stacked,
)
from stages.curation.shingle_hashes import shingle_hashes, utf8_shingle_hashes


def words(tag: str, n: int) -> list[str]:
    return [hashlib.sha256(f"{tag}{i}".encode()).hexdigest()[:8] for i in range(n)]


def rensa_digest(slices: list[str], threshold: float) -> list[int]:
    """rensa's own minimum hashes of the slices: NUM_PERM to estimate from, then the bands'."""
    n_bands, rows = bands(threshold)
    estimate = RMinHash(num_perm=NUM_PERM, seed=MINHASH_SEED)
    band = RMinHash(num_perm=n_bands * rows, seed=BAND_SEED)
    estimate.update(slices)
    band.update(slices)
    return estimate.digest() + band.digest()


def jaccard(a: str, b: str) -> float:
    x, y = set(shingles(a)), set(shingles(b))
    return len(x & y) / len(x | y)


def grouped(texts: list[str], threshold: float) -> list[list[int]]:
    copies = NearDuplicates(threshold)
    for i, text in enumerate(texts):
        copies.add(f"exact {i}", text, 0)
    return sorted(copies.groups())


def test_copies_of_one_record_keep_one_signature_and_look_up_only_it() -> None:
    base = words("base", 300)
    texts = [" ".join(base)]
    for k in range(1, 2000):  # each copy changes one word of the first record
        edited = list(base)
        edited[k % len(base)] = words(f"edit {k}", 1)[0]
        texts.append(" ".join(edited))
    copies = NearDuplicates(0.8)
    for i, text in enumerate(texts):
        copies.add(f"exact {i}", text, 0)
    assert copies.groups() == [list(range(2000))]
    assert copies.signatures_kept == 1
    assert copies.candidates == 1999  # the first record, once for each copy


# A and C share the words X; B holds both A's and C's own words.
X, P, Q = words("x", 20), words("p", 10), words("q", 10)
A, B, C = " ".join(X + P), " ".join(X + P + Q), " ".join(X + Q)
THRESHOLD = 0.62


def test_the_texts_sit_on_either_side_of_the_threshold() -> None:
    assert min(jaccard(A, B), jaccard(B, C)) > THRESHOLD + 0.1
    assert jaccard(A, C) < THRESHOLD - 0.1


def test_a_record_like_two_groups_first_records_joins_both() -> None:
    assert grouped([A, C, B], THRESHOLD) == [[0, 1, 2]]


def test_a_record_like_a_later_copy_only_starts_its_own_group() -> None:
    assert grouped([A, B, C], THRESHOLD) == [[0, 1], [2]]


def test_exact_copies_join_the_group_of_their_first_read() -> None:
    copies = NearDuplicates(0.8)
    for key, text in [("a", A), ("c", C), ("a", A)]:
        copies.add(key, text, 0)
    assert copies.groups() == [[0, 2], [1]]
    assert copies.losers() == {2: "duplicate"}


def test_a_group_keeps_its_best_ranked_copy_the_first_read_among_equals() -> None:
    copies = NearDuplicates(THRESHOLD)
    for key, text, rank in [("a", A, 1), ("b", B, 0), ("a", A, 2), ("a", A, 2), ("c", C, 5)]:
        copies.add(key, text, rank)
    assert copies.groups() == [[0, 1, 2, 3], [4]]
    assert copies.losers() == {0: "duplicate", 1: "near_duplicate", 3: "duplicate"}


# Key k of the test is spread[k]: small keys share their runs' first prefix; spread ones
# sit on the directories' prefix boundaries (both sides) and across the range.
SPREAD = np.unique(
    np.concatenate(
        [
            [0, 1, 2**32 - 1, 2**32 - 2, 2**31 - 1, 2**31],
            [(1 << b) + d for b in range(4, 32, 3) for d in (-1, 0, 1)],
            np.random.default_rng(6).integers(0, 2**32, 40),
        ]
    ).astype(np.uint32)
)[:70]


@pytest.mark.parametrize("spread", [False, True], ids=["small keys", "spread keys"])
def test_the_band_index_finds_every_row_sharing_enough_keys_across_runs(spread: bool) -> None:
    """Small dicts: the keys go through many runs and merges, runs of directories of 1 to 64
    prefixes; rows share keys on purpose."""
    rng = np.random.default_rng(5)
    key_of = SPREAD if spread else np.arange(70, dtype=np.uint32)
    index, given = BandIndex(recent_keys=7), []
    for row in range(400):
        # many rows share each key; key 0, like a log's boilerplate, is given to every third
        keys = rng.choice(np.arange(1, 60), 3 - (row % 3 == 0), replace=False)
        keys = key_of[np.append(keys, np.zeros(int(row % 3 == 0), dtype=np.int64))]
        given.append(set(keys.tolist()))
        index.insert(keys, row)
        if row % 37 == 0:
            probe = key_of[rng.choice(70, 6, replace=False)]
            for hits in (1, 2, 3):
                want = [r for r, k in enumerate(given) if len(k & set(probe.tolist())) >= hits]
                assert index.query(probe, hits).tolist() == want
    every = key_of
    assert index.query(every, 3).tolist() == list(range(400))
    runs = np.diff(index._starts).tolist()
    assert all(4 * last < before for before, last in itertools.pairwise(runs))  # all merged
    assert max(np.diff(index._dir_starts) - 1) == 32  # the largest run's


def test_rows_inserted_at_once_fill_and_merge_runs_as_one_by_one() -> None:
    """A batch's rows cross several runs (3 keys a row, 7 to a run): the runs, and what every
    key finds, are those of the same rows inserted one at a time."""
    rng = np.random.default_rng(9)
    keys = rng.integers(0, 40, (50, 3)).astype(np.uint32)
    one_by_one, at_once = BandIndex(recent_keys=7), BandIndex(recent_keys=7)
    for row, row_keys in enumerate(keys[:5]):
        one_by_one.insert(row_keys, row)
        at_once.insert(row_keys, row)
    for row, row_keys in enumerate(keys[5:], start=5):
        one_by_one.insert(row_keys, row)
    at_once.insert_rows(keys[5:], 5)
    assert at_once._starts == one_by_one._starts and len(at_once._starts) > 2
    for key in range(40):
        probe = np.array([key], dtype=np.uint32)
        assert at_once.query(probe).tolist() == one_by_one.query(probe).tolist()


@pytest.mark.parametrize(("before", "last"), [(0, 5), (5, 0), (1, 1), (40, 10), (10, 40)])
def test_two_runs_merge_in_place_as_a_stable_sort_would(before: int, last: int) -> None:
    """Entries are a key (high half) and a row (low half); a later run's rows are higher."""
    rng = np.random.default_rng(before * 100 + last)
    keys = np.concatenate([np.sort(rng.integers(0, 12, n)) for n in (before, last)])
    keys = np.concatenate([[7, 7], keys, [3]]).astype(np.uint64)  # entries around the runs
    rows = np.arange(len(keys), dtype=np.uint64)
    order = 2 + np.argsort(keys[2 : 2 + before + last], kind="stable")
    want_keys, want_rows = keys.copy(), rows.copy()
    want_keys[2 : 2 + before + last], want_rows[2 : 2 + before + last] = keys[order], order
    runs = keys << np.uint64(32) | rows
    merge_last_runs(runs, 2, 2 + before, 2 + before + last)
    assert (runs >> np.uint64(32)).tolist() == want_keys.tolist()
    assert (runs & np.uint64(0xFFFFFFFF)).tolist() == want_rows.tolist()


def test_rows_behind_boilerplate_keys_count_only_with_enough_other_keys() -> None:
    """Keys 0 and 1 are every row's (a log's boilerplate): a row comes back only when enough
    of the probe's other keys are its too."""
    rng = np.random.default_rng(8)
    index, given = BandIndex(recent_keys=500), []
    for row in range(5000):
        keys = np.array([0, 1, *rng.choice(np.arange(2, 3000), 3, replace=False)], np.uint32)
        given.append(set(keys.tolist()))
        index.insert(keys, row)
    for probe_keys in ([0, 1, 5, 6, 7], [0, 1, 5], [0, 1], [0, 5, 6, 7, 8, 9, 10, 11]):
        probe = np.array(probe_keys, dtype=np.uint32)
        for hits in (1, 2, 3, 4):
            want = [r for r, k in enumerate(given) if len(k & set(probe_keys)) >= hits]
            assert index.query(probe, hits).tolist() == want, (probe_keys, hits)


def test_recent_keys_alike_in_their_low_bits_keep_their_own_rows() -> None:
    """The recent keys' table places a key by its low bits: keys equal there probe past each
    other, before and after they become a run."""
    index = BandIndex(recent_keys=64)
    keys = [np.array([k << 20, (k + 1) << 20], dtype=np.uint32) for k in range(40)]
    for row, row_keys in enumerate(keys):
        index.insert(row_keys, row)
        for probe in range(row + 1):
            want = [r for r in (probe - 1, probe) if 0 <= r <= row]
            assert index.query(np.array([probe << 20], np.uint32)).tolist() == want


@pytest.mark.parametrize("threads", [0, -1, numba.config.NUMBA_NUM_THREADS + 1])
def test_a_thread_count_numba_cannot_run_is_refused_when_the_index_is_made(threads: int) -> None:
    with pytest.raises(ValueError, match="threads"):
        BandIndex(threads=threads)


def test_a_key_given_twice_for_one_row_counts_once() -> None:
    """Two bands of a record can fold to the same key (once in 4 billion): the row has it
    once, so it is not a candidate on that key twice."""
    index = BandIndex()
    index.insert(np.array([5, 5, 6], dtype=np.uint32), 0)
    assert index.query(np.array([5, 6], dtype=np.uint32), 3).tolist() == []
    assert index.query(np.array([5, 6], dtype=np.uint32), 2).tolist() == [0]


def test_band_keys_fold_each_bands_hashes_from_a_salt_per_band() -> None:
    """Written out in Python integers: the keys must not change, or a stage's output would."""
    signature = np.random.default_rng(3).integers(0, 2**32, 125, dtype=np.uint32)
    expected = []
    for band in range(25):
        key = band * 0x9E3779B97F4A7C15 % 2**64
        for h in signature[band * 5 : band * 5 + 5].tolist():
            key = (key ^ h) * 0x100000001B3 % 2**64
        expected.append(key >> 32)
    assert band_keys(signature, 25).tolist() == expected


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9, 0.95])
def test_bands_are_the_longest_that_find_a_pair_at_the_threshold_within_the_bands_allowed(
    threshold: float,
) -> None:
    n_bands, rows = bands(threshold)
    assert n_bands <= MAX_BANDS and band_recall(threshold, n_bands, rows) >= CANDIDATE_RECALL
    assert band_recall(threshold, n_bands - 1, rows) < CANDIDATE_RECALL  # the fewest bands
    assert band_recall(threshold, MAX_BANDS, rows + 1) < CANDIDATE_RECALL  # the most rows


def test_a_fingerprint_estimates_from_hashes_apart_from_those_its_bands_fold() -> None:
    text = " ".join(words("apart", 300))
    hashes, (n_bands, rows) = minhash(text, 0.8), bands(0.8)
    made = fingerprint("key", text, 0.8)
    assert len(hashes) == NUM_PERM + n_bands * rows
    assert made.signature.tolist() == hashes[:NUM_PERM].tolist()
    assert made.keys.tolist() == band_keys(hashes[NUM_PERM:], n_bands).tolist()


def test_a_long_text_is_hashed_in_batches_to_the_signature_of_all_its_slices() -> None:
    text = " ".join(words("long", 40_000))  # 360,000 characters: several batches
    assert len(text) > 3 * SHINGLE_BATCH
    slices = sorted({text[i : i + 5] for i in range(len(text) - 4)})
    assert minhash(text, 0.8).tolist() == rensa_digest(slices, 0.8)


@pytest.mark.parametrize(
    "alphabet",
    ["ab ", "aé", "a€\u4e00", "a😀\n", "é€😀 x"],  # one to four UTF-8 bytes a character
)
def test_shingles_are_hashed_from_utf8_bytes_as_rensa_hashes_the_slices(alphabet: str) -> None:
    rng = np.random.default_rng(len(alphabet))
    lengths = [*range(12), 2 * SHINGLE_BATCH + 7]  # shorter than a shingle, and several pieces
    for n in lengths:
        text = "".join(rng.choice(list(alphabet), n))
        slices = [text[i : i + 5] for i in range(len(text) - 4)] if n > 5 else [text]
        assert minhash(text, 0.8).tolist() == rensa_digest(slices, 0.8), n


@pytest.mark.parametrize("length", [5, 6, 7, 8, 9, 64, 1001])
def test_ascii_text_hashes_as_any_utf8_does(length: int) -> None:
    """ASCII takes a branch-free way (a shingle is 5 bytes there); every one of its hashes
    must be the one the byte-by-byte way gives, control characters and DEL included."""
    data = np.random.default_rng(length).integers(0, 0x80, length, dtype=np.uint8)
    data[0] = 0x7F
    fast = shingle_hashes(data, SHINGLE_CHARS)
    assert len(fast) == max(1, length - SHINGLE_CHARS + 1)
    assert fast.tolist() == utf8_shingle_hashes(data, SHINGLE_CHARS).tolist()


@pytest.mark.parametrize("extra", [-1, 0, 1, 3, 4, 5, 9])
def test_pieces_give_every_slice_once_across_their_boundaries(extra: int) -> None:
    text = "".join(chr(0x4E00 + i % 5000) for i in range(2 * SHINGLE_BATCH + extra))
    assert shingles(text) == [text[i : i + 5] for i in range(len(text) - 4)]


@pytest.mark.parametrize("flip", [1, 1 << 8], ids=["low byte", "second byte"])
def test_a_pair_is_one_from_exactly_the_threshold_share_of_equal_hashes(flip: int) -> None:
    """At 0.8, 100 of 125 equal minimum hashes make a copy and 99 do not (`RMinHash.jaccard`
    counts the share of equal ones), also where the hashes differ above the low 8 bits that
    the first records' rows keep in memory."""
    first = np.random.default_rng(4).integers(0, 2**32, 125, dtype=np.uint32)
    for equal, joined in ((100, True), (99, False)):
        other = first.copy()
        other[equal:] ^= flip  # the first `equal` hashes kept: 20 of the 25 bands shared
        copies = NearDuplicates(0.8)
        for i, signature in enumerate((first, other)):
            copies.add_fingerprint(
                Fingerprint(bytes([i]) * 16, signature, band_keys(signature, 25)), 0
            )
        assert (copies.groups() == [[0, 1]]) is joined, equal


def test_exact_copies_only_group_by_their_exact_key() -> None:
    """At no threshold a fingerprint has no arrays: a batch of them groups exact copies."""
    made = [fingerprint(key, f"text {i}", None) for i, key in enumerate("abab")]
    assert stacked(made).signatures is None
    copies = NearDuplicates(None)
    assert copies.add_fingerprints(stacked(made), [0] * 4) == range(4)
    assert sorted(copies.groups()) == [[0, 2], [1, 3]] and copies.signatures_kept == 0


def test_a_lone_surrogate_is_hashed_not_fatal() -> None:
    text = " ".join(words("surrogate", 200))
    cut = text[:900] + "\ud83d" + text[900:]  # what a cut `\ud83d` escape leaves
    assert np.mean(minhash(cut, 0.8) == minhash(text, 0.8)) > 0.9


@pytest.fixture
def numba_threads_restored() -> Iterator[None]:
    yield
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("threads", [1, numba.config.NUMBA_NUM_THREADS])
def test_records_added_in_batches_group_as_added_one_by_one(
    threads: int, numba_threads_restored: None
) -> None:
    """A batch is looked up on the index's threads against the first records before it, then
    record by record against the batch's own first records: the groups, and the candidates
    compared, are those of records added one at a time, whatever the batch sizes and the
    threads; numba's own thread count is left as it was."""
    every_core = numba.config.NUMBA_NUM_THREADS
    around = every_core if threads == 1 else 1  # numba's own setting, unlike the index's
    numba.set_num_threads(around)
    rng = np.random.default_rng(11)
    boilerplate = words("boilerplate", 60)
    texts = []
    for i in range(1200):  # copies, near copies, and records sharing only boilerplate
        base = words(f"topic{rng.integers(150)}", 40)
        for _ in range(int(rng.integers(0, 6))):
            base[rng.integers(40)] = f"w{rng.integers(10**6)}"
        texts.append(" ".join(boilerplate[: rng.integers(20, 60)] + base) + f" {i % 3}")
    made = [fingerprint(f"exact {i % 1100}", text, 0.8) for i, text in enumerate(texts)]
    one_by_one = NearDuplicates(0.8)
    for record in made:
        one_by_one.add_fingerprint(record, 0)
    batched, at = NearDuplicates(0.8, threads=threads), 0
    while at < len(made):
        size = int(rng.integers(1, 200))
        assert batched.add_fingerprints(
            stacked(made[at : at + size]), [0] * len(made[at : at + size])
        ) == (range(at, min(at + size, len(made))))
        at += size
    assert sorted(batched.groups()) == sorted(one_by_one.groups())
    assert batched.candidates == one_by_one.candidates > 0
    assert len(one_by_one.groups()) < 1100  # near copies were found, across batches too
    assert numba.get_num_threads() == around


FORKED_CHILD = """
import os, sys
import numpy as np
from stages.curation.near_dup import FirstRecords
signatures = np.random.default_rng(0).integers(0, 2**32, (40, 128), dtype=np.uint32)
rows = FirstRecords(128)
rows.add(list(range(10)), signatures[:10])
if os.fork() == 0:
    sys.exit(0)  # a normal exit runs the finalizers of every object the child inherited
os.wait()
for i in range(10, 40, 3):
    rows.add(list(range(i, min(i + 3, 40))), signatures[i : i + 3])
print(sum(rows.confirmed(np.array([i]), signatures[i], 128) == [i] for i in range(40)))
"""


def test_a_forked_child_that_exits_normally_leaves_the_first_records_rows_whole() -> None:
    """The 16-bit rows are in a file the child shares: it must hold no unwritten rows of its
    own, which its exit would write over the parent's later ones."""
    run = subprocess.run([sys.executable, "-c", FORKED_CHILD], capture_output=True, text=True)
    assert (run.returncode, run.stdout.strip()) == (0, "40"), run.stderr
