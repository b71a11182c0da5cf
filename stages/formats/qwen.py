"""Qwen2.5 tool-calling text, byte for byte what Qwen2.5's chat template renders.

The tools go into the system turn (one `tojson` line each inside `<tools>`), calls
are `<tool_call>` blocks with the arguments as an object, and consecutive tool
results share one user turn of `<tool_response>` blocks. Without a system message
the template's default system prompt is used, so the parser reads it back as one.
"""

import json

from schemas.conversation import Conversation, FunctionDef, Message, Tool
from schemas.format_lines import TextLine
from stages.formats.chatml import (
    IM_END,
    IM_START,
    CallNumbering,
    ParseError,
    assistant_message,
    check_text,
    split_calls,
    tool_call_block,
    turns,
)
from stages.formats.contract import clean_conversation
from stages.formats.format_helpers import tool_texts

DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
TOOLS_HEAD = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
RESPONSE_OPEN = "\n<tool_response>\n"
RESPONSE_CLOSE = "\n</tool_response>"


def _system_turn(messages: list[Message], tool_lines: str) -> str:
    has_system = bool(messages) and messages[0].role == "system"
    system = (messages[0].content or "") if has_system else DEFAULT_SYSTEM
    if not tool_lines:
        return f"{IM_START}system\n{system}{IM_END}\n"
    return f"{IM_START}system\n{system}{TOOLS_HEAD}{tool_lines}{TOOLS_TAIL}{IM_END}\n"


def render_qwen(messages: list[Message], tool_lines: str) -> str:
    """The text of Qwen2.5's template for these messages (no generation prompt);
    `tool_lines`: the tools as `ToolTexts.qwen_lines` writes them."""
    parts = [_system_turn(messages, tool_lines)]
    for i, m in enumerate(messages):
        if m.role == "system" and i == 0:
            continue
        if m.role == "tool":
            if i == 0 or messages[i - 1].role != "tool":
                parts.append(f"{IM_START}user")
            parts.append(f"{RESPONSE_OPEN}{m.content or ''}{RESPONSE_CLOSE}")
            if i == len(messages) - 1 or messages[i + 1].role != "tool":
                parts.append(f"{IM_END}\n")
        elif m.role == "assistant" and m.tool_calls:
            text = f"\n{m.content}" if m.content else ""
            calls = "".join(tool_call_block(c) for c in m.tool_calls)
            parts.append(f"{IM_START}assistant{text}{calls}{IM_END}\n")
        else:
            parts.append(f"{IM_START}{m.role}\n{m.content or ''}{IM_END}\n")
    return "".join(parts)


def to_qwen(conv: Conversation) -> list[TextLine]:
    conv = clean_conversation(conv)
    check_text(conv)
    return [TextLine(text=render_qwen(conv.messages, tool_texts(conv.tools).qwen_lines))]


def _parse_system(body: str) -> tuple[Message, list[Tool]]:
    content = body.removeprefix("\n")
    head = content.find(TOOLS_HEAD)
    if head < 0:
        return Message(role="system", content=content), []
    if not content.endswith(TOOLS_TAIL):
        raise ParseError("system turn has a tools header but no tools footer")
    lines = content[head + len(TOOLS_HEAD) : -len(TOOLS_TAIL)].split("\n")[1:]
    tools = [Tool(function=FunctionDef(**json.loads(line)["function"])) for line in lines]
    return Message(role="system", content=content[:head]), tools


def parse_qwen(text: str) -> tuple[list[Message], list[Tool]]:
    """Messages and tool definitions back from a Qwen2.5 text."""
    numbering = CallNumbering()
    messages: list[Message] = []
    tools: list[Tool] = []
    for index, (role, body) in enumerate(turns(text)):
        if index == 0 and role == "system":
            system, tools = _parse_system(body)
            messages.append(system)
        elif role == "user" and body.startswith(RESPONSE_OPEN) and body.endswith(RESPONSE_CLOSE):
            inner = body[len(RESPONSE_OPEN) : -len(RESPONSE_CLOSE)]
            for result in inner.split(RESPONSE_CLOSE + RESPONSE_OPEN):
                call_id = numbering.answer()
                messages.append(Message(role="tool", content=result, tool_call_id=call_id))
        elif role == "assistant":
            text_part, calls = split_calls(body)
            messages.append(assistant_message(text_part.removeprefix("\n"), calls, numbering))
        else:
            messages.append(Message(role=role, content=body.removeprefix("\n")))  # type: ignore[arg-type]
    return messages, tools
