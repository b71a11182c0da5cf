"""The shared stage pieces: line reading, atomic writes, params, stats, hashing, schemas."""

import io
import os
from itertools import pairwise
from pathlib import Path

import click
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import astuple

from schemas.conversation import (
    Conversation,
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Meta,
    Tool,
    ToolCall,
)
from stages.common.atomic import atomic_folder, atomic_write
from stages.common.conversation_line import conversation_line, encode_tools
from stages.common.hashing import content_id, messages_id
from stages.common.jsonl import (
    BOM,
    DEFAULT_MAX_LINE_BYTES,
    IO_BUFFER,
    iter_lines,
    iter_spans,
    lines_starting_in,
    open_lines,
    read_records,
    read_span_lines,
)
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.stats import Stats
from stages.common.tool_schema import infer_schema, merge_schemas


def reference_lines(data: bytes, limit: int) -> list[tuple[int, bytes, bool, int, bool]]:
    data = data.removeprefix(BOM)
    parts = data.split(b"\n")
    terminated = data.endswith(b"\n")
    if terminated or not data:
        parts.pop()
    lines = []
    for i, part in enumerate(parts, start=1):
        unterminated = not terminated and i == len(parts)
        if len(part) > limit:
            lines.append((i, b"", False, len(part), False))
        else:
            lines.append((i, part, unterminated, 0, False))
    return lines


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")), max_size=30),
    bom=st.booleans(),
    final_newline=st.booleans(),
    span=st.integers(1, 64),
    limit=st.integers(1, 50),
)
def test_iter_lines_matches_a_plain_split(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    bom: bool,
    final_newline: bool,
    span: int,
    limit: int,
) -> None:
    data = BOM * bom + b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path = tmp_path_factory.mktemp("lines") / "f.jsonl"
    path.write_bytes(data)
    got = [astuple(line) for line in iter_lines(path, max_line_bytes=limit)]
    assert got == reference_lines(data, limit)
    with open_lines(path) as handle:
        from_spans = [
            astuple(line)
            for item in iter_spans(path, max_line_bytes=limit, span_bytes=span)
            for line in read_span_lines(handle, item, limit)
        ]
    assert from_spans == got


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")), max_size=30),
    bom=st.booleans(),
    final_newline=st.booleans(),
    cuts=st.lists(st.integers(0, 1300), max_size=12),
)
def test_lines_of_a_file_cut_anywhere_are_read_once_each(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    bom: bool,
    final_newline: bool,
    cuts: list[int],
) -> None:
    """Each line comes from the range its first byte is in, whole, however the file is cut
    (in a line, at a newline, in the byte order mark, past the end)."""
    data = BOM * bom + b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path = tmp_path_factory.mktemp("cut") / "f.jsonl"
    path.write_bytes(data)
    offsets = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    with open(path, "rb") as handle:
        got = [
            line
            for start, end in list(pairwise(offsets)) or [(0, 0)]
            for line in lines_starting_in(handle, start, end)
        ]
    assert got == [line[1] for line in reference_lines(data, len(data) + 1)]


