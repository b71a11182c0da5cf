"""Reading JSONL in constant memory, line numbers and all, and writing it back.

Input files can be larger than memory, can end in a line cut off mid-write,
can start with a UTF-8 byte order mark (Windows editors write one), and can hold
a single absurd line; the reader copies each line once out of a buffered file
(`readline` with a limit, in C), drops the mark, and refuses to hand on any line
beyond a size limit or nested beyond a depth limit (`MAX_NESTING`). For parallel
parsing, `iter_spans` gives where runs of whole lines lie, so each worker reads
its own bytes instead of receiving them through a pipe; `lines_starting_in` reads the
lines of a file cut at any offsets, for readers that need no line limit. A stage output may also
be a folder of JSONL parts (stages/common/parts.py), read in sorted order.
"""

import io
import math
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar

import msgspec
import numpy as np

from stages.common.atomic import atomic_write
from stages.common.progress import Progress
from stages.common.user_error import UserError

DEFAULT_MAX_LINE_BYTES = 8 << 20
BOM = b"\xef\xbb\xbf"
NEWLINE = ord("\n")
# Decoders and everything that walks a decoded value (msgspec, json, schema inference) recurse
# once or twice per level, and Python stops at 1000 frames: a deeper line would crash the run.
MAX_NESTING = 200
_SQUARE_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# Lines are copied out of (and written into) buffers this big: one system call serves many
# lines, and the buffer stays in the core's L2 cache. With 1 MB buffers, two workers on two
# cores spent 10% more CPU on the same tool log.
IO_BUFFER = 1 << 16
PART_SUFFIX = ".jsonl"

T = TypeVar("T")


class Oversize(NamedTuple):
    """A line longer than the limit, skipped without being held in memory."""

    line: int
    size: int


class Line(msgspec.Struct, gc=False):
    """One line of a file (a Struct: cheaper to make than a NamedTuple, once per line)."""

    number: int
    data: bytes  # without its newline; empty for a line refused (oversize or too deep)
    unterminated: bool = False  # the last line of a file with no final newline
    oversize: int = 0  # the byte size of a line over the limit, which is not kept
    too_deep: bool = False  # brackets nested deeper than MAX_NESTING: not kept either

    @property
    def blank(self) -> bool:
        """Empty or whitespace only (tested without copying the line, unlike `strip`)."""
        return not self.oversize and not self.too_deep and (not self.data or self.data.isspace())


def nested_too_deep(data: bytes, limit: int = MAX_NESTING) -> bool:
    """Brackets nest deeper than `limit` somewhere in `data`, those inside strings included.

    Strings count because JSON text inside a string (tool-call `arguments`) is decoded
    again later. Only the brackets are kept (`{}` as `[]`), in one pass in C that costs
    less than counting two kinds of bracket; with no more than twice the limit of them,
    as on nearly every line, no nesting can exceed it. Otherwise each pass removes the
    innermost pairs: one level; unmatched brackets (a code fragment cut off) stay and
    never count.
    """
    brackets = data.translate(_SQUARE_BRACKETS, _NOT_BRACKETS)
    levels = 0  # removed so far; what is left holds at most half its length more
    while levels + len(brackets) // 2 > limit:
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            return False
        brackets, levels = inner, levels + 1
        if levels > limit:
            return True
    return False


class Span(NamedTuple):
    """Where a run of whole lines lies in its file: bytes `start` to `end`."""

    start: int
    end: int
    first_line: int


def open_lines(path: str | Path) -> BinaryIO:
    """A file opened for `read_lines`."""
    return open(path, "rb", buffering=IO_BUFFER)


