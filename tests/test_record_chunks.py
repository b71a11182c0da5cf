"""A chunk's records: decoded one by one as they are asked for, or all at once, and a line
that is not a record stopping the run with its file and line either way."""

import msgspec
import pytest

from schemas.conversation import Conversation, Message
from stages.common.record_chunks import Chunk, decode_chunk, iter_records, line_chunks
from stages.common.user_error import UserError


def record(i: int) -> bytes:
    conversation = Conversation(
        id=f"c{i}", source="toollog", messages=[Message(role="user", content=f"hello {i}")]
    )
    return msgspec.json.encode(conversation)


def test_records_come_one_by_one_and_a_bad_line_stops_at_its_file_and_line(tmp_path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_bytes(record(0) + b"\n\n" + record(1) + b'\n{"id": "c2"}\n' + record(3) + b"\n")
    [chunk] = line_chunks([path], max_records=10)
    records = iter_records(chunk, Conversation)
    assert [next(records).id, next(records).id] == ["c0", "c1"]  # before the bad line is read
    with pytest.raises(UserError, match=rf"{path}:4: not a Conversation record"):
        next(records)
    with pytest.raises(UserError, match=rf"{path}:4: not a Conversation record"):
        decode_chunk(chunk, Conversation)


def test_all_at_once_is_the_records_one_by_one() -> None:
    lines = [record(i) for i in range(5)]
    chunk = Chunk("f.jsonl", [1, 2, 3, 4, 5], lines, sum(map(len, lines)))
    assert decode_chunk(chunk, Conversation) == list(iter_records(chunk, Conversation))
    assert [c.id for c in decode_chunk(chunk, Conversation)] == [f"c{i}" for i in range(5)]
