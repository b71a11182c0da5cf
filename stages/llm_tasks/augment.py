"""Task `augment`: variants of a real record whose tool calls all succeeded, for more examples
of what the assistant did well.

Two kinds, alternating (`synthesize.augment` variants a record):
- `paraphrase`: the user's request said another way; calls, results and replies unchanged.
- `arguments`: one string argument of a call that the request states gets another value, in
  the request and the call; the variant ends at that call, since its result was true of the
  old value only: it teaches turning a request into the call's arguments.

The model writes the new request and picks the new value. Offline, the request is kept word
for word with a greeting or a closing around it; an argument is changed only where the
request gives it as a literal (`method="harpoon"`), to a value the same arguments of the
same tools took in other records of the chunk: nothing is invented. A variant carries
`meta.synthetic` (its kind) and `meta.original` (the id of the record it came from), which
keeps it in its original's split and behind its original among near duplicates
(stages/curate.py).
"""

import functools
import hashlib
import json
import re
from collections import defaultdict
from typing import Any, NamedTuple

import msgspec

from schemas.conversation import Conversation, FunctionCall, Message, ToolCall
from stages.common.hashing import messages_id
from stages.common.llm import ChatRequest
from stages.common.tool_results import failure_message
from stages.llm_tasks.label import TAGS, structure_tags
from stages.llm_tasks.task_io import (
    TaskError,
    parse_json_reply,
    request_payload,
    strict_object,
    task_request,
)

KINDS = ("paraphrase", "arguments")
SCHEMA = strict_object(
    {
        "request": {"type": "string", "minLength": 1},
        "replace": {"type": ["string", "null"]},
        "value": {"type": ["string", "null"]},
    }
)
MIN_VALUE_CHARS = 3  # shorter values ("id", "a") stand in too many places to replace safely
MAX_ALTERNATIVES = 8
GREETINGS = (
    "Hi! {request}",
    "Hey, quick one: {request}",
    "{request} Thanks!",
    "Hello. {request}",
    "{request} Thank you.",
    "Could you help me with this? {request}",
)


class Variant(msgspec.Struct, kw_only=True, frozen=True):
    request: str
    replace: str | None
    value: str | None


class Plan(NamedTuple):
    """One variant to ask for: of which record, which kind, and what the payload shows."""

    record: Conversation
    request_index: int  # the user message that asked for the calls
    kind: str
    payload: dict[str, Any]


def _calls(conversation: Conversation) -> list[ToolCall]:
    return [call for m in conversation.messages for call in m.tool_calls or ()]


def request_index(conversation: Conversation) -> int | None:
    """The user message before the first tool call, in a real record (not a variant, a derived
    example, or a record whose calls were injected, as Discord's are) whose every call has a
    result that is not a failure."""
    meta = conversation.meta
    if (
        meta.synthetic is not None
        or meta.synthetic_tool_calls
        or "derived" in conversation.labels.tags
    ):
        return None
    calls = _calls(conversation)
    results = {m.tool_call_id: m.content for m in conversation.messages if m.role == "tool"}
    if not calls or any(
        c.id not in results or failure_message(results[c.id]) is not None for c in calls
    ):
        return None
    index = None
    for i, message in enumerate(conversation.messages):
        if message.tool_calls:
            break
        if message.role == "user" and (message.content or "").strip():
            index = i
    return index


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.function.arguments)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def string_arguments(conversation: Conversation) -> list[tuple[str, str, str]]:
    """(tool, argument, value) of every string argument of every call, in order, once each."""
    found = [
        (call.function.name, name, value)
        for call in _calls(conversation)
        for name, value in sorted(_arguments(call).items())
        if isinstance(value, str)
    ]
    return list(dict.fromkeys(found))