def read_lines(
    handle: BinaryIO, max_line_bytes: int | None, first_line: int = 1, size: float = math.inf
) -> Iterator[Line]:
    """The lines from the handle's position: to the end of the file, or over `size` bytes.

    `max_line_bytes=None` sets no limit of size or depth, for files our own stages wrote.
    A byte order mark at the start of the file is skipped.
    """
    readline = handle.readline
    limit = -1 if max_line_bytes is None else max_line_bytes + 1  # a longest line and newline
    number = first_line
    if handle.tell() == 0:
        size -= _skip_bom(handle)
    while size > 0 and (data := readline(limit)):
        if len(data) > size:  # the file grew after it was cut into spans: stop at the span's end
            data = data[: int(size)]
        size -= len(data)
        if data.endswith(b"\n"):
            line = Line(number, data[:-1])
        elif max_line_bytes is None or len(data) <= max_line_bytes:
            line = Line(number, data, True)
        else:
            rest = _skip_line(readline)
            size -= rest + 1
            line = Line(number, b"", False, len(data) + rest)
        if max_line_bytes is not None and nested_too_deep(line.data):
            line = Line(number, b"", line.unterminated, too_deep=True)
        yield line
        number += 1


def _skip_bom(handle: BinaryIO | io.RawIOBase) -> int:
    """Read past a byte order mark at the handle's position; the bytes skipped."""
    start = handle.read(len(BOM))
    if start == BOM:
        return len(BOM)
    handle.seek(-len(start), os.SEEK_CUR)
    return 0


def _skip_line(readline: Callable[[int], bytes]) -> int:
    """Read past the rest of an oversize line, a buffer at a time; its length without newline."""
    skipped = 0
    while piece := readline(IO_BUFFER):
        if piece.endswith(b"\n"):
            return skipped + len(piece) - 1
        skipped += len(piece)
    return skipped


def iter_lines(
    path: str | Path, *, max_line_bytes: int | None = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Line]:
    """Every line of a file, numbered from 1, in constant memory."""
    with open_lines(path) as handle:
        yield from read_lines(handle, max_line_bytes)


def iter_spans(
    path: str | Path,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    span_bytes: int,
) -> Iterator[Span | Oversize]:
    """Where a file's runs of whole lines lie, and the lines too long to keep, in file order.

    Decodes nothing: only newlines are looked for and counted, in one reused
    buffer, far faster than workers parse; each worker then reads its own span
    (`read_span_lines`).
    """
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(min(span_bytes, os.fstat(handle.fileno()).st_size + 1))
        view = np.frombuffer(buffer, dtype=np.uint8)
        offset = _skip_bom(handle)  # file position of buffer[0]
        start = offset  # file position where the next span (or oversize line) starts
        line = 1  # the number of the line at `start`
        skipping = False  # the line at `start` is over the limit
        while size := handle.readinto(buffer):
            head = 0  # where the next span starts in this buffer
            if skipping:
                newline = buffer.find(b"\n", 0, size)
                if newline < 0:
                    offset += size
                    continue
                yield Oversize(line, offset + newline - start)
                line, start, skipping, head = line + 1, offset + newline + 1, False, newline + 1
            last = buffer.rfind(b"\n", head, size)
            if last >= 0:
                yield Span(start, offset + last + 1, line)
                # numpy counts newlines 3 times as fast as `bytearray.count` (a cached 1.3 GB file)
                line += int(np.count_nonzero(view[head : last + 1] == NEWLINE))
                start, head = offset + last + 1, last + 1
            offset += size
            skipping = offset - start > max_line_bytes
    if skipping:
        yield Oversize(line, offset - start)
    elif start < offset:
        yield Span(start, offset, line)


def read_span_lines(
    handle: BinaryIO, item: Span | Oversize, max_line_bytes: int | None
) -> Iterator[Line]:
    """The lines of one item of `iter_spans`, from a file opened with `open_lines`
    (`max_line_bytes=None`: our own stages' output, as `read_lines` takes it)."""
    if isinstance(item, Oversize):
        return iter([Line(item.line, b"", False, item.size)])
    handle.seek(item.start)
    return read_lines(handle, max_line_bytes, item.first_line, item.end - item.start)


