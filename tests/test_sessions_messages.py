"""Tool-name filters and the message normalization shared by transcript formats."""

from collections import Counter

import pytest

from schemas.conversation import FunctionCall, Message, ToolCall
from stages.sources.sessions.messages import ToolFilter, normalize


@pytest.mark.parametrize(
    ("include", "exclude", "name", "kept"),
    [
        ((), (), "Read", True),
        (("mcp__*",), (), "mcp__my-server__search", True),
        (("mcp__*",), (), "Read", False),
        ((), ("Read", "Edit", "Bash"), "Edit", False),
        ((), ("Read", "Edit", "Bash"), "Grep", True),
        (("mcp__*",), ("mcp__my-server__*",), "mcp__my-server__search", False),
        (("mcp__*",), ("mcp__my-server__*",), "mcp__other__search", True),
        ((), ("read",), "Read", True),  # globs are case-sensitive
    ],
)
def test_tool_filter(include: tuple[str, ...], exclude: tuple[str, ...], name: str, kept: bool):
    assert ToolFilter(include, exclude).keeps(name) is kept


def call(call_id: str) -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name="f", arguments="{}"))


def test_normalize_drops_leading_and_empty_messages_and_merges_assistants() -> None:
    counts: Counter[str] = Counter()
    messages = [
        Message(role="assistant", content="before any prompt", tool_calls=[call("c0")]),
        Message(role="tool", tool_call_id="c0", content="x"),
        Message(role="user", content="q"),
        Message(role="assistant", content="first"),
        Message(role="assistant"),
        Message(role="assistant", content="second", tool_calls=[call("c1")]),
        Message(role="tool", tool_call_id="c1", content="y"),
        Message(role="assistant", content="done"),
    ]
    assert normalize(messages, counts) == [
        Message(role="user", content="q"),
        Message(role="assistant", content="first\n\nsecond", tool_calls=[call("c1")]),
        Message(role="tool", tool_call_id="c1", content="y"),
        Message(role="assistant", content="done"),
    ]
    assert counts == Counter(
        {
            "dropped.leading_message": 2,
            "dropped.empty_assistant": 1,
            "merged.assistant_messages": 1,
        }
    )
