"""Conversations built in code for the tests of stages after ingestion."""

import json
from pathlib import Path
from typing import Any

import msgspec

from schemas.conversation import Conversation, FunctionCall, Labels, Message, Meta, ToolCall
from stages.common.hashing import messages_id


def conversation(
    query: str,
    *,
    reply: str = "Done.",
    rating: int | None = None,
    calls: int = 1,
    line: int = 1,
) -> Conversation:
    tool_calls = [
        ToolCall(id=f"call_{i}", function=FunctionCall(name="fish", arguments='{"method":"net"}'))
        for i in range(1, calls + 1)
    ]
    messages = [
        Message(role="user", content=query),
        Message(role="assistant", tool_calls=tool_calls),
        *(Message(role="tool", tool_call_id=c.id, content="caught 3") for c in tool_calls),
        Message(role="assistant", content=reply),
    ]
    return Conversation(
        id=messages_id(messages),
        source="toollog",
        messages=messages,
        labels=Labels(rating=rating),
        meta=Meta(file="logs/a.jsonl", line=line),
    )


def lone_negative(text: str) -> Conversation:
    """A negative example with one assistant turn: nothing in it may be learned."""
    messages = [Message(role="user", content=text), Message(role="assistant", content="Sure!")]
    return Conversation(
        id=messages_id(messages),
        source="botlog",
        messages=messages,
        labels=Labels(example_type="negative"),
    )


def single_turn(text: str) -> Conversation:
    messages = [Message(role="user", content=text), Message(role="assistant", content="42")]
    return Conversation(id=messages_id(messages), source="botlog", messages=messages)


def write_conversations(path: Path, conversations: list[Conversation]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(msgspec.json.encode(c) + b"\n" for c in conversations))
    return path


# Messages as plain dicts, the way an ingest test writes out what it expects.


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, separators=(",", ":"))},
    }


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str | None = None, *calls: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    if text is not None:
        message["content"] = text
    if calls:
        message["tool_calls"] = list(calls)
    return message


def tool(call_id: str, text: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": text}
