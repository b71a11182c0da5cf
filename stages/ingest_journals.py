"""ingest_journals: markdown journals → reasoning_chain, code_correction, negative and
direct_execution conversations.

Reads:  every *.md under `ingest_journals.input` (see docs for the shapes recognised).
Writes: conversations JSONL, a rejects JSONL (file, line, reason), stats (DVC metrics).
Params: ingest_journals.input.

A journal is read whole: it is a hand-written file, kilobytes, not a log stream.
"""

import json
from pathlib import Path

import click

from stages.common.cli import (
    input_files,
    provenance_path,
    setup_logging,
    stage_command,
    strict_option,
)
from stages.common.jsonl import JsonlWriter
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.rejects import RejectsWriter
from stages.common.sources import source_input, sources_option
from stages.common.stats import Stats
from stages.journals.markdown import EXAMPLE_TYPES, REJECT_REASONS, parse_journal


@stage_command
@stage_params("ingest_journals", top_level=("sources",))
@click.option(
    "--input",
    default="data/samples/journals",
    show_default=True,
    help="A markdown journal, or a folder searched for *.md.",
)
@click.option(
    "--out-dir",
    default="data/ingested/journals",
    show_default=True,
    help="Where conversations.jsonl, rejects.jsonl and stats.json go.",
)
@sources_option
@strict_option
def main(input: str, out_dir: str, sources: tuple[str, ...], strict: bool) -> None:
    """Turn markdown journals of lessons learned into training conversations.

    Example: python -m stages.ingest_journals --input notes/journal
    """
    setup_logging("ingest_journals")
    out = Path(out_dir)
    stats = Stats(
        [
            "files",
            "read",
            "conversations",
            *(f"examples.{kind}" for kind in EXAMPLE_TYPES),
            *(f"rejected.{reason}" for reason in REJECT_REASONS),
        ]
    )
    root = source_input("journals", sources, input)
    files = input_files(root, "*.md") if root else []
    stats.add("files", len(files))
    with (
        Progress("parse", total=len(files), unit="journals") as progress,
        JsonlWriter(out / "conversations.jsonl") as writer,
        RejectsWriter(out / "rejects.jsonl", stats, strict=strict) as rejects,
    ):
        for path in files:
            data = path.read_bytes()  # a journal is parsed as one markdown document
            stats.add("read", len(data.splitlines()))
            result = parse_journal(data, provenance_path(path, root))
            for reject in result.rejects:
                rejects.add(reject)
            for conversation in result.conversations:
                stats.add(f"examples.{conversation.labels.example_type}")
                writer.write(conversation)
            progress.update()
        stats.add("conversations", writer.count)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
