"""What every stage command shares: logging, paths as provenance, the --strict flag."""

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES

F = Callable[..., Any]


def setup_logging(stage: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"{stage}: %(message)s", force=True)


def provenance_path(path: str | Path, root: str | Path | None = None) -> str:
    """A path as it goes into records: relative to the working directory, `/`-separated.

    DVC runs stages from the repository root, so relative paths are the same on
    every machine, where absolute ones would make outputs differ between clones
    (and name the user's home). An input outside the repository, such as
    `~/.claude/projects`, is written from its `root`'s name down:
    `projects/-home-ann-proj/1b2c.jsonl`.
    """
    path = os.path.abspath(path)
    inside = _relative(path, os.getcwd())
    if inside is not None:
        return inside
    if root is not None:
        root = os.path.abspath(root)
        if root == path:
            return os.path.basename(path)
        below = _relative(path, root)
        if below is not None:
            return f"{os.path.basename(root)}/{below}"
    return os.path.basename(path)


def _relative(path: str, folder: str) -> str | None:
    """`path` below `folder` as `/`-separated text; both absolute and normalized."""
    prefix = folder.rstrip(os.sep) + os.sep
    return path[len(prefix) :].replace(os.sep, "/") if path.startswith(prefix) else None


def input_files(
    root: str | Path,
    patterns: str | Sequence[str] = "*.jsonl",
    *,
    what_to_do: str = "point the input at a file, or at a folder that holds such files",
    allow_empty: bool = False,
) -> list[Path]:
    """The files of an input: a file itself, or a folder's files matching any of `patterns`
    (searched below it too), sorted by path.

    A folder where nothing matches is an error, not an empty dataset: an input
    pointed at the wrong place or at logs named otherwise would otherwise build
    nothing and say nothing. `what_to_do` ends that message. `allow_empty` is for
    a stage reading another stage's output folder, which may rightly be empty.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise click.ClickException(f"{root}: no such file or folder")
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    files = sorted({p for pattern in patterns for p in root.rglob(pattern) if p.is_file()})
    if not files and not allow_empty:
        raise click.ClickException(
            f"{root}: no file in this folder or below it matches "
            f"{' or '.join(patterns) or 'an empty list of patterns'}; {what_to_do}"
        )
    return files


def strict_option(fn: F) -> F:
    return click.option(
        "--strict",
        is_flag=True,
        help="Stop at the first bad line with its file and line, instead of rejecting it.",
    )(fn)


def jobs_option(fn: F) -> F:
    return click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=lambda: min(os.cpu_count() or 1, 8),
        show_default="number of cores",
        help="Worker processes; the output is the same for any value.",
    )(fn)


def max_line_bytes_option(fn: F) -> F:
    return click.option(
        "--max-line-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_LINE_BYTES,
        show_default=True,
        help="Longer lines are rejected without being read into memory.",
    )(fn)


def cache_options(default_dir: str) -> Callable[[F], F]:
    """--cache/--no-cache and --cache-dir, for stages with a per-file parse cache."""

    def decorate(fn: F) -> F:
        fn = click.option(
            "--cache-dir",
            default=default_dir,
            show_default=True,
            help="Where per-file parses are kept (not a DVC output: deleting it only costs time).",
        )(fn)
        return click.option(
            "--cache/--no-cache",
            default=True,
            show_default=True,
            help="Reuse the parse of files already seen with the same content and params.",
        )(fn)

    return decorate
