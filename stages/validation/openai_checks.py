"""OpenAI chat fine-tuning checks, exact o200k token counts, and the cost estimate.

The checks are those of OpenAI's "chat finetuning data prep" cookbook (missing or
unrecognised keys, bad roles, missing content, no assistant message) plus what the
fine-tuning API rejects for tool calling (two assistant turns in a row, a tool
message without a preceding call, calls left unanswered before the conversation
moves on, tool content that is not a string, arguments that are not a JSON-object
string) and examples over the token limit. Every error names the file, the line,
the record id and the field.

Tokens are counted exactly in o200k_base and framed as the cookbook frames them:
3 per message, 1 more for a name, 3 to prime the reply; tool calls count their name
and arguments text, tool definitions their compact JSON. The epoch count is the
cookbook's default-epochs heuristic.
"""

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from schemas.format_lines import FormatError, OpenAIFileReport
from stages.common.hashing import content_id
from stages.common.json_value import NotJson, json_or_none
from stages.formats.vocab import count_o200k

MAX_TOKENS_PER_EXAMPLE = 65536
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

TOP_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
ROLE_KEYS = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "weight", "refusal"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}


def default_epochs(n_examples: int) -> int:
    """The epoch count OpenAI picks by default for a training file of this size."""
    if n_examples <= 0:
        return 0
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def count_tokens(example: dict[str, Any]) -> int:
    """Tokens of one line, counted as the cookbook counts them, in o200k_base."""
    total = 3
    for message in example.get("messages", []):
        total += 3
        for key, value in message.items():
            if isinstance(value, str):
                total += count_o200k(value) + (1 if key == "name" else 0)
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            total += count_o200k(function.get("name", "")) + count_o200k(
                function.get("arguments", "")
            )
    if example.get("tools"):
        total += _tools_tokens(example["tools"])
    return total


# A source's tool definitions recur on every line: each set is counted once.
_TOOLS_TOKENS: dict[bytes, int] = {}
MAX_TOOL_SETS = 256


def _tools_tokens(tools: Any) -> int:
    """Tokens of the definitions' compact JSON (as `json.dumps` writes it, ASCII only)."""
    key = _tools_key(tools)
    count = None if key is None else _TOOLS_TOKENS.get(key)
    if count is None:
        count = count_o200k(json.dumps(tools, separators=(",", ":")))
        if key is not None and len(_TOOLS_TOKENS) < MAX_TOOL_SETS:
            _TOOLS_TOKENS[key] = count
    return count


def _tools_key(tools: Any) -> bytes | None:
    """msgspec's JSON of the definitions, 20 times faster than `json.dumps`, as the cache key;
    None where two values that `json.dumps` writes apart could share it (msgspec writes NaN
    and the infinities as null) or where msgspec cannot write it (a lone surrogate)."""
    try:
        key = msgspec.json.encode(tools)
    except UnicodeEncodeError:
        return None
    return None if b"null" in key else key


class _Line:
    """Collects the errors of one line, each tagged with its place."""

    def __init__(self, file: str, line: int, record_id: str) -> None:
        self.file, self.line, self.record_id = file, line, record_id
        self.errors: list[FormatError] = []

    def error(self, field: str, reason: str, message: str) -> None:
        self.errors.append(
            FormatError(
                file=self.file,
                line=self.line,
                record_id=self.record_id,
                field=field,
                reason=reason,
                message=message,
            )
        )


def _check_calls(out: _Line, where: str, calls: Any, pending: dict[str, str]) -> None:
    if not isinstance(calls, list) or not calls:
        out.error(f"{where}.tool_calls", "tool_calls_type", "tool_calls must be a non-empty list")
        return
    for k, call in enumerate(calls):
        at = f"{where}.tool_calls[{k}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str):
            out.error(f"{at}.id", "tool_call_missing_id", "a tool call needs a string id")
            continue
        if call.get("type") != "function" or not isinstance(function, dict):
            out.error(f"{at}.function", "tool_call_type", "a tool call is a function call")
            continue
        if not isinstance(function.get("name"), str):
            out.error(f"{at}.function.name", "tool_call_missing_name", "a call needs a name")
        args = function.get("arguments")
        if not isinstance(args, str):
            out.error(
                f"{at}.function.arguments", "arguments_not_string", "arguments must be JSON text"
            )
        elif not isinstance(json_or_none(args), dict):
            out.error(
                f"{at}.function.arguments",
                "arguments_not_json_object",
                "arguments must decode to a JSON object",
            )
        pending[call["id"]] = at


