"""Bot conversation logs → training conversations (pure: lines in, records out).

A game bot writes one file a day, `conversations_YYYY-MM-DD.jsonl`; each line is
a user's message, the tool calls the bot made in order, and its reply (the shape
is `schemas.botlog_line.BotLogLine`, documented with an example in docs/journals.md).

Each line becomes: user → (assistant tool call → tool result)* → assistant reply.
Calls are one per assistant turn because the bot made them one after another,
each seeing the previous result; ids are call_1, call_2, … in log order.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.botlog_line import BotLogLine, BotToolCall
from schemas.conversation import (
    Conversation,
    ExampleType,
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Meta,
    Tool,
    ToolCall,
)
from schemas.reject import Reject
from stages.common.decode import DECODE_REASONS, LineDecoder, LineError
from stages.common.hashing import messages_id
from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES, Line
from stages.common.tool_schema import infer_schema, merge_schemas

# A bot log is a tool-call log with the conversation around it; schemas has no
# source of its own for it.
SOURCE = "botlog"
NEUTRAL_QUALITY = 0.7
LABEL_QUALITY = {"good": 1.0, "bad": 0.0}

# The bot's own words for a request's task type and command category → one tag
# each. Anything else is tagged `task:other` / `category:other`, never rejected.
TASK_TYPES: dict[str, str] = {
    "command": "command",
    "action": "command",
    "direct": "command",
    "question": "question",
    "query": "question",
    "info": "question",
    "status": "question",
    "multi_step": "multi_step",
    "multistep": "multi_step",
    "plan": "multi_step",
    "chat": "chat",
    "conversation": "chat",
    "smalltalk": "chat",
}
CATEGORIES: dict[str, str] = {
    "banking": "banking",
    "bank": "banking",
    "fishing": "fishing",
    "fish": "fishing",
    "navigation": "navigation",
    "nav": "navigation",
    "travel": "navigation",
    "movement": "navigation",
    "walk": "navigation",
    "combat": "combat",
    "fight": "combat",
    "pvp": "combat",
    "pvm": "combat",
    "crafting": "crafting",
    "craft": "crafting",
    "smithing": "crafting",
    "trading": "trading",
    "trade": "trading",
    "grand_exchange": "trading",
    "inventory": "inventory",
    "items": "inventory",
    "skills": "skills",
    "skilling": "skills",
    "woodcutting": "skills",
    "mining": "skills",
    "social": "social",
    "chat": "social",
    "system": "system",
    "admin": "system",
}

REJECT_REASONS = (*DECODE_REASONS, "bad_arguments", "empty_message", "empty_response")
# Bump when the same lines would give different output: it keys the per-file cache.
PARSER_VERSION = 1


@dataclass
class BotlogResult:
    conversations: list[Conversation] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    blank_lines: int = 0


def _tag(vocabulary: Mapping[str, str], prefix: str, value: str) -> str:
    key = "_".join(value.strip().lower().replace("-", "_").split())
    return f"{prefix}:{vocabulary.get(key, 'other')}"


def _arguments(call: BotToolCall) -> dict[str, Any]:
    arguments = call.arguments
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError as error:
            raise LineError(
                "bad_arguments", f"tool {call.name!r}: arguments are not JSON ({error})"
            ) from None
    if not isinstance(arguments, dict):
        raise LineError("bad_arguments", f"tool {call.name!r}: arguments are not a JSON object")
    return arguments


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _result_text(call: BotToolCall) -> str:
    """A tool message's content is a string: text as is, anything else as JSON."""
    if call.error is not None:
        return _json_text({"error": call.error})
    if isinstance(call.result, str):
        return call.result
    return _json_text(call.result)


def _messages(line: BotLogLine) -> tuple[list[Message], list[Tool]]:
    messages = [Message(role="user", content=line.message)]
    schemas: dict[str, dict[str, Any]] = {}
    for number, call in enumerate(line.tool_calls, start=1):
        arguments = _arguments(call)
        call_id = f"call_{number}"
        messages.append(
            Message(
                role="assistant",
                tool_calls=[
                    ToolCall(
                        id=call_id,
                        function=FunctionCall(name=call.name, arguments=_json_text(arguments)),
                    )
                ],
            )
        )
        messages.append(Message(role="tool", tool_call_id=call_id, content=_result_text(call)))
        schema = infer_schema(arguments)
        known = schemas.get(call.name)
        schemas[call.name] = merge_schemas(known, schema) if known else schema
    messages.append(Message(role="assistant", content=line.response))
    tools = [
        Tool(function=FunctionDef(name=name, parameters=schemas[name])) for name in sorted(schemas)
    ]
    return messages, tools


def _example_type(line: BotLogLine) -> ExampleType | None:
    """A reviewed-bad line is a negative; a line that acted through tools, direct execution."""
    if line.label == "bad":
        return "negative"
    return "direct_execution" if line.tool_calls else None


def _labels(line: BotLogLine) -> Labels:
    if line.label is not None:
        quality = LABEL_QUALITY[line.label]
    elif line.rating is not None:
        quality = (line.rating - 1) / 4
    else:
        quality = NEUTRAL_QUALITY
    return Labels(
        example_type=_example_type(line),
        quality_score=quality,
        rating=line.rating,
        tags=[
            _tag(TASK_TYPES, "task", line.task_type),
            _tag(CATEGORIES, "category", line.category),
        ],
    )


def to_conversation(line: BotLogLine, file: str, number: int) -> Conversation:
    if not line.message.strip():
        raise LineError("empty_message", "the user message is empty")
    if not line.response.strip():
        raise LineError("empty_response", "the bot's response is empty")
    messages, tools = _messages(line)
    return Conversation(
        id=messages_id(messages),
        source=SOURCE,
        messages=messages,
        tools=tools,
        labels=_labels(line),
        meta=Meta(
            file=file,
            line=number,
            timestamp=line.timestamp,
            model=line.model,
            session_id=line.session_id,
        ),
    )


def parse_line(line: Line, file: str, decoder: LineDecoder[BotLogLine]) -> Conversation | Reject:
    """One log line → its conversation, or a reject saying why not."""
    try:
        return to_conversation(decoder.decode(line), file, line.number)
    except LineError as error:
        return error.reject(file, line)


def parse_day(
    lines: Iterable[Line], file: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> BotlogResult:
    """Every line of one day's log file: conversations in line order, and rejects."""
    decoder = LineDecoder(BotLogLine, max_line_bytes)
    result = BotlogResult()
    for line in lines:
        result.read += 1
        if line.blank:
            result.blank_lines += 1
            continue
        record = parse_line(line, file, decoder)
        if isinstance(record, Reject):
            result.rejects.append(record)
        else:
            result.conversations.append(record)
    return result
