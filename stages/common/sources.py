"""Which sources feed the dataset, and where each one's input files live.

`sources` in params.yaml switches a whole source on or off: a source left out
ingests nothing and never looks at its input paths, so a user builds a dataset of
their own data alone without emptying the bundled sample folders. Input paths
may start with `~`: they are expanded here, where files are read, and written
nowhere in that form but the params file (DVC would otherwise record the
machine's home folder in dvc.lock).
"""

import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

import click

SOURCES = ("toollog", "sessions", "journals", "botlog", "discord")


class StageInputs(NamedTuple):
    source: str
    params: tuple[str, ...]  # `section.key` of each param naming an input file or folder


# The stages that read files named in params.yaml, each with the params that name them.
STAGE_INPUTS: dict[str, StageInputs] = {
    "ingest_toollog": StageInputs("toollog", ("ingest_toollog.input", "ingest_toollog.catalog")),
    "ingest_sessions": StageInputs("sessions", ("ingest_sessions.input",)),
    "ingest_journals": StageInputs("journals", ("ingest_journals.input",)),
    "ingest_botlog": StageInputs("botlog", ("ingest_botlog.input",)),
    "collect_discord": StageInputs("discord", ("collect_discord.exports",)),
    "inject_tools": StageInputs("discord", ("inject_tools.catalog",)),
}

log = logging.getLogger(__name__)


def local_path(path: str | Path) -> Path:
    """An input path as this machine reads it: `~` and `~user` expanded."""
    return Path(os.path.expanduser(path))


def check_sources(sources: Any, where: str = "params.yaml") -> tuple[str, ...]:
    """The `sources` list, refused with a message naming the valid ones when it is off."""
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list | tuple) or not all(isinstance(s, str) for s in sources):
        raise click.ClickException(
            f"{where}: `sources` must be a list of source names, e.g. [toollog, sessions]"
        )
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise click.ClickException(
            f"{where}: `sources` names {', '.join(unknown)}; known sources: {', '.join(SOURCES)}"
        )
    return tuple(s for s in SOURCES if s in sources)


def enabled(source: str, sources: Any) -> bool:
    """Whether `source` feeds the dataset; says so in the log when it does not."""
    if source in check_sources(sources):
        return True
    log.info("%s is not in `sources`: nothing is read, the outputs are empty", source)
    return False


def sources_option(fn: Any) -> Any:
    """--sources, defaulting from the top-level `sources` of params.yaml (see stage_params)."""
    return click.option(
        "--sources",
        multiple=True,
        default=SOURCES,
        show_default=True,
        help="The sources that feed the dataset; a stage whose source is not among them "
        "writes empty outputs without reading its input.",
    )(fn)


def source_input(source: str, sources: Any, path: str | None) -> Path | None:
    """Where an enabled source's input lies on this machine; None when `source` is off."""
    if not enabled(source, sources):
        return None
    if path is None:
        raise click.ClickException(
            f"{source} is in `sources` but has no input path: set it in params.yaml"
        )
    return local_path(path)