def argument_values(conversation: Conversation, request: str) -> list[tuple[str, str, str]]:
    """The string arguments the request states word for word: what a variant may change, each
    value once (with the first argument that holds it: it is replaced everywhere)."""
    found: dict[str, tuple[str, str, str]] = {}
    for tool, name, value in string_arguments(conversation):
        if len(value) >= MIN_VALUE_CHARS and not value.strip().isdigit() and value in request:
            found.setdefault(value, (tool, name, value))
    return list(found.values())


def first_holder(conversation: Conversation, value: str) -> int | None:
    """The first assistant message with a call whose arguments hold `value`: where an
    `arguments` variant ends."""
    return next(
        (
            i
            for i, m in enumerate(conversation.messages)
            if any(value in c.function.arguments for c in m.tool_calls or ())
        ),
        None,
    )


def alternatives(
    conversation: Conversation, value: str, seen: dict[tuple[str, str], set[str]]
) -> list[str]:
    """Values to put in place of `value` in the first call that holds it: each one some record
    gave every argument of that call that holds `value` (a `transfer` whose `source` and `hub`
    are both "Paris" needs a city that was both), none already in the record. None when an
    argument holds `value` inside a longer text, or a tool result before that call already
    names it (that result would then be false)."""
    end = first_holder(conversation, value)
    if end is None:
        return []
    kept = conversation.messages[: end + 1]
    if any(value in (m.content or "") for m in kept if m.role == "tool"):
        return []
    holders = [
        (call.function.name, name, held)
        for call in kept[end].tool_calls or ()
        for name, held in sorted(_arguments(call).items())
        if isinstance(held, str) and value in held
    ]
    if not holders or any(held != value for _, _, held in holders):
        return []
    common = set.intersection(*(seen[(tool, name)] for tool, name, _ in holders))
    text = json.dumps(msgspec.to_builtins(kept), ensure_ascii=False)
    return sorted(v for v in common if v not in text)[:MAX_ALTERNATIVES]


def dictated(value: str, request: str) -> bool:
    """Whether the request gives `value` as a literal: quoted, in backticks, or after `=`
    (`method="harpoon"`, `city=Paris`). Only then is swapping it, word for word, sure to
    change what the user asked for and nothing else."""
    quoted = "|".join(f"{q}{re.escape(value)}{q}" for q in ('"', "'", "`"))
    return re.search(rf"{quoted}|=\s*{re.escape(value)}(?![\w-])", request) is not None


def plan_variants(
    chunk: list[Conversation], count: int, *, dictated_only: bool = False
) -> list[Plan]:
    """`count` variants of each eligible record of the chunk, kinds alternating; an
    `arguments` variant only where other records of the chunk gave the same arguments of the
    same tools another value (the offline answer, and the model's examples) and, with
    `dictated_only` (offline), where the request gives the value as a literal."""
    eligible = []
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for conversation in chunk:
        index = request_index(conversation) if count else None
        if index is None:
            continue
        eligible.append((conversation, index, conversation.messages[index].content or ""))
        for tool, name, value in string_arguments(conversation):
            seen[(tool, name)].add(value)
    plans = []
    for conversation, index, request in eligible:
        candidates = [
            {"tool": tool, "argument": name, "value": value, "alternatives": others}
            for tool, name, value in argument_values(conversation, request)
            if (others := alternatives(conversation, value, seen))
            and (dictated(value, request) or not dictated_only)
        ]
        calls = [
            {"name": c.function.name, "arguments": c.function.arguments}
            for c in _calls(conversation)
        ]
        for variant in range(count):
            kind = KINDS[variant % len(KINDS)]
            if kind == "arguments" and not candidates:
                continue
            payload = {
                "kind": kind,
                "variant": variant,
                "request": request,
                "calls": calls,
                "candidates": candidates if kind == "arguments" else [],
            }
            plans.append(Plan(conversation, index, kind, payload))
    return plans


