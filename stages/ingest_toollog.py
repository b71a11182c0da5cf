"""ingest_toollog: tool-call logs → conversations, one per executed call.

Reads:  `ingest_toollog.input`: a log file, or every file below a folder matching
        `ingest_toollog.pattern` (`tool_calls.log`, `*.jsonl`: one JSON object a line).
Writes: a folder `conversations/` of JSONL parts, a rejects JSONL (file, line,
        reason), stats (DVC metrics).
Params: ingest_toollog.input, pattern, catalog, max_line_bytes.

Files are cut into spans of whole lines (SPAN_BYTES each) and parsed on all
cores. Each worker reads its own span and writes its conversations as one part,
numbered in input order, into a folder that appears whole when the run ends:
the main process only finds the spans, so the output is the same for any number
of workers, and no conversation crosses a pipe or is copied twice.
"""

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import click

from schemas.reject import Reject
from schemas.toollog import ToolLogLine
from stages.common.atomic import atomic_folder
from stages.common.catalog import load_catalog
from stages.common.cli import (
    input_files,
    jobs_option,
    max_line_bytes_option,
    provenance_path,
    setup_logging,
    stage_command,
    strict_option,
)
from stages.common.decode import DECODE_REASONS, LineDecoder, LineError
from stages.common.jsonl import (
    IO_BUFFER,
    PART_SUFFIX,
    Oversize,
    Span,
    iter_spans,
    open_lines,
    read_span_lines,
)
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.rejects import RejectsWriter
from stages.common.sources import source_input, sources_option
from stages.common.stats import Stats
from stages.toollog import ToolsResolver, to_conversation

REJECT_REASONS = (*DECODE_REASONS, "invalid_arguments")
DEFAULT_PATTERNS = ("*.jsonl", "*.log")  # the Go CLI assistant writes tool_calls.log
SPAN_BYTES = 8 << 20  # a worker's unit of work: big enough that handing it out costs nothing


class Task(NamedTuple):
    path: str
    file: str  # the path as written into records
    item: Span | Oversize
    part: Path  # where the worker writes the span's conversations, if it has any


class SpanResult(NamedTuple):
    count: int
    rejects: list[Reject]
    counts: dict[str, int]
    size: int  # bytes of input the span covered, for the progress bar


def parse_span(task: Task, *, tools: ToolsResolver, max_line_bytes: int) -> SpanResult:
    """Parse a span's lines into its part file of conversations; bad lines become rejects."""
    file = task.file
    decode = LineDecoder(ToolLogLine, max_line_bytes).decode
    rejects: list[Reject] = []
    read = blank = dropped = reconstructed = unreadable = 0
    with open_lines(task.path) as handle, open(task.part, "wb", buffering=IO_BUFFER) as part:
        write = part.write
        for line in read_span_lines(handle, task.item, max_line_bytes):
            read += 1
            try:
                converted = to_conversation(decode(line), file, line.number, tools)
            except LineError as error:  # a blank line fails to decode too: the rare path tells
                if line.blank:
                    blank += 1
                else:
                    rejects.append(error.reject(file, line))
                continue
            dropped += converted.unexecuted_calls
            reconstructed += converted.reconstructed
            unreadable += converted.unreadable_response
            write(converted.line)
    written = read - blank - len(rejects)
    if not written:
        os.unlink(task.part)  # a span of nothing but bad or blank lines leaves no part
    counts = {
        "read": read,
        "blank_lines": blank,
        "unexecuted_calls_dropped": dropped,
        "reconstructed": reconstructed,
        "unreadable_model_responses": unreadable,
    }
    item = task.item
    size = item.size if isinstance(item, Oversize) else item.end - item.start
    return SpanResult(written, rejects, counts, size)


def file_spans(
    files: list[Path], input: Path | None, max_line_bytes: int
) -> Iterator[tuple[Path, str, Span | Oversize]]:
    """Every span of every file in input order, with the file's path as records give it."""
    for path in files:
        file = provenance_path(path, input)
        for item in iter_spans(path, max_line_bytes=max_line_bytes, span_bytes=SPAN_BYTES):
            yield path, file, item


@stage_command
@stage_params("ingest_toollog", top_level=("sources",))
@click.option(
    "--input",
    default="data/samples/toollog",
    show_default=True,
    help="A tool-call log file, or a folder searched (recursively) per --pattern.",
)
@click.option(
    "--pattern",
    multiple=True,
    default=DEFAULT_PATTERNS,
    show_default=True,
    help="File name globs a folder input is searched for (repeatable).",
)
@click.option(
    "--catalog",
    default=None,
    help="JSON list of tool definitions; tools missing from it get parameters "
    "inferred from their call.",
)
@max_line_bytes_option
@click.option(
    "--out-dir",
    default="data/ingested/toollog",
    show_default=True,
    help="Where the conversations/ parts, rejects.jsonl and stats.json go.",
)
@sources_option
@strict_option
@jobs_option
def main(
    input: str,
    pattern: tuple[str, ...],
    catalog: str | None,
    max_line_bytes: int,
    out_dir: str,
    sources: tuple[str, ...],
    strict: bool,
    jobs: int,
) -> None:
    """Turn tool-call logs into conversations: user → tool call → tool result → reply.

    Example: python -m stages.ingest_toollog --input logs --pattern '*.log'
    """
    setup_logging("ingest_toollog")
    out = Path(out_dir)
    stats = Stats(
        [
            "read",
            "blank_lines",
            "conversations",
            "reconstructed",
            "unexecuted_calls_dropped",
            "unreadable_model_responses",
            *(f"rejected.{r}" for r in REJECT_REASONS),
        ]
    )
    root = source_input("toollog", sources, input)
    tools = ToolsResolver(
        {tool.function.name: tool for tool in load_catalog(catalog)} if catalog and root else {}
    )
    files = (
        input_files(
            root,
            pattern,
            what_to_do="point --input at your logs, or give --pattern (ingest_toollog.pattern) "
            "globs that match their names",
        )
        if root
        else []
    )
    stats.add("files", len(files))
    spans = file_spans(files, root, max_line_bytes)
    parse = functools.partial(parse_span, tools=tools, max_line_bytes=max_line_bytes)
    with (
        Progress("parse", total=sum(path.stat().st_size for path in files), unit="B") as progress,
        atomic_folder(out / "conversations") as parts,
        RejectsWriter(out / "rejects.jsonl", stats, strict=strict) as rejects,
    ):
        tasks = (
            Task(str(path), file, item, parts / f"{n:09d}{PART_SUFFIX}")
            for n, (path, file, item) in enumerate(spans)
        )
        for result in ordered_map(parse, tasks, jobs=jobs):
            stats.add("conversations", result.count)
            stats.merge(result.counts)
            progress.update(result.size)
            for reject in result.rejects:
                rejects.add(reject)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
