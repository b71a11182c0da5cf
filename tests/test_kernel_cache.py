"""curate's kernels on a cold cache: compiled by a child, loaded by the process that asked,
and then nothing compiled by curate or its workers. Each case runs in a process of its own
with a cache folder of the module's (NUMBA_CACHE_DIR is read when numba is imported)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("kernel_cache")  # one cold compile for the module

LOAD = """
import json, sys
from stages.curation import kernel_cache

before = kernel_cache.cached()
kernel_cache.load_kernels()
"""

CURATE = """
from pathlib import Path
from click.testing import CliRunner
from stages import curate
from tests.records import conversation, single_turn, write_conversations

def cache_files():
    return {p.name: p.stat().st_mtime_ns for p in Path(sys.argv[1]).rglob("*.nb*")}

loaded = cache_files()
records = [
    conversation("sell my fish at the market " * 30),
    conversation("sell my fish at the market " * 30 + "please"),
    conversation("vends mon poisson à Zoë 🐟 " * 30),
    single_turn("hi"),
]
inputs = write_conversations(Path(sys.argv[2]) / "in.jsonl", records)
out = Path(sys.argv[2]) / "curated"
run = CliRunner().invoke(curate.main, [str(inputs), "--out-dir", str(out), "--jobs", "2"])
assert run.exit_code == 0, run.output
assert cache_files() == loaded, "curate or a worker compiled into the cache"
"""

REPORT = """
kernels = kernel_cache.kernels()
compiled_here = {kernel.py_func.__name__: len(kernel.stats.cache_misses) for kernel in kernels}
loaded_here = {kernel.py_func.__name__: len(kernel.stats.cache_hits) for kernel in kernels}
print(json.dumps([before, kernel_cache.cached(), compiled_here, loaded_here]))
"""


def run_script(script: str, cache_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, str(cache_dir), *args],
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)},
        capture_output=True,
        text=True,
        check=True,
    )


def report(done: subprocess.CompletedProcess[str]) -> tuple[bool, bool, dict, dict]:
    before, after, compiled_here, loaded_here = json.loads(done.stdout.splitlines()[-1])
    return before, after, compiled_here, loaded_here


def cache_files(cache_dir: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in cache_dir.rglob("*.nb*")}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("numba-cache")


def test_a_cold_cache_is_filled_by_a_child_and_curate_then_compiles_nothing(
    cache_dir: Path, tmp_path: Path
) -> None:
    """Neither curate's main process (its kernels' counts) nor its workers (which would
    write what they compiled into the cache) compile anything of their own."""
    done = run_script(LOAD + CURATE + REPORT, cache_dir, str(tmp_path))
    before, after, compiled_here, loaded_here = report(done)
    assert (before, after) == (False, True)
    assert set(compiled_here.values()) == {0}, compiled_here
    # What curate calls directly came from the cache; the kernels they call are inside them.
    assert loaded_here["match_batch"] and loaded_here["first_readers"]
    assert loaded_here["shingle_hashes"] and loaded_here["fold_bands"]
    assert "compiled in curate's own process" not in done.stderr
    written = json.loads((tmp_path / "curated" / "stats.json").read_text())
    assert written["dropped"]["near_duplicate"] == 1  # the kernels did their work


def test_a_warm_cache_starts_no_child_and_compiles_nothing(cache_dir: Path) -> None:
    if not cache_files(cache_dir):
        run_script(LOAD, cache_dir)  # run alone: warm it first
    stamps = cache_files(cache_dir)
    before, after, compiled_here, _ = report(run_script(LOAD + REPORT, cache_dir))
    assert (before, after) == (True, True)
    assert set(compiled_here.values()) == {0}
    assert cache_files(cache_dir) == stamps


FAILING_CHILD = """
import json, logging, sys
from stages.curation import kernel_cache

logging.basicConfig(level=logging.INFO)
kernel_cache.cached = lambda: False
sys.executable = sys.argv[2]
kernel_cache.load_kernels()
print(json.dumps(bool(kernel_cache.band_kernels.match_batch.signatures)))
"""


def test_a_child_that_fails_is_named_and_the_kernels_are_loaded_here(
    cache_dir: Path, tmp_path: Path
) -> None:
    failing = tmp_path / "python"
    failing.write_text("#!/bin/sh\necho 'MemoryError: out of memory' >&2\nexit 1\n")
    failing.chmod(0o755)
    done = run_script(FAILING_CHILD, cache_dir, str(failing))
    assert "in a child failed (MemoryError: out of memory): compiling here" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) is True  # ready to run


def test_a_child_that_cannot_start_is_named_too(cache_dir: Path, tmp_path: Path) -> None:
    done = run_script(FAILING_CHILD, cache_dir, str(tmp_path / "no-such-python"))
    assert "in a child failed ([Errno 2] No such file or directory" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) is True
