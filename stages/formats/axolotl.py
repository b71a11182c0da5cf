"""Axolotl rows: `chat_template` conversations and `alpaca` instruction triples.

chat_template rows keep the OpenAI message shape. Tool arguments and tool
parameters are JSON text: Axolotl's chat_template strategy json-loads both before
applying the template (so the template still sees objects), and JSON text keeps
the Arrow column type the same on every row however the arguments vary. A
turn that is not a training target (stages/formats/contract.py) gets `train: false`, read
through `message_field_training: train`.
"""

from schemas.conversation import Conversation, Message
from schemas.format_lines import (
    AlpacaRow,
    AxolotlChatRow,
    AxolotlMessage,
    StringFunctionCall,
    StringFunctionDef,
    StringTool,
    StringToolCall,
)
from stages.formats.contract import clean_conversation, trained_messages
from stages.formats.format_helpers import (
    Unexportable,
    arguments_object,
    compact_json,
    tool_texts,
)


def _message(m: Message) -> AxolotlMessage:
    calls = None
    if m.tool_calls:
        calls = []
        for c in m.tool_calls:
            args = compact_json(arguments_object(c.function.name, c.function.arguments))
            calls.append(
                StringToolCall(
                    id=c.id, function=StringFunctionCall(name=c.function.name, arguments=args)
                )
            )
    return AxolotlMessage(
        role=m.role,
        content=m.content if m.content is not None or calls else "",
        tool_calls=calls,
        tool_call_id=m.tool_call_id,
        train=False if m.weight == 0 else None,
    )


def to_axolotl_chat(conv: Conversation) -> list[AxolotlChatRow]:
    messages = [_message(m) for m in trained_messages(conv)]
    parameters = tool_texts(conv.tools).parameters_json
    tools = [
        StringTool(
            function=StringFunctionDef(
                name=t.function.name,
                description=t.function.description or "",
                parameters=parameters[k],
            )
        )
        for k, t in enumerate(conv.tools)
    ]
    return [AxolotlChatRow(messages=messages, tools=tools or None)]


def to_alpaca(conv: Conversation) -> list[AlpacaRow]:
    """One user request and one plain answer; anything else is not an instruction pair."""
    conv = clean_conversation(conv)
    system = ""
    messages = conv.messages
    if messages and messages[0].role == "system":
        system, messages = messages[0].content or "", messages[1:]
    roles = [m.role for m in messages]
    if roles != ["user", "assistant"] or messages[1].tool_calls:
        raise Unexportable("not_single_turn", "alpaca holds one user turn and one text answer")
    return [
        AlpacaRow(
            instruction=messages[0].content or "",
            input="",
            output=messages[1].content or "",
            system=system,
        )
    ]
