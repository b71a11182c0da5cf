"""What every format needs: argument decoding, tool definitions, refusals."""

import json
from functools import lru_cache
from typing import Any

import msgspec

from schemas.conversation import Tool
from stages.common.json_value import json_value


class Unexportable(Exception):
    """A conversation this format cannot carry faithfully; `reason` is a stats key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def arguments_object(name: str, arguments: str) -> dict[str, Any]:
    """Decode a call's JSON-string arguments into the object HF templates want."""
    try:
        value = json_value(arguments)
    except json.JSONDecodeError as exc:
        raise Unexportable("bad_arguments", f"{name}: arguments are not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise Unexportable("bad_arguments", f"{name}: arguments are not a JSON object")
    return value


def function_dicts(tools: list[Tool]) -> list[dict[str, Any]]:
    """Tool definitions as plain `{name, description, parameters}` objects.

    Built by hand rather than with `to_builtins`, which would omit a `parameters`
    equal to its default: every consumer expects the key.
    """
    out = []
    for tool in tools:
        fn: dict[str, Any] = {"name": tool.function.name}
        if tool.function.description is not None:
            fn["description"] = tool.function.description
        fn["parameters"] = tool.function.parameters
        out.append(fn)
    return out


def tool_dicts(tools: list[Tool]) -> list[dict[str, Any]]:
    """Tool definitions in the OpenAI `{type, function}` shape."""
    return [{"type": "function", "function": fn} for fn in function_dicts(tools)]


def compact_json(value: Any) -> str:
    """JSON text with no spaces and non-ASCII kept: what our exports store."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_json(value: Any, *, compact: bool = True) -> str:
    """`json.dumps` of tool definitions (compact, or with its default spacing), made once per
    distinct value: a dataset offers the same few tools in every record, and writing them
    anew took a quarter of the export's time."""
    return _tool_json(msgspec.json.encode(value), compact)


@lru_cache(maxsize=4096)
def _tool_json(encoded: bytes, compact: bool) -> str:
    value = msgspec.json.decode(encoded)
    if compact:
        return compact_json(value)
    return json.dumps(value, ensure_ascii=False)
