"""What makes two conversations the same, for exact de-duplication."""

from schemas.conversation import Conversation
from stages.common.hashing import content_hash


def normalize_text(text: str | None) -> str:
    """Case and spacing do not make a new example: `Fish  lobsters` = `fish lobsters`.
    (`str.split` cuts at the characters the regex `\\s+` matches, three times as fast.)"""
    return " ".join((text or "").split()).casefold()


def dedupe_key(conversation: Conversation) -> str:
    """Hash of the normalized content: texts, tool names and arguments, not ids or labels."""
    return content_hash(
        [
            [
                message.role,
                normalize_text(message.content),
                [[c.function.name, c.function.arguments] for c in message.tool_calls or []],
            ]
            for message in conversation.messages
        ]
    )
