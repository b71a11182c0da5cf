"""OpenAI chat fine-tuning lines: messages, tools, parallel_tool_calls, per-turn weight.

Arguments stay JSON strings and tool content a string, as OpenAI requires.
Assistant turns that are not training targets (stages/formats/contract.py) carry
`weight: 0`: they stay in the context the model sees but are not learned.
`parallel_tool_calls` is written when the line has tools: true when some turn makes
several calls.
"""

from schemas.conversation import Conversation, Message
from schemas.export_lines import OpenAIChatExample
from stages.formats.contract import trained_messages
from stages.formats.format_helpers import arguments_object


def _openai_message(message: Message) -> Message:
    if message.role == "tool":
        content = message.content or ""
        return Message(role="tool", content=content, tool_call_id=message.tool_call_id)
    for call in message.tool_calls or []:
        arguments_object(call.function.name, call.function.arguments)
    return message


def to_openai_chat(conv: Conversation) -> list[OpenAIChatExample]:
    messages = [_openai_message(m) for m in trained_messages(conv)]
    tools = conv.tools or None
    parallel = any(len(m.tool_calls or []) > 1 for m in messages) if tools else None
    return [OpenAIChatExample(messages=messages, tools=tools, parallel_tool_calls=parallel)]
