"""curate's kernels on a cold cache: compiled by a child, loaded by the process that asked."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stages.curation import kernel_cache

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


def test_a_child_that_fails_is_named_and_the_kernels_are_compiled_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing = tmp_path / "python"
    failing.write_text("#!/bin/sh\necho 'MemoryError: out of memory' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(kernel_cache, "cached", lambda: False)
    monkeypatch.setattr(sys, "executable", str(failing))
    kernel_cache.load_kernels()
    assert "in a child failed (MemoryError: out of memory): compiling here" in caplog.text
    assert kernel_cache.band_kernels.match_batch.signatures  # ready to run
    assert kernel_cache.exact_keys.first_readers.signatures
