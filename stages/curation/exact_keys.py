"""Which record first had each exact key: an open-addressed table of 128-bit digests.

curate looks up every record read here, so the table's size is a record's share of curate's
memory: 32-40 bytes a distinct key (its digest, the first record's index, two to four
4-byte slots), where a dict of the digests as bytes took about 130.
"""

import numpy as np
from numba import njit

EMPTY = -1  # a slot that holds no key


@njit(cache=True, nogil=True)
def _slot(slots: np.ndarray, digests: np.ndarray, low: np.uint64, high: np.uint64) -> int:
    """The slot of a digest, or the empty slot where it goes. A digest is a hash: its low
    bits place it."""
    mask = len(slots) - 1
    slot = np.int64(low & np.uint64(mask))
    while slots[slot] != EMPTY and (
        digests[slots[slot], 0] != low or digests[slots[slot], 1] != high
    ):
        slot = (slot + 1) & mask
    return slot


@njit(cache=True, nogil=True)
def first_readers(
    slots: np.ndarray,
    digests: np.ndarray,
    firsts: np.ndarray,
    n_keys: int,
    batch: np.ndarray,
    start: int,
) -> tuple[np.ndarray, int]:
    """For the records start, start + 1, ... whose digests are the batch's rows, in order,
    the index of the first record with the same digest (their own when it is new, which
    is added). Returns those indices and the new number of keys."""
    out = np.empty(len(batch), dtype=np.int64)
    for i in range(len(batch)):
        slot = _slot(slots, digests, batch[i, 0], batch[i, 1])
        if slots[slot] == EMPTY:
            digests[n_keys] = batch[i]
            firsts[n_keys] = start + i
            slots[slot] = n_keys
            n_keys += 1
        out[i] = firsts[slots[slot]]
    return out, n_keys


@njit(cache=True, nogil=True)
def rehash(slots: np.ndarray, digests: np.ndarray, n_keys: int) -> None:
    """Place the first `n_keys` digests in an empty table."""
    for key in range(n_keys):
        slots[_slot(slots, digests, digests[key, 0], digests[key, 1])] = key


class ExactKeys:
    """Digest → the first record read with it. Kept at most half full, so a lookup probes
    about two slots; the digests grow in place by half (`resize` remaps pages)."""

    def __init__(self) -> None:
        self._slots = np.full(1024, EMPTY, dtype=np.int32)
        self._digests = np.empty((512, 2), dtype=np.uint64)
        self._firsts = np.empty(512, dtype=np.int64)
        self._n_keys = 0

    def __len__(self) -> int:
        return self._n_keys

    def first_readers(self, digests: list[bytes], start: int) -> list[int]:
        """`first_readers` of records start, start + 1, ... with these 16-byte digests."""
        needed = self._n_keys + len(digests)
        if needed > len(self._firsts):
            size = max(needed, len(self._firsts) * 3 // 2)
            self._digests.resize((size, 2), refcheck=False)
            self._firsts.resize(size, refcheck=False)
        if 2 * needed > len(self._slots):
            self._slots = np.full(1 << (2 * needed - 1).bit_length(), EMPTY, dtype=np.int32)
            rehash(self._slots, self._digests, self._n_keys)
        batch = np.frombuffer(b"".join(digests), dtype=np.uint64).reshape(len(digests), 2)
        out, self._n_keys = first_readers(
            self._slots, self._digests, self._firsts, self._n_keys, batch, start
        )
        return out.tolist()