def test_ranges_inside_a_long_line_read_only_their_own_bytes() -> None:
    """Each range inside a line learns from its own bytes that it holds no line start: the
    file is read about once, however long the line and however many ranges it spans."""

    class Counted(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            self.read_bytes += len(data)
            return data

        def readline(self, size: int | None = -1) -> bytes:
            data = super().readline(size)
            self.read_bytes += len(data)
            return data

    data = b"x" * 100_000 + b"\nshort\n"
    handle = Counted(data)
    lines = [
        line
        for start in range(0, len(data), 1000)
        for line in lines_starting_in(handle, start, min(start + 1000, len(data)))
    ]
    assert lines == [b"x" * 100_000, b"short"]
    assert handle.read_bytes <= 2 * len(data)


def test_oversize_line_is_skipped_without_losing_its_neighbours(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a":1}\n' + b"x" * 100_000 + b'\n{"b":2}')
    lines = list(iter_lines(path, max_line_bytes=1000))
    assert [(n.number, n.data, n.unterminated, n.oversize) for n in lines] == [
        (1, b'{"a":1}', False, 0),
        (2, b"", False, 100_000),
        (3, b'{"b":2}', True, 0),
    ]


def test_oversize_line_longer_than_the_read_buffer_is_skipped_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    size = 3 * IO_BUFFER + 5
    path.write_bytes(b"1\n" + b"x" * size + b"\n2\n" + b"y" * size)
    lines = [astuple(line) for line in iter_lines(path, max_line_bytes=1000)]
    assert lines == [
        (1, b"1", False, 0, False),
        (2, b"", False, size, False),
        (3, b"2", False, 0, False),
        (4, b"", False, size, False),
    ]


def test_a_span_read_after_its_file_grew_stops_at_the_span_end(tmp_path: Path) -> None:
    path = tmp_path / "growing.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":')  # a line still being written
    spans = list(iter_spans(path, max_line_bytes=100, span_bytes=1 << 16))
    with open(path, "ab") as handle:
        handle.write(b'2}\n{"c":3}\n')
    with open_lines(path) as handle:
        lines = [astuple(line) for span in spans for line in read_span_lines(handle, span, 100)]
    assert lines == [(1, b'{"a":1}', False, 0, False), (2, b'{"b":', True, 0, False)]


def test_read_records_reads_a_record_longer_than_the_input_line_limit(tmp_path: Path) -> None:
    """Our own outputs have no line limit: a conversation with huge tool output comes back."""
    big = Conversation(
        id="x",
        source="sessions",
        messages=[Message(role="user", content="y" * (DEFAULT_MAX_LINE_BYTES + 10))],
    )
    path = tmp_path / "conversations.jsonl"
    path.write_bytes(msgspec.json.encode(big) + b"\n\n")
    assert list(read_records(path, Conversation)) == [big]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half a fi")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_atomic_write_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.jsonl"
    with atomic_write(target) as handle:
        handle.write(b"new\n")
    assert target.read_bytes() == b"new\n"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_atomic_folder_swaps_the_whole_folder_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "parts"
    target.mkdir()
    (target / "000000.jsonl").write_bytes(b"old\n")
    (target / "000001.jsonl").write_bytes(b"stale\n")
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "000000.jsonl").write_bytes(b"half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in target.iterdir()) == ["000000.jsonl", "000001.jsonl"]
    assert os.listdir(tmp_path) == ["parts"]
    with atomic_folder(target) as folder:
        (folder / "000000.jsonl").write_bytes(b"new\n")
    assert [(p.name, p.read_bytes()) for p in target.iterdir()] == [("000000.jsonl", b"new\n")]
    assert os.listdir(tmp_path) == ["parts"]
    assert oct(target.stat().st_mode & 0o777) != oct(0o700)


def test_atomic_folder_cleans_up_after_a_killed_run(tmp_path: Path) -> None:
    target = tmp_path / "parts"
    half_written = tmp_path / ".parts.k1ll3dab.tmp"
    half_written.mkdir()
    (half_written / "000000.jsonl").write_bytes(b"half")
    moved_aside = tmp_path / ".parts.s1d3ab12.old" / "parts"  # killed between the two renames
    moved_aside.mkdir(parents=True)
    (moved_aside / "000000.jsonl").write_bytes(b"old\n")
    (tmp_path / ".parts.jsonl.x.tmp").write_bytes(b"another output's temp file")
    with pytest.raises(RuntimeError), atomic_folder(target):
        raise RuntimeError("this run fails too")
    assert (target / "000000.jsonl").read_bytes() == b"old\n"
    assert sorted(os.listdir(tmp_path)) == [".parts.jsonl.x.tmp", "parts"]


def test_content_id_ignores_key_order_but_not_values() -> None:
    assert content_id({"a": 1, "b": [1, 2]}) == content_id({"b": [1, 2], "a": 1})
    assert content_id({"a": 1}) != content_id({"a": 2})
    assert len(content_id("x")) == 16


def test_ordered_map_keeps_order_across_processes() -> None:
    assert list(ordered_map(abs, range(-50, 0), jobs=2, window=3)) == list(range(50, 0, -1))


def test_stats_nest_one_level_and_keep_known_zeros() -> None:
    stats = Stats(["rejected.invalid_json", "read"])
    stats.add("read", 3)
    stats.merge({"rejected.wrong_type": 2})
    assert stats.to_dict() == {"read": 3, "rejected": {"invalid_json": 0, "wrong_type": 2}}


@click.command()
@stage_params("demo", top_level=("max_samples",))
@click.option("--min-rating", type=int, default=1)
@click.option("--max-samples", type=int, default=None)
def demo(min_rating: int, max_samples: int | None) -> None:
    click.echo(f"{min_rating} {max_samples}")


def test_params_file_sets_defaults_and_command_line_wins(run, workdir: Path) -> None:
    (workdir / "params.yaml").write_text("max_samples: 25\ndemo:\n  min_rating: 4\n")
    assert run(demo).output == "4 25\n"
    assert run(demo, "--min-rating", "2").output == "2 25\n"


def test_no_params_file_uses_code_defaults(run, workdir: Path) -> None:
    assert run(demo).output == "1 None\n"


def test_unknown_param_is_named(run, workdir: Path) -> None:
    (workdir / "params.yaml").write_text("demo:\n  min_ratin: 4\n")
    result = run(demo, exit_code=1)
    assert "params.yaml: demo.min_ratin is not a parameter of this stage" in result.output


def test_missing_explicit_params_file(run, workdir: Path) -> None:
    result = run(demo, "--params", "nope.yaml", exit_code=2)
    assert "nope.yaml does not exist" in result.output


def test_inferred_schemas_merge_types_and_required() -> None:
    a = infer_schema({"item": "logs", "quantity": 5})
    b = infer_schema({"item": "ore", "quantity": 2.5, "note": None})
    assert merge_schemas(a, b) == {
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "note": {"type": "null"},
            "quantity": {"type": "number"},
        },
        "required": ["item", "quantity"],
    }
    assert infer_schema([1, "a"]) == {"type": "array", "items": {"type": ["integer", "string"]}}


def test_messages_id_depends_on_content_only() -> None:
    def messages(text: str) -> list[Message]:
        call = ToolCall(id="call_1", function=FunctionCall(name="f", arguments='{"b":1}'))
        return [Message(role="user", content=text), Message(role="assistant", tool_calls=[call])]

    assert messages_id(messages("hé")) == messages_id(messages("hé"))
    assert messages_id(messages("hé")) != messages_id(messages("he"))
    assert len(messages_id(messages("x"))) == 16


@pytest.mark.parametrize("with_tools", [True, False])
@pytest.mark.parametrize("labels", [Labels(), Labels(rating=4, tags=["tool_error"])])
def test_conversation_line_is_the_conversation_encoded(with_tools: bool, labels: Labels) -> None:
    call = ToolCall(id="call_1", function=FunctionCall(name="fish", arguments='{"spot":"río"}'))
    messages = [
        Message(role="user", content="fish \u2603 please"),
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="call_1", content='{"caught":3}'),
    ]
    tools = [Tool(function=FunctionDef(name="fish"))] if with_tools else []
    meta = Meta(file="logs/a.jsonl", line=7)
    expected = msgspec.json.encode(
        Conversation(
            id=messages_id(messages),
            source="toollog",
            messages=messages,
            tools=tools,
            labels=labels,
            meta=meta,
        )
    )
    line = conversation_line("toollog", messages, encode_tools(tools), labels, meta)
    assert line == expected + b"\n"


