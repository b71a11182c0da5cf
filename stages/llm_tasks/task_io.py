"""What every LLM task shares: its prompt file, the JSON payload it sends, and reading replies.

The task input travels as one JSON document in the user message, so a model reads it as data
and the offline heuristic reads back exactly what the model would have seen.
"""

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import msgspec

from stages.common.hashing import canonical_json
from stages.common.json_value import json_value
from stages.common.llm import ChatRequest, ChatResult, JsonSchemaFormat
from stages.common.schema_validator import schema_validator

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class TaskError(msgspec.Struct, frozen=True):
    """Why a reply was not usable: a short reason for the stats and a message for people."""

    reason: str
    message: str = ""


@functools.cache
def load_prompt(name: str) -> str:
    """The system prompt of a task, from `prompts/<name>.md`."""
    return (PROMPTS / f"{name}.md").read_text(encoding="utf-8")


def strict_object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object schema in the form OpenAI strict structured outputs require: every property
    required, no others allowed (optional values are nullable instead)."""
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }


def _reason(finish: Callable[[Any], Any], value: Any) -> str | None:
    outcome = finish(value)
    return outcome.reason if isinstance(outcome, TaskError) else None


def task_request(
    prompt: str,
    payload: Any,
    schema_name: str,
    schema: dict[str, Any],
    finish: Callable[[Any], Any] | None = None,
) -> ChatRequest:
    """System prompt + the payload as canonical JSON, answered in the given JSON Schema.

    `finish` is the task's check of a schema-valid reply (value → result or TaskError); the
    layer runs it on every reply, so one that fails it is retried and never cached."""
    return ChatRequest(
        messages=[
            {"role": "system", "content": load_prompt(prompt)},
            {"role": "user", "content": canonical_json(payload).decode()},
        ],
        response_schema=JsonSchemaFormat(name=schema_name, schema=schema),
        check=None if finish is None else functools.partial(_reason, finish),
    )


def usable(result: ChatResult, parse: Callable[[str | None], Any]) -> Any:
    """The parsed reply of a result (what `parse` makes of its content), or a TaskError
    naming why there is none."""
    if not result.ok or result.reply is None:
        return TaskError(result.error or "no_reply")
    return parse(result.reply.content)


def request_payload(request: ChatRequest) -> Any:
    """The JSON document a task request carries (for offline heuristics)."""
    return json_value(request.messages[-1]["content"])


def extract_json(content: str | None) -> Any | TaskError:
    """The JSON value of a reply; tolerates a code fence or prose around one object, as
    servers without structured outputs write."""
    if content is None or not content.strip():
        return TaskError("empty_reply", "the reply is empty")
    candidates = [content.strip()]
    candidates += [match.strip() for match in _FENCE.findall(content)]
    start, end = content.find("{"), content.rfind("}")
    if 0 <= start < end:
        candidates.append(content[start : end + 1])
    for candidate in candidates:
        try:
            return json_value(candidate)
        except json.JSONDecodeError:
            continue
    return TaskError("invalid_json", f"no JSON object in the reply: {content[:80]!r}")


def parse_json_reply(content: str | None, schema: dict[str, Any]) -> Any | TaskError:
    """The reply's JSON, valid against the task schema, or why not."""
    value = extract_json(content)
    if isinstance(value, TaskError):
        return value
    error = jsonschema.exceptions.best_match(schema_validator(schema).iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return TaskError("schema_violation", f"{where}: {error.message}")
    return value
