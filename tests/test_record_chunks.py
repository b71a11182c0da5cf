"""A chunk's records: decoded one by one as they are asked for, or all at once, and a line
that is not a record stopping the run with its file and line either way. Chunks are cut
where a reader going line by line would cut them, and a worker reading its chunk gets
exactly the lines between the cuts."""

import msgspec
import pytest

from schemas.conversation import Conversation, Message
from stages.common.jsonl import iter_lines
from stages.common.record_chunks import (
    chunk_lines,
    decode_chunk,
    iter_records,
    line_chunks,
    sized_records,
)
from stages.common.user_error import UserError


def record(i: int) -> bytes:
    conversation = Conversation(
        id=f"c{i}", source="toollog", messages=[Message(role="user", content=f"hello {i}" * i)]
    )
    return msgspec.json.encode(conversation)


def test_records_come_one_by_one_and_a_bad_line_stops_at_its_file_and_line(tmp_path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_bytes(record(0) + b"\n\n" + record(1) + b'\n{"id": "c2"}\n' + record(3) + b"\n")
    [chunk] = line_chunks([path], max_records=10)
    records = iter_records(chunk, Conversation)
    assert [next(records).id, next(records).id] == ["c0", "c1"]  # before the bad line is decoded
    with pytest.raises(UserError, match=rf"{path}:4: not a Conversation record"):
        next(records)
    with pytest.raises(UserError, match=rf"{path}:4: not a Conversation record"):
        decode_chunk(chunk, Conversation)


def test_all_at_once_is_the_records_one_by_one_with_their_sizes(tmp_path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_bytes(b"".join(record(i) + b"\n" for i in range(5)))
    [chunk] = line_chunks([path], max_records=5)
    assert decode_chunk(chunk, Conversation) == list(iter_records(chunk, Conversation))
    assert [c.id for c in decode_chunk(chunk, Conversation)] == [f"c{i}" for i in range(5)]
    assert [size for size, _ in sized_records(chunk, Conversation)] == [
        len(record(i)) for i in range(5)
    ]


def cut_line_by_line(path, max_records: int, max_bytes: int) -> list[tuple[int, int, int]]:
    """(first line, records, size) of each chunk, as a reader of whole lines would cut them."""
    cuts, first, records, size = [], 1, 0, 0
    for line in iter_lines(path, max_line_bytes=None):
        records += not line.blank
        size += len(line.data) + 1
        if records >= max_records or size >= max_bytes:
            cuts.append((first, records, size))
            first, records, size = line.number + 1, 0, 0
    if size:
        cuts.append((first, records, size))
    return cuts


AWKWARD = {
    "empty": b"",
    "one unended line": record(1),
    "a byte order mark": b"\xef\xbb\xbf" + record(1) + b"\n" + record(2) + b"\n",
    "blank lines": b"\n\n" + record(1) + b"\n \t\n\r\n" + record(2) + b"\n\n",
    "a line led by spaces": b"  " + record(1) + b"\n" + record(2),
    "only blank lines": b"\n \n\n",
    "many sizes": b"".join(record(i) + b"\n" for i in range(40)),
    "crlf": b"".join(record(i) + b"\r\n" for i in range(9)),
}


@pytest.mark.parametrize("name", AWKWARD)
@pytest.mark.parametrize(("max_records", "max_bytes"), [(1, 1 << 20), (3, 1 << 20), (500, 64)])
def test_chunks_are_cut_where_a_line_reader_cuts_them(
    tmp_path, name: str, max_records: int, max_bytes: int
) -> None:
    path = tmp_path / "records.jsonl"
    path.write_bytes(AWKWARD[name])
    chunks = list(line_chunks([path], max_records=max_records, max_bytes=max_bytes))
    expected = cut_line_by_line(path, max_records, max_bytes)
    assert [(c.span.first_line, c.records, c.size) for c in chunks] == expected
    read = [line for chunk in chunks for line in chunk_lines(chunk)]
    assert [(line.number, line.data) for line in read] == [
        (line.number, line.data) for line in iter_lines(path, max_line_bytes=None) if not line.blank
    ]
    assert all(len(list(chunk_lines(chunk))) == chunk.records for chunk in chunks)
    assert [c.span.start for c in chunks[1:]] == [c.span.end for c in chunks[:-1]]
    assert not chunks or (chunks[0].span.start, chunks[-1].span.end) == (0, path.stat().st_size)


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data.replace(b"\n", b"\n\n", 1),  # a line moved on by one byte
        lambda data: b"\n".join(record(i) for i in range(5, 10)) + b"\n",  # other records
    ],
    ids=["truncated", "shifted", "replaced"],
)
def test_a_file_changed_after_it_was_cut_stops_the_run(tmp_path, rewrite) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_bytes(b"".join(record(i) + b"\n" for i in range(5)))
    [chunk] = line_chunks([path], max_records=10)
    path.write_bytes(rewrite(path.read_bytes()))
    with pytest.raises(UserError, match=rf"{path}: changed while this stage read it"):
        list(iter_records(chunk, Conversation))