def test_conversation_line_still_encodes_after_a_record_that_failed() -> None:
    """Its output buffer is reused: an error held by the caller must not pin it."""
    with pytest.raises(UnicodeEncodeError) as failed:
        conversation_line(
            "toollog", [Message(role="user", content="x")], None, Labels(), Meta(file="\udcff")
        )
    assert failed.value is not None
    big = [Message(role="user", content="y" * 100_000)]
    line = conversation_line("toollog", big, None, Labels(), Meta(file="ok"))
    assert msgspec.json.decode(line, type=Conversation).messages == big


def test_provenance_paths_name_no_machine(workdir: Path, tmp_path_factory) -> None:
    from stages.common.input_paths import provenance_path

    outside = tmp_path_factory.mktemp("home") / "projects"
    transcript = outside / "-home-ann-proj" / "s.jsonl"
    assert provenance_path(workdir / "logs" / "a.jsonl") == "logs/a.jsonl"
    assert provenance_path("logs/a.jsonl") == "logs/a.jsonl"
    assert provenance_path("logs/../logs/./a.jsonl") == "logs/a.jsonl"
    assert provenance_path(transcript, outside) == "projects/-home-ann-proj/s.jsonl"
    assert provenance_path(transcript, transcript) == "s.jsonl"
    assert provenance_path(transcript) == "s.jsonl"