def finish(payload: dict[str, Any], value: dict[str, Any]) -> Variant | TaskError:
    """A schema-valid reply as a Variant, if it changes the request and, for `arguments`,
    replaces a value the request states with another that the new request states."""
    request = value["request"].strip()
    if not request or request == payload["request"].strip():
        return TaskError("unchanged", "the new request is blank or the same as the old")
    if payload["kind"] == "paraphrase":
        return Variant(request=request, replace=None, value=None)
    old, new = value["replace"], (value["value"] or "").strip()
    if old not in {c["value"] for c in payload["candidates"]}:
        return TaskError("bad_replace", f"{old!r} is not an argument value the request states")
    if not new or new == old or new not in request:
        return TaskError("bad_value", "the new value is blank, unchanged or not in the request")
    return Variant(request=request, replace=old, value=new)


def build_request(plan: Plan) -> ChatRequest:
    return task_request(
        "augment", plan.payload, "variant", SCHEMA, functools.partial(finish, plan.payload)
    )


def parse_reply(plan: Plan, content: str | None) -> Variant | TaskError:
    value = parse_json_reply(content, SCHEMA)
    return value if isinstance(value, TaskError) else finish(plan.payload, value)


def _pick(options: Any, key: str) -> Any:
    digest = hashlib.sha256(key.encode()).digest()
    return options[int.from_bytes(digest[:4]) % len(options)]


def offline(request: ChatRequest) -> dict[str, Any]:
    """The request word for word with a greeting or closing around it; for `arguments`, the
    value swapped for one the same argument took elsewhere in the chunk."""
    data = request_payload(request)
    text, variant = data["request"].strip(), data["variant"]
    greeting = _pick(GREETINGS, f"{variant}:{text}")
    if data["kind"] == "paraphrase":
        return {"request": greeting.format(request=text), "replace": None, "value": None}
    candidate = data["candidates"][variant // len(KINDS) % len(data["candidates"])]
    new = candidate["alternatives"][variant // len(KINDS) % len(candidate["alternatives"])]
    swapped = text.replace(candidate["value"], new)
    return {"request": swapped, "replace": candidate["value"], "value": new}


def _swapped(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _swapped(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_swapped(v, old, new) for v in value]
    return value


def _swap_call(call: ToolCall, old: str, new: str) -> ToolCall:
    """The call with `old` replaced inside its argument values (keys and JSON left alone)."""
    arguments = _arguments(call)
    if old not in call.function.arguments or not arguments:
        return call
    text = json.dumps(_swapped(arguments, old, new), ensure_ascii=False, separators=(",", ":"))
    return msgspec.structs.replace(
        call, function=FunctionCall(name=call.function.name, arguments=text)
    )


def _swap_message(message: Message, old: str, new: str) -> Message:
    calls = [_swap_call(c, old, new) for c in message.tool_calls] if message.tool_calls else None
    content = message.content.replace(old, new) if message.content else message.content
    return msgspec.structs.replace(message, content=content, tool_calls=calls)


def variant_record(plan: Plan, variant: Variant) -> Conversation:
    """The record with the new request. An `arguments` variant ends at the call it changes,
    the value replaced everywhere before: the call's result and what followed were true of
    the old value, so they are not kept to teach a false one. Its structural tags are those
    of what is left."""
    record = plan.record
    messages = list(record.messages)
    labels = record.labels
    if variant.replace is not None and variant.value is not None:
        end = first_holder(record, variant.replace)
        assert end is not None  # a candidate's value is held by a call (alternatives)
        messages = [_swap_message(m, variant.replace, variant.value) for m in messages[: end + 1]]
    messages[plan.request_index] = msgspec.structs.replace(
        messages[plan.request_index], content=variant.request
    )
    meta = msgspec.structs.replace(
        record.meta, synthetic=plan.kind, original=record.meta.original or record.id
    )
    made = msgspec.structs.replace(record, id=messages_id(messages), messages=messages, meta=meta)
    if plan.kind == "arguments":
        kept = [tag for tag in labels.tags if tag not in TAGS]
        labels = msgspec.structs.replace(
            labels, tags=sorted({*kept, *structure_tags(made)}), problem=None, root_cause=None
        )
    return msgspec.structs.replace(made, labels=labels)
