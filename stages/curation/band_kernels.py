"""The near-duplicate lookups' inner loops, compiled with numba.

A record of a repetitive log shares band keys with hundreds of groups' first records: the
rows behind its keys are counted one by one, and those that reach MIN_BAND_HITS are
compared hash by hash. In numpy, the same counting sorts every record's thousands of rows
(half the time of curate at 1 GB: tests/bench/README.md#pipeline). The
functions are compiled once and cached beside this file (`__pycache__`, ignored by DVC).
"""

import numpy as np
from numba import njit, prange

FNV_PRIME = np.uint64(0x100000001B3)
KEY_SHIFT = np.uint64(32)  # a run's entry: its key above this bit, its row below
ROW_MASK = np.uint64(0xFFFFFFFF)
BAND_SALT = np.uint64(0x9E3779B97F4A7C15)
EMPTY = -1  # a slot of the recent keys' table that holds no entry


@njit(cache=True, nogil=True)
def fold_bands(signature: np.ndarray, n_bands: int) -> np.ndarray:
    """Each band's rows folded into a 32-bit key, FNV-1a style from a salt per band (near_dup's
    `band_keys`). Compiled: numpy's twenty small operations a record cost more than this."""
    rows = len(signature) // n_bands
    keys = np.empty(n_bands, dtype=np.uint32)
    for band in range(n_bands):
        key = np.uint64(band) * BAND_SALT
        for row in range(rows):
            key = (key ^ np.uint64(signature[band * rows + row])) * FNV_PRIME
        keys[band] = np.uint32(key >> np.uint64(32))
    return keys


