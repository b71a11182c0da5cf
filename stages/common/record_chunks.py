"""Stage outputs read as chunks of lines, for stages that work on all cores.

The main process only cuts the input into chunks: it reads the lines to count them and
hands on where each chunk lies, decoding and sending none of them (pickling them through a
pipe cost it more than reading them). A worker reads its chunk's lines itself
(`chunk_lines`), decodes them, does the stage's work and hands back encoded lines, which
the main process writes in input order (`parallel.ordered_map`), or, when they are many
times the input (export), writes them itself (`chunk_files`). Chunks end at a number of
records or of bytes, whichever comes first, so memory stays bounded whatever the size of a
conversation, and where they end depends on the input alone: the output is the same for any
number of workers.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

import msgspec

from stages.common.jsonl import (
    Line,
    Span,
    not_a_record,
    open_lines,
    read_lines,
    read_span_lines,
    record_files,
)
from stages.common.progress import Progress
from stages.common.user_error import UserError

T = TypeVar("T")
CHUNK_BYTES = 4 << 20  # per chunk: enough work that handing it to a worker costs little


class Chunk(NamedTuple):
    file: str
    span: Span  # where its lines lie in the file
    records: int  # its non-blank lines
    size: int  # bytes of input covered, blank lines included, for a progress bar


def line_chunks(
    paths: Iterable[str | Path],
    *,
    max_records: int,
    max_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
) -> Iterator[Chunk]:
    """The chunks of stage outputs (files, or folders of parts), in order. A line's size
    counts its newline, and a byte order mark counts for nothing."""
    for path in paths:
        for file in record_files(path):
            for chunk in file_chunks(file, max_records, max_bytes):
                yield chunk
                if progress is not None:
                    progress.update(chunk.size)


def file_chunks(file: Path, max_records: int, max_bytes: int) -> Iterator[Chunk]:
    """One file's chunks: its lines are read to find where they end, and let go."""
    with open_lines(file) as handle:
        start, first_line, records, size = 0, 1, 0, 0
        for line in read_lines(handle, None):
            records += not line.blank
            size += len(line.data) + 1
            if records >= max_records or size >= max_bytes:
                end = handle.tell()
                yield Chunk(str(file), Span(start, end, first_line), records, size)
                start, first_line, records, size = end, line.number + 1, 0, 0
        if size:
            yield Chunk(str(file), Span(start, handle.tell(), first_line), records, size)


def chunk_lines(chunk: Chunk) -> list[Line]:
    """The chunk's non-blank lines, read from its file (in the worker that handles it). A
    file changed since it was cut (another run rewriting the stage's input) stops the run
    before any of them is used: they are not the lines counted."""
    span = chunk.span
    with open_lines(chunk.file) as handle:
        kept = [line for line in read_span_lines(handle, span, None) if not line.blank]
        read = handle.tell() - span.start
    if len(kept) == chunk.records and read == span.end - span.start:
        return kept
    raise UserError(
        f"{chunk.file}: changed while this stage read it (from line {span.first_line}: "
        f"{len(kept)} records in {read} bytes, {chunk.records} in {span.end - span.start} "
        "when it was cut); rerun the stage once its input is written"
    )


def decode_chunk(chunk: Chunk, record_type: type[T]) -> list[T]:
    """The chunk's records at once, for work that takes them together (a batch of LLM
    requests); a line that is not one stops the run with its file and line."""
    return list(iter_records(chunk, record_type))


def iter_records(chunk: Chunk, record_type: type[T]) -> Iterator[T]:
    """The chunk's records one by one, each decoded when it is asked for: a record handled
    while its objects are still in the cache, then let go. Holding a 1 MB chunk's records
    at once made curate's judging of them a fifth slower."""
    for _, record in sized_records(chunk, record_type):
        yield record


def sized_records(chunk: Chunk, record_type: type[T]) -> Iterator[tuple[int, T]]:
    """`iter_records`, each with the bytes of its line (its newline not counted)."""
    decoder = msgspec.json.Decoder(record_type)
    for line in chunk_lines(chunk):
        try:
            record = decoder.decode(line.data)
        except msgspec.DecodeError as error:
            raise not_a_record(chunk.file, line.number, record_type, error) from None
        yield len(line.data), record
