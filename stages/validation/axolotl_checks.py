"""Axolotl `chat_template` rows as its strategy reads them, beyond their JSON Schema.

Axolotl json-loads tool arguments and tool parameters before applying the template, answers
tool messages by id, and trains the turns whose `train` is not false: a row whose JSON text
does not decode, whose tool message answers nothing, or that ends after its last assistant
turn or trains no turn at all is reported here.
"""

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from stages.common.json_value import json_or_none
from stages.validation.finding import Finding

ROLES = frozenset({"system", "user", "assistant", "tool"})


@lru_cache(maxsize=1024)
def _parameters_object(text: str) -> bool:
    """Whether a tool's parameters are a JSON object, read once per distinct text: a record's
    tools repeat on every row of its source."""
    return isinstance(json_or_none(text), dict)


def check_axolotl_chat(row: dict[str, Any]) -> Iterator[Finding]:
    for i, tool in enumerate(row.get("tools") or []):
        if not _parameters_object(tool["function"]["parameters"]):
            where = f"tools[{i}].function.parameters"
            yield Finding(where, "parameters_not_json_object", "parameters must be JSON text")
    messages = row["messages"]
    called: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message["role"] not in ROLES:
            yield Finding(f"{where}.role", "unrecognized_role", f"role {message['role']!r}")
        for j, call in enumerate(message.get("tool_calls") or []):
            called.add(call["id"])
            if not isinstance(json_or_none(call["function"]["arguments"]), dict):
                at = f"{where}.tool_calls[{j}].function.arguments"
                yield Finding(at, "arguments_not_json_object", "arguments must be JSON text")
        if message["role"] == "tool" and message.get("tool_call_id") not in called:
            at = f"{where}.tool_call_id"
            yield Finding(at, "tool_without_call", "no preceding call has this id")
    if messages and messages[-1]["role"] != "assistant":
        yield Finding(
            f"messages[{len(messages) - 1}].role",
            "ends_after_last_reply",
            "the row ends after its last assistant turn: nothing learns from the rest",
        )
    if not any(m["role"] == "assistant" and m.get("train") is not False for m in messages):
        yield Finding("messages", "nothing_to_learn", "every assistant turn has train: false")
