"""Preference rows as TRL's DPOTrainer reads them: a prompt awaiting a reply, two replies.

The prompt must end where the model speaks next (a user or tool message); `chosen` and
`rejected` are each one assistant message with something in it, and they differ in what
they say or call (a pair of equal answers has no preference to learn). That arguments
are objects is the schema's check (`preference_row.schema.json`).
"""

from collections.abc import Iterator
from typing import Any

from stages.validation.finding import Finding

AWAITING_REPLY = ("user", "tool")
SIDES = ("chosen", "rejected")


def behaviour(messages: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """What a reply says and calls, without the call ids that differ between equal calls."""
    return [
        (m.get("content"), [c["function"] for c in m.get("tool_calls") or []]) for m in messages
    ]


def check_preference(row: dict[str, Any]) -> Iterator[Finding]:
    prompt = row["prompt"]
    if not prompt:
        yield Finding("prompt", "empty_prompt", "the prompt has no message")
    elif prompt[-1]["role"] not in AWAITING_REPLY:
        last = len(prompt) - 1
        yield Finding(
            f"prompt[{last}].role",
            "prompt_not_awaiting_reply",
            f"the prompt ends on a {prompt[-1]['role']} message, not a user or tool message",
        )
    for side in SIDES:
        messages = row[side]
        if len(messages) != 1 or messages[0]["role"] != "assistant":
            roles = [m["role"] for m in messages]
            yield Finding(side, "not_one_assistant_message", f"{side} holds {roles}")
        elif not messages[0].get("content") and not messages[0].get("tool_calls"):
            yield Finding(f"{side}[0]", "empty_reply", f"{side} says and calls nothing")
    if behaviour(row["chosen"]) == behaviour(row["rejected"]):
        yield Finding("chosen", "chosen_equals_rejected", "chosen and rejected are the same reply")
