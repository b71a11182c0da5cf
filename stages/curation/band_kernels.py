"""The near-duplicate lookups' inner loops, compiled with numba.

A record of a repetitive log shares band keys with thousands of groups' first records: the
rows behind its keys are counted one by one, and the few that reach MIN_BAND_HITS are
compared hash by hash. In numpy, the same counting sorts every record's thousands of rows
(half the time of curate at 1 GB: tests/bench/README.md#pipeline). The
functions are compiled once and cached beside this file (`__pycache__`, ignored by DVC).
"""

import numpy as np
from numba import njit

FNV_PRIME = np.uint64(0x100000001B3)
BAND_SALT = np.uint64(0x9E3779B97F4A7C15)


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
    run_keys: np.ndarray,
    run_rows: np.ndarray,
    keys: np.ndarray,
    counts: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Count once each row a sorted run gives each key; a row counted for the first time is
    appended to `touched`. Returns the new length of `touched`. (The counting is written out
    here and in `count_rows`: a shared inlined helper made this loop twice as slow.)"""
    for key in keys:
        i = np.searchsorted(run_keys, key)
        while i < len(run_keys) and run_keys[i] == key:
            row = run_rows[i]
            if counts[row] == 0:
                touched[n_touched] = row
                n_touched += 1
            counts[row] += 1
            i += 1
    return n_touched


@njit(cache=True, nogil=True)
def count_rows(rows: np.ndarray, counts: np.ndarray, touched: np.ndarray, n_touched: int) -> int:
    """`count_run_rows` for rows already looked up."""
    for row in rows:
        if counts[row] == 0:
            touched[n_touched] = row
            n_touched += 1
        counts[row] += 1
    return n_touched


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
def equal_hashes(signatures: np.ndarray, rows: np.ndarray, signature: np.ndarray) -> np.ndarray:
    """For each row, how many of its minimum hashes equal the signature's."""
    out = np.empty(len(rows), dtype=np.int32)
    for j, row in enumerate(rows):
        hashes = signatures[row]
        equal = 0
        for h in range(len(signature)):
            equal += hashes[h] == signature[h]
        out[j] = equal
    return out
