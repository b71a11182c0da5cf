"""Format-independent pieces of turning agent transcripts into OpenAI-shaped messages."""

from collections import Counter
from collections.abc import Sequence
from fnmatch import fnmatchcase

import msgspec

from schemas.conversation import Message


class ToolFilter(msgspec.Struct, frozen=True):
    """Keep a tool when it matches some `include` glob (or none are given) and no `exclude` glob.

    Globs are case-sensitive `fnmatch` patterns over the tool name, e.g. `mcp__*`
    or `mcp__my-server__*`.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def keeps(self, name: str) -> bool:
        if self.include and not any(fnmatchcase(name, p) for p in self.include):
            return False
        return not any(fnmatchcase(name, p) for p in self.exclude)


def _joined(a: str | None, b: str | None) -> str | None:
    parts = [p for p in (a, b) if p]
    return "\n\n".join(parts) if parts else None


def normalize(messages: Sequence[Message], counts: Counter[str]) -> list[Message]:
    """Make a message list valid for OpenAI fine-tuning.

    Assistant messages with neither text nor calls are dropped; consecutive
    assistant messages (left behind by dropped calls, API errors or interrupts)
    are merged, because OpenAI rejects two in a row; anything before the first
    user message is dropped, because a training example starts with a prompt.
    A merge only ever follows an assistant message without calls: kept calls
    are always followed by their tool messages.
    """
    out: list[Message] = []
    for message in messages:
        if message.role == "assistant" and not message.content and not message.tool_calls:
            counts["dropped.empty_assistant"] += 1
            continue
        if not out and message.role != "user":
            counts["dropped.leading_message"] += 1
            continue
        previous = out[-1] if out else None
        if message.role == "assistant" and previous is not None and previous.role == "assistant":
            counts["merged.assistant_messages"] += 1
            out[-1] = msgspec.structs.replace(
                message, content=_joined(previous.content, message.content)
            )
            continue
        out.append(message)
    return out
