"""Near-duplicates: MinHash signatures of character shingles, LSH buckets to find candidates.

Two conversations whose texts share at least `threshold` of their 5-character shingles
(Jaccard, estimated from 125 minimum hashes) are one example said twice ("sell my fish" /
"sell my fish please"). A group is the copies of its first record: only first records are
looked up, so a record is compared with the few groups it may belong to, never with every
copy seen before (a repetitive log holds thousands), and only their signatures are kept.
A record like the first records of several groups joins them all (groups can merge); a
record like a later copy alone, not like its group's first record, starts a group of its
own. The best-labelled copy of a group is kept. Signatures are rensa 0.5's R-MinHash, made
bit for bit in compiled code (stages/curation/bucket_sketch.py): deterministic across
processes and machines, many times faster here than datasketch's (tests/bench/README.md).
The LSH bands are chosen so that a pair at the threshold shares MIN_BAND_HITS of them, and
is compared, with 99 % probability; every candidate is checked against the threshold
before it counts.
"""

import functools
import hashlib
import math
import os
import tempfile
import weakref
from array import array
from collections.abc import Iterator
from typing import Any, NamedTuple

import numba
import numpy as np

from schemas.conversation import Conversation
from stages.curation.band_kernels import (
    EMPTY,
    KEY_SHIFT,
    add_recent_rows,
    count_shared_keys,
    fold_bands,
    match_batch,
    merge_last_runs,
    similar_rows,
)
from stages.curation.bucket_sketch import permutations
from stages.curation.exact_keys import ExactKeys
from stages.curation.shingle_hashes import shingle_hashes
from stages.dedupe import normalize_text, normalized_contents

SHINGLE_CHARS = 5
NUM_PERM = 125  # minimum hashes a pair's Jaccard is estimated from: at 0.8, 100 equal
CANDIDATE_RECALL = 0.99  # chance that a pair exactly at the threshold is looked at
# Bands a record is looked up by: each is 8 bytes of index a group, and a lookup a record.
MAX_BANDS = 40
# Bands two signatures must share to be compared. Records that share boilerplate are
# mostly at a Jaccard of 0.3-0.7 from each other, which long bands (8 rows at 0.8) rarely
# match whole, and two of them more rarely still. On the pipeline bench's 771,405 records:
# 61 million candidates, against 119 million with three of 25 bands of 5 rows (which also
# visit about three times as many rows) and 523 million with one of 32 bands of 9 rows.
MIN_BAND_HITS = 2


def signature_text(conversation: Conversation, contents: list[str] | None = None) -> str:
    """What is compared: every text, tool name and arguments, case and spacing folded. The
    system prompt is left out: instructions shared by a whole set of examples (every
    `synthesize` session has the same) would make unrelated examples look alike.
    `contents`: the messages' `normalized_contents`, when the caller has them."""
    texts = normalized_contents(conversation) if contents is None else contents
    parts: list[str] = []
    for message, text in zip(conversation.messages, texts, strict=True):
        if message.role == "system":
            continue
        parts.append(text)
        for call in message.tool_calls or ():
            parts.append(f"{call.function.name} {normalize_text(call.function.arguments)}")
    return "\n".join(parts)


SHINGLE_BATCH = 1 << 16  # shingles hashed at a time: 0.5 MB of hashes


def pieces(text: str) -> Iterator[str]:
    """The text in pieces of SHINGLE_BATCH shingles, each overlapping the next by
    SHINGLE_CHARS - 1 characters, so that every shingle is in one piece: a whole session's
    hashes at once would take 8 bytes a character, and its character offsets as many."""
    if len(text) <= SHINGLE_CHARS:
        yield text
        return
    last = len(text) - SHINGLE_CHARS + 1
    for start in range(0, last, SHINGLE_BATCH):
        yield text[start : min(start + SHINGLE_BATCH, last) + SHINGLE_CHARS - 1]


def shingles(text: str) -> list[str]:
    """Every 5-character slice, repeats included, or the text when it is shorter: what the
    signature is made of, as strings, for comparing two texts' slices."""
    return [
        piece[i : i + SHINGLE_CHARS]
        for piece in pieces(text)
        for i in range(max(1, len(piece) - SHINGLE_CHARS + 1))
    ]


