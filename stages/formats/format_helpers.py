"""What every format needs: argument decoding, tool definitions, refusals."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, NamedTuple

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


class ToolTexts(NamedTuple):
    """A record's tool definitions as the formats write them: texts only, shared by every
    record with the same tools."""

    functions_json: str  # `function_dicts` as compact JSON: harmony's and ShareGPT's `tools`
    qwen_lines: str  # each `{type, function}` on a line of its own, as Qwen's template writes it
    parameters_json: tuple[str, ...]  # each function's parameters, compact: Axolotl's


def tool_texts(tools: list[Tool]) -> ToolTexts:
    """The texts of a record's tools, made once per distinct list: a dataset offers the same
    few tools in every record, and writing them anew for each format took a tenth of the
    export's time."""
    writing = _writing.get()
    if writing is not None and writing[0] is tools:
        return writing[1]
    return _tool_texts(msgspec.json.encode(tools))


_writing: ContextVar[tuple[list[Tool], ToolTexts] | None] = ContextVar("_writing", default=None)


@contextmanager
def writing_tools(tools: list[Tool]) -> Iterator[None]:
    """While one record is written in every format, its tool list is known by identity:
    encoding the list to find its texts, once for each format, cost as much as the rest.
    Nothing changes the record's tools while they are written."""
    token = _writing.set((tools, tool_texts(tools)))
    try:
        yield
    finally:
        _writing.reset(token)


@lru_cache(maxsize=1024)
def _tool_texts(encoded: bytes) -> ToolTexts:
    tools = msgspec.json.decode(encoded, type=list[Tool])
    functions = function_dicts(tools)
    return ToolTexts(
        compact_json(functions),
        # Qwen's template writes each tool with `tojson`: json.dumps's default spacing
        "".join("\n" + json.dumps(tool, ensure_ascii=False) for tool in tool_dicts(tools)),
        tuple(compact_json(fn["parameters"]) for fn in functions),
    )
