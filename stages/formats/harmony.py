"""Harmony text for gpt-oss, rendered by `openai-harmony` itself.

The conversation's system message becomes the developer instructions, with the
tools as the `functions` namespace. Assistant text beside a call (a preamble) is a
commentary message; each call is a commentary message to `functions.NAME` holding
the JSON arguments; each result is a tool message from `functions.NAME`; other
assistant text is on the final channel. The line stores the rendered `text`, the
developer instructions, the tools (JSON text) and the messages after the developer
turn, in the shape openai-harmony's parser returns them.

openai-harmony lays out a skeleton of the conversation, each text replaced by one slot
character, and the texts go into the slots: its renderer tokenizes everything it renders,
and tokenizing whole conversations made Harmony most of the export's time. A text round-trips
through its tokens unchanged, so the line is the one a full render gives (tests compare both).
"""

import json
from functools import cache, lru_cache
from typing import Any

import openai_harmony as oh

from schemas.conversation import Conversation, Message
from schemas.format_lines import HarmonyLine, HarmonyMessage
from stages.formats.contract import clean_conversation
from stages.formats.format_helpers import Unexportable, function_dicts, tool_texts
from stages.formats.vocab import ensure_encodings_base

JSON_CONTENT = "<|constrain|>json"


@cache
def encoding() -> oh.HarmonyEncoding:
    ensure_encodings_base()
    return oh.load_harmony_encoding(oh.HarmonyEncodingName.HARMONY_GPT_OSS)


def _structured(conv: Conversation) -> list[HarmonyMessage]:
    names: dict[str, str] = {}
    out = []
    for i, m in enumerate(conv.messages):
        if m.role == "system":
            if i != 0:
                raise Unexportable("late_system_message", f"message {i} is a system message")
        elif m.role == "user":
            out.append(HarmonyMessage(role="user", content=m.content or ""))
        elif m.role == "tool":
            name = names.get(m.tool_call_id or "")
            if name is None:
                raise Unexportable("orphan_tool_result", f"message {i} answers no call")
            out.append(_tool_result(name, m))
        else:
            out.extend(_assistant(m, names))
    return out


def _tool_result(name: str, m: Message) -> HarmonyMessage:
    return HarmonyMessage(
        role="tool",
        name=f"functions.{name}",
        channel="commentary",
        recipient="assistant",
        content=m.content or "",
    )


def _assistant(m: Message, names: dict[str, str]) -> list[HarmonyMessage]:
    if not m.tool_calls:
        return [HarmonyMessage(role="assistant", channel="final", content=m.content or "")]
    out = []
    if m.content:
        out.append(HarmonyMessage(role="assistant", channel="commentary", content=m.content))
    for call in m.tool_calls:
        names[call.id] = call.function.name
        out.append(
            HarmonyMessage(
                role="assistant",
                channel="commentary",
                recipient=f"functions.{call.function.name}",
                content_type=JSON_CONTENT,
                content=call.function.arguments,
            )
        )
    return out


def _harmony_message(m: HarmonyMessage) -> oh.Message:
    author = oh.Author(role=oh.Role(m.role), name=m.name)
    message = oh.Message.from_author_and_content(author, m.content)
    message.channel = m.channel
    message.recipient = m.recipient
    message.content_type = m.content_type
    return message


def _developer(instructions: str, tools: list[dict[str, Any]]) -> oh.Message:
    content = oh.DeveloperContent.new()
    if instructions:
        content = content.with_instructions(instructions)
    if tools:
        descriptions = [
            oh.ToolDescription.new(fn["name"], fn.get("description", ""), fn["parameters"])
            for fn in tools
        ]
        content = content.with_function_tools(descriptions)
    return oh.Message.from_role_and_content(oh.Role.DEVELOPER, content)


def render(instructions: str, tools: list[dict[str, Any]], messages: list[HarmonyMessage]) -> str:
    """The training text openai-harmony renders for the whole conversation."""
    system = oh.Message.from_role_and_content(oh.Role.SYSTEM, oh.SystemContent.new())
    convo = oh.Conversation.from_messages(
        [system, _developer(instructions, tools), *(_harmony_message(m) for m in messages)]
    )
    return encoding().decode_utf8(encoding().render_conversation_for_training(convo))


SLOT = "\ue000"  # a private-use character: where a text goes in a skeleton


@lru_cache(maxsize=64)
def _opening(has_instructions: bool, tools: str) -> str:
    """The system and developer messages' skeleton: conversations share a few of them."""
    system = oh.Message.from_role_and_content(oh.Role.SYSTEM, oh.SystemContent.new())
    developer = _developer(SLOT if has_instructions else "", json.loads(tools))
    convo = oh.Conversation.from_messages([system, developer])
    return encoding().decode_utf8(encoding().render_conversation(convo))


Header = tuple[str, str | None, str | None, str | None, str | None]


@lru_cache(maxsize=4096)
def _message_skeleton(header: Header, last: bool) -> str:
    """One message's skeleton, the last one as training ends a conversation."""
    role, name, channel, recipient, content_type = header
    slot = HarmonyMessage(
        role=role,
        name=name,
        channel=channel,
        recipient=recipient,
        content_type=content_type,
        content=SLOT,
    )
    convo = oh.Conversation.from_messages([_harmony_message(slot)])
    render = encoding().render_conversation_for_training if last else encoding().render_conversation
    return encoding().decode_utf8(render(convo))


def _skeleton(has_instructions: bool, tools: str, messages: list[HarmonyMessage]) -> str:
    """openai-harmony renders a message in about 0.1 ms whatever its length, so each kind of
    message is rendered once."""
    last = len(messages) - 1
    return _opening(has_instructions, tools) + "".join(
        _message_skeleton((m.role, m.name, m.channel, m.recipient, m.content_type), i == last)
        for i, m in enumerate(messages)
    )


def to_harmony(conv: Conversation) -> list[HarmonyLine]:
    conv = clean_conversation(conv)
    first = conv.messages[0] if conv.messages else None
    instructions = (first.content or "") if first and first.role == "system" else ""
    messages = _structured(conv)
    tools_text = tool_texts(conv.tools).functions_json
    texts = [instructions] if instructions else []
    texts.extend(m.content for m in messages)
    pieces = _skeleton(bool(instructions), tools_text, messages).split(SLOT)
    if len(pieces) == len(texts) + 1:
        text = "".join(piece + t for piece, t in zip(pieces, [*texts, ""], strict=True))
    else:  # the tools themselves hold the slot character
        text = render(instructions, function_dicts(conv.tools), messages)
    return [HarmonyLine(text=text, developer=instructions, tools=tools_text, messages=messages)]
