"""Finding failed tool calls in a conversation, and the later call that corrected one.

What counts as a failed result is stages/common/tool_results.py's rule. A correction is a
later call of the same tool, with other arguments, whose result is not a failure.
"""

from typing import NamedTuple

from schemas.conversation import Conversation, Message, ToolCall
from stages.common.tool_results import failure_message


class ToolFailure(NamedTuple):
    request: str  # the last user message before the failed call
    call: ToolCall
    error: str
    fix: ToolCall | None  # the later call that succeeded, if any


def _results(messages: list[Message]) -> dict[str, str | None]:
    return {m.tool_call_id: m.content for m in messages if m.role == "tool" and m.tool_call_id}


def find_failures(conversation: Conversation) -> list[ToolFailure]:
    """Every failed call in message order, each with the correction that followed, if any."""
    results = _results(conversation.messages)
    calls: list[tuple[str, ToolCall]] = []  # (the user request before it, call)
    request = ""
    for message in conversation.messages:
        if message.role == "user":
            request = message.content or ""
        for call in message.tool_calls or ():
            calls.append((request, call))
    failures = []
    for index, (request, call) in enumerate(calls):
        if call.id not in results:
            continue
        error = failure_message(results[call.id])
        if error is None:
            continue
        fix = next(
            (
                later
                for _, later in calls[index + 1 :]
                if later.function.name == call.function.name
                and later.function.arguments != call.function.arguments
                and later.id in results
                and failure_message(results[later.id]) is None
            ),
            None,
        )
        failures.append(ToolFailure(request, call, error, fix))
    return failures
