"""Measuring helpers for the benchmarks: wall time and peak memory of a process tree.

A shared 2-core machine drifts: one pass of the same work can take 50% longer
than the next. So a throughput ratio is measured run by run, each stage run
between two baseline passes, several times over, and reported as the median.
"""

import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec

REPO = Path(__file__).resolve().parents[2]
# Reading smaps_rollup walks page tables: sampling more often steals the CPU being measured
# (a fifth of a core for curate's 800 MB tree at 0.1 s). A long run is sampled less often.
SAMPLE_SECONDS = 0.1
SAMPLES_A_RUN = 200  # past SAMPLE_SECONDS * SAMPLES_A_RUN, the period is elapsed / this
MAX_SAMPLE_SECONDS = 1.0


class Measured(NamedTuple):
    seconds: float
    peak_rss: int  # resident bytes summed over the tree: counts pages shared after fork twice
    peak_pss: int  # proportional share: each shared page split between its sharers


def tree_pids(root: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    pids, pending = [], [root]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB, from one read of smaps_rollup."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        rss, pss = (int(text.split(f"\n{field}:")[1].split()[0]) for field in ("Rss", "Pss"))
        return rss, pss
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0, 0  # the process ended between listing and reading


def tree_memory(root: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes summed over a process tree."""
    per_process = [memory_kb(pid) for pid in tree_pids(root)]
    return sum(r for r, _ in per_process) * 1024, sum(p for _, p in per_process) * 1024


def run_measured(args: list[str], cwd: Path = REPO) -> Measured:
    """Run a command; return its wall time and the peak memory of its process tree.

    The wait between memory samples ends the moment the process exits (a pidfd
    becomes readable), so a short run is not rounded up to the sampling period.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile() as stderr:  # a file: a chatty stage cannot fill a pipe and stall
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        exited = os.pidfd_open(process.pid)
        peak_rss = peak_pss = 0
        try:
            while True:
                rss, pss = tree_memory(process.pid)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
                elapsed = time.perf_counter() - start
                period = min(max(SAMPLE_SECONDS, elapsed / SAMPLES_A_RUN), MAX_SAMPLE_SECONDS)
                if select.select([exited], [], [], period)[0]:
                    break
            elapsed = time.perf_counter() - start
        finally:
            os.close(exited)
        if process.wait():
            stderr.seek(0)
            sys.exit(f"{' '.join(args)} failed:\n{stderr.read().decode()}")
    return Measured(elapsed, peak_rss, peak_pss)


def decode_only_seconds(
    paths: list[Path], decode: Callable[[bytes], object] = msgspec.json.decode
) -> float:
    """The floor: msgspec decoding every line of the files, streamed, nothing else."""
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                decode(line)
    return time.perf_counter() - start


class Paired(NamedTuple):
    ratios: list[float]  # baseline seconds / stage seconds, one per pair, in run order
    runs: list[Measured]  # the stage's runs

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def peak_pss(self) -> int:
        return max(run.peak_pss for run in self.runs)

    def describe(self) -> str:
        return f"median {self.median:.2f} of {', '.join(f'{r:.2f}' for r in self.ratios)}"


def paired_ratios(
    baseline: Callable[[], float], stage: Callable[[], Measured], repeats: int
) -> Paired:
    """The stage run `repeats` times, each between two baseline passes; the ratio of each.

    A run's ratio divides the mean of the baseline passes just before and just
    after it by the run's time, so a drift of the machine's speed during the
    pair cancels out. Dirty pages are flushed before the first pass and after
    every run, so no pass pays for the writeback of the generator's files or of
    a run's outputs (a run writes as much as it reads).
    """
    os.sync()
    ratios, runs = [], []
    before = baseline()
    for _ in range(repeats):
        run = stage()
        os.sync()  # the run's own writeback must not slow the baseline pass after it
        after = baseline()
        ratios.append((before + after) / 2 / run.seconds)
        runs.append(run)
        before = after
    return Paired(ratios, runs)
