"""curate's compiled kernels, compiled in a child process when numba's cache lacks them.

Compiling them takes about 13 s and 135 MB that LLVM holds for the rest of the process. In
curate's main process that memory would stay for the whole run, and the workers forked from
it would copy the pages around it as they write (a first run on the pipeline bench, back to
back: 889 MB peak compiling in the process, 705 MB in a child; tests/bench/README.md). A
child compiles them into numba's cache (`stages/curation/__pycache__`, or NUMBA_CACHE_DIR)
and exits; curate then loads their machine code from there (0.1 s, 13 MB) before its workers
fork, so that they share it.
"""

import logging
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from numba.core.dispatcher import Dispatcher

from stages.curation import band_kernels, bucket_sketch, exact_keys, shingle_hashes
from stages.curation.exact_keys import ExactKeys
from stages.curation.near_dup import BandIndex, NearDuplicates

log = logging.getLogger("logtune")

KERNEL_MODULES: tuple[ModuleType, ...] = (band_kernels, bucket_sketch, exact_keys, shingle_hashes)
# Texts of each kind curate hashes: ASCII, other UTF-8, shorter than a shingle.
TEXTS = ("sell my fish " * 40, "vends mon poisson à Zoë 🐟 " * 40, "hi")


def kernels() -> list[Dispatcher]:
    return [
        value
        for module in KERNEL_MODULES
        for value in vars(module).values()
        if isinstance(value, Dispatcher)
    ]


def cached() -> bool:
    """Whether numba's cache holds machine code of every kernel for this machine and these
    sources. (Its index is read through the dispatcher's cache object, which numba does not
    document: where that changes, the answer is no, and a child compiles what may not be
    needed. An entry of other types than curate's, a test's, counts: curate then compiles
    those here, once, and says so.)"""
    try:
        for kernel in kernels():
            cache = kernel._cache
            here = cache._index_key((), kernel.targetctx.codegen())[1:]
            if not any(key[1:] == here for key in cache._cache_file._load_index()):
                return False
    except AttributeError:
        return False
    return True


def exercise() -> None:
    """Call every kernel at the types curate calls it with (any threshold's are the same):
    compiled, or loaded from the cache."""
    duplicates = NearDuplicates(0.8, threads=1)
    for n, text in enumerate(TEXTS * 2):  # the second round finds the first's groups
        duplicates.add(f"{n % len(TEXTS)}", text, (0,))
    duplicates.losers()
    index = BandIndex(recent_keys=8)  # small enough that its runs are merged
    for row in range(4):
        index.insert(np.arange(row, row + 8, dtype=np.uint32), row)
    index.query(np.arange(8, dtype=np.uint32), 2)
    ExactKeys().first_readers([n.to_bytes(16, "little") for n in range(1024)], 0)  # it grows


def compile_in_child() -> None:
    """Run this module in a child, from the folder that holds this `stages`; a failure is
    named, and the kernels are then compiled here."""
    try:
        child = subprocess.run(
            [sys.executable, "-m", __name__],
            cwd=Path(__file__).resolve().parents[2],
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            check=False,
        )
        problem = (child.stderr.strip().splitlines() or ["no message"])[-1]
        failed = child.returncode != 0
    except OSError as error:
        problem, failed = str(error), True
    if failed:
        log.warning("compiling curate's kernels in a child failed (%s): compiling here", problem)


def load_kernels() -> None:
    """Have every kernel's machine code in this process, compiled in a child where the cache
    lacks it."""
    if not cached():
        compile_in_child()
    before = {kernel: len(kernel.stats.cache_misses) for kernel in kernels()}
    exercise()
    compiled = [k.py_func.__name__ for k in kernels() if len(k.stats.cache_misses) > before[k]]
    if compiled:
        log.warning("compiled in curate's own process: %s", ", ".join(sorted(compiled)))


if __name__ == "__main__":
    exercise()
