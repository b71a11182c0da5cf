"""One run at a time per output folder: a second run into it stops at once, never interleaves.

Two runs writing one folder would each swap in parts, rejects and stats of their own,
leaving a mix that no run made. A stage command takes this lock on its `--out-dir`
(stages/common/cli.py) before it reads anything; the second run fails with a one-line
message naming the folder and the process that holds it. The lock is an advisory
`flock` on a file in the system's temp folder, named after the folder's absolute path:
beside or inside the folder it would become part of what DVC hashes (a folder that a
later stage depends on) and differ between a run's clone and a teammate's. The kernel
drops it when the holder exits, however it exits, so a killed run never leaves a folder
locked; the file stays, empty, for the next run.
"""

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stages.common.user_error import UserError


def lock_path(out_dir: str | Path) -> Path:
    """The lock file of an output folder, the same whatever the path's spelling."""
    folder = Path(out_dir).resolve()
    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
    return Path(
        tempfile.gettempdir(), f"logtune-locks-{os.getuid()}", f"{folder.name}-{digest}.lock"
    )


@contextlib.contextmanager
def output_lock(out_dir: str | Path, option: str = "--out-dir") -> Iterator[None]:
    """Hold the output folder's lock for the block; a UserError if another run holds it.

    Where no lock file can be made (the folder's parent is a file, or read-only), nothing
    can write the folder either: the stage runs on and reports that path problem itself.
    """
    path = lock_path(out_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UserError(
                f"{out_dir}: another run (process {holder}) is writing this output folder; "
                f"wait for it to finish, or give another {option}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # the same empty file after every run, on every machine
    finally:
        os.close(fd)
