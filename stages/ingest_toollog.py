"""ingest_toollog: tool-call logs → conversations, one per executed call.

Reads:  every *.jsonl under `ingest_toollog.input` (one JSON object a line, see README).
Writes: conversations JSONL, a rejects JSONL (file, line, reason), stats (DVC metrics).
Params: ingest_toollog.input, ingest_toollog.catalog, ingest_toollog.max_line_bytes.

Files are cut into spans of whole lines and parsed on all cores. Each worker
reads its own span and writes its conversations to a part file; the main
process only finds the spans and appends the parts in input order (a copy in
the kernel), so the output is the same for any number of workers and no data
crosses a pipe.
"""

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import click

from schemas.reject import Reject
from schemas.toollog import ToolLogLine
from stages.common.catalog import load_catalog
from stages.common.cli import (
    input_files,
    jobs_option,
    max_line_bytes_option,
    provenance_path,
    setup_logging,
    strict_option,
)
from stages.common.decode import DECODE_REASONS, LineDecoder, LineError
from stages.common.jsonl import (
    JsonlWriter,
    Oversize,
    Span,
    iter_spans,
    open_lines,
    read_span_lines,
)
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.rejects import RejectsWriter
from stages.common.stats import Stats
from stages.toollog import ToolsResolver, to_conversation

REJECT_REASONS = (*DECODE_REASONS, "invalid_arguments", "invalid_model_response")


class Task(NamedTuple):
    path: str
    item: Span | Oversize
    part: str  # where the worker writes the span's conversations


class SpanResult(NamedTuple):
    part: str
    count: int
    rejects: list[Reject]
    counts: dict[str, int]


def parse_span(task: Task, *, file: str, tools: ToolsResolver, max_line_bytes: int) -> SpanResult:
    """Parse a span's lines into its part file of conversations; bad lines become rejects."""
    decode = LineDecoder(ToolLogLine, max_line_bytes).decode
    out: list[bytes] = []
    rejects: list[Reject] = []
    read = blank = dropped = reconstructed = 0
    with open_lines(task.path) as handle:
        for line in read_span_lines(handle, task.item, max_line_bytes):
            read += 1
            if line.blank:
                blank += 1
                continue
            try:
                converted = to_conversation(decode(line), file, line.number, tools)
            except LineError as error:
                rejects.append(error.reject(file, line))
                continue
            dropped += converted.unexecuted_calls
            reconstructed += converted.reconstructed
            out.append(converted.line)
    with open(task.part, "wb") as part:
        part.writelines(out)
    counts = {
        "read": read,
        "blank_lines": blank,
        "unexecuted_calls_dropped": dropped,
        "reconstructed": reconstructed,
    }
    return SpanResult(task.part, read - blank - len(rejects), rejects, counts)


@click.command()
@stage_params("ingest_toollog")
@click.option(
    "--input",
    default="data/samples/toollog",
    show_default=True,
    help="A tool-call log file, or a folder searched for *.jsonl.",
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
    help="Where conversations.jsonl, rejects.jsonl and stats.json go.",
)
@strict_option
@jobs_option
def main(
    input: str, catalog: str | None, max_line_bytes: int, out_dir: str, strict: bool, jobs: int
) -> None:
    """Turn tool-call logs into conversations: user → tool call → tool result → reply.

    Example: python -m stages.ingest_toollog --input logs/tools --jobs 2
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
            *(f"rejected.{r}" for r in REJECT_REASONS),
        ]
    )
    tools = ToolsResolver(
        {tool.function.name: tool for tool in load_catalog(catalog)} if catalog else {}
    )
    files = input_files(input)
    stats.add("files", len(files))
    out.mkdir(parents=True, exist_ok=True)
    with (
        JsonlWriter(out / "conversations.jsonl") as writer,
        RejectsWriter(out / "rejects.jsonl", stats, strict=strict) as rejects,
        tempfile.TemporaryDirectory(dir=out, prefix=".parts-") as parts,
    ):
        for path in files:
            parse = functools.partial(
                parse_span,
                file=provenance_path(path, input),
                tools=tools,
                max_line_bytes=max_line_bytes,
            )
            spans = iter_spans(path, max_line_bytes=max_line_bytes)
            tasks = (
                Task(str(path), item, os.path.join(parts, str(n))) for n, item in enumerate(spans)
            )
            for result in ordered_map(parse, tasks, jobs=jobs):
                writer.append_file(result.part, result.count)
                os.unlink(result.part)
                stats.merge(result.counts)
                for reject in result.rejects:
                    rejects.add(reject)
        stats.add("conversations", writer.count)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
