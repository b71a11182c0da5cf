"""Where a stage's input files are and how records name them.

A folder input is searched below for the files its source reads; every path passed over
(a loop of links, a name that does not match, no permission) is counted by kind, never
dropped in silence. Paths go into records relative to the repository, so outputs are the
same on every machine.
"""

import errno
import logging
import os
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import NamedTuple

from stages.common.user_error import UserError


def provenance_path(path: str | Path, root: str | Path | None = None) -> str:
    """A path as it goes into records: relative to the working directory, `/`-separated.

    DVC runs stages from the repository root, so relative paths are the same on
    every machine, where absolute ones would make outputs differ between clones
    (and name the user's home). An input outside the repository, such as
    `~/.claude/projects`, is written from its `root`'s name down:
    `projects/-home-ann-proj/1b2c.jsonl`.
    """
    path = os.path.abspath(path)
    inside = relative_below(path, os.getcwd())
    if inside is not None:
        return inside
    if root is not None:
        root = os.path.abspath(root)
        if root == path:
            return os.path.basename(path)
        below = relative_below(path, root)
        if below is not None:
            return f"{os.path.basename(root)}/{below}"
    return os.path.basename(path)


def relative_below(path: str, folder: str) -> str | None:
    """`path` below `folder` as `/`-separated text; both absolute and normalized."""
    prefix = folder.rstrip(os.sep) + os.sep
    return path[len(prefix) :].replace(os.sep, "/") if path.startswith(prefix) else None


SKIP_KINDS = ("symlink_loop", "not_matching", "unreadable")
SKIP_WORDS = {
    "symlink_loop": "links that loop or lead to a folder already read",
    "not_matching": "files whose names do not match {patterns}",
    "unreadable": "files or folders that cannot be read (no permission, or a broken link)",
}
EXAMPLES = 3  # paths named on stderr per kind of skipped path


class InputScan(NamedTuple):
    """An input's files to read, and every path passed over, by kind (`SKIP_KINDS`)."""

    files: list[Path]
    skipped: dict[str, list[Path]]
    patterns: tuple[str, ...]


def scan_input(root: str | Path, patterns: str | Sequence[str] = "*.jsonl") -> InputScan:
    """A file itself, or a folder's files whose names match any of `patterns`, searched below
    it too and sorted by path; with what was passed over and why.

    Linked folders are followed, after every real folder, so a folder reached both ways is
    read once, under its real path; a link that leads back to a folder already read (a loop,
    or a second way in) is passed over. The order of the search never shows in the result.
    """
    root = Path(root)
    patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    scan = InputScan([], {kind: [] for kind in SKIP_KINDS}, patterns)
    if root.is_file():
        scan.files.append(root)
        return scan
    if not root.is_dir():
        raise UserError(f"{root}: no such file or folder")
    seen: set[tuple[int, int]] = set()
    linked = [root]
    while linked:
        linked.sort(reverse=True)
        _scan_folder(linked.pop(), scan, seen, linked)
    scan.files.sort()
    for paths in scan.skipped.values():
        paths.sort()
    return scan


def _scan_folder(
    top: Path, scan: InputScan, seen: set[tuple[int, int]], linked: list[Path]
) -> None:
    """Every real folder under `top` into `scan`; linked folders are queued on `linked`."""
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                scan.skipped["symlink_loop"].append(folder)
                continue
            seen.add((info.st_dev, info.st_ino))
            entries = list(os.scandir(folder))
        except OSError as error:
            kind = "symlink_loop" if error.errno == errno.ELOOP else "unreadable"
            scan.skipped[kind].append(folder)
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:  # a link in a loop of links
                scan.skipped["symlink_loop"].append(path)
                continue
            if is_dir:
                (linked if entry.is_symlink() else folders).append(path)
            elif not any(fnmatchcase(entry.name, p) for p in scan.patterns):
                scan.skipped["not_matching"].append(path)
            elif entry.is_file() and os.access(path, os.R_OK):
                scan.files.append(path)
            else:
                scan.skipped["unreadable"].append(path)


def skipped_lines(scan: InputScan, kinds: Sequence[str] = SKIP_KINDS) -> list[str]:
    """One line for each kind of path the scan passed over, naming a few of them."""
    lines = []
    for kind in kinds:
        paths = scan.skipped[kind]
        if paths:
            what = SKIP_WORDS[kind].format(patterns=" or ".join(scan.patterns))
            named = ", ".join(str(p) for p in paths[:EXAMPLES])
            more = f" and {len(paths) - EXAMPLES} more" if len(paths) > EXAMPLES else ""
            lines.append(f"passed over {what}: {len(paths)} ({named}{more})")
    return lines


def input_files(
    root: str | Path,
    patterns: str | Sequence[str] = "*.jsonl",
    *,
    what_to_do: str = "point the input at a file, or at a folder that holds such files",
    allow_empty: bool = False,
) -> list[Path]:
    """The files of an input (see `scan_input`); links that loop and unreadable paths are
    logged, never passed over in silence.

    A folder where nothing matches is an error, not an empty dataset: an input
    pointed at the wrong place or at logs named otherwise would otherwise build
    nothing and say nothing. `what_to_do` ends that message. `allow_empty` is for
    a stage reading another stage's output folder, which may rightly be empty.
    """
    scan = scan_input(root, patterns)
    for line in skipped_lines(scan, ("symlink_loop", "unreadable")):
        logging.getLogger("logtune").warning(line)
    return found_files(scan, root, what_to_do=what_to_do, allow_empty=allow_empty)


def found_files(
    scan: InputScan,
    root: str | Path,
    *,
    what_to_do: str = "point the input at a file, or at a folder that holds such files",
    allow_empty: bool = False,
) -> list[Path]:
    """The scan's files; none is an error unless `allow_empty` (see `input_files`)."""
    if not scan.files and not allow_empty:
        raise UserError(
            f"{root}: no file in this folder or below it matches "
            f"{' or '.join(scan.patterns) or 'an empty list of patterns'}; {what_to_do}"
        )
    return scan.files
