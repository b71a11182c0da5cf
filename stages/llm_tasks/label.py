"""Task `label`: example_type, quality_score, tags, reasoning, problem and root_cause of one
conversation, as structured output. The tag vocabulary is closed (the schema enumerates it);
README lists it with the meaning of each tag."""

import re
from typing import Any

import msgspec

from schemas.conversation import Conversation, ExampleType
from stages.common.llm import ChatRequest
from stages.common.tool_results import failure_message
from stages.llm_tasks.task_io import (
    TaskError,
    parse_json_reply,
    request_payload,
    strict_object,
    task_request,
)
from stages.llm_tasks.tool_failures import ToolFailure, find_failures

EXAMPLE_TYPES = ("direct_execution", "reasoning_chain", "negative", "code_correction")
TAGS = {
    "tool_use": "the assistant calls at least one tool",
    "multi_tool": "more than one tool call in the conversation",
    "parallel_calls": "one assistant turn makes several calls at once",
    "no_tool": "no tool call at all",
    "tool_error": "a tool call failed",
    "self_correction": "a failed call is followed by a corrected call that succeeds",
    "unsupported_claim": "the final reply claims success although the last tool call failed",
    "clarification": "the assistant's last reply asks the user a question",
    "multi_turn": "more than one user message",
    "code": "a message holds a fenced code block",
    "incomplete": "the conversation does not end with an assistant reply",
}
MAX_CONTENT_CHARS = 4000
SCHEMA = strict_object(
    {
        "example_type": {"type": "string", "enum": list(EXAMPLE_TYPES)},
        "quality_score": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string", "enum": sorted(TAGS)}},
        "reasoning": {"type": ["string", "null"]},
        "problem": {"type": ["string", "null"]},
        "root_cause": {"type": ["string", "null"]},
    }
)
_ADMITS_FAILURE = re.compile(
    r"\b(not|n't|cannot|couldn't|unable|failed|error|blocked|sorry)\b", re.IGNORECASE
)


class LabelReply(msgspec.Struct, kw_only=True, frozen=True):
    example_type: ExampleType
    quality_score: float
    tags: list[str]
    reasoning: str | None
    problem: str | None
    root_cause: str | None


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_CONTENT_CHARS:
        return text
    return text[:MAX_CONTENT_CHARS] + "…[truncated]"


def payload(conversation: Conversation) -> dict[str, Any]:
    """What the model sees: the messages (long texts clipped), tool names, the source's labels."""
    messages = [msgspec.structs.replace(m, content=_clip(m.content)) for m in conversation.messages]
    return {
        "conversation": {
            "source": conversation.source,
            "messages": msgspec.to_builtins(messages),
            "tools": sorted(t.function.name for t in conversation.tools),
            "labels": msgspec.to_builtins(conversation.labels),
        }
    }


def build_request(conversation: Conversation) -> ChatRequest:
    return task_request("label", payload(conversation), "labels", SCHEMA)


def parse_reply(content: str | None) -> LabelReply | TaskError:
    value = parse_json_reply(content, SCHEMA)
    if isinstance(value, TaskError):
        return value
    value["tags"] = sorted(set(value["tags"]))
    return msgspec.convert(value, LabelReply)


# the offline heuristic


def _final_reply(messages: list[dict[str, Any]]) -> str | None:
    last = messages[-1] if messages else {}
    if last.get("role") == "assistant" and last.get("content") and not last.get("tool_calls"):
        return last["content"]
    return None


def structure_tags(
    conversation: Conversation, failures: list[ToolFailure] | None = None
) -> list[str]:
    """The vocabulary tags that follow from the conversation's structure alone; `failures`
    are its `find_failures`, when the caller has them already."""
    messages = msgspec.to_builtins(conversation.messages)
    calls = [c for m in conversation.messages for c in m.tool_calls or ()]
    if failures is None:
        failures = find_failures(conversation)
    tool_results = [m.content for m in conversation.messages if m.role == "tool"]
    final = _final_reply(messages)
    tags = {
        "tool_use": bool(calls),
        "multi_tool": len(calls) > 1,
        "parallel_calls": any(len(m.tool_calls or ()) > 1 for m in conversation.messages),
        "no_tool": not calls,
        "tool_error": bool(failures),
        "self_correction": any(f.fix is not None for f in failures),
        "unsupported_claim": bool(tool_results)
        and failure_message(tool_results[-1]) is not None
        and final is not None
        and not _ADMITS_FAILURE.search(final),
        "clarification": final is not None and final.rstrip().endswith("?"),
        "multi_turn": sum(m.role == "user" for m in conversation.messages) > 1,
        "code": any("```" in (m.content or "") for m in conversation.messages),
        "incomplete": final is None,
    }
    return sorted(tag for tag, applies in tags.items() if applies)


def offline_labels(conversation: Conversation) -> dict[str, Any]:
    """Deterministic labels from structure: the stand-in for a model when no key is set."""
    failures = find_failures(conversation)
    tags = structure_tags(conversation, failures)
    if "unsupported_claim" in tags:
        example_type = "negative"
    elif "code" in tags and not any(m.tool_calls for m in conversation.messages):
        example_type = "code_correction"
    else:
        example_type = "direct_execution"
    rating = conversation.labels.rating
    if rating is not None:
        score = (rating - 1) / 4
    else:
        score = 0.6
        score += 0.2 if "incomplete" not in tags else -0.2
        score += 0.1 if "tool_use" in tags and "tool_error" not in tags else 0.0
        score -= 0.4 if "unsupported_claim" in tags else 0.0
    problem = failures[0].error if failures else None
    reasons = ", ".join(tags) or "no structural signal"
    return {
        "example_type": example_type,
        "quality_score": round(min(1.0, max(0.0, score)), 2),
        "tags": tags,
        "reasoning": f"offline heuristic from structure: {reasons}",
        "problem": problem,
        "root_cause": None,
    }


def offline(request: ChatRequest) -> dict[str, Any]:
    """`OfflineProvider` heuristic: reads the conversation back from the request."""
    data = request_payload(request)["conversation"]
    conversation = msgspec.convert(
        {
            "id": "offline",
            "source": data["source"],
            "messages": data["messages"],
            "labels": data["labels"],
        },
        Conversation,
    )
    return offline_labels(conversation)
