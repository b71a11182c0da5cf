"""Task `explain_failure`: a failed tool call (and the correction that followed, if any)
becomes a new training example.

With a correction → `code_correction`: the user shows the failed call and its error, the
assistant explains the cause and gives the corrected call. Without → `reasoning_chain`: the
user reports the error, the assistant answers "Root cause: … Fix: …" (the shape journals use).
The model writes problem, root cause and fix; the calls and errors are copied, never invented.
"""

import json
from typing import Any

import msgspec

from schemas.conversation import Conversation, Labels, Message, ToolCall
from stages.common.hashing import messages_id
from stages.common.llm import ChatRequest
from stages.llm_tasks.task_io import (
    TaskError,
    parse_json_reply,
    request_payload,
    strict_object,
    task_request,
)
from stages.llm_tasks.tool_failures import ToolFailure

SCHEMA = strict_object(
    {
        "problem": {"type": "string", "minLength": 1},
        "root_cause": {"type": "string", "minLength": 1},
        "fix": {"type": "string", "minLength": 1},
    }
)


class Explanation(msgspec.Struct, kw_only=True, frozen=True):
    problem: str
    root_cause: str
    fix: str


def payload(failure: ToolFailure) -> dict[str, Any]:
    return {
        "request": failure.request,
        "tool": failure.call.function.name,
        "arguments": failure.call.function.arguments,
        "error": failure.error,
        "fixed_arguments": failure.fix.function.arguments if failure.fix else None,
    }


def finish(value: dict[str, Any]) -> Explanation | TaskError:
    """A schema-valid reply as an Explanation, unless a field is blank."""
    if not all(value[k].strip() for k in ("problem", "root_cause", "fix")):
        return TaskError("blank_field", "problem, root_cause and fix must not be blank")
    return msgspec.convert(value, Explanation)


def build_request(failure: ToolFailure) -> ChatRequest:
    return task_request("explain_failure", payload(failure), "explanation", SCHEMA, finish)


def parse_reply(content: str | None) -> Explanation | TaskError:
    value = parse_json_reply(content, SCHEMA)
    return value if isinstance(value, TaskError) else finish(value)


def offline(request: ChatRequest) -> dict[str, Any]:
    """An explanation that states only what the log shows: the error, the arguments, and
    what the call that worked changed. Guessing a cause offline would teach a false one."""
    data = request_payload(request)
    tool, error, arguments, fixed = (
        data["tool"],
        data["error"],
        data["arguments"],
        data["fixed_arguments"],
    )
    if fixed is not None:
        root_cause = (
            f"`{tool}` returned an error for {arguments}: {error}. "
            f"The call that worked changed {changed_arguments(arguments, fixed)}."
        )
        fix = f"Call `{tool}` with {fixed} instead of {arguments}."
    else:
        root_cause = (
            f"`{tool}` returned an error for {arguments}: {error}. "
            "No later call in the conversation succeeded."
        )
        fix = (
            f"Resolve what the error names before calling `{tool}` again, and tell the user "
            "the call failed rather than reporting success."
        )
    return {"problem": f"`{tool}` failed: {error}", "root_cause": root_cause, "fix": fix}


def changed_arguments(before: str, after: str) -> str:
    """`qty from 100 to 27`: the argument values that differ between two calls."""
    try:
        old, new = json.loads(before), json.loads(after)
    except json.JSONDecodeError:
        return f"the arguments to {after}"
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return f"the arguments to {after}"
    missing = object()
    changes = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key, missing), new.get(key, missing)
        if was is missing:
            changes.append(f"added {key} = {json.dumps(now)}")
        elif now is missing:
            changes.append(f"dropped {key}")
        elif was != now:
            changes.append(f"{key} from {json.dumps(was)} to {json.dumps(now)}")
    return ", ".join(changes) or "nothing in the arguments (the same call succeeded on retry)"


def _call_block(call: ToolCall, arguments: str) -> str:
    try:
        value: Any = json.loads(arguments)
    except json.JSONDecodeError:
        value = arguments  # shown as the log has it
    text = json.dumps({"name": call.function.name, "arguments": value})
    return f"```json\n{text}\n```"


def derived_example(parent: Conversation, failure: ToolFailure, why: Explanation) -> Conversation:
    """The new example, with the parent's source and provenance and the tag `derived`; its
    `meta.original` names the parent (or the parent's own original), so both share a split."""
    call = failure.call
    failed = _call_block(call, call.function.arguments)
    if failure.fix is not None:
        example_type = "code_correction"
        question = (
            f"{failure.request}\n\nThis tool call failed:\n{failed}\nError: {failure.error}\n\n"
            "Correct the call."
        )
        fixed = _call_block(call, failure.fix.function.arguments)
        answer = f"{why.root_cause}\n\n{why.fix}\n\nCorrected call:\n{fixed}"
        tags = ["derived", "self_correction"]
    else:
        example_type = "reasoning_chain"
        question = (
            f"{failure.request}\n\nThis tool call failed:\n{failed}\nError: {failure.error}\n\n"
            "What went wrong, and what should happen next?"
        )
        answer = f"Root cause: {why.root_cause}\n\nFix: {why.fix}"
        tags = ["derived", "tool_error"]
    messages = [
        Message(role="user", content=question.lstrip()),
        Message(role="assistant", content=answer),
    ]
    return Conversation(
        id=messages_id(messages),
        source=parent.source,
        messages=messages,
        labels=Labels(
            example_type=example_type,
            tags=tags,
            reasoning=why.fix,
            problem=why.problem,
            root_cause=why.root_cause,
        ),
        meta=msgspec.structs.replace(parent.meta, original=parent.meta.original or parent.id),
    )
