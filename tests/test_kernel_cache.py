"""curate's kernels on a cold cache: compiled by a child, loaded by the process that asked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPORT = """
import json
from stages.curation import kernel_cache

before = kernel_cache.cached()
kernel_cache.load_kernels()
kernels = kernel_cache.kernels()
compiled_here = {kernel.py_func.__name__: len(kernel.stats.cache_misses) for kernel in kernels}
loaded = {kernel.py_func.__name__: len(kernel.stats.cache_hits) for kernel in kernels}
print(json.dumps([before, kernel_cache.cached(), compiled_here, loaded]))
"""


def run_report(cache_dir: Path) -> tuple[bool, bool, dict[str, int], dict[str, int]]:
    done = subprocess.run(
        [sys.executable, "-c", REPORT],
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, compiled_here, loaded = json.loads(done.stdout.splitlines()[-1])
    return before, after, compiled_here, loaded


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("numba-cache")


def test_a_cold_cache_is_filled_by_a_child_and_the_caller_compiles_nothing(cache_dir: Path) -> None:
    before, after, compiled_here, loaded = run_report(cache_dir)
    assert (before, after) == (False, True)
    assert set(compiled_here.values()) == {0}, compiled_here
    # What curate calls directly came from the cache; the kernels they call are inside them.
    assert loaded["match_batch"] and loaded["first_readers"] and loaded["shingle_hashes"]
    assert any(cache_dir.rglob("*match_batch*.nbc"))


def test_a_warm_cache_starts_no_child_and_compiles_nothing(cache_dir: Path) -> None:
    if not any(cache_dir.rglob("*.nbc")):
        run_report(cache_dir)  # run alone: warm it first
    stamps = {path: path.stat().st_mtime_ns for path in cache_dir.rglob("*.nb*")}
    before, after, compiled_here, _ = run_report(cache_dir)
    assert (before, after) == (True, True)
    assert set(compiled_here.values()) == {0}
    assert {path: path.stat().st_mtime_ns for path in cache_dir.rglob("*.nb*")} == stamps
