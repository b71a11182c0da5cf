"""Check a reply against what was asked: structured output against its JSON Schema, tool-call
arguments against the tool's parameters. A reply that fails is retried, never passed on."""

import json
from typing import Any

import msgspec

from stages.common.json_value import json_value
from stages.common.llm.request import ChatReply, ChatRequest
from stages.common.schema_validator import schema_validator


def _violates(schema: dict[str, Any], value: Any) -> bool:
    return next(schema_validator(schema).iter_errors(value), None) is not None


def _check_tool_calls(request: ChatRequest, calls: list[dict[str, Any]]) -> str | None:
    tools = {t["function"]["name"]: t["function"] for t in _tool_dicts(request)}
    for call in calls:
        function = call.get("function") or {}
        spec = tools.get(function.get("name"))
        if spec is None:
            return "unknown_tool"
        try:
            arguments = json_value(function.get("arguments") or "")
        except json.JSONDecodeError:
            return "invalid_json"
        if _violates(spec.get("parameters") or {"type": "object"}, arguments):
            return "schema_violation"
    return None


def _tool_dicts(request: ChatRequest) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(tool) for tool in request.tools or []]


def check_reply(request: ChatRequest, reply: ChatReply) -> tuple[Any, str | None]:
    """(parsed JSON or None, None) for an acceptable reply, else (None, failure reason)."""
    if reply.refusal:
        return None, "refusal"
    if reply.tool_calls:
        return None, _check_tool_calls(request, reply.tool_calls)
    if reply.content is None or reply.content == "":
        return None, "empty_reply"
    if request.response_schema is None:
        return None, None
    try:
        parsed = json_value(reply.content)
    except json.JSONDecodeError:
        return None, "invalid_json"
    if _violates(request.response_schema.schema, parsed):
        return None, "schema_violation"
    if request.check is not None and (reason := request.check(parsed)) is not None:
        return None, reason
    return parsed, None
