"""Benchmark ingest_sessions on ≥ 1 GB of generated Claude Code transcripts.

Prints: throughput relative to msgspec decode-only over the same lines (untyped,
and typed with the transcript Structs; the median over `--repeats` cold runs,
each between two decode passes), peak memory of the stage's process tree,
and the time of an incremental run after adding one transcript, as a ratio to
the cold run (the median of `--repeats` runs, each adding the transcript back to
the cold run's folder of parts); checks that the folder, rejects and stats then
are byte-identical to a run without cache.

Usage: python tests/bench/ingest_sessions.py [--gigabytes 1.0] [--jobs 2] [--repeats 3] [--dir DIR]
"""

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from schemas.claude_code_record import TranscriptRecord  # noqa: E402
from stages.common.jsonl import part_files  # noqa: E402
from tests.bench.measure import (  # noqa: E402
    Measured,
    decode_only_seconds,
    paired_ratios,
    run_measured,
)

WORDS = (
    "def",
    "return",
    "self",
    "import",
    "from",
    "class",
    "parser",
    "line",
    "record",
    "value",
    "file",
    "path",
    "error",
    "test",
    "assert",
    "config",
    "token",
    "session",
    "tool",
    "result",
    "message",
    "content",
    "stream",
    "cache",
    "hash",
    "output",
    "input",
    "the",
    "a",
    "of",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "that",
    "this",
    "run",
    "build",
    "check",
    "fix",
    "update",
    "read",
    "write",
    "open",
    "close",
    "json",
)
TOOLS = ["Read", "Bash", "Edit", "Grep", "Glob", "mcp__github__search_issues", "mcp__my-db__query"]
_encode = msgspec.json.Encoder().encode
_typed = msgspec.json.Decoder(TranscriptRecord).decode


