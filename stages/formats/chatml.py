"""ChatML text (`<|im_start|>role\\n...<|im_end|>`) and its parser back to messages.

Tool calls are written inside the assistant turn as Hermes/Qwen `<tool_call>` blocks
with the arguments as a JSON object; tool results keep the `tool` role. Tool
definitions are not part of plain ChatML: use the `qwen` format to train on them.
ChatML has no call ids, so parsing numbers the calls `call_1`, `call_2`, ... in order
and answers them first-in, first-out; `renumber_calls` puts any conversation in
that same form so the two can be compared.
"""

import json
import re
from collections import deque
from collections.abc import Iterator
from functools import lru_cache

from schemas.conversation import Conversation, FunctionCall, Message, ToolCall
from schemas.format_lines import TextLine
from stages.formats.contract import clean_conversation
from stages.formats.format_helpers import Unexportable, arguments_object

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
_CALLS_AT_END = re.compile(r"((?:\n<tool_call>\n[^\n]*\n</tool_call>)+)\Z")
_ONE_CALL = re.compile(r"\n<tool_call>\n([^\n]*)\n</tool_call>")


class ParseError(ValueError):
    """Text that is not in the format its parser reads."""


def call_object(call: ToolCall) -> dict:
    """`{name, arguments}` with the arguments decoded to an object."""
    name = call.function.name
    return {"name": name, "arguments": arguments_object(name, call.function.arguments)}


def tool_call_block(call: ToolCall) -> str:
    """A call as Qwen2.5's template renders it: arguments through `tojson`."""
    return _call_block(call.function.name, call.function.arguments)


@lru_cache(maxsize=1024)
def _call_block(name: str, arguments: str) -> str:
    # Cached: ChatML and Qwen render the same calls of a record one after the other.
    args = json.dumps(arguments_object(name, arguments), ensure_ascii=False)
    return f'\n<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


def check_text(conv: Conversation) -> None:
    """Refuse content that would end a turn early when the text is read back."""
    for i, m in enumerate(conv.messages):
        text = m.content or ""
        if IM_START in text or IM_END in text:
            raise Unexportable("special_token_in_content", f"message {i} holds a ChatML marker")


def to_chatml(conv: Conversation) -> list[TextLine]:
    conv = clean_conversation(conv)
    check_text(conv)
    parts = []
    for m in conv.messages:
        calls = "".join(tool_call_block(c) for c in m.tool_calls or [])
        parts.append(f"{IM_START}{m.role}\n{m.content or ''}{calls}{IM_END}\n")
    return [TextLine(text="".join(parts))]


def turns(text: str) -> Iterator[tuple[str, str]]:
    """(role line, body) of each `<|im_start|>...<|im_end|>\\n` block of a text."""
    pos = 0
    while pos < len(text):
        if not text.startswith(IM_START, pos):
            raise ParseError(f"expected {IM_START} at offset {pos}")
        end = text.find(IM_END, pos)
        if end < 0:
            raise ParseError(f"turn at offset {pos} has no {IM_END}")
        block = text[pos + len(IM_START) : end]
        role, _, body = block.partition("\n")
        yield role, ("\n" + body if "\n" in block else "")
        pos = end + len(IM_END)
        if text.startswith("\n", pos):
            pos += 1


def split_calls(body: str) -> tuple[str, list[dict]]:
    """Assistant body → (text before the calls, decoded call objects)."""
    match = _CALLS_AT_END.search(body)
    if match is None:
        return body, []
    calls = [json.loads(raw) for raw in _ONE_CALL.findall(match.group(1))]
    return body[: match.start()], calls


class CallNumbering:
    """Gives calls ids in order and answers tool results first-in, first-out."""

    def __init__(self) -> None:
        self.count = 0
        self.pending: deque[str] = deque()

    def call(self, name: str, arguments: dict) -> ToolCall:
        self.count += 1
        call_id = f"call_{self.count}"
        self.pending.append(call_id)
        args = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=args))

    def answer(self) -> str | None:
        return self.pending.popleft() if self.pending else None


def assistant_message(text: str, calls: list[dict], numbering: CallNumbering) -> Message:
    tool_calls = [numbering.call(c["name"], c["arguments"]) for c in calls]
    if tool_calls:
        return Message(role="assistant", content=text or None, tool_calls=tool_calls)
    return Message(role="assistant", content=text)


def parse_chatml(text: str) -> list[Message]:
    numbering = CallNumbering()
    messages = []
    for role, body in turns(text):
        content = body.removeprefix("\n")
        if role == "assistant":
            text_part, calls = split_calls(body)
            messages.append(assistant_message(text_part.removeprefix("\n"), calls, numbering))
        elif role == "tool":
            messages.append(Message(role="tool", content=content, tool_call_id=numbering.answer()))
        else:
            messages.append(Message(role=role, content=content))  # type: ignore[arg-type]
    return messages


def renumber_calls(messages: list[Message]) -> list[Message]:
    """Messages as a text format can say them: calls numbered in order, no names or
    weights, compact arguments, no empty text beside tool calls."""
    numbering = CallNumbering()
    new_ids: dict[str, str] = {}
    out = []
    for m in messages:
        if m.role == "assistant":
            calls = [call_object(c) for c in m.tool_calls or []]
            message = assistant_message(m.content or "", calls, numbering)
            for old, new in zip(m.tool_calls or [], message.tool_calls or [], strict=True):
                new_ids[old.id] = new.id
            out.append(message)
        elif m.role == "tool":
            call_id = new_ids.get(m.tool_call_id or "")
            out.append(Message(role="tool", content=m.content or "", tool_call_id=call_id))
        else:
            out.append(Message(role=m.role, content=m.content or ""))
    return out
