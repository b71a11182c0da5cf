"""Benchmark: ingest_toollog throughput against msgspec decode-only, and its peak memory.

Generates a realistic tool-call log of at least 500 MB (or --mb), runs the real
stage on it as a subprocess, and prints last:
  throughput ratio to msgspec decode-only (target >= 0.4), peak memory (target < 200 MB)
The ratio is the median over `--repeats` stage runs, each between two decode-only passes.

Usage: python tests/bench/ingest_toollog.py [--mb 500] [--jobs 2] [--repeats 5]
"""

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.measure import Measured, decode_only_seconds, paired_ratios, run_measured

TOOLS = {
    "walk_to": lambda r: {
        "location": r.choice(["Draynor bank", "Catherby", "Musa Point"]),
        "run": r.random() < 0.5,
    },
    "bank_deposit": lambda r: {
        "item": r.choice(["Raw shrimps", "Raw lobster", "Logs"]),
        "quantity": r.randint(1, 28),
    },
    "fish": lambda r: {"method": r.choice(["net", "bait", "harpoon", "cage"])},
    "get_inventory": lambda r: {},
}
WORDS = [
    "go",
    "bank",
    "fish",
    "the",
    "lobsters",
    "please",
    "now",
    "and",
    "then",
    "walk",
    "to",
    "catherby",
    "check",
    "my",
    "inventory",
]


def log_line(r: random.Random, i: int) -> dict:
    name = r.choice(sorted(TOOLS))
    arguments = msgspec.json.encode(TOOLS[name](r)).decode()
    query = " ".join(r.choices(WORDS, k=r.randint(3, 14))) + f" #{i}"
    line = {
        "timestamp": f"2026-11-02T{i // 3600 % 24:02}:{i // 60 % 60:02}:{i % 60:02}Z",
        "model": "gpt-4o-mini-2024-07-18",
        "tool_name": name,
        "arguments": arguments,
        "status": r.choice(["success"] * 9 + ["error"]),
        "message": "ok",
        "output": {
            "items": [{"name": w, "count": r.randint(1, 99)} for w in r.choices(WORDS, k=4)]
        },
        "tools_enabled": sorted(TOOLS),
    }
    if i % 10:  # one line in ten is the old format
        response = {
            "role": "assistant",
            "content": "On it.",
            "tool_calls": [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ],
        }
        line |= {
            "user_query": query,
            "model_response": msgspec.json.encode(response).decode(),
            "rating": r.randint(1, 5),
            "final_response": " ".join(r.choices(WORDS, k=12)),
        }
    return line


def generate(path: Path, megabytes: int) -> None:
    r = random.Random(7)
    encode = msgspec.json.Encoder().encode
    target = megabytes * 1_000_000
    written = i = 0
    with open(path, "wb", buffering=1 << 22) as handle:
        while written < target:
            block = b"".join(encode(log_line(r, i + k)) + b"\n" for k in range(1000))
            handle.write(block)
            written += len(block)
            i += 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log, out = Path(tmp) / "tools.jsonl", Path(tmp) / "out"
        generate(log, args.mb)
        size = log.stat().st_size
        stage = [
            sys.executable,
            "-m",
            "stages.ingest",
            "toollog",
            "--params",
            "/dev/null",
            "--input",
            str(log),
            "--out-dir",
            str(out),
            "--jobs",
            str(args.jobs),
        ]

        def fresh_run() -> Measured:
            """A run into an empty folder, as under DVC, which deletes outputs before a run."""
            shutil.rmtree(out, ignore_errors=True)
            return run_measured(stage)

        paired = paired_ratios(lambda: decode_only_seconds([log]), fresh_run, args.repeats)
    mb = size / 1e6
    seconds = [run.seconds for run in paired.runs]
    peak_rss = max(run.peak_rss for run in paired.runs)
    print(
        f"file: {mb:.0f} MB; stage with {args.jobs} jobs: "
        f"{', '.join(f'{s:.1f}' for s in seconds)} s ({mb / statistics.median(seconds):.0f} MB/s); "
        f"peak RSS summed over the process tree {peak_rss / 2**20:.0f} MB"
    )
    print(
        f"ingest_toollog: throughput ratio {paired.median:.2f} of msgspec decode-only "
        f"({paired.describe()}; target >= 0.4), peak memory (PSS of the process tree) "
        f"{paired.peak_pss / 2**20:.0f} MB (target < 200 MB)"
    )


if __name__ == "__main__":
    main()
