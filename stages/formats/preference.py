"""Preference pairs in TRL's conversational form: a wrong turn and its correction.

stages/formats/contract.py decides the pair: `prompt` is every message before the wrong
turn, `chosen` its correction (an annotation's, a successful retry, the corrected code),
`rejected` the wrong turn. Records without both are refused. Tool arguments are objects,
which is what `apply_chat_template` renders.
"""

from schemas.conversation import Conversation, Message
from schemas.format_lines import ChatMessage, ObjectFunctionCall, ObjectToolCall, PreferenceRow
from stages.formats.contract import preference_pair
from stages.formats.format_helpers import arguments_object


def chat_message(m: Message) -> ChatMessage:
    """A message as Hugging Face chat templates read it: arguments as objects."""
    calls = None
    if m.tool_calls:
        calls = [
            ObjectToolCall(
                id=c.id,
                function=ObjectFunctionCall(
                    name=c.function.name,
                    arguments=arguments_object(c.function.name, c.function.arguments),
                ),
            )
            for c in m.tool_calls
        ]
    return ChatMessage(
        role=m.role, content=m.content, tool_calls=calls, tool_call_id=m.tool_call_id
    )


def to_preference(conv: Conversation) -> list[PreferenceRow]:
    pair = preference_pair(conv)
    return [
        PreferenceRow(
            id=conv.id,
            prompt=[chat_message(m) for m in pair.prompt],
            chosen=[chat_message(pair.chosen)],
            rejected=[chat_message(pair.rejected)],
        )
    ]