def _check_message(out: _Line, i: int, message: Any) -> str | None:
    """Checks that depend on one message alone; returns its role when it has one."""
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        out.error(where, "message_type", "a message must be an object")
        return None
    role = message.get("role")
    if "role" not in message:
        out.error(f"{where}.role", "message_missing_key", "a message needs a role")
        return None
    if role not in ROLE_KEYS:
        out.error(f"{where}.role", "unrecognized_role", f"role {role!r} is not recognised")
        return None
    for key in sorted(set(message) - ROLE_KEYS[role]):
        out.error(
            f"{where}.{key}", "message_unrecognized_key", f"{role} message has no key {key!r}"
        )
    content = message.get("content")
    if role == "tool" and not isinstance(content, str):
        out.error(f"{where}.content", "tool_content_not_string", "tool content must be a string")
    elif role == "assistant" and content is None and not message.get("tool_calls"):
        out.error(f"{where}.content", "missing_content", "assistant needs content or tool_calls")
    elif role in ("system", "user") and not isinstance(content, str):
        out.error(f"{where}.content", "missing_content", f"{role} content must be a string")
    elif content is not None and not isinstance(content, str):
        out.error(f"{where}.content", "content_type", "content must be a string")
    if "weight" in message and message["weight"] not in (0, 1):
        out.error(f"{where}.weight", "bad_weight", "weight must be 0 or 1")
    return role


def check_example(example: Any, out: _Line) -> None:
    if not isinstance(example, dict):
        out.error("$", "data_type", "a line must be a JSON object")
        return
    for key in sorted(set(example) - TOP_KEYS):
        out.error(key, "unrecognized_key", f"unknown top-level key {key!r}")
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        out.error("messages", "missing_messages_list", "messages must be a non-empty list")
        return
    pending: dict[str, str] = {}
    previous = None
    for i, message in enumerate(messages):
        role = _check_message(out, i, message)
        where = f"messages[{i}]"
        if role != "tool" and pending:
            for at in pending.values():
                out.error(at, "call_without_result", f"no tool result before {where}")
            pending.clear()
        if role == "assistant" and previous == "assistant":
            out.error(f"{where}.role", "consecutive_assistant", "two assistant turns in a row")
        if role == "assistant" and "tool_calls" in message:
            _check_calls(out, where, message["tool_calls"], pending)
        if role == "tool" and pending.pop(message.get("tool_call_id"), None) is None:
            out.error(f"{where}.tool_call_id", "tool_without_call", "no preceding call has this id")
        previous = role
    assistants = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    if assistants and isinstance(messages[-1], dict) and messages[-1].get("role") != "assistant":
        out.error(
            f"messages[{len(messages) - 1}].role",
            "ends_after_last_reply",
            "the example ends after its last assistant turn: nothing learns from the rest",
        )
    if not assistants:
        out.error("messages", "example_missing_assistant_message", "no assistant message")
    elif all(m.get("weight") == 0 for m in assistants):
        out.error("messages", "nothing_to_learn", "every assistant message has weight 0")


def _record_id(example: Any) -> str:
    """The content id of an example's messages: the caller puts the metadata's id in its
    place where the metadata places a record on the line."""
    messages = example.get("messages") if isinstance(example, dict) else None
    return content_id(messages) if messages is not None else ""


def check_openai_values(
    values: Iterable[tuple[int, Any]], *, file: str, max_tokens: int = MAX_TOKENS_PER_EXAMPLE
) -> OpenAIFileReport:
    """Check every (line number, value) of an OpenAI JSONL file (`decode_lines`); an error
    names the content id of the line's messages."""
    errors: list[FormatError] = []
    lengths: list[int] = []
    valid = examples = 0
    for lineno, example in values:
        examples += 1
        if isinstance(example, NotJson):
            out = _Line(file, lineno, "")
            out.error("$", "invalid_json", example.message)
            errors.extend(out.errors)
            continue
        out = _Line(file, lineno, _record_id(example))
        check_example(example, out)
        if not out.errors:
            tokens = count_tokens(example)
            lengths.append(tokens)
            if tokens > max_tokens:
                out.error("messages", "too_many_tokens", f"{tokens} tokens > {max_tokens}")
        valid += not out.errors
        errors.extend(out.errors)
    return _report(file, examples, valid, errors, lengths, max_tokens)


def combined_report(
    file: str, parts: Sequence[OpenAIFileReport], max_tokens: int
) -> OpenAIFileReport:
    """The report of a file checked in parts (runs of its lines, in order)."""
    return _report(
        file,
        sum(p.examples for p in parts),
        sum(p.valid_examples for p in parts),
        [e for p in parts for e in p.errors],
        [n for p in parts for n in p.tokens_per_example],
        max_tokens,
    )


def _report(
    file: str,
    examples: int,
    valid: int,
    errors: list[FormatError],
    lengths: list[int],
    max_tokens: int,
) -> OpenAIFileReport:
    epochs = default_epochs(len(lengths))
    billing = sum(min(max_tokens, n) for n in lengths)
    return OpenAIFileReport(
        file=file,
        examples=examples,
        valid_examples=valid,
        errors=errors,
        error_counts=dict(sorted(Counter(e.reason for e in errors).items())),
        tokens_per_example=lengths,
        too_long=sum(n > max_tokens for n in lengths),
        max_tokens_per_example=max_tokens,
        billing_tokens_per_epoch=billing,
        epochs=epochs,
        billing_tokens_total=billing * epochs,
    )
