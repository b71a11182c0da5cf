"""export: the curated set in every chosen training format, with metadata, rejects and configs.

Reads:  data/curated/{train,validation}.jsonl and the stats of the stages before.
Writes: formats/<format>/{train,validation}.jsonl, records.metadata.jsonl, rejects.jsonl,
        axolotl.yaml, dataset_info.json, stats.json.
Params: export.formats, export.system_prompt, export.dataset_name.

Every output is built beside the previous one and all of them replace it together
when the export succeeds (stages/common/atomic.py): a failed or killed export
leaves the previous dataset whole, its metadata pointing at its own lines.

A format may refuse a record it cannot carry faithfully (`Unexportable`); the
record then has no line in that format, so the format files of one split can have
different lengths. records.metadata.jsonl stays one line per curated record, in
curated order, and says where each format put it: `lines[format]` is the record's
line in `formats/<format>/<split>.jsonl`, absent when the format refused it (the
refusal, with its reason, is in rejects.jsonl and counted per format in stats.json).
"""

import contextlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import click
import msgspec

from schemas.conversation import Conversation, Message
from schemas.export_lines import ExportReject, RecordMetadata
from stages.common.atomic import atomic_folder, write_bytes_atomic
from stages.common.cli import setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, read_records, records_size
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.source_folders import INGESTED
from stages.common.source_folders import ingested as ingested_folders
from stages.common.stats import json_bytes, read_stats
from stages.formats import FORMATS, Unexportable
from stages.formats.trainer_configs import axolotl_datasets, llamafactory_dataset_info

SPLITS = ("train", "validation")

log = logging.getLogger("logtune")


def with_system_prompt(conversation: Conversation, prompt: str | None) -> Conversation:
    if not prompt or (conversation.messages and conversation.messages[0].role == "system"):
        return conversation
    messages = [Message(role="system", content=prompt), *conversation.messages]
    return msgspec.structs.replace(conversation, messages=messages)


def export_record(
    conversation: Conversation, formats: list[str]
) -> tuple[dict[str, msgspec.Struct], dict[str, Unexportable]]:
    """The line of each format, and the refusal of each format that cannot carry it."""
    lines: dict[str, msgspec.Struct] = {}
    refused: dict[str, Unexportable] = {}
    for name in formats:
        try:
            [lines[name]] = FORMATS[name](conversation)
        except Unexportable as refusal:
            refused[name] = refusal
    return lines, refused


class FormatCounts:
    """Lines written and records refused, per format, for stats.json."""

    def __init__(self, formats: list[str]) -> None:
        self.lines = {name: dict.fromkeys(SPLITS, 0) for name in formats}
        self.refused: dict[str, Counter[str]] = {name: Counter() for name in formats}

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {
                "lines": self.lines[name],
                "refused": dict(sorted(self.refused[name].items())),
                "refused_total": sum(self.refused[name].values()),
            }
            for name in self.lines
        }


def export_split(
    records: Any,
    split: str,
    formats: list[str],
    system_prompt: str | None,
    formats_dir: Path,
    metadata: JsonlWriter,
    rejects: JsonlWriter,
    counts: FormatCounts,
) -> int:
    """Write one split in every format; returns how many curated records it held."""
    with contextlib.ExitStack() as stack:
        writers = {
            name: stack.enter_context(JsonlWriter(formats_dir / name / f"{split}.jsonl"))
            for name in formats
        }
        index = -1
        for index, record in enumerate(records):
            conversation = with_system_prompt(record, system_prompt)
            lines, refused = export_record(conversation, formats)
            placed = {}
            for name, line in lines.items():
                placed[name] = writers[name].count
                writers[name].write(line)
                counts.lines[name][split] += 1
            for name, refusal in refused.items():
                counts.refused[name][refusal.reason] += 1
                rejects.write(
                    ExportReject(
                        id=conversation.id,
                        split=split,
                        index=index,
                        format=name,
                        reason=refusal.reason,
                        message=refusal.detail,
                    )
                )
            metadata.write(
                RecordMetadata(
                    id=conversation.id,
                    split=split,
                    index=index,
                    source=conversation.source,
                    labels=conversation.labels,
                    meta=conversation.meta,
                    lines=placed,
                )
            )
    return index + 1


