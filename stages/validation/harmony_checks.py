"""Harmony lines read back by openai-harmony, the renderer and parser gpt-oss is trained with.

The `text` must parse (a stray token or an unknown role is a `HarmonyError`), open with
the system and developer messages, declare every function of `tools` in the developer
message, and hold exactly the messages the line lists, field for field. The vocabulary
comes from the bpe-openai package (`stages.formats.vocab`), so this runs offline.

openai-harmony's parser spends about 0.3 ms a message whatever its length, so a text is
parsed one message at a time, each message's header with a slot for its text, and each
kind of header once; a text holding a special token anywhere but in the headers goes to
the parser whole. Tests compare both readings on good and broken texts.
"""

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import openai_harmony as oh

from stages.common.json_value import json_or_none
from stages.formats.harmony import SLOT, encoding
from stages.validation.finding import Finding

HEADER = [oh.Role.SYSTEM.value, oh.Role.DEVELOPER.value]
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


START, MESSAGE, SPECIAL = "<|start|>", "<|message|>", "<|"
ENDS = frozenset({"<|end|>", "<|call|>", "<|return|>"})


def parse_harmony(text: str) -> list[dict[str, Any]]:
    """The messages openai-harmony parses out of `text`, as `_fields` gives them; raises
    oh.HarmonyError when it cannot parse it."""
    # Cut at every <|start|>: each piece is a header, <|message|>, the text and the token
    # that ends it. Cut with str.split and str.find: a regular expression's lazy scan for
    # the end took a sixth of validate's time on long tool results.
    before, *pieces = text.split(START)
    if before:
        return _parse_whole(text)
    messages: list[dict[str, Any]] = []
    for piece in pieces:
        header, opened, rest = piece.partition(MESSAGE)
        close = rest.find(SPECIAL)
        if not opened or close < 0 or rest[close:] not in ENDS:
            return _parse_whole(text)
        content = rest[:close]
        fields = None if SLOT in content else _parse_header(header, rest[close:])
        if fields is None:
            return _parse_whole(text)
        messages.append({**fields, "content": content})
    return messages


def _parse_whole(text: str) -> list[dict[str, Any]]:
    tokens = encoding().encode(text, allowed_special="all")
    return [_fields(m) for m in encoding().parse_messages_from_completion_tokens(tokens)]


@lru_cache(maxsize=4096)
def _parse_header(header: str, end: str) -> dict[str, Any] | None:
    """The fields of a message with this header (what lies between <|start|> and
    <|message|>), its text left out; None when the header alone does not parse into one
    message holding the slot (the whole text is parsed then)."""
    try:
        parsed = _parse_whole(START + header + MESSAGE + SLOT + end)
    except oh.HarmonyError:
        return None
    if len(parsed) != 1 or parsed[0]["content"] != SLOT:
        return None
    return {k: v for k, v in parsed[0].items() if k != "content"}


@lru_cache(maxsize=256)
def _declared(tools_text: str, developer: str) -> tuple[Finding, ...]:
    """Findings of the tools the developer message must declare: a record's tools repeat
    across its examples, so each pair is checked once."""
    tools = json_or_none(tools_text)
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        return (Finding("tools", "tools_not_json", "tools is not a JSON list of functions"),)
    return tuple(
        Finding(f"tools[{k}]", "tool_not_declared", f"{tool.get('name')!r} not in text")
        for k, tool in enumerate(tools)
        if f"type {tool.get('name')} = " not in developer
    )


def _same_messages(parsed: list[dict[str, Any]], listed: list[dict[str, Any]]) -> Iterator[Finding]:
    if len(parsed) != len(listed):
        message = f"the text holds {len(parsed)} messages, the line lists {len(listed)}"
        yield Finding("messages", "harmony_messages_mismatch", message)
        return
    for i, (got, want) in enumerate(zip(parsed, listed, strict=True)):
        if got == want:  # every field the same: one comparison in C
            continue
        key = next((k for k in KEYS if got[k] != want.get(k)), None)
        if key is not None:
            message = f"the text has {str(got[key])[:60]!r}"
            yield Finding(f"messages[{i}].{key}", "harmony_messages_mismatch", message)


def check_harmony(row: dict[str, Any]) -> Iterator[Finding]:
    try:
        parsed = parse_harmony(row["text"])
    except oh.HarmonyError as exc:
        yield Finding("text", "harmony_unparseable", f"openai-harmony: {exc}")
        return
    if [m["role"] for m in parsed[:2]] != HEADER:
        yield Finding("text", "harmony_missing_header", "no system and developer message first")
        return
    yield from _declared(row["tools"], parsed[1]["content"])
    messages = parsed[2:]
    yield from _same_messages(messages, row["messages"])
    if not any(m["role"] == "assistant" for m in messages):
        yield Finding("messages", "no_assistant_turn", "no assistant message to learn")
