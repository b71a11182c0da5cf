"""Bot conversation logs → conversations, on hand-written daily files with every bad line."""

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from schemas.botlog_line import BotLogLine
from stages.common.decode import LineDecoder
from stages.common.hashing import messages_id
from stages.common.jsonl import Line, iter_lines
from stages.sources.botlog.day_log import parse_day, parse_line

FIXTURES = Path(__file__).parent / "fixtures" / "botlog"
DAY1 = "conversations_2024-06-01.jsonl"
DAY2 = "conversations_2024-06-02.jsonl"
SCHEMAS = Path(__file__).parents[1] / "schemas"


def parse(name: str):
    return parse_day(iter_lines(FIXTURES / name), name)


def dump(conversation) -> dict:
    return msgspec.to_builtins(conversation)


def test_a_line_becomes_user_call_result_reply():
    first = parse(DAY1).conversations[0]
    assert dump(first)["messages"] == [
        {"role": "user", "content": "withdraw 500 coins"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "bank_withdraw",
                        "arguments": '{"amount":500,"item":"coins"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"balance":1200,"ok":true}'},
        {"role": "assistant", "content": "Withdrew 500 coins. 1,200 left in the bank."},
    ]
    assert first.id == messages_id(first.messages)
    assert first.labels.example_type == "direct_execution"
    assert first.labels.quality_score == 0.7
    assert first.labels.tags == ["task:command", "category:banking"]
    assert (first.meta.file, first.meta.line, first.meta.timestamp) == (
        DAY1,
        1,
        "2024-06-01T09:12:03Z",
    )
    assert (first.meta.session_id, first.meta.model) == ("s-101", "gamebot-7b")
    assert first.tools[0].function.parameters == {
        "type": "object",
        "properties": {"amount": {"type": "integer"}, "item": {"type": "string"}},
        "required": ["amount", "item"],
    }


def test_several_calls_are_sequential_turns_with_numbered_ids():
    trip = parse(DAY1).conversations[1]
    roles = [
        (m.role, m.tool_call_id or (m.tool_calls[0].id if m.tool_calls else None))
        for m in trip.messages
    ]
    assert roles == [
        ("user", None),
        ("assistant", "call_1"),
        ("tool", "call_1"),
        ("assistant", "call_2"),
        ("tool", "call_2"),
        ("assistant", "call_3"),
        ("tool", "call_3"),
        ("assistant", None),
    ]
    # arguments given as JSON text are normalised; text results stay text
    assert trip.messages[1].tool_calls[0].function.arguments == '{"place":"river"}'
    assert trip.messages[2].content == "arrived at river (12, 40)"
    # walk_to was called twice with different arguments: its schema covers both
    walk_to = next(t.function for t in trip.tools if t.function.name == "walk_to")
    assert walk_to.parameters == {
        "type": "object",
        "properties": {"place": {"type": "string"}, "run": {"type": "boolean"}},
        "required": ["place"],
    }
    assert [t.function.name for t in trip.tools] == ["fish", "walk_to"]
    assert trip.labels.tags == ["task:multi_step", "category:fishing"]
    assert (trip.labels.rating, trip.labels.quality_score) == (5, 1.0)


def test_labels_and_vocabulary():
    good, bad, unknown = parse(DAY1).conversations[2:5]
    assert (good.labels.quality_score, good.labels.example_type) == (1.0, None)
    assert [m.role for m in good.messages] == ["user", "assistant"]
    assert (bad.labels.quality_score, bad.labels.example_type) == (0.0, "negative")
    assert bad.labels.tags == ["task:command", "category:combat"]
    assert bad.messages[2].content == '{"error":"target out of range"}'
    assert unknown.labels.tags == ["task:other", "category:other"]


def test_every_bad_line_is_counted_and_good_lines_around_them_kept():
    result = parse(DAY1)
    assert [c.meta.line for c in result.conversations] == [1, 2, 3, 4, 5, 16]
    assert [(r.line, r.reason) for r in result.rejects] == [
        (7, "missing_field"),
        (8, "wrong_type"),
        (9, "bad_arguments"),
        (10, "wrong_type"),
        (11, "invalid_json"),
        (12, "wrong_type"),  # not an object
        (13, "empty_message"),
        (14, "wrong_type"),  # a value out of its range
        (15, "missing_field"),
    ]
    assert result.rejects[0].message == "Object missing required field `response`"
    assert result.rejects[1].message == "Expected `str`, got `int` - at `$.message`"
    assert all(r.file == DAY1 and r.excerpt.startswith(("{", "[")) for r in result.rejects)


def test_a_cut_off_last_line_is_truncated_not_malformed():
    result = parse(DAY2)
    assert [c.labels.tags for c in result.conversations] == [["task:command", "category:skills"]]
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "truncated_line")]


def test_a_complete_last_line_without_newline_is_kept():
    line = (FIXTURES / DAY2).read_bytes().split(b"\n")[0]
    assert len(parse_day([Line(1, line, unterminated=True)], DAY2).conversations) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"null", "wrong_type"),
        (b"1", "wrong_type"),
        (b'"x"', "wrong_type"),
        (b"{}", "missing_field"),
        (b"\xff\xfe", "invalid_utf8"),
        (b"{" * 10_000, "invalid_json"),
    ],
)
def test_odd_lines_are_rejects(raw, reason):
    record = parse_line(Line(3, raw), "f.jsonl", LineDecoder(BotLogLine, 1 << 20))
    assert (record.line, record.reason) == (3, reason)


def test_output_is_schema_valid_and_deterministic():
    schema = json.loads((SCHEMAS / "conversation.schema.json").read_text())
    first = msgspec.json.encode(parse(DAY1).conversations)
    assert first == msgspec.json.encode(parse(DAY1).conversations)
    for conversation in parse(DAY1).conversations + parse(DAY2).conversations:
        jsonschema.validate(dump(conversation), schema)
