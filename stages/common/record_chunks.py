"""Stage outputs read as chunks of raw lines, for stages that work on all cores.

The main process only cuts the input into chunks (lines copied out of the file, nothing
decoded); a worker decodes its chunk, does the stage's work and hands back encoded
lines, which the main process writes in input order (`parallel.ordered_map`), or, when
they are many times the input (export), writes them itself (`chunk_files`). Chunks end
at a number of records or of bytes, whichever comes first, so memory stays bounded
whatever the size of a conversation, and where they end depends on the input alone:
the output is the same for any number of workers.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

import msgspec

from stages.common.jsonl import iter_lines, not_a_record, record_files
from stages.common.progress import Progress

T = TypeVar("T")
CHUNK_BYTES = 4 << 20  # per chunk: enough work that handing it to a worker costs little


class Chunk(NamedTuple):
    file: str
    numbers: list[int]  # the line number of each record
    lines: list[bytes]
    size: int  # bytes of input covered, blank lines included, for a progress bar


def line_chunks(
    paths: Iterable[str | Path],
    *,
    max_records: int,
    max_bytes: int = CHUNK_BYTES,
    progress: Progress | None = None,
) -> Iterator[Chunk]:
    """The non-blank lines of stage outputs (files, or folders of parts), in chunks."""
    for path in paths:
        for file in record_files(path):
            numbers: list[int] = []
            lines: list[bytes] = []
            size = 0
            for line in iter_lines(file, max_line_bytes=None):
                size += len(line.data) + 1
                if not line.blank:
                    numbers.append(line.number)
                    lines.append(line.data)
                if len(lines) >= max_records or size >= max_bytes:
                    yield Chunk(str(file), numbers, lines, size)
                    if progress is not None:
                        progress.update(size)
                    numbers, lines, size = [], [], 0
            if size:
                yield Chunk(str(file), numbers, lines, size)
                if progress is not None:
                    progress.update(size)


def decode_chunk(chunk: Chunk, record_type: type[T]) -> list[T]:
    """The chunk's records at once, for work that takes them together (a batch of LLM
    requests); a line that is not one stops the run with its file and line."""
    return list(iter_records(chunk, record_type))


def iter_records(chunk: Chunk, record_type: type[T]) -> Iterator[T]:
    """The chunk's records one by one, each decoded when it is asked for: a record handled
    while its objects are still in the cache, then let go. Holding a 1 MB chunk's records
    at once made curate's judging of them a fifth slower."""
    decoder = msgspec.json.Decoder(record_type)
    for number, data in zip(chunk.numbers, chunk.lines, strict=True):
        try:
            record = decoder.decode(data)
        except msgspec.DecodeError as error:
            raise not_a_record(chunk.file, number, record_type, error) from None
        yield record
