"""Benchmark the whole pipeline, ingest to card, on generated transcripts and tool logs.

Generates Claude Code transcripts (`--gigabytes`, the ingest_sessions bench's generator) and
a tool-call log (`--toollog-mb`, the ingest_toollog bench's), writes a params.yaml that reads
them with the offline LLM provider, and runs the commands of dvc.yaml's stages by hand, in
pipeline order, in a scratch folder. Per stage it prints the wall time, its throughput as a
ratio to msgspec decode-only over the stage's input (one decode pass just before the stage
and one just after, as the other benches pair them), and the peak memory (PSS of the process
tree). The last line is the whole pipeline's wall time as a ratio to the ingest stages'.

Usage: python tests/bench/pipeline.py [--gigabytes 1.0] [--toollog-mb 500] [--dir DIR]
"""

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from stages.common.jsonl import part_files  # noqa: E402
from tests.bench import ingest_sessions, ingest_toollog  # noqa: E402
from tests.bench.measure import Measured, decode_only_seconds, paired_ratios, run_measured  # noqa: E402

INGEST = ("ingest@sessions", "ingest@toollog")
# The stages of dvc.yaml this bench runs (the Discord ones need a server), in pipeline order.
STAGES = (*INGEST, "enrich", "moderate", "curate", "export", "validate", "card")


class Result(NamedTuple):
    stage: str
    input_bytes: int
    ratio: float
    run: Measured


def commands(dvc_yaml: Path) -> dict[str, list[str]]:
    """The command of every dvc.yaml stage, `foreach` items named `stage@item`."""
    found = {}
    for name, stage in yaml.safe_load(dvc_yaml.read_text())["stages"].items():
        if "foreach" in stage:
            for item in stage["foreach"]:
                cmd = stage["do"]["cmd"].replace("${item}", item)
                found[f"{name}@{item}"] = shlex.split(cmd)
        else:
            found[name] = shlex.split(stage["cmd"])
    return found


def stage_inputs(stage: str, work: Path, raw: dict[str, list[Path]]) -> list[Path]:
    """The JSONL files a stage reads, for its decode-only baseline."""
    data = work / "data"
    if stage.startswith("ingest@"):
        return raw[stage.removeprefix("ingest@")]
    if stage == "enrich":
        return [
            p
            for s in ("sessions", "toollog")
            for p in part_files(data / "ingested" / s / "conversations")
        ]
    if stage == "moderate":
        return [data / "enriched" / "conversations.jsonl"]
    if stage == "curate":
        return [data / "moderated" / "conversations.jsonl"]
    if stage == "export":
        return [data / "curated" / f"{split}.jsonl" for split in ("train", "validation")]
    if stage == "validate":
        export = data / "export"
        return [export / "records.metadata.jsonl", *sorted(export.glob("formats/*/*.jsonl"))]
    return [data / "export" / "stats.json", data / "validate" / "metrics.json"]


def decode_files_seconds(paths: list[Path]) -> float:
    """Decode-only of files that are one JSON document each (card's inputs)."""
    start = time.perf_counter()
    for path in paths:
        msgspec.json.decode(path.read_bytes())
    return time.perf_counter() - start


