"""Files that the workers of `parallel.ordered_map` fill themselves, chunk after chunk.

A worker's output could travel back to the main process to be written there, but export's
is several times its input, and carrying it through pickles and pipes cost more CPU than
making it (tests/bench/README.md#export). Here each worker writes its chunk's bytes straight
into the files with `pwrite`. Where they go is known only once the chunk before is sized,
so a chunk takes its start offsets from a small ledger in shared memory, where the chunk
before left its end offsets, and leaves its own there before it writes. The files hold the
same bytes, in chunk order, for any number of workers.

The workers find the ledger and the open files through fork: pickled into a task, a
`ChunkFiles` is only its key in the table every worker inherits.
"""

import itertools
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_OPEN: dict[int, "ChunkFiles"] = {}
_keys = itertools.count()
_NUMBER, _FAILED = 0, 1  # a ledger slot: the chunk's number, whether it failed, its end offsets


class ChunkAbandoned(RuntimeError):
    """A chunk before this one failed: where this one's bytes would go is unknown."""


def _attached(key: int) -> "ChunkFiles":
    return _OPEN[key]


class ChunkFiles:
    """Empty files, created now, that chunks 0, 1, 2, ... fill in order from any process.

    `in_flight` bounds how many chunks run at once (`ordered_map`'s window): a chunk's slot
    is reused `in_flight + 1` chunks later, when the chunk that reads it has finished.
    """

    def __init__(self, paths: Sequence[Path], *, in_flight: int) -> None:
        self.in_flight = in_flight
        self._slots = in_flight + 1
        self._width = len(paths) + 2
        fork = multiprocessing.get_context("fork")  # as ordered_map's workers start
        self._ledger: Any = fork.RawArray("q", self._slots * self._width)
        for slot in range(self._slots):
            self._ledger[slot * self._width + _NUMBER] = -1
        self._changed = fork.Condition()
        self._fds: list[int] = []
        try:
            for path in paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fds.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
        except BaseException:
            self.close()
            raise
        self._key = next(_keys)
        _OPEN[self._key] = self

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return _attached, (self._key,)

    def write(self, number: int, parts: Sequence[bytes]) -> None:
        """Chunk `number`'s bytes for each file, after every byte of the chunks before it."""
        try:
            starts = self._starts(number)
            ends = [start + len(part) for start, part in zip(starts, parts, strict=True)]
        except BaseException:
            self.abandon(number)
            raise
        self._publish(number, ends)
        for fd, start, part in zip(self._fds, starts, parts, strict=True):
            _pwrite_all(fd, part, start)

    def abandon(self, number: int) -> None:
        """Chunk `number` failed: the chunks after it stop waiting for it and fail too."""
        self._publish(number, [0] * len(self._fds), failed=True)

    def close(self) -> None:
        _OPEN.pop(getattr(self, "_key", -1), None)
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self) -> "ChunkFiles":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _base(self, number: int) -> int:
        return (number % self._slots) * self._width

    def _starts(self, number: int) -> list[int]:
        if number == 0:
            return [0] * len(self._fds)
        before = number - 1
        base = self._base(before)
        with self._changed:
            self._changed.wait_for(lambda: self._ledger[base + _NUMBER] >= before)
            if self._ledger[base + _NUMBER] != before:
                raise RuntimeError(f"chunk {number}: more than {self.in_flight} chunks in flight")
            if self._ledger[base + _FAILED]:
                raise ChunkAbandoned(f"chunk {before} failed")
            return list(self._ledger[base + 2 : base + self._width])

    def _publish(self, number: int, ends: list[int], *, failed: bool = False) -> None:
        base = self._base(number)
        with self._changed:
            if self._ledger[base + _NUMBER] > number:
                raise RuntimeError(f"chunk {number}: more than {self.in_flight} chunks in flight")
            self._ledger[base + 2 : base + self._width] = ends
            self._ledger[base + _FAILED] = int(failed)
            self._ledger[base + _NUMBER] = number
            self._changed.notify_all()


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """`pwrite` until every byte is written: one call writes at most 2 GiB on Linux."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
