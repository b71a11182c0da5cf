"""Harmony text for gpt-oss, rendered by `openai-harmony` itself.

The conversation's system message becomes the developer instructions, with the
tools as the `functions` namespace. Assistant text beside a call (a preamble) is a
commentary message; each call is a commentary message to `functions.NAME` holding
the JSON arguments; each result is a tool message from `functions.NAME`; other
assistant text is on the final channel. The line stores the rendered `text`, the
developer instructions, the tools (JSON text) and the messages after the developer
turn, in the shape openai-harmony's parser returns them.
"""

from functools import cache

import openai_harmony as oh

from schemas.conversation import Conversation, Message
from schemas.format_lines import HarmonyLine, HarmonyMessage
from stages.formats.contract import clean_conversation
from stages.formats.format_helpers import Unexportable, compact_json, function_dicts
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


def _developer(instructions: str, conv: Conversation) -> oh.Message:
    content = oh.DeveloperContent.new()
    if instructions:
        content = content.with_instructions(instructions)
    if conv.tools:
        tools = [
            oh.ToolDescription.new(fn["name"], fn.get("description", ""), fn["parameters"])
            for fn in function_dicts(conv.tools)
        ]
        content = content.with_function_tools(tools)
    return oh.Message.from_role_and_content(oh.Role.DEVELOPER, content)


def to_harmony(conv: Conversation) -> list[HarmonyLine]:
    conv = clean_conversation(conv)
    first = conv.messages[0] if conv.messages else None
    instructions = (first.content or "") if first and first.role == "system" else ""
    messages = _structured(conv)
    system = oh.Message.from_role_and_content(oh.Role.SYSTEM, oh.SystemContent.new())
    convo = oh.Conversation.from_messages(
        [system, _developer(instructions, conv), *(_harmony_message(m) for m in messages)]
    )
    tokens = encoding().render_conversation_for_training(convo)
    return [
        HarmonyLine(
            text=encoding().decode_utf8(tokens),
            developer=instructions,
            tools=compact_json(function_dicts(conv.tools)),
            messages=messages,
        )
    ]
