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

from stages.common.user_error import UserError
from stages.sources import STAGED_SOURCES, adapter_names, load, source_names

SOURCES = tuple(source_names())


class StageInputs(NamedTuple):
    source: str
    params: tuple[str, ...]  # `section.key` of each param naming an input file or folder


def stage_inputs() -> dict[str, StageInputs]:
    """The stages that read files named in params.yaml, each with the params that name them:
    every adapter's `ingest_<source>` (its input and INPUT_OPTIONS), and the stages of the
    sources that have their own."""
    found = {}
    for name in adapter_names():
        adapter = load(name)
        keys = ("input", *adapter.input_options)
        found[adapter.section] = StageInputs(name, tuple(f"{adapter.section}.{k}" for k in keys))
    for source, stages in STAGED_SOURCES.items():
        for stage, keys in stages.items():
            if keys:  # a stage that reads no file has nothing to fingerprint
                found[stage] = StageInputs(source, tuple(f"{stage}.{k}" for k in keys))
    return found


log = logging.getLogger(__name__)


def local_path(path: str | Path) -> Path:
    """An input path as this machine reads it: `~` and `~user` expanded."""
    return Path(os.path.expanduser(path))


def check_sources(sources: Any, where: str = "params.yaml") -> tuple[str, ...]:
    """The `sources` list, refused with a message naming the valid ones when it is off."""
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list | tuple) or not all(isinstance(s, str) for s in sources):
        raise UserError(
            f"{where}: `sources` must be a list of source names, e.g. [toollog, sessions]"
        )
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise UserError(
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
        raise UserError(f"{source} is in `sources` but has no input path: set it in params.yaml")
    return local_path(path)


INGESTED = "data/ingested"


class UnknownSourceFolder(UserError):
    """No folder of ingested outputs, or a folder in it that no source writes."""


def ingested(folder: str | Path = INGESTED, *, required: bool = True) -> dict[str, Path]:
    """Each source's output folder under `folder`, by source name in sorted order.

    Downstream stages find the sources here instead of naming them: a new source is read
    as soon as it writes its folder. A folder no source writes (one left by a source
    since removed) is an error, not a silent extra input. A missing folder is an error
    too, unless not `required`: then it is logged and there are no sources.
    """
    root = Path(folder)
    if not root.is_dir() and not required:
        log.warning("%s: no such folder: no source's stats are summed", root)
        return {}
    if not root.is_dir():
        raise UnknownSourceFolder(f"{root}: no such folder: run the ingest stages first")
    found = sorted(path for path in root.iterdir() if path.is_dir())
    known = set(source_names())
    strays = [path.name for path in found if path.name not in known]
    if strays:
        raise UnknownSourceFolder(
            f"{root}: {', '.join(strays)} is the output of no source "
            f"(known: {', '.join(sorted(known))}); remove it"
        )
    return {path.name: path for path in found}
