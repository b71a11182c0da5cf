"""Harmony lines read back by openai-harmony, the renderer and parser gpt-oss is trained with.

The `text` must parse (a stray token or an unknown role is a `HarmonyError`), open with
the system and developer messages, declare every function of `tools` in the developer
message, and hold exactly the messages the line lists, field for field. The vocabulary
comes from the bpe-openai package (`stages.formats.vocab`), so this runs offline.
"""

import json
from collections.abc import Iterator
from typing import Any

import openai_harmony as oh

from stages.formats.harmony import encoding
from stages.validation.finding import Finding

HEADER = [oh.Role.SYSTEM, oh.Role.DEVELOPER]
KEYS = ("role", "name", "channel", "recipient", "content_type", "content")


def _text(message: oh.Message) -> str:
    return "".join(getattr(part, "text", "") for part in message.content)


def _fields(message: oh.Message) -> dict[str, Any]:
    return {
        "role": message.author.role.value,
        "name": message.author.name,
        "channel": message.channel,
        "recipient": message.recipient,
        "content_type": message.content_type,
        "content": _text(message),
    }


def _declared(tools_text: str, developer: str) -> Iterator[Finding]:
    try:
        tools = json.loads(tools_text)
    except json.JSONDecodeError:
        tools = None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        yield Finding("tools", "tools_not_json", "tools is not a JSON list of functions")
        return
    for k, tool in enumerate(tools):
        if f"type {tool.get('name')} = " not in developer:
            yield Finding(f"tools[{k}]", "tool_not_declared", f"{tool.get('name')!r} not in text")


def _same_messages(parsed: list[dict[str, Any]], listed: list[dict[str, Any]]) -> Iterator[Finding]:
    if len(parsed) != len(listed):
        message = f"the text holds {len(parsed)} messages, the line lists {len(listed)}"
        yield Finding("messages", "harmony_messages_mismatch", message)
        return
    for i, (got, want) in enumerate(zip(parsed, listed, strict=True)):
        key = next((k for k in KEYS if got[k] != want.get(k)), None)
        if key is not None:
            message = f"the text has {str(got[key])[:60]!r}"
            yield Finding(f"messages[{i}].{key}", "harmony_messages_mismatch", message)


def check_harmony(row: dict[str, Any]) -> Iterator[Finding]:
    try:
        tokens = encoding().encode(row["text"], allowed_special="all")
        parsed = encoding().parse_messages_from_completion_tokens(tokens)
    except oh.HarmonyError as exc:
        yield Finding("text", "harmony_unparseable", f"openai-harmony: {exc}")
        return
    if [m.author.role for m in parsed[:2]] != HEADER:
        yield Finding("text", "harmony_missing_header", "no system and developer message first")
        return
    yield from _declared(row["tools"], _text(parsed[1]))
    messages = [_fields(m) for m in parsed[2:]]
    yield from _same_messages(messages, row["messages"])
    if not any(m["role"] == "assistant" for m in messages):
        yield Finding("messages", "no_assistant_turn", "no assistant message to learn")
