"""ingest: one source's raw files → conversations, through its adapter.

Reads:  `ingest_<source>.input`: a file, or every file below a folder whose name matches
        `ingest_<source>.pattern`; what the adapter of stages/sources/<source>/ reads.
Writes: data/ingested/<source>/: `conversations/` (JSONL parts), `rejects.jsonl` (file,
        line, reason) and `stats.json`.
Params: sources, and the source's section `ingest_<source>`: input, pattern,
        max_line_bytes and the adapter's own options.

`python -m stages.ingest SOURCE --help` lists a source's options; every option defaults
from params.yaml. The stage is the same for every source (stages/common/ingestion.py);
dvc.yaml runs it once per source with `foreach`.
"""

import json
from pathlib import Path
from typing import Any

import click
import msgspec

from stages.common.cli import (
    StageCommand,
    cache_options,
    jobs_option,
    max_line_bytes_option,
    setup_logging,
    strict_option,
)
from stages.common.ingestion import Run, file_status, ingest
from stages.common.params import stage_params
from stages.common.scrub_option import scrub_option
from stages.common.source_folders import source_input, sources_option
from stages.common.struct_options import struct_options
from stages.common.user_error import UserError
from stages.sources import Adapter, adapter_names, load


class SourcesGroup(click.Group):
    """One command per source adapter, found in stages/sources/ when asked for."""

    format_help_text = StageCommand.format_help_text

    def list_commands(self, ctx: click.Context) -> list[str]:
        return adapter_names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in adapter_names():
            return None
        try:
            return source_command(load(name))
        except UserError as error:
            raise click.ClickException(str(error)) from None


def show_status(run: Run) -> None:
    status = file_status(run)
    for name in ("parsed", "new", "changed", "passed_over"):
        values = getattr(status, name)
        click.echo(f"{name} ({len(values)}): {', '.join(values) if values else '-'}")


def source_command(adapter: Adapter) -> click.Command:
    """The command of one source: the options every source shares, then the adapter's own."""
    name = adapter.name
    own = [field.name for field in msgspec.structs.fields(adapter.options)]

    def run_source(**values: Any) -> None:
        setup_logging(adapter.section)
        try:
            options = msgspec.convert({k: values.pop(k) for k in own}, adapter.options)
        except msgspec.ValidationError as error:
            raise click.ClickException(f"{adapter.section}: {error}") from None
        out = Path(values["out_dir"])
        root = source_input(name, values["sources"], values["input"])
        run = Run(
            adapter,
            root,
            tuple(values["pattern"]),
            options,
            values["max_line_bytes"],
            out,
            values["cache_dir"] if values["cache"] else None,
            values["strict"],
            values["jobs"],
            values["scrub"],
        )
        if values["status"]:
            if root is None or adapter.parse_file is None:
                raise click.ClickException(
                    f"--status compares the files of a source read file by file; {name} "
                    + ("is not in `sources`" if root is None else "is read line by line")
                )
            show_status(run)
            return
        stats = ingest(run)
        click.echo(json.dumps(stats.to_dict()), err=True)

    decorators = [
        stage_params(adapter.section, top_level=("sources",)),
        scrub_option,
        click.option(
            "--input",
            default=None,
            help="A file, or a folder searched (recursively) for files matching --pattern.",
        ),
        click.option(
            "--pattern",
            multiple=True,
            default=adapter.patterns,
            show_default=True,
            help="File name globs a folder input is searched for (repeatable).",
        ),
        *struct_options(adapter.options),
        max_line_bytes_option,
        cache_options(f"data/cache/ingest_{name}"),
        click.option(
            "--out-dir",
            default=f"data/ingested/{name}",
            show_default=True,
            help="Where the conversations/ parts, rejects.jsonl and stats.json go.",
        ),
        click.option(
            "--status",
            is_flag=True,
            help="Only list which files the last run parsed and which are new or changed since.",
        ),
        sources_option,
        strict_option,
        jobs_option,
    ]
    command = run_source
    for decorate in reversed(decorators):
        command = decorate(command)
    summary = (adapter.module.__doc__ or name).strip().splitlines()[0]
    return click.command(
        name,
        cls=StageCommand,
        help=f"{summary}\n\nExample: python -m stages.ingest {name} --input PATH",
    )(command)


def command(source: str) -> click.Command:
    """The command of one source, as `python -m stages.ingest SOURCE` runs it."""
    return source_command(load(source))


@click.group(cls=SourcesGroup)
def main() -> None:
    """Turn one source's raw files into conversations; each source's options: SOURCE --help.

    Example: python -m stages.ingest sessions --input ~/.claude/projects --split turn
    """


if __name__ == "__main__":
    main()