@njit(cache=True, nogil=True)
def count_run_rows(
    run: np.ndarray,
    directory: np.ndarray,
    shift: int,
    keys: np.ndarray,
    counts: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Count once each row a sorted run gives each key, searching only between the key's
    prefix's entry of the run's directory and the next; a row counted for the first time is
    appended to `touched`. Returns the new length of `touched`. (The counting is written out
    here and in `count_shared_keys`: a shared inlined helper made this loop twice as slow.)"""
    for key in keys:
        prefix = np.int64(key) >> shift
        low, high = directory[prefix], directory[prefix + 1]
        i = low + np.searchsorted(run[low:high], np.uint64(key) << KEY_SHIFT)
        while i < high and run[i] >> KEY_SHIFT == key:
            row = np.int64(run[i] & ROW_MASK)
            if counts[row] == 0:
                touched[n_touched] = row
                n_touched += 1
            counts[row] += 1
            i += 1
    return n_touched


@njit(cache=True, nogil=True)
def merge_last_runs(runs: np.ndarray, big: int, small: int, end: int):
    """Merge the sorted run [small, end) into the sorted run [big, small) before it, in
    place: the later run is copied aside and the two are merged from their ends, into the
    end of the space they share. Entries sort by key, then row: a key's rows stay in order,
    the older run's (lower) first."""
    aside = runs[small:end].copy()
    i, j = small - 1, len(aside) - 1
    for out in range(end - 1, big - 1, -1):
        if j < 0:
            break  # the older run's entries left are where they belong
        if i >= big and runs[i] > aside[j]:
            runs[out] = runs[i]
            i -= 1
        else:
            runs[out] = aside[j]
            j -= 1


@njit(cache=True, nogil=True)
def rows_counted(counts: np.ndarray, touched: np.ndarray, n_touched: int, min_hits: int):
    """The touched rows counted at least `min_hits` times, ascending; every count is reset
    to 0 for the next record."""
    out = np.empty(n_touched, dtype=np.int32)
    n_out = 0
    for row in touched[:n_touched]:
        if counts[row] >= min_hits:
            out[n_out] = row
            n_out += 1
        counts[row] = 0
    out = out[:n_out]
    out.sort()
    return out


@njit(cache=True, nogil=True)
def _slot(slots: np.ndarray, entry_keys: np.ndarray, key: np.uint32) -> int:
    """The slot of `key` in an open-addressed table of entry indices (a power of two long),
    or the empty slot where it goes. A band key is a hash already: its low bits place it."""
    mask = len(slots) - 1
    slot = int(key) & mask
    while slots[slot] != EMPTY and entry_keys[slots[slot]] != key:
        slot = (slot + 1) & mask
    return slot


@njit(cache=True, nogil=True)
def add_recent_rows(
    slots: np.ndarray,
    entry_keys: np.ndarray,
    entry_rows: np.ndarray,
    chain: np.ndarray,
    n_entries: int,
    keys: np.ndarray,
    start: int,
    first_row: int,
    bound: int,
) -> tuple[int, int]:
    """Append the (key, row) entries of keys[start], keys[start + 1], ... as rows
    first_row + start, ..., up to the row that brings the entries to `bound`. A key's slot
    holds its newest entry, which chains to the one before. A key the row already has (two
    bands folded alike) is not given twice. Returns (the next row of `keys` to add, the new
    number of entries)."""
    k = start
    while k < len(keys) and n_entries < bound:
        row = first_row + k
        for key in keys[k]:
            slot = _slot(slots, entry_keys, key)
            if slots[slot] != EMPTY and entry_rows[slots[slot]] == row:
                continue
            entry_keys[n_entries] = key
            entry_rows[n_entries] = row
            chain[n_entries] = slots[slot]
            slots[slot] = n_entries
            n_entries += 1
        k += 1
    return k, n_entries


@njit(cache=True, nogil=True)
def count_shared_keys(
    index: tuple, keys: np.ndarray, counts: np.ndarray, touched: np.ndarray, min_hits: int
) -> np.ndarray:
    """The rows of a band index (near_dup.BandIndex's arrays: its sorted runs of entries end to
    end, run k from run_starts[k] to run_starts[k + 1], their directories likewise, and its
    recent entries' table) that have at least `min_hits` of the keys, each once, ascending."""
    (runs, run_starts, directories, dir_starts, shifts) = index[:5]
    (slots, entry_keys, entry_rows, chain) = index[5:]
    n_touched = 0
    for run in range(len(run_starts) - 1):
        start, stop = run_starts[run], run_starts[run + 1]
        n_touched = count_run_rows(
            runs[start:stop],
            directories[dir_starts[run] : dir_starts[run + 1]],
            shifts[run],
            keys,
            counts,
            touched,
            n_touched,
        )
    for key in keys:
        entry = slots[_slot(slots, entry_keys, key)]
        while entry != EMPTY:
            row = entry_rows[entry]
            if counts[row] == 0:
                touched[n_touched] = row
                n_touched += 1
            counts[row] += 1
            entry = chain[entry]
    return rows_counted(counts, touched, n_touched, min_hits)


@njit(cache=True, nogil=True)
def similar_rows(
    signatures: np.ndarray, rows: np.ndarray, signature: np.ndarray, min_equal: int
) -> np.ndarray:
    """The rows with at least `min_equal` minimum hashes equal to the signature's."""
    out = np.empty(len(rows), dtype=rows.dtype)
    n_out = 0
    for row in rows:
        hashes = signatures[row]
        equal = 0
        for h in range(len(signature)):
            equal += hashes[h] == signature[h]
        if equal >= min_equal:
            out[n_out] = row
            n_out += 1
    return out[:n_out]


@njit(cache=True, nogil=True, parallel=True)
def match_batch(
    index: tuple,
    batch_keys: np.ndarray,
    batch_signatures: np.ndarray,
    signatures: np.ndarray,
    counts: np.ndarray,
    touched: np.ndarray,
    min_hits: int,
    min_equal: int,
) -> tuple[np.ndarray, np.ndarray, int]:
    """For each record of a batch (its band keys and signature a row), the rows of the index
    (as `count_shared_keys` takes it) that share `min_hits` keys and `min_equal` minimum
    hashes with it, as (rows end to end, where record i's start, candidates counted). The
    records are split into as many parts as `counts` has rows, one a thread, each counting in
    its own row of `counts` and `touched`."""
    n, parts = len(batch_keys), len(counts)
    found = [np.empty(0, dtype=np.int32) for _ in range(n)]
    candidates = np.zeros(n, dtype=np.int64)
    for part in prange(parts):
        for i in range(part * n // parts, (part + 1) * n // parts):
            rows = count_shared_keys(index, batch_keys[i], counts[part], touched[part], min_hits)
            candidates[i] = len(rows)
            found[i] = similar_rows(signatures, rows, batch_signatures[i], min_equal)
    starts = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        starts[i + 1] = starts[i] + len(found[i])
    flat = np.empty(starts[n], dtype=np.int32)
    for i in range(n):
        flat[starts[i] : starts[i + 1]] = found[i]
    return flat, starts, candidates.sum()