def tokenizer_seconds(export: Path) -> float:
    """One core counting the tokens validate counts (every openai line, o200k), alone."""
    from stages.validation.openai_checks import count_tokens

    decoder = msgspec.json.Decoder()
    lines = [
        decoder.decode(line)
        for path in sorted(export.glob("formats/openai/*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    count_tokens({"messages": [{"content": "warm"}]})  # the vocabulary loads outside the clock
    start = time.perf_counter()
    for line in lines:
        count_tokens(line)
    return time.perf_counter() - start


def write_params(work: Path, raw_root: Path) -> None:
    """The repository's params.yaml, reading the generated inputs, offline."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["sources"] = ["sessions", "toollog"]
    params["ingest_sessions"]["input"] = str(raw_root / "sessions")
    params["ingest_toollog"]["input"] = str(raw_root / "toollog")
    params["ingest_toollog"]["catalog"] = str(REPO / "data/samples/tools/catalog.json")
    params["enrich"]["annotations"] = str(REPO / "data/annotations.yaml")
    params["llm"]["provider"] = "offline"
    params["llm"]["progress"] = False
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def baseline(stage: str, inputs: list[Path]) -> Callable[[], float]:
    decode = decode_files_seconds if stage == "card" else decode_only_seconds
    return lambda: decode(inputs)


def run_stage(args: list[str], work: Path) -> Callable[[], Measured]:
    def run() -> Measured:
        return run_measured([sys.executable, *args[1:]] if args[0] == "python" else args, cwd=work)

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gigabytes", type=float, default=1.0, help="of transcripts")
    parser.add_argument("--toollog-mb", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="kept after the run")
    parser.add_argument(
        "--from",
        dest="first",
        choices=STAGES,
        default=STAGES[0],
        help="with --dir: reuse its inputs and outputs and run from this stage on",
    )
    options = parser.parse_args()
    work = options.dir or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    raw_root = work / "raw"
    if options.first == STAGES[0]:
        shutil.rmtree(work / "data", ignore_errors=True)
        shutil.rmtree(raw_root, ignore_errors=True)
        ingest_sessions.generate(raw_root / "sessions", options.gigabytes)
        (raw_root / "toollog").mkdir(parents=True)
        ingest_toollog.generate(raw_root / "toollog" / "tools.jsonl", options.toollog_mb)
    raw = {
        "sessions": sorted((raw_root / "sessions").rglob("*.jsonl")),
        "toollog": [raw_root / "toollog" / "tools.jsonl"],
    }
    sessions_bytes = sum(p.stat().st_size for p in raw["sessions"])
    toollog_bytes = raw["toollog"][0].stat().st_size
    print(
        f"generated {sessions_bytes / 1e6:.0f} MB of transcripts in {len(raw['sessions'])} "
        f"files, {toollog_bytes / 1e6:.0f} MB of tool log; {os.cpu_count()} cores"
    )
    write_params(work, raw_root)
    # What segment writes when no Discord channel feeds the dataset: curate reads it.
    dropped = work / "data" / "discord" / "segmented" / "dropped.jsonl"
    dropped.parent.mkdir(parents=True, exist_ok=True)
    dropped.touch()
    found = commands(REPO / "dvc.yaml")
    results = []
    print(f"{'stage':<16} {'input MB':>9} {'wall s':>8} {'ratio':>6} {'peak MB':>8}")
    for stage in STAGES[STAGES.index(options.first) :]:
        inputs = stage_inputs(stage, work, raw)
        paired = paired_ratios(baseline(stage, inputs), run_stage(found[stage], work), 1)
        result = Result(stage, sum(p.stat().st_size for p in inputs), paired.median, paired.runs[0])
        results.append(result)
        print(
            f"{stage:<16} {result.input_bytes / 1e6:>9.0f} {result.run.seconds:>8.1f} "
            f"{result.ratio:>6.2f} {result.run.peak_pss / 2**20:>8.0f}",
            flush=True,
        )
    validate = next((r for r in results if r.stage == "validate"), None)
    if validate is not None:
        cores = os.cpu_count() or 1
        at_tokenizer = tokenizer_seconds(work / "data" / "export") / cores
        print(
            f"validate {validate.run.seconds:.1f} s against its token counting alone on "
            f"{cores} cores {at_tokenizer:.1f} s: {validate.run.seconds / at_tokenizer:.1f} times"
        )
    if not options.dir:
        shutil.rmtree(work)
    total = sum(r.run.seconds for r in results)
    ingest = sum(r.run.seconds for r in results if r.stage in INGEST) or float("nan")
    after = [r for r in results if r.stage not in INGEST and r.stage != "card"]
    print(
        f"pipeline {total:.1f} s, ingest {ingest:.1f} s; lowest ratio after ingest "
        f"{min((r.ratio for r in after), default=float('nan')):.2f} (target >= 0.15); highest peak "
        f"{max(r.run.peak_pss for r in results) / 2**20:.0f} MB (target < 500)"
    )
    print(f"pipeline_to_ingest={total / ingest:.1f} (target <= 8)")


if __name__ == "__main__":
    main()
