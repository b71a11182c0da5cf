"""curate counts a record's tokens only where its line's size cannot prove that it fits: the
bound must hold for every record a line can carry, and the filters that count still count."""

from pathlib import Path

import msgspec
import pytest

from schemas.conversation import Conversation, FunctionCall, FunctionDef, Message, Tool, ToolCall
from stages.common.hashing import messages_id
from stages.common.record_chunks import Chunk, line_chunks
from stages.curation import judging as judging_module
from stages.curation.filters import Filters
from stages.curation.judging import Candidate, Judging, judge_chunk
from stages.curation.near_dup import NUM_PERM
from stages.curation.tokens import conversation_tokens, message_costs, tokens_bound
from stages.validation.openai_checks import count_tokens
from tests.records import conversation

EMOJI, CJK, ACCENTED = "\U0001f600", "\u4e2d\u6587", "\u00e9t\u00e9"


def record(messages: list[Message], tools: tuple[Tool, ...] = ()) -> Conversation:
    return Conversation(
        id=messages_id(messages), source="toollog", messages=messages, tools=list(tools)
    )


CASES = {
    "no messages": record([]),
    "named empty messages": record([Message(role="user", name="a")] * 50),
    "shortest tools, parameters left to their default": record(
        [Message(role="user", content="x")], (Tool(function=FunctionDef(name="x")),) * 40
    ),
    "tools described in emoji and accents": record(
        [Message(role="user", content="go")],
        (
            Tool(function=FunctionDef(name="e", description=EMOJI * 300)),
            Tool(function=FunctionDef(name="c", description=(CJK + ACCENTED) * 200)),
        ),
    ),
    "a tool named in DEL, one byte in the line, six characters in json.dumps": record(
        [Message(role="user", content="x")], (Tool(function=FunctionDef(name="\x7f" * 5000)),)
    ),
    "non-ASCII text and calls": record(
        [
            Message(role="user", content=(EMOJI + CJK + ACCENTED) * 500),
            Message(
                role="assistant",
                tool_calls=[ToolCall(id="c", function=FunctionCall(name="f", arguments="{}"))],
            ),
            Message(role="tool", tool_call_id="c", content="\x01\x02" * 100),
        ]
    ),
    "a plain tool-log record": conversation("sell my fish", calls=3),
}


@pytest.mark.parametrize("name", CASES)
def test_a_records_tokens_never_exceed_its_lines_bound(name: str) -> None:
    line = msgspec.json.encode(CASES[name])
    assert conversation_tokens(msgspec.json.decode(line, type=Conversation)) <= tokens_bound(
        len(line)
    )


@pytest.mark.parametrize("name", CASES)
def test_a_conversation_counts_as_validate_counts_its_line_from_its_messages_counts(
    name: str,
) -> None:
    """curate counts each message once and adds them up: the sum is validate's count of the
    whole line."""
    record = CASES[name]
    line = {"messages": msgspec.to_builtins(record.messages)}
    if record.tools:
        line["tools"] = msgspec.to_builtins(record.tools)
    assert conversation_tokens(record) == count_tokens(line)
    assert conversation_tokens(record, message_costs(record)) == count_tokens(line)


def chunk_of(folder: Path, *records: Conversation) -> Chunk:
    path = folder / "c.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in records))
    [chunk] = line_chunks([path], max_records=len(records))
    return chunk


def judging(filters: Filters, budget: int = 28672) -> Judging:
    return Judging(filters, budget, 0.8, frozenset(), frozenset())


def test_a_record_its_size_shows_to_fit_is_not_counted(monkeypatch, tmp_path) -> None:
    def counted(_: Conversation) -> int:
        raise AssertionError("counted")

    monkeypatch.setattr(judging_module, "message_costs", counted)
    [verdict] = judge_chunk(
        chunk_of(tmp_path, conversation("sell my fish")), judging(Filters())
    ).verdicts
    assert isinstance(verdict, Candidate) and verdict.windows == 0


def test_the_token_filters_still_count_every_record(tmp_path) -> None:
    short = conversation("sell my fish")
    for filters, reason in (
        (Filters(min_tokens=10_000), "tokens_below_min"),
        (Filters(max_total_tokens=5), "tokens_above_max"),
    ):
        judged = judge_chunk(chunk_of(tmp_path, short), judging(filters))
        assert judged.verdicts == [reason] and judged.fingerprints.exact == []


def test_a_record_past_the_bound_is_counted_and_kept_whole_when_it_fits(tmp_path) -> None:
    long = conversation("word " * 1500)  # about 1,500 tokens, a line of over 7,500 bytes
    assert tokens_bound(len(msgspec.json.encode(long))) > 2000 > conversation_tokens(long)
    judged = judge_chunk(chunk_of(tmp_path, long), judging(Filters(), budget=2000))
    [verdict] = judged.verdicts
    assert isinstance(verdict, Candidate) and verdict.windows == 0
    assert judged.fingerprints.signatures.shape == (1, NUM_PERM)