class Generator:
    """Deterministic, realistic transcripts: block-per-record responses, big tool outputs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.corpus = " ".join(self.rng.choice(WORDS) for _ in range(400_000))
        self.clock = 1_748_000_000.0
        self.serial = 0

    def text(self, low: int, high: int) -> str:
        size = self.rng.randint(low, high)
        start = self.rng.randrange(0, len(self.corpus) - size)
        return self.corpus[start : start + size]

    def uid(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial:012x}-4a1b-9c2d-{self.rng.getrandbits(48):012x}"

    def stamp(self) -> str:
        self.clock += self.rng.uniform(0.05, 4.0)
        t = time.gmtime(self.clock)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(self.clock * 1000) % 1000:03d}Z"

    def envelope(self, session: str, parent: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "parentUuid": parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": "/home/dev/work/project",
            "sessionId": session,
            "version": "2.0.14",
            "gitBranch": "main",
            **extra,
            "uuid": self.uid("u"),
            "timestamp": self.stamp(),
        }

    def tool_input(self, name: str) -> dict[str, Any]:
        if name == "Bash":
            return {"command": self.text(10, 80), "description": self.text(10, 40)}
        if name == "Edit":
            return {
                "file_path": "/src/x.py",
                "old_string": self.text(20, 400),
                "new_string": self.text(20, 400),
            }
        if name.startswith("mcp__"):
            return {"query": self.text(10, 60), "limit": self.rng.randint(1, 50)}
        return {"file_path": f"/home/dev/work/project/{self.text(5, 20)}.py"}

    def session(self, session: str, sidechain: dict[str, Any] | None = None) -> list[bytes]:
        env = {"isSidechain": True, **sidechain} if sidechain else {}
        lines: list[bytes] = []
        parent = None

        def emit(record: dict[str, Any]) -> None:
            nonlocal parent
            record.update(env)
            lines.append(_encode(record))
            parent = record.get("uuid", parent)

        if not sidechain and self.rng.random() < 0.5:
            lines.append(
                _encode(
                    {"type": "summary", "summary": self.text(20, 60), "leafUuid": self.uid("u")}
                )
            )
        for _ in range(self.rng.randint(4, 30)):
            emit(
                self.envelope(
                    session,
                    parent,
                    type="user",
                    message={"role": "user", "content": self.text(20, 600)},
                )
            )
            for _ in range(self.rng.randint(1, 8)):
                msg_id, req = self.uid("msg_"), self.uid("req_")
                blocks: list[dict[str, Any]] = []
                if self.rng.random() < 0.4:
                    blocks.append(
                        {
                            "type": "thinking",
                            "thinking": self.text(50, 1500),
                            "signature": self.text(100, 300),
                        }
                    )
                if self.rng.random() < 0.7:
                    blocks.append({"type": "text", "text": self.text(20, 500)})
                calls = []
                for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
                    name = self.rng.choice(TOOLS)
                    calls.append(
                        {
                            "type": "tool_use",
                            "id": self.uid("toolu_"),
                            "name": name,
                            "input": self.tool_input(name),
                        }
                    )
                for block in blocks + calls:
                    emit(
                        self.envelope(
                            session,
                            parent,
                            type="assistant",
                            requestId=req,
                            message={
                                "id": msg_id,
                                "type": "message",
                                "role": "assistant",
                                "model": "claude-sonnet-4-5",
                                "content": [block],
                                "stop_reason": None,
                                "usage": {
                                    "input_tokens": 1200,
                                    "cache_read_input_tokens": 40000,
                                    "output_tokens": 12,
                                },
                            },
                        )
                    )
                for call in calls:
                    output = self.text(200, 30_000)
                    if self.rng.random() < 0.3:
                        emit(
                            self.envelope(
                                session,
                                parent,
                                type="progress",
                                data={
                                    "type": "hook_progress",
                                    "hookName": "PostToolUse",
                                    "output": self.text(20, 200),
                                },
                            )
                        )
                    emit(
                        self.envelope(
                            session,
                            parent,
                            type="user",
                            message={
                                "role": "user",
                                "content": [
                                    {
                                        "tool_use_id": call["id"],
                                        "type": "tool_result",
                                        "content": output,
                                        "is_error": self.rng.random() < 0.05,
                                    }
                                ],
                            },
                            toolUseResult={"stdout": output, "stderr": "", "interrupted": False},
                        )
                    )
            emit(
                self.envelope(
                    session,
                    parent,
                    type="assistant",
                    requestId=self.uid("req_"),
                    message={
                        "id": self.uid("msg_"),
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-sonnet-4-5",
                        "content": [{"type": "text", "text": self.text(50, 800)}],
                        "stop_reason": "end_turn",
                    },
                )
            )
            if self.rng.random() < 0.3:
                lines.append(
                    _encode(
                        {
                            "type": "file-history-snapshot",
                            "messageId": parent,
                            "snapshot": {"trackedFileBackups": {}},
                        }
                    )
                )
        return lines


def generate(root: Path, gigabytes: float, seed: int = 7) -> int:
    """Write session files (some with sub-agent files) until `gigabytes` are on disk."""
    gen = Generator(seed)
    total = 0
    index = 0
    while total < gigabytes * 1e9:
        session = f"{index:08x}-5e55-4000-8000-{seed:012x}"
        project = root / f"-home-dev-project-{index % 7}"
        project.mkdir(parents=True, exist_ok=True)
        files = {project / f"{session}.jsonl": gen.session(session)}
        if index % 5 == 0:
            agent = f"a{index:07x}"
            path = project / session / "subagents" / f"agent-{agent}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            files[path] = gen.session(session, {"agentId": agent})
        for path, lines in files.items():
            data = b"\n".join(lines) + b"\n"
            path.write_bytes(data)
            total += len(data)
        index += 1
    return total


def typed_decode(line: bytes) -> object:
    """Decode as the stage does; an unknown record type fails the union and is skipped."""
    try:
        return _typed(line)
    except msgspec.ValidationError:
        return None


def run_stage(args: list[str]) -> Measured:
    return run_measured([sys.executable, "-m", "stages.ingest", "sessions", *args])


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def joined_parts(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in part_files(folder))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="incremental runs to time")
    parser.add_argument("--dir", type=Path, default=None)
    options = parser.parse_args()
    work = options.dir or Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    inputs, out, cache = work / "in", work / "out", work / "cache"
    for path in (inputs, out, cache):
        shutil.rmtree(path, ignore_errors=True)
    held = work / "held"
    shutil.rmtree(held, ignore_errors=True)
    size = generate(inputs, options.gigabytes)
    # one transcript waits outside the folder, to be added for the incremental run
    late = max(inputs.glob("*/*.jsonl"))
    held.mkdir()
    shutil.move(late, held / late.name)
    files = sorted(inputs.rglob("*.jsonl"))
    print(f"generated {size / 1e9:.2f} GB in {len(files) + 1} files")

    common = ["--input", str(inputs), "--cache-dir", str(cache), "--jobs", str(options.jobs)]
    # the incremental runs write into the cold run's folder: its parts are what they keep
    stage = [*common, "--out-dir", str(out / "stage")]

    def cold_run() -> Measured:
        shutil.rmtree(out / "stage", ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        return run_stage(stage)

    untyped_seconds: list[float] = []

    def decode_both() -> float:
        untyped_seconds.append(decode_only_seconds(files))
        return decode_only_seconds(files, typed_decode)

    paired = paired_ratios(decode_both, cold_run, options.repeats)
    untyped = [  # as paired_ratios: each run between the untyped passes before and after it
        (untyped_seconds[i] + untyped_seconds[i + 1]) / 2 / run.seconds
        for i, run in enumerate(paired.runs)
    ]
    incremental_runs: list[Measured] = []
    for repeat in range(options.repeats):
        if repeat:  # take the transcript out again (a run that removes its part), then re-add it
            shutil.move(late, held / late.name)
            run_stage(stage)
        shutil.move(held / late.name, late)
        incremental_runs.append(run_stage(stage))
    reference = run_stage([*common, "--no-cache", "--out-dir", str(out / "reference")]).seconds
    parts = out / "stage" / "conversations"
    same = folder_bytes(parts) == folder_bytes(out / "reference" / "conversations")
    same = same and all(
        (out / "stage" / name).read_bytes() == (out / "reference" / name).read_bytes()
        for name in ("rejects.jsonl", "stats.json")
    )
    output_bytes = len(joined_parts(parts))
    cold = statistics.median(r.seconds for r in paired.runs)
    incremental = sorted(r.seconds for r in incremental_runs)
    median = statistics.median(incremental)
    peak_inc = max(r.peak_pss for r in incremental_runs)
    print(
        f"stage cold {', '.join(f'{r.seconds:.2f}' for r in paired.runs)} s with "
        f"--jobs {options.jobs} ({size / 1e6 / cold:.0f} MB/s at the median)"
    )
    print(f"output: {len(part_files(parts))} parts, {output_bytes / 1e6:.0f} MB")
    print(f"throughput vs untyped decode-only: median {statistics.median(untyped):.2f}")
    print(f"throughput vs typed decode-only: {paired.describe()}")
    print(
        f"peak memory (PSS of the process tree): cold {paired.peak_pss / 2**20:.0f} MB, "
        f"incremental {peak_inc / 2**20:.0f} MB; summed RSS cold "
        f"{max(r.peak_rss for r in paired.runs) / 2**20:.0f} MB"
    )
    print(
        "incremental runs (one transcript added) "
        + ", ".join(f"{t:.2f}s" for t in incremental)
        + f"; ratios to the median cold run {', '.join(f'{t / cold:.3f}' for t in incremental)}"
    )
    print(
        f"no-cache rerun {reference:.2f}s; "
        f"incremental folder, rejects, stats identical to the no-cache run: {same}"
    )
    if not options.dir:
        shutil.rmtree(work)
    print(
        f"ratio_vs_decode={paired.median:.2f} "
        f"ratio_vs_untyped_decode={statistics.median(untyped):.2f} "
        f"peak_pss_mb={paired.peak_pss / 2**20:.0f} "
        f"incremental_ratio={median / cold:.3f} identical={same}"
    )


if __name__ == "__main__":
    main()