def band_recall(threshold: float, n_bands: int, rows: int) -> float:
    """The chance that a pair at the threshold shares MIN_BAND_HITS of the bands."""
    p = threshold**rows
    missed = sum(
        math.comb(n_bands, k) * p**k * (1 - p) ** (n_bands - k) for k in range(MIN_BAND_HITS)
    )
    return 1 - missed


@functools.cache
def bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band): the most rows (fewest needless candidates) for which at most
    MAX_BANDS bands make a pair at the threshold a candidate with CANDIDATE_RECALL, and the
    fewest bands that do. Their hashes are their own, not among the NUM_PERM a Jaccard is
    estimated from: a pair found by a band would otherwise have its rows equal in the
    estimate too, which would raise it."""
    best = (MAX_BANDS, 1)
    for rows in range(1, NUM_PERM + 1):
        fewest = next(
            (
                n_bands
                for n_bands in range(MIN_BAND_HITS, MAX_BANDS + 1)
                if band_recall(threshold, n_bands, rows) >= CANDIDATE_RECALL
            ),
            None,
        )
        if fewest is None:
            return best
        best = (fewest, rows)
    return best


# Fixed, not `seed`: which records are copies of each other is a property of their texts;
# changing the seed reshuffles the split and the cap, never what is a duplicate. The bands'
# hashes are a digest of their own, with a seed of their own: on records that share
# boilerplate, a set of 125 hashes moves every estimate alike (a hash whose minimum is a
# boilerplate shingle is equal in them all), by 0.02-0.03 on the pipeline bench's tool log
# from one set to another; the estimate's set is the one curate has always used.
MINHASH_SEED = 1
BAND_SEED = 2


def minhash(text: str, threshold: float) -> np.ndarray:
    """The minimum hashes `NearDuplicates` compares at this threshold: NUM_PERM to estimate
    a Jaccard from (seeded MINHASH_SEED), then the bands' (seeded BAND_SEED), end to end."""
    n_bands, rows = bands(threshold)
    sketch = permutations(((NUM_PERM, MINHASH_SEED), (n_bands * rows, BAND_SEED)))
    signature = np.full(len(sketch.a), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for piece in pieces(text):
        data = np.frombuffer(piece.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        sketch.sketch_into(shingle_hashes(data, SHINGLE_CHARS), signature)
    return signature


def band_keys(signature: np.ndarray, n_bands: int) -> np.ndarray:
    """One 32-bit key per band (its rows' hashes folded, salted by the band's number): two
    signatures share a key when they agree on a whole band, or by chance, once in 4 billion
    pairs, which costs one needless comparison."""
    return fold_bands(signature, n_bands)


class BandIndex:
    """Band key → the rows of the first records that have it, 8 bytes a key. The latest keys are
    entries of an open-addressed table of bounded size; when it is full they become a sorted
    run of 64-bit entries, the key in the high half and the row in the low (a key's rows in
    the cache lines the search for it reads), appended to the runs (end to end). A run at
    least a quarter of the size of the one before is merged into it, in place, so there are
    few runs (each searched for every key looked up) and each key is copied a few times in
    all; a merge holds a copy of the later run only (at most about the size of the one
    before it). Each run has a directory: where its keys of each leading-bits prefix start
    (about KEYS_A_PREFIX keys a prefix, 4 bytes each), so that a key is found within a cache
    line or two of the run instead of by a binary search over all of it (a third of a
    lookup's time, one that finds few rows). (rensa's LSH, or one of Python dicts, costs
    about 2 KB a record.) A query counts each row's hits in a byte (a record has at most
    MAX_BANDS keys), all in one compiled call: a repetitive log gives a record hundreds of
    rows."""

    RECENT_KEYS = 1 << 16  # keys in the table before they become a run: a few MB
    GROW_KEYS = 1 << 20  # the runs' arrays grow by 8 MB at least
    KEYS_A_PREFIX = 16  # a run's keys a directory entry, on average: one 64-byte line

    def __init__(
        self,
        recent_keys: int = RECENT_KEYS,
        threads: int | None = None,
    ) -> None:
        self._recent_keys = recent_keys
        # The runs end to end, largest first; run k is [starts[k], starts[k + 1]).
        self._runs = np.empty(0, dtype=np.uint64)
        self._starts = [0]
        self._starts_array = np.array(self._starts, dtype=np.int64)  # as the lookups take it
        # The runs' directories end to end, run k's from dir_starts[k] to dir_starts[k + 1]:
        # entry p is where the run's keys of prefix p (their key >> shifts[k]) start.
        self._directories = np.empty(0, dtype=np.int32)
        self._dir_starts = np.zeros(1, dtype=np.int64)
        self._shifts = np.empty(0, dtype=np.int64)
        capacity = recent_keys + MAX_BANDS  # the last record's keys may go past the bound
        self._slots = np.full(1 << (2 * capacity - 1).bit_length(), EMPTY, dtype=np.int32)
        self._entry_keys = np.empty(capacity, dtype=np.uint32)
        self._entry_rows = np.empty(capacity, dtype=np.int32)
        self._chain = np.empty(capacity, dtype=np.int32)  # entry → the key's entry before
        self._n_entries = 0
        if threads is not None and not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"threads: {threads}, not 1-{numba.config.NUMBA_NUM_THREADS}")
        # Per thread of `match` (default: numba's): row → its hits, and the rows counted.
        threads = threads or numba.get_num_threads()
        self._counts = np.zeros((threads, 1024), dtype=np.uint8)
        self._touched = np.empty((threads, 1024), dtype=np.int32)

    def query(self, keys: np.ndarray, min_hits: int = 1) -> np.ndarray:
        """The rows that share at least `min_hits` of the keys, each once, in ascending order."""
        return count_shared_keys(self._arrays(), keys, self._counts[0], self._touched[0], min_hits)

    def match(
        self,
        keys: np.ndarray,
        signatures: np.ndarray,
        rows_signatures: np.ndarray,
        min_hits: int,
        min_equal: int,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """For each record (its keys and signature a row), the rows that share
        `min_hits` keys with it and whose signature in `rows_signatures` has `min_equal`
        hashes of its: (those rows end to end, where record i's start, rows compared), on
        the index's threads."""
        previous = numba.get_num_threads()
        numba.set_num_threads(len(self._counts))
        try:
            return match_batch(
                self._arrays(),
                keys,
                signatures,
                rows_signatures,
                self._counts,
                self._touched,
                min_hits,
                min_equal,
            )
        finally:
            numba.set_num_threads(previous)

    def _arrays(self) -> tuple[np.ndarray, ...]:
        """The index as the compiled lookups take it."""
        return (
            self._runs,
            self._starts_array,
            self._directories,
            self._dir_starts,
            self._shifts,
            self._slots,
            self._entry_keys,
            self._entry_rows,
            self._chain,
        )

    def insert(self, keys: np.ndarray, row: int) -> None:
        """Rows are given in ascending order."""
        self.insert_rows(keys[np.newaxis], row)

    def insert_rows(self, keys: np.ndarray, first_row: int) -> None:
        """Rows first_row, first_row + 1, ..., a row of `keys` each, in one compiled call for
        each run they fill (a call a row: about a second of the pipeline bench's curate)."""
        end = first_row + len(keys)
        if end > self._counts.shape[1]:
            self._counts = np.zeros((len(self._counts), 2 * end), dtype=np.uint8)
            self._touched = np.empty((len(self._counts), 2 * end), dtype=np.int32)
        done = 0
        while done < len(keys):
            done, self._n_entries = add_recent_rows(
                self._slots,
                self._entry_keys,
                self._entry_rows,
                self._chain,
                self._n_entries,
                keys,
                done,
                first_row,
                self._recent_keys,
            )
            if self._n_entries >= self._recent_keys:
                self._flush()

    def _flush(self) -> None:
        # Sorted by key, then row: a key's rows stay in the order given (ascending).
        entries = self._entry_keys[: self._n_entries].astype(np.uint64) << KEY_SHIFT
        entries |= self._entry_rows[: self._n_entries].astype(np.uint64)
        entries.sort()
        self._append_run(entries)
        self._slots.fill(EMPTY)
        self._n_entries = 0
        while len(self._starts) > 2 and (
            4 * (self._starts[-1] - self._starts[-2]) >= self._starts[-2] - self._starts[-3]
        ):
            merge_last_runs(self._runs, *self._starts[-3:])
            del self._starts[-2]
        self._starts_array = np.array(self._starts, dtype=np.int64)
        self._direct_last_run()

    def _direct_last_run(self) -> None:
        """Make the last run's directory; the runs before it are as they were, and so are
        their directories."""
        before = len(self._starts) - 2  # runs
        run = self._runs[self._starts[-2] : self._starts[-1]]
        bits = min(32, max(0, (len(run) // self.KEYS_A_PREFIX).bit_length() - 1))
        # The first entry each prefix could have: the prefix's first key, in the entries' high half.
        firsts = np.arange(1 << bits, dtype=np.uint64) << (KEY_SHIFT + np.uint64(32 - bits))
        directory = np.append(np.searchsorted(run, firsts), len(run)).astype(np.int32)
        start = int(self._dir_starts[before])
        if start + len(directory) > len(self._directories):
            self._directories.resize(2 * (start + len(directory)), refcheck=False)
        self._directories[start : start + len(directory)] = directory
        self._dir_starts = np.append(self._dir_starts[: before + 1], start + len(directory))
        self._shifts = np.append(self._shifts[:before], 32 - bits)

    def _append_run(self, entries: np.ndarray) -> None:
        """Runs grow in place by whole runs (`resize` remaps pages, as FirstRecords' rows)."""
        end = self._starts[-1]
        if end + len(entries) > len(self._runs):
            size = max(end + len(entries), len(self._runs) + self.GROW_KEYS)
            self._runs.resize(size, refcheck=False)
        self._runs[end : end + len(entries)] = entries
        self._starts.append(end + len(entries))


class FirstRecords:
    """The signatures of the groups' first records, a row each, so that a record is compared
    with all its candidates at once (a repetitive log gives hundreds a record). A row keeps
    the low 16 bits of each minimum hash: two different hashes agree there once in 65,536
    times, which moves a Jaccard estimate by less than 0.0001. Only their low 8 bits stay in
    memory, a filter: a candidate with enough equal hashes in 8 bits (every candidate with
    enough in 16, and a few more) is checked again on its 16-bit row, read back from an
    unnamed temporary file (in TMPDIR, gone when the process ends, however it ends; a
    RAM-backed TMPDIR keeps them in memory after all). The
    rows grow in place by GROW_ROWS (`resize` reallocates, which the C library does by
    remapping pages): growing never holds the old rows and their copy at once."""

    GROW_ROWS = 1 << 16  # 8 MB at 125 hashes

    def __init__(self, num_perm: int) -> None:
        self._rows = np.empty((1024, num_perm), dtype=np.uint8)
        # Lives as long as the rows, closed when they are collected (or by the kernel).
        # Unbuffered, written with pwrite at each row's offset: a forked child that exits
        # normally has no buffered rows of its own to flush into the file.
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115
        weakref.finalize(self, self._file.close)
        self._row_bytes = 2 * num_perm
        self.records = array("q")  # row → the record's index

    def __len__(self) -> int:
        return len(self.records)

    def add(self, records: list[int], signatures: np.ndarray) -> int:
        """Give the records (a signature a row, its low 16 bits at least) the next rows, in
        one write; the row of the first."""
        first, end = len(self.records), len(self.records) + len(records)
        size = len(self._rows)
        while size < end:
            size += self.GROW_ROWS
        if size > len(self._rows):
            # No view of the rows outlives a call, so no reference can see the old memory.
            self._rows.resize((size, self._rows.shape[1]), refcheck=False)
        self._rows[first:end] = signatures.astype(np.uint8)  # the low 8 bits
        data = signatures.astype(np.uint16).tobytes()
        os.pwrite(self._file.fileno(), data, first * self._row_bytes)
        self.records.extend(records)
        return first

    @property
    def filters(self) -> np.ndarray:
        """Row → the low 8 bits of its minimum hashes (rows past the last are unused)."""
        return self._rows

    def confirmed(self, rows: np.ndarray, signature: np.ndarray, min_equal: int) -> list[int]:
        """The rows whose 16-bit row has `min_equal` hashes equal to the signature's."""
        if not len(rows):
            return []
        low = signature.astype(np.uint16)
        return [
            row for row in rows.tolist() if np.count_nonzero(self._row(row) == low) >= min_equal
        ]

    def _row(self, row: int) -> np.ndarray:
        data = os.pread(self._file.fileno(), self._row_bytes, row * self._row_bytes)
        return np.frombuffer(data, dtype=np.uint16)


@functools.cache
def min_equal(threshold: float, num_perm: int) -> int:
    """The fewest equal minimum hashes whose share reaches the threshold."""
    return next(equal for equal in range(num_perm + 1) if equal / num_perm >= threshold)


class Fingerprint(NamedTuple):
    """What `NearDuplicates` keeps of a record, made apart from it so that workers can: a
    16-byte digest of the exact key (a long string, looked up for every record), and at a
    threshold the NUM_PERM minimum hashes a Jaccard is estimated from and the band keys."""

    exact: bytes
    signature: np.ndarray | None
    keys: np.ndarray | None


def fingerprint(exact_key: str, text: str, threshold: float | None) -> Fingerprint:
    exact = hashlib.blake2b(exact_key.encode(), digest_size=16).digest()
    if threshold is None:
        return Fingerprint(exact, None, None)
    hashes = minhash(text, threshold)
    return Fingerprint(exact, hashes[:NUM_PERM], band_keys(hashes[NUM_PERM:], bands(threshold)[0]))


class Fingerprints(NamedTuple):
    """The fingerprints of a batch of records, a row of each array a record: a worker sends
    them as three objects, not three a record (pickling each record's two arrays took a
    tenth of curate's workers' time). Only the low 16 bits of a signature are ever compared."""

    exact: list[bytes]
    signatures: np.ndarray | None  # uint16, (records, NUM_PERM)
    keys: np.ndarray | None  # (records, bands)


def stacked(made: list[Fingerprint]) -> Fingerprints:
    """Fingerprints made at one threshold: all with arrays, or (exact copies only) none."""
    exact = [record.exact for record in made]
    if not made or made[0].signature is None:
        return Fingerprints(exact, None, None)
    signatures = np.stack([record.signature for record in made]).astype(np.uint16)
    return Fingerprints(exact, signatures, np.stack([record.keys for record in made]))


class NearDuplicates:
    """Collects conversations in input order; `losers` then names the copies to drop and why."""

    def __init__(self, threshold: float | None, threads: int | None = None) -> None:
        """`threads`: of the lookups (default: numba's, every core). One where other
        processes keep the cores busy: idle OpenMP threads spin, taking the workers' time."""
        self.threshold = threshold
        self.parent = array("q")
        self.exact_group = array("q")  # the first index read with the same exact key
        self.ranks: list[Any] = []
        self._rank_values: dict[Any, Any] = {}  # one object per distinct rank, not per record
        self._exact = ExactKeys()
        self.candidates = 0  # first records the band index gave back, for the log
        if threshold is not None:
            self._firsts = FirstRecords(NUM_PERM)
            self._index = BandIndex(threads=threads)

    def _root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._root(a), self._root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def add(self, exact_key: str, text: str, rank: Any) -> int:
        """Add one conversation (its exact key, its signature text, how good its labels are)."""
        return self.add_fingerprint(fingerprint(exact_key, text, self.threshold), rank)

    def add_fingerprint(self, made: Fingerprint, rank: Any) -> int:
        """`add`, with the record's `fingerprint` at this threshold."""
        return self.add_fingerprints(stacked([made]), [rank])[0]

    def add_fingerprints(self, made: Fingerprints, ranks: list[Any]) -> range:
        """`add_fingerprint` of each, in order. Their lookups run together on the index's threads
        against the first records before them, then one by one against each other's."""
        start = len(self.parent)
        looked_up: list[int] = []  # of the batch, the records that are their exact key's first
        firsts = self._exact.first_readers(made.exact, start)
        for k, (rank, first) in enumerate(zip(ranks, firsts, strict=True)):
            index = len(self.parent)
            self.parent.append(index)
            self.ranks.append(self._rank_values.setdefault(rank, rank))
            self.exact_group.append(first)
            if first != index:
                self._union(index, first)
            else:
                looked_up.append(k)
        if looked_up and made.signatures is not None and made.keys is not None:
            self._look_up(
                [start + k for k in looked_up], made.keys[looked_up], made.signatures[looked_up]
            )
        return range(start, len(self.parent))

    def _look_up(self, records: list[int], keys: np.ndarray, signatures: np.ndarray) -> None:
        """Join each record (its index, band keys and signature) to the groups whose first
        record it is like; a record like none starts a group, and the records after it in
        the batch are compared with it too."""
        needed = min_equal(self.threshold, signatures.shape[1])
        found, starts, compared = self._index.match(
            keys, signatures.astype(np.uint8), self._firsts.filters, MIN_BAND_HITS, needed
        )
        self.candidates += compared
        batch = BandIndex(recent_keys=keys.size + 1)  # the batch's own first records
        batch_signatures = np.empty_like(signatures)
        batch_records: list[int] = []
        started: list[int] = []  # of the batch, the records that start a group
        for k, index in enumerate(records):
            passed = found[starts[k] : starts[k + 1]]
            for row in self._firsts.confirmed(passed, signatures[k], needed):
                self._union(index, self._firsts.records[row])
            rows = batch.query(keys[k], MIN_BAND_HITS)
            self.candidates += len(rows)
            for row in similar_rows(batch_signatures, rows, signatures[k], needed).tolist():
                self._union(index, batch_records[row])
            if self._root(index) == index:  # like no group's first record: it starts one
                batch_signatures[len(batch_records)] = signatures[k]
                batch.insert(keys[k], len(batch_records))
                batch_records.append(index)
                started.append(k)
        first_row = self._firsts.add(batch_records, batch_signatures[: len(batch_records)])
        self._index.insert_rows(keys[started], first_row)

    @property
    def signatures_kept(self) -> int:
        return len(self._firsts) if self.threshold is not None else 0

    def groups(self) -> list[list[int]]:
        """Indices of the records that are copies of one another, group by group."""
        by_root: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            by_root.setdefault(self._root(i), []).append(i)
        return list(by_root.values())

    def losers(self) -> dict[int, str]:
        """Index → `duplicate` (same normalized content as the kept copy) or `near_duplicate`,
        for every copy but the best-ranked of its group (the first read among equals). Found
        in two passes over flat arrays: lists of groups took 150 bytes a record."""
        roots = array("q", (self._root(i) for i in range(len(self.parent))))
        kept = array("q", [-1]) * len(roots)  # root → its best-ranked record
        for i, root in enumerate(roots):
            if kept[root] < 0 or self.ranks[i] > self.ranks[kept[root]]:
                kept[root] = i
        return {
            i: "duplicate"
            if self.exact_group[i] == self.exact_group[kept[root]]
            else "near_duplicate"
            for i, root in enumerate(roots)
            if kept[root] != i
        }


def label_rank(conversation: Conversation, hand_labelled: bool) -> tuple[int, int, float, int]:
    """Which copy to keep: a real record over a made-up one (a variant never displaces its
    original), then the more trusted labels: a hand label over a model's over none, then the
    higher quality score, then the higher rating."""
    labels = conversation.labels
    origin = (
        2
        if hand_labelled
        else 1
        if labels.example_type is not None or labels.quality_score is not None
        else 0
    )
    quality = labels.quality_score if labels.quality_score is not None else -1.0
    real = int(conversation.meta.synthetic is None)
    return (real, origin, quality, labels.rating or 0)
