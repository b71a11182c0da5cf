"""The synthesize stage: sessions per second, and how many of them curate's near-duplicate rule
keeps, on a mixed run of every family.

Runs `python -m stages.synthesize` (a subprocess, as DVC does; from the repository root, with
its params.yaml) into a temporary folder three
times and takes the fastest; then puts the sessions through curate's own NearDuplicates at the
default threshold. The last line is the throughput.

    python tests/bench/synthesize.py [--n 5000] [--seed 0]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from schemas.conversation import Conversation
from stages.common.jsonl import read_records
from stages.curation.near_dup import NearDuplicates, signature_text
from stages.dedupe import dedupe_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "synthesize")
        command = [sys.executable, "-m", "stages.synthesize", "--out-dir", str(out)]
        command += ["--n-examples", str(args.n), "--seed", str(args.seed)]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        copies = NearDuplicates(0.8)
        part = out / "conversations" / "000000000.jsonl"
        size = part.stat().st_size
        for record in read_records(part, Conversation):
            copies.add(dedupe_key(record), signature_text(record), 0)
    dropped = len(copies.losers())
    print(f"{args.n} sessions, {size / 2**20:.1f} MB, fastest of 3 runs {min(times):.2f} s")
    print(f"near duplicates at 0.8: {dropped} of {args.n} ({100 * dropped / args.n:.2f} %)")
    print(f"sessions per second: {args.n / min(times):.0f}")


if __name__ == "__main__":
    main()