def lines_starting_in(handle: BinaryIO, start: int, end: int) -> list[bytes]:
    """The lines (without their newlines) whose first byte lies in bytes `start` to `end` of a
    file opened in binary, the last one read to its end.

    A file cut at any offsets is read once this way, each line by the range it starts in,
    with no pass over the file to find its newlines first (our own outputs: no size or depth
    limit). A byte order mark at the start of the file is skipped.
    """
    if start == 0:
        handle.seek(0)
        _skip_bom(handle)
    else:
        # A line starts in the range where a newline precedes it, at byte start - 1 to end - 2:
        # a range inside one long line reads only its own bytes to learn that it holds none.
        at = start - 1
        handle.seek(at)
        while True:
            piece = handle.read(min(IO_BUFFER, end - 1 - at))
            if not piece:
                return []
            newline = piece.find(b"\n")
            if newline >= 0:
                handle.seek(at + newline + 1)
                break
            at += len(piece)
    data = handle.read(max(end - handle.tell(), 0))
    if not data.endswith(b"\n"):
        data += handle.readline()
    lines = data.split(b"\n")
    if data.endswith(b"\n") or not data:
        lines.pop()
    return lines


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter): bounded memory per round."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def part_files(folder: str | Path) -> list[Path]:
    """The JSONL parts of a folder output, in record order (hidden temp files left out)."""
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.name.endswith(PART_SUFFIX) and not p.name.startswith(".") and p.is_file()
    )


def record_files(path: str | Path) -> list[Path]:
    """The files of a stage output: the file itself, or a folder's parts in order."""
    return part_files(path) if Path(path).is_dir() else [Path(path)]


def records_size(paths: Iterable[str | Path]) -> int:
    """Bytes of the stage outputs at `paths`: the total for a progress bar over reading them."""
    return sum(file.stat().st_size for path in paths for file in record_files(path))


def read_records(
    path: str | Path, record_type: type[T], progress: Progress | None = None
) -> Iterator[T]:
    """Records of a JSONL file, or of a folder of parts, that our own stages wrote.

    A line that is not such a record means the wrong file was given (raw logs
    to enrich, say): the run stops with its file and line. No line is too long,
    as a conversation with big tool outputs can outgrow any limit set for inputs.
    A `progress` advances by the bytes read (see `records_size`).
    """
    decoder = msgspec.json.Decoder(record_type)
    for file in record_files(path):
        for line in iter_lines(file, max_line_bytes=None):
            if progress is not None:
                progress.update(len(line.data) + 1)
            if line.blank:
                continue
            try:
                record = decoder.decode(line.data)
            except msgspec.DecodeError as error:
                raise not_a_record(file, line.number, record_type, error) from None
            yield record


def not_a_record(
    file: str | Path, number: int, record_type: type, error: msgspec.DecodeError
) -> UserError:
    """A line of a stage's input that is not the record the stage reads."""
    return UserError(
        f"{file}:{number}: not a {record_type.__name__} record ({error}): "
        "give this stage the output of the stage before it"
    )


def read_all(
    paths: Iterable[str | Path], record_type: type[T], progress: Progress | None = None
) -> Iterator[T]:
    """The records of several stage outputs, one after the other."""
    for path in paths:
        yield from read_records(path, record_type, progress)


class JsonlWriter:
    """Writes one JSON record a line into an atomically replaced file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._context = atomic_write(path)
        self._handle = self._context.__enter__()
        self._encoder = msgspec.json.Encoder()
        self.count = 0

    def write(self, record: Any) -> None:
        self._handle.write(self._encoder.encode(record) + b"\n")
        self.count += 1

    def write_encoded(self, lines: bytes, count: int) -> None:
        """Append lines that a worker already encoded (each ending in a newline)."""
        self._handle.write(lines)
        self.count += count

    def write_all(self, records: Iterable[Any]) -> None:
        for record in records:
            self.write(record)

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)  # type: ignore[arg-type]