def write_trainer_configs(out: Path, counts: FormatCounts, dataset_name: str) -> None:
    """axolotl.yaml and dataset_info.json over the non-empty files of their formats.

    Axolotl paths are as given to --out-dir (run Axolotl from the same directory);
    LLaMA-Factory's `file_name` is relative to the folder holding dataset_info.json,
    which is its `dataset_dir`.
    """

    def file(name: str, split: str) -> str | None:
        written = counts.lines.get(name, {}).get(split, 0)
        return f"formats/{name}/{split}.jsonl" if written else None

    def path(name: str, split: str) -> str | None:
        relative = file(name, split)
        return (out / relative).as_posix() if relative else None

    axolotl = axolotl_datasets(
        path("axolotl_chat", "train"),
        path("alpaca", "train"),
        eval_chat_path=path("axolotl_chat", "validation"),
        eval_alpaca_path=path("alpaca", "validation"),
    )
    write_bytes_atomic(out / "axolotl.yaml", axolotl.encode())
    info = llamafactory_dataset_info(
        file("sharegpt", "train"),
        file("alpaca", "train"),
        dataset_name,
        eval_sharegpt_file=file("sharegpt", "validation"),
        eval_alpaca_file=file("alpaca", "validation"),
    )
    write_bytes_atomic(out / "dataset_info.json", json_bytes(info))


def summarize(
    source_stats: dict[str, dict[str, Any]],
    curate: dict[str, Any],
    exported: dict[str, int],
    formats: dict[str, Any],
) -> dict[str, Any]:
    """One metrics file for the whole run: read, rejected, de-duplicated, filtered, exported."""
    rejected: dict[str, int] = {}
    for stats in source_stats.values():
        for reason, n in stats.get("rejected", {}).items():
            rejected[reason] = rejected.get(reason, 0) + n
    dropped = dict(curate.get("dropped", {}))
    return {
        "sources": {
            name: {
                "read": stats.get("read", 0),
                "conversations": stats.get("conversations", 0),
                "rejected": sum(stats.get("rejected", {}).values()),
            }
            for name, stats in sorted(source_stats.items())
        },
        "read": sum(stats.get("read", 0) for stats in source_stats.values()),
        "rejected": rejected,
        "rejected_total": sum(rejected.values()),
        "deduplicated": dropped.pop("duplicate", 0),
        "filtered": dropped,
        "exported": {**exported, "total": sum(exported.values())},
        "formats": formats,
    }


@stage_command
@stage_params("export")
@click.option("--curated-dir", default="data/curated", show_default=True)
@click.option(
    "--ingested",
    default=INGESTED,
    show_default=True,
    help="The folder of every source's output: each <source>/stats.json is summed into "
    "the run's stats.",
)
@click.option("--curate-stats", default="data/curated/stats.json", show_default=True)
@click.option(
    "--formats",
    multiple=True,
    default=sorted(FORMATS),
    show_default=True,
    type=click.Choice(sorted(FORMATS)),
    help="Formats to write (repeatable).",
)
@click.option(
    "--system-prompt",
    default=None,
    help="A system message put first in every example that has none.",
)
@click.option(
    "--dataset-name",
    default="logtune",
    show_default=True,
    help="Prefix of the dataset names in dataset_info.json (LLaMA-Factory).",
)
@click.option("--out-dir", default="data/export", show_default=True)
def main(
    curated_dir: str,
    ingested: str,
    curate_stats: str,
    formats: tuple[str, ...],
    system_prompt: str | None,
    dataset_name: str,
    out_dir: str,
) -> None:
    """Write the curated conversations in each training format, plus metadata, rejects,
    trainer configs and stats.

    Example: python -m stages.export --formats openai --formats sharegpt --system-prompt "Be brief."
    """
    setup_logging("export")
    # Read first: a wrong path costs a second here, not the whole export.
    folders = ingested_folders(ingested, required=False)
    sources = {name: read_stats(folder / "stats.json") for name, folder in folders.items()}
    curated = read_stats(curate_stats)
    chosen = sorted(set(formats))
    out = Path(out_dir)
    counts = FormatCounts(chosen)
    exported: dict[str, int] = {}
    inputs = [Path(curated_dir) / f"{split}.jsonl" for split in SPLITS]
    with (
        Progress("read", total=records_size(inputs), unit="B") as progress,
        atomic_folder(out / "formats") as formats_dir,
        JsonlWriter(out / "records.metadata.jsonl") as metadata,
        JsonlWriter(out / "rejects.jsonl") as rejects,
    ):
        for split, path in zip(SPLITS, inputs, strict=True):
            records = read_records(path, Conversation, progress)
            exported[split] = export_split(
                records, split, chosen, system_prompt, formats_dir, metadata, rejects, counts
            )
    for name, refused in counts.refused.items():
        if refused:
            log.info("%s refused %s (see %s)", name, dict(sorted(refused.items())), rejects.path)
    write_trainer_configs(out, counts, dataset_name)
    stats = summarize(sources, curated, exported, counts.to_dict())
    write_bytes_atomic(out / "stats.json", json_bytes(stats))
    click.echo(json.dumps(stats["exported"]), err=True)


if __name__ == "__main__":
    main()
