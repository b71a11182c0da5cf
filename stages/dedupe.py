"""What makes two conversations the same, for exact de-duplication."""

from schemas.conversation import Conversation
from stages.common.hashing import content_hash


def normalize_text(text: str | None) -> str:
    """Case and spacing do not make a new example: `Fish  lobsters` = `fish lobsters`.
    (`str.split` cuts at the characters the regex `\\s+` matches, three times as fast.)"""
    return " ".join((text or "").split()).casefold()


def normalized_contents(conversation: Conversation) -> list[str]:
    """Each message's content, normalized: what `dedupe_key` and curate's `signature_text`
    both read, made once when a caller needs both."""
    return [normalize_text(message.content) for message in conversation.messages]


def dedupe_key(conversation: Conversation, contents: list[str] | None = None) -> str:
    """Hash of the normalized content: texts, tool names and arguments, not ids or labels.
    `contents`: the `normalized_contents`, when the caller has them."""
    texts = normalized_contents(conversation) if contents is None else contents
    return content_hash(
        [
            [
                message.role,
                text,
                [[c.function.name, c.function.arguments] for c in message.tool_calls or []],
            ]
            for message, text in zip(conversation.messages, texts, strict=True)
        ]
    )
