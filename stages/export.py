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

import functools
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import click
import msgspec

from schemas.base import Record
from schemas.conversation import Conversation, Message, Source
from schemas.export_lines import ExportReject
from stages.common.atomic import atomic_folder, write_bytes_atomic
from stages.common.chunk_files import ChunkFiles
from stages.common.cli import jobs_option, setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, records_size
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.record_chunks import Chunk, iter_records, line_chunks
from stages.common.source_folders import INGESTED
from stages.common.source_folders import ingested as ingested_folders
from stages.common.stats import json_bytes, read_stats
from stages.formats.exporters import FORMATS, Unexportable
from stages.formats.format_helpers import writing_tools
from stages.formats.harmony import encoding
from stages.formats.trainer_configs import axolotl_datasets, llamafactory_dataset_info

SPLITS = ("train", "validation")
CHUNK_RECORDS = 500  # records per worker task (fewer when they are long: record_chunks)
# Input bytes per task: a worker holds a chunk in nine formats, several times its size, until
# it writes them. A worker's memory keeps the high-water mark of its largest chunk: at 1 MB
# the stage's tree peaked 185 MB higher (tests/bench/README.md#pipeline).
CHUNK_BYTES = 1 << 18

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
    with writing_tools(conversation.tools):
        for name in formats:
            try:
                [lines[name]] = FORMATS[name](conversation)
            except Unexportable as refusal:
                # Its traceback holds this frame, which holds `refused`: a cycle a record,
                # freed only by the collector (which a stage runs rarely: common/cli.py).
                refused[name] = refusal.with_traceback(None)
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


class _SplicedMetadata(Record):
    """`RecordMetadata`'s fields in its order, with labels and meta encoded by a worker."""

    id: str
    split: str
    index: int
    source: Source
    labels: msgspec.Raw
    meta: msgspec.Raw
    lines: dict[str, int] = msgspec.field(default_factory=dict)


class ExportedRecord(NamedTuple):
    id: str
    source: Source
    labels: bytes
    meta: bytes
    placed: list[str]  # the formats that carry it, in format order
    refused: list[tuple[str, str, str]]  # (format, reason, detail)


def export_chunk(
    numbered: tuple[int, Chunk],
    files: ChunkFiles,
    formats: list[str],
    system_prompt: str | None,
) -> list[ExportedRecord]:
    """A worker's share: a chunk of curated records in every format, written into the
    format files in chunk order; what the metadata and rejects need goes back."""
    number, chunk = numbered
    try:
        encode = msgspec.json.Encoder().encode
        out: dict[str, bytearray] = {name: bytearray() for name in formats}
        records = []
        for record in iter_records(chunk, Conversation):
            conversation = with_system_prompt(record, system_prompt)
            lines, refused = export_record(conversation, formats)
            for name, line in lines.items():
                out[name] += encode(line)
                out[name] += b"\n"
            records.append(
                ExportedRecord(
                    conversation.id,
                    conversation.source,
                    encode(conversation.labels),
                    encode(conversation.meta),
                    list(lines),
                    [(name, r.reason, r.detail) for name, r in refused.items()],
                )
            )
    except BaseException:
        files.abandon(number)
        raise
    files.write(number, [out[name] for name in formats])
    return records


def export_split(
    chunks: Iterator[list[ExportedRecord]],
    split: str,
    metadata: JsonlWriter,
    rejects: JsonlWriter,
    counts: FormatCounts,
) -> int:
    """Metadata and rejects of one split, whose lines the workers wrote; returns how many
    curated records it held."""
    index = 0
    for records in chunks:
        for record in records:
            placed = {}
            for name in record.placed:
                placed[name] = counts.lines[name][split]
                counts.lines[name][split] += 1
            for name, reason, detail in record.refused:
                counts.refused[name][reason] += 1
                rejects.write(
                    ExportReject(
                        id=record.id,
                        split=split,
                        index=index,
                        format=name,
                        reason=reason,
                        message=detail,
                    )
                )
            metadata.write(
                _SplicedMetadata(
                    id=record.id,
                    split=split,
                    index=index,
                    source=record.source,
                    labels=msgspec.Raw(record.labels),
                    meta=msgspec.Raw(record.meta),
                    lines=placed,
                )
            )
            index += 1
    return index


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
@jobs_option
def main(
    curated_dir: str,
    ingested: str,
    curate_stats: str,
    formats: tuple[str, ...],
    system_prompt: str | None,
    dataset_name: str,
    out_dir: str,
    jobs: int,
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
        if "harmony" in chosen:
            encoding()  # loaded before the workers fork: they share it instead of each loading it
        for split, path in zip(SPLITS, inputs, strict=True):
            chunks = line_chunks(
                [path], max_records=CHUNK_RECORDS, max_bytes=CHUNK_BYTES, progress=progress
            )
            paths = [formats_dir / name / f"{split}.jsonl" for name in chosen]
            with ChunkFiles(paths, in_flight=2 * jobs) as files:
                work = functools.partial(
                    export_chunk, files=files, formats=chosen, system_prompt=system_prompt
                )
                exported[split] = export_split(
                    ordered_map(work, enumerate(chunks), jobs=jobs, window=files.in_flight),
                    split,
                    metadata,
                    rejects,
                    counts,
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
