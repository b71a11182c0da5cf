"""ingest_botlog: a game bot's daily conversation logs → conversations with tool calls.

Reads:  every conversations_YYYY-MM-DD.jsonl under `ingest_botlog.input`.
Writes: conversations/ (one JSONL part per day), a rejects JSONL (file, line, reason),
        stats (DVC metrics), and days.json (day → sha256 of the file parsed), which
        `--status` compares against.
Params: ingest_botlog.input, ingest_botlog.max_line_bytes.

Each day is a part of the output folder, kept with the hash of its file
(stages/common/parts.py): a new day of logs parses and writes only that day, and the
folder is the same as a cold run's.
"""

import json
from pathlib import Path
from typing import NamedTuple

import click
import msgspec

from stages.botlog.conversations import (
    DAY_FILE,
    PARSER_VERSION,
    REJECT_REASONS,
    day_status,
    parse_day,
)
from stages.common.atomic import write_bytes_atomic
from stages.common.cli import (
    cache_options,
    max_line_bytes_option,
    provenance_path,
    setup_logging,
    stage_command,
    strict_option,
)
from stages.common.filecache import FileCache, file_sha256
from stages.common.jsonl import iter_lines
from stages.common.params import stage_params
from stages.common.parts import Parsed, ingest_parts, part_name
from stages.common.sources import local_path, source_input, sources_option
from stages.common.stats import Stats, json_bytes

MANIFEST = "days.json"


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise click.ClickException(
            f"{folder}: no such folder (--input, ingest_botlog.input in params.yaml): "
            "give the folder of conversations_YYYY-MM-DD.jsonl files"
        )


def day_files(folder: Path) -> list[Path]:
    check_folder(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and DAY_FILE.match(p.name))


def read_manifest(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        return msgspec.json.decode(path.read_bytes(), type=dict[str, str])
    except msgspec.DecodeError as error:
        raise click.ClickException(f"{path}: not a day manifest: {error}") from error


def show_status(folder: Path, manifest: Path) -> None:
    check_folder(folder)
    status = day_status(folder, read_manifest(manifest))
    for name in ("parsed", "new", "changed", "ignored"):
        values = getattr(status, name)
        click.echo(f"{name} ({len(values)}): {', '.join(values) if values else '-'}")


class Day(NamedTuple):
    path: str
    file: str  # the path as written into records
    part: str  # the name of its part in the output folder
    max_line_bytes: int


_encoder = msgspec.json.Encoder()


def parse_part(item: tuple[Day, Path]) -> Parsed:
    """Parse one day's file into its part of the output folder."""
    day, part = item
    result = parse_day(
        iter_lines(day.path, max_line_bytes=day.max_line_bytes), day.file, day.max_line_bytes
    )
    lines = b"".join(_encoder.encode(c) + b"\n" for c in result.conversations)
    counts = {
        "read": result.read,
        "blank_lines": result.blank_lines,
        "conversations": len(result.conversations),
    }
    write_bytes_atomic(part, lines)
    return Parsed(len(result.conversations), len(lines), result.rejects, counts)


def cache_key_parts(day: Day) -> tuple[object, ...]:
    return ("botlog", PARSER_VERSION, day.file, day.max_line_bytes)


@stage_command
@stage_params("ingest_botlog", top_level=("sources",))
@click.option(
    "--input",
    default="data/samples/botlog",
    show_default=True,
    help="The folder holding conversations_YYYY-MM-DD.jsonl files.",
)
@max_line_bytes_option
@click.option(
    "--out-dir",
    default="data/ingested/botlog",
    show_default=True,
    help="Where the conversations/ parts, rejects.jsonl, stats.json and days.json go.",
)
@click.option(
    "--status",
    is_flag=True,
    help="Only list which days the last run parsed and which are new or changed since.",
)
@cache_options("data/cache/ingest_botlog")
@sources_option
@strict_option
def main(
    input: str,
    max_line_bytes: int,
    out_dir: str,
    status: bool,
    cache: bool,
    cache_dir: str,
    sources: tuple[str, ...],
    strict: bool,
) -> None:
    """Turn a bot's daily conversation logs into conversations: user → tool calls → reply.

    Example: python -m stages.ingest_botlog --input logs/bot --status
    """
    folder, out = local_path(input), Path(out_dir)
    if status:
        show_status(folder, out / MANIFEST)
        return
    setup_logging("ingest_botlog")
    stats = Stats(
        [
            "files",
            "read",
            "blank_lines",
            "conversations",
            *(f"rejected.{reason}" for reason in REJECT_REASONS),
        ]
    )
    files = day_files(folder) if source_input("botlog", sources, input) else []
    stats.add("files", len(files))
    days = [
        Day(str(path), provenance_path(path, folder), part_name(path.name), max_line_bytes)
        for path in files
    ]
    ingest_parts(
        days,
        parse_part,
        cache_key_parts,
        folder=out / "conversations",
        rejects_path=out / "rejects.jsonl",
        stats=stats,
        cache_dir=cache_dir if cache else None,
        strict=strict,
    )
    # With the cache, its index already holds each file's sha256: no file is read again.
    digest = FileCache(cache_dir).digest if cache else file_sha256
    manifest = {DAY_FILE.match(p.name).group(1): digest(p) for p in files}
    write_bytes_atomic(out / MANIFEST, json_bytes(manifest))
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
