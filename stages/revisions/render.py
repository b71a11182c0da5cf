"""A conversation as plain lines, for a unified diff a reviewer reads top to bottom."""

import msgspec

from schemas.conversation import Conversation, Message
from stages.revisions.read import Entry


def _message_lines(message: Message) -> list[str]:
    head = f"[{message.role}]"
    if message.role == "tool" and message.tool_call_id:
        head = f"[tool {message.tool_call_id}]"
    if message.weight == 0:
        head += " (not trained)"
    lines = [head]
    if message.content:
        lines += [f"  {text}" for text in message.content.splitlines()]
    for call in message.tool_calls or []:
        lines.append(f"  → {call.function.name}({call.function.arguments}) #{call.id}")
    return lines


def render(entry: Entry) -> list[str]:
    """Split, source, labels, tools, provenance and messages of one record, a fact a line."""
    record: Conversation = entry.record
    labels = record.labels
    lines = [
        f"split: {entry.split}",
        f"source: {record.source}",
        f"example_type: {labels.example_type}",
        f"quality_score: {labels.quality_score}",
        f"rating: {labels.rating}",
        f"tags: {', '.join(labels.tags)}",
    ]
    lines += [
        f"{name}: {value}"
        for name in ("problem", "root_cause", "reasoning")
        if (value := getattr(labels, name))
    ]
    if labels.correction is not None:
        lines += ["correction:", *_message_lines(labels.correction)]
    lines.append(f"tools: {', '.join(tool.function.name for tool in record.tools)}")
    lines.append(f"meta: {msgspec.json.encode(record.meta).decode()}")
    for message in record.messages:
        lines += _message_lines(message)
    return lines
