"""Task `inject_tools`: should a tool call precede an assistant reply, and if so which tool of
the catalog, with which arguments, returning what.

For the Discord `inject_tools` stage: `build_request(context, reply, catalog)`, then
`parse_reply(content, catalog)` gives an `Injection` (or None when no call belongs there),
whose `messages()` are the assistant call and the tool result to insert before the reply.
Arguments travel as JSON text (strict structured outputs allow no free-form object) and are
checked against the chosen tool's parameters.
"""

import functools
import json
import re
from typing import Any

import jsonschema
import msgspec

from schemas.conversation import FunctionCall, Message, Tool, ToolCall
from stages.common.hashing import canonical_json, content_id
from stages.common.llm import ChatRequest
from stages.common.schema_validator import schema_validator
from stages.llm_tasks.task_io import (
    TaskError,
    parse_json_reply,
    request_payload,
    strict_object,
    task_request,
)

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"\b\d+\b")
_AFTER_PREPOSITION = re.compile(r"\b(?:to|at|in|for|on)\s+(?:the\s+)?([\w' -]+)", re.IGNORECASE)
_COUNTED = re.compile(r"\b\d+\s+([A-Za-z][\w-]*)")
PLACE_NAMES = {"location", "place", "destination", "where", "to", "target", "spot"}
STOP_WORDS = {"the", "a", "an", "to", "of", "and", "or", "in", "on", "at", "for", "with", "is"}


class Injection(msgspec.Struct, kw_only=True, frozen=True):
    tool: str
    arguments: str  # compact JSON text of an object valid against the tool's parameters
    result: str
    reason: str

    def messages(self, call_id: str) -> list[Message]:
        """The assistant call and the tool result to put before the reply."""
        call = ToolCall(id=call_id, function=FunctionCall(name=self.tool, arguments=self.arguments))
        return [
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id=call_id, content=self.result),
        ]


def schema(catalog: list[Tool]) -> dict[str, Any]:
    names = sorted(t.function.name for t in catalog)
    return strict_object(
        {
            "needed": {"type": "boolean"},
            "tool": {"type": ["string", "null"], "enum": [*names, None]},
            "arguments": {"type": ["string", "null"]},
            "result": {"type": ["string", "null"]},
            "reason": {"type": "string"},
        }
    )


def payload(context: list[Message], reply: str, catalog: list[Tool]) -> dict[str, Any]:
    return {
        "context": msgspec.to_builtins(context),
        "reply": reply,
        "tools": [msgspec.to_builtins(t.function) for t in catalog],
    }


def finish(value: dict[str, Any], catalog: list[Tool]) -> Injection | TaskError | None:
    """A schema-valid reply as an Injection (None: no call), its arguments checked against the
    chosen tool's parameters."""
    if not value["needed"]:
        return None
    tools = {t.function.name: t.function for t in catalog}
    if value["tool"] not in tools:
        return TaskError("missing_tool", "needed is true but no tool of the catalog is named")
    try:
        arguments = json.loads(value["arguments"] or "")
    except json.JSONDecodeError:
        return TaskError("invalid_arguments", f"arguments are not JSON: {value['arguments']!r}")
    if not isinstance(arguments, dict):
        return TaskError("invalid_arguments", "arguments must be a JSON object")
    error = jsonschema.exceptions.best_match(
        schema_validator(tools[value["tool"]].parameters).iter_errors(arguments)
    )
    if error is not None:
        return TaskError("arguments_schema_violation", f"{value['tool']}: {error.message}")
    if not (value["result"] or "").strip():
        return TaskError("missing_result", "a call needs a plausible result")
    return Injection(
        tool=value["tool"],
        arguments=canonical_json(arguments).decode(),
        result=value["result"],
        reason=value["reason"],
    )


def build_request(context: list[Message], reply: str, catalog: list[Tool]) -> ChatRequest:
    return task_request(
        "inject_tools",
        payload(context, reply, catalog),
        "injection",
        schema(catalog),
        functools.partial(finish, catalog=catalog),
    )


def parse_reply(content: str | None, catalog: list[Tool]) -> Injection | TaskError | None:
    """None when no call belongs before the reply; else the checked call and result."""
    value = parse_json_reply(content, schema(catalog))
    return value if isinstance(value, TaskError) else finish(value, catalog)


# the offline heuristic


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS}


def _score(tool: dict[str, Any], words: set[str], verb: set[str]) -> int:
    """Name words count double, and a name word that opens the request (the imperative verb:
    "walk to …") counts four times: `walk_to` beats `bank_deposit` for "walk to the bank"."""
    name = set(tool["name"].lower().split("_"))
    description = _words(tool.get("description") or "")
    return 2 * len(name & words) + 2 * len(name & verb) + len(description & words)


def _value(name: str, spec: dict[str, Any], text: str) -> Any:
    """A plausible value of one parameter, taken from the user's words where it can be: a
    number for numbers, the place after "to/at/in" for a place, the counted thing ("20
    shrimps") or else the whole request for other strings."""
    if "enum" in spec:
        return spec["enum"][0]
    kind = spec.get("type")
    if kind in ("integer", "number"):
        found = _NUMBER.search(text)
        return max(int(found.group()) if found else 1, int(spec.get("minimum", 0)))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    place = _AFTER_PREPOSITION.search(text)
    counted = _COUNTED.search(text)
    if name.lower() in PLACE_NAMES and place:
        return place.group(1).strip()
    if counted:
        return counted.group(1)
    return text.strip()[:80]


def offline_injection(data: dict[str, Any]) -> dict[str, Any]:
    """Pick the catalog tool whose name and description share most words with the last user
    message and the reply (see `_score`); fill its required parameters from the user's words;
    the result reports success with the reply as its message. No overlap: no call."""
    user = next((m["content"] for m in reversed(data["context"]) if m["role"] == "user"), "")
    words = _words(f"{user or ''} {data['reply']}")
    verb = _words(" ".join((user or "").split()[:1]))
    scored = sorted(((-_score(t, words, verb), t["name"]), t) for t in data["tools"])
    if not scored or scored[0][0][0] == 0:
        return {
            "needed": False,
            "tool": None,
            "arguments": None,
            "result": None,
            "reason": "offline: no tool shares a word with the exchange",
        }
    tool = scored[0][1]
    parameters = tool.get("parameters") or {}
    properties = parameters.get("properties") or {}
    arguments = {
        name: _value(name, properties.get(name, {}), user or "")
        for name in parameters.get("required") or []
    }
    result = {"status": "success", "message": data["reply"]}
    return {
        "needed": True,
        "tool": tool["name"],
        "arguments": canonical_json(arguments).decode(),
        "result": canonical_json(result).decode(),
        "reason": f"offline: `{tool['name']}` shares the most words with the exchange",
    }


def offline(request: ChatRequest) -> dict[str, Any]:
    return offline_injection(request_payload(request))


def call_id(conversation_id: str, position: int) -> str:
    """A stable id for an injected call: same conversation and place, same id."""
    return f"call_{content_id([conversation_id, position])[:12]}"
