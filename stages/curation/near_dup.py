"""Near-duplicates: MinHash signatures of character shingles, LSH buckets to find candidates.

Two conversations whose texts share at least `threshold` of their 5-character shingles
(Jaccard, estimated from 128 minimum hashes) are one example said twice ("sell my fish" /
"sell my fish please"). A group is the copies of its first record: only first records are
looked up, so a record is compared with the few groups it may belong to, never with every
copy seen before (a repetitive log holds thousands), and only their signatures are kept.
A record like the first records of several groups joins them all (groups can merge); a
record like a later copy alone, not like its group's first record, starts a group of its
own. The best-labelled copy of a group is kept. Signatures are rensa's (a Rust MinHash,
deterministic across processes and machines, 8-20 times faster here than datasketch's;
tests/bench/README.md has the figures). The LSH bands are chosen so that a pair at the
threshold becomes a candidate with 99 % probability, and every candidate is checked
against the threshold before it counts.
"""

import functools
from array import array
from typing import Any

import numpy as np
from rensa import RMinHash, RMinHashLSH

from schemas.conversation import Conversation
from stages.dedupe import normalize_text

SHINGLE_CHARS = 5
NUM_PERM = 128
CANDIDATE_RECALL = 0.99  # chance that a pair exactly at the threshold is looked at


def signature_text(conversation: Conversation) -> str:
    """What is compared: every text, tool name and arguments, case and spacing folded. The
    system prompt is left out: instructions shared by a whole set of examples (every
    `synthesize` session has the same) would make unrelated examples look alike."""
    parts: list[str] = []
    for message in conversation.messages:
        if message.role == "system":
            continue
        parts.append(normalize_text(message.content))
        for call in message.tool_calls or ():
            parts.append(f"{call.function.name} {normalize_text(call.function.arguments)}")
    return "\n".join(parts)


def shingles(text: str) -> list[str]:
    if len(text) <= SHINGLE_CHARS:
        return [text]
    return list({text[i : i + SHINGLE_CHARS] for i in range(len(text) - SHINGLE_CHARS + 1)})


@functools.cache
def bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band): the most rows (fewest needless candidates) that still make a
    pair at the threshold a candidate with CANDIDATE_RECALL."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        n_bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** n_bands >= CANDIDATE_RECALL:
            best = (n_bands, rows)
    return best


# Fixed, not `seed`: which records are copies of each other is a property of their texts;
# changing the seed reshuffles the split and the cap, never what is a duplicate.
MINHASH_SEED = 1


def minhash(text: str, threshold: float | None) -> RMinHash | None:
    """The signature `NearDuplicates` compares at this threshold; None when it compares none.
    Computed apart from `add` so that workers can make the signatures."""
    if threshold is None:
        return None
    n_bands, rows = bands(threshold)
    signature = RMinHash(num_perm=n_bands * rows, seed=MINHASH_SEED)
    signature.update(shingles(text))
    return signature


class FirstRecords:
    """The signatures of the groups' first records, a row each, so that a record is compared
    with all its candidates at once (a repetitive log gives hundreds a record)."""

    def __init__(self, num_perm: int) -> None:
        self._rows = np.empty((1024, num_perm), dtype=np.uint32)
        self.records = array("q")  # row → the record's index

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: int, digest: np.ndarray) -> int:
        """The row that now holds the record's signature."""
        row = len(self.records)
        if row == len(self._rows):
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[row] = digest
        self.records.append(record)
        return row

    def matching(self, rows: list[int], digest: np.ndarray, threshold: float) -> list[int]:
        """The records in these rows whose estimated Jaccard with `digest` reaches the
        threshold (the share of equal minimum hashes, as `RMinHash.jaccard` counts it)."""
        if not rows:
            return []
        at = np.array(rows, dtype=np.intp)
        similar = (self._rows[at] == digest).sum(axis=1) / digest.size >= threshold
        return [self.records[row] for row in at[similar]]


class NearDuplicates:
    """Collects conversations one by one; `losers` then names the copies to drop and why."""

    def __init__(self, threshold: float | None) -> None:
        self.threshold = threshold
        self.parent: list[int] = []
        self.exact_group: list[int] = []  # the first index read with the same exact key
        self.ranks: list[Any] = []
        self._exact: dict[str, int] = {}
        self.candidates = 0  # first records the LSH gave back, for the log
        if threshold is not None:
            n_bands, rows = bands(threshold)
            self._firsts = FirstRecords(n_bands * rows)
            # Keyed by row in `_firsts`.
            self._lsh = RMinHashLSH(threshold=threshold, num_perm=n_bands * rows, num_bands=n_bands)

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
        return self.add_signed(exact_key, minhash(text, self.threshold), rank)

    def add_signed(self, exact_key: str, signature: RMinHash | None, rank: Any) -> int:
        """`add`, with the signature `minhash` made of the signature text."""
        index = len(self.parent)
        self.parent.append(index)
        self.ranks.append(rank)
        first = self._exact.setdefault(exact_key, index)
        self.exact_group.append(first)
        if first != index:
            self._union(index, first)
        elif self.threshold is not None and signature is not None:
            digest = np.asarray(signature.digest(), dtype=np.uint32)
            rows = self._lsh.query(signature)
            self.candidates += len(rows)
            for first_record in self._firsts.matching(rows, digest, self.threshold):
                self._union(index, first_record)
            if self._root(index) == index:  # like no group's first record: it starts one
                self._lsh.insert(self._firsts.add(index, digest), signature)
        return index

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
        for every copy but the best-ranked of its group (the first read among equals)."""
        out: dict[int, str] = {}
        for group in self.groups():
            kept = max(group, key=lambda i: (self.ranks[i], -i))
            for i in group:
                if i != kept:
                    same = self.exact_group[i] == self.exact_group[kept]
                    out[i] = "duplicate" if same else "near_duplicate"
        return out


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
