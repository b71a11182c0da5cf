"""ShareGPT rows as LLaMA-Factory's `SharegptDatasetConverter` reads them.

LLaMA-Factory takes a first `system` turn as the system prompt, then wants the turns to
alternate: even positions `human` or `observation`, odd positions `gpt` or
`function_call`, an even count (the last turn is the reply). A row that breaks any of
this is skipped with a log warning, so here it is an error, reported once, at the first
turn that breaks it. A `function_call` value is JSON: one `{name, arguments}` object or
a list of them, arguments an object (LLaMA-Factory re-encodes them; a string would be
trained double-encoded). `tools` is the JSON text of a list of function definitions.
"""

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from stages.common.json_value import json_or_none
from stages.formats.sharegpt import TAGS
from stages.validation.finding import Finding

SYSTEM = TAGS["system_tag"]
FUNCTION = TAGS["function_tag"]
PROMPT_SIDE = (TAGS["user_tag"], TAGS["observation_tag"])
REPLY_SIDE = (TAGS["assistant_tag"], FUNCTION)
ROLES = frozenset({SYSTEM, *PROMPT_SIDE, *REPLY_SIDE})


def check_function_call(field: str, value: str) -> Iterator[Finding]:
    calls = json_or_none(value)
    calls = [calls] if isinstance(calls, dict) else calls
    if not isinstance(calls, list) or not calls:
        yield Finding(field, "function_call_not_json", "not a JSON object or list of objects")
        return
    for k, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            yield Finding(field, "function_call_missing_name", f"call {k} has no name")
        elif not isinstance(call.get("arguments"), dict):
            yield Finding(field, "function_call_arguments", f"call {k}: arguments not an object")


def check_turns(turns: list[dict[str, Any]]) -> Iterator[Finding]:
    start = 1 if turns and turns[0]["from"] == SYSTEM else 0
    for i, turn in enumerate(turns):
        role, at = turn["from"], f"conversations[{i}]"
        if role not in ROLES:
            yield Finding(f"{at}.from", "unknown_role", f"{role!r} is not one of {sorted(ROLES)}")
            return
        if i < start:
            continue
        expected = PROMPT_SIDE if (i - start) % 2 == 0 else REPLY_SIDE
        if role not in expected:
            message = f"{role} where LLaMA-Factory expects {' or '.join(expected)}"
            yield Finding(f"{at}.from", "sharegpt_order", message)
            return
        if role == FUNCTION:
            yield from check_function_call(f"{at}.value", turn["value"])
    count = len(turns) - start
    if count == 0:
        yield Finding("conversations", "no_turns", "no turn after the system prompt")
    elif count % 2:
        yield Finding(
            "conversations", "odd_turn_count", "the last turn is not a reply (gpt or function_call)"
        )


@lru_cache(maxsize=256)
def _named_functions(text: str) -> bool:
    """Whether `tools` is the JSON text of a list of named functions, read once per distinct
    text: a record's tools repeat on every row of its source."""
    tools = json_or_none(text)
    return isinstance(tools, list) and all(
        isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools
    )


def check_sharegpt(row: dict[str, Any]) -> Iterator[Finding]:
    yield from check_turns(row["conversations"])
    if not _named_functions(row["tools"]):
        yield Finding("tools", "tools_not_json", "tools is not a JSON list of named functions")
