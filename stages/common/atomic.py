"""Atomic writes: a killed stage leaves the previous output or none, never half of one."""

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


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
        os.replace(tmp, path)
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
    aside = None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, aside / path.name)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside)


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
