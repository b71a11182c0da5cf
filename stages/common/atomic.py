"""Atomic writes: a killed stage leaves its previous outputs or its new ones, never half of one
and never a mix of both.

One file or folder is written beside its place and renamed in (`atomic_write`,
`atomic_folder`). A stage's outputs are several (a folder of parts, rejects, stats, every
export format and its metadata), and renaming them one after the other as each is done
would leave new conversations beside old stats when a run dies between two renames. So a
stage command runs inside an `output_transaction` on its `--out-dir`
(stages/common/cli.py): every rename into that folder is held back, the new files waiting
beside their places under hidden temp names, until the stage succeeds. Then the list of
renames is written as a journal beside the folder (that one rename is the commit point),
carried out, and the journal removed. The next run of the stage first replays a journal
left by a run killed while renaming, then sweeps the temp files of dead runs; a run that
died before its commit point left its previous outputs untouched.
"""

import contextlib
import contextvars
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click
import msgspec

from stages.common.user_error import UserError

# What a dead run may leave in an output folder: hidden temp files and folders (`.NAME.*.tmp`),
# and the folders an old output is moved aside into (`.NAME.` 8 characters `.old`).
LEFTOVER = re.compile(r"\..+\.tmp|\..+\.[A-Za-z0-9_]{8}\.old")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Write to a temp file beside `path`, then rename it into place on success.

    The temp file lives in the same directory so the rename never crosses a
    filesystem; on any exception it is removed and `path` is left untouched.
    The file is not fsynced: the rename is what protects against an interrupted
    or killed stage, and after an OS crash DVC finds the output's hash changed and
    reruns the stage. Syncing would cost a disk flush of every output, often
    longer than computing it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())
        place(Path(tmp), path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_write(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Fill a temp folder beside `path`, then swap it into place on success.

    For outputs written as a folder of parts by several workers at once: each
    writes its parts into the temp folder, and the folder appears whole. The old
    folder (or file) is moved aside into a hidden `.old` folder just before the
    swap and removed after it; on an exception the temp folder is removed and
    `path` is untouched. A run killed outright leaves its hidden folders behind:
    the next run removes them, and first puts back an old output that a kill
    between the two renames left aside.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def place(staged: Path, path: Path) -> None:
    """Rename a finished temp file or folder to `path`: now, or at the commit of the
    transaction that covers `path`."""
    transaction = _current.get()
    if transaction is not None and transaction.covers(path):
        transaction.moves.append(Move(str(staged), str(path)))
    else:
        _move(Move(str(staged), str(path)))


def remove(path: Path) -> None:
    """Remove an output file or folder: now, or at the commit of the transaction that
    covers it."""
    transaction = _current.get()
    if transaction is not None and transaction.covers(path):
        transaction.moves.append(Move(None, str(path)))
    else:
        _discard(path)


class Move(msgspec.Struct, array_like=True):
    """One step of a commit: rename `staged` to `path`, or with no `staged`, remove `path`."""

    staged: str | None
    path: str


def _move(move: Move) -> None:
    """Carry out one step; done again after a kill, it finishes what is left of it."""
    path = Path(move.path)
    if move.staged is None:
        _discard(path)
        return
    staged = Path(move.staged)
    if not staged.exists():
        return  # done before the kill
    if not staged.is_dir():
        os.replace(staged, path)
        return
    aside = staged.with_name(staged.name.removesuffix(".tmp") + ".old")
    if path.exists():
        aside.mkdir(exist_ok=True)
        os.replace(path, aside / path.name)
    os.replace(staged, path)
    shutil.rmtree(aside, ignore_errors=True)


class Transaction:
    """The renames into one output folder held back until the stage succeeds.

    Only the process that opened it defers: a worker forked inside it writes at once,
    into places the main process then renames (stages/common/parts.py).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.journal = journal_path(folder)
        self.moves: list[Move] = []
        self.pid = os.getpid()

    def covers(self, path: Path) -> bool:
        if os.getpid() != self.pid:
            return False
        resolved = path.parent.resolve() / path.name
        return resolved == self.folder or self.folder in resolved.parents

    def commit(self) -> None:
        if self.moves:
            write_bytes_atomic(self.journal, msgspec.json.encode(self.moves))
            replay(self.folder)

    def abort(self) -> None:
        for move in self.moves:
            if move.staged is not None:
                _discard(Path(move.staged))


_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
    "output_transaction", default=None
)


def journal_path(folder: Path) -> Path:
    folder = folder.resolve()
    return folder.parent / f".{folder.name}.journal"


def replay(folder: Path) -> None:
    """Finish a committed transaction whose renames a kill interrupted; then drop its journal."""
    journal = journal_path(folder)
    try:
        moves = msgspec.json.decode(journal.read_bytes(), type=list[Move])
    except (FileNotFoundError, NotADirectoryError):
        return
    for move in moves:
        _move(move)
    journal.unlink()


def sweep(folder: Path) -> None:
    """Remove what dead runs left in an output folder: hidden temp files and folders.

    Only ever called under the folder's lock (stages/common/lock.py): no live run owns them.
    """
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            if LEFTOVER.fullmatch(name):
                _discard(Path(root, name))
        dirs[:] = [d for d in dirs if not d.startswith(".")]


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def output_transaction(folder: str | Path) -> Iterator[None]:
    """Hold back every rename into `folder` until the block ends, then make them together.

    A block that stops with a message for the user (a `UserError` or `ClickException`) keeps what it
    finished: validate's report of the errors it fails on, collect_discord's complete
    channels. Any other exception discards every new output.
    """
    folder = Path(folder)
    replay(folder)
    sweep(folder)
    transaction = Transaction(folder)
    token = _current.set(transaction)
    try:
        yield
    except (click.ClickException, UserError):
        _current.reset(token)
        transaction.commit()
        raise
    except BaseException:
        _current.reset(token)
        transaction.abort()
        raise
    _current.reset(token)
    transaction.commit()


def _recover(path: Path) -> None:
    """Undo what a killed `atomic_folder` left: restore an output moved aside, drop temp folders.

    The patterns match `tempfile.mkdtemp` names made for `path` (8 random characters).
    """
    for leftover in sorted(path.parent.glob(f".{glob.escape(path.name)}.????????.old")):
        kept = leftover / path.name
        if not path.exists() and kept.exists():
            os.replace(kept, path)
        shutil.rmtree(leftover)
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.????????.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
