"""Task `segment`: is a candidate cut of a chat channel one coherent exchange, which assistant
reply is its training target, and which turns are cross-talk to leave out.

For the Discord `segment` stage: it builds `Turn`s from its candidate, sends `build_request`,
and applies `parse_reply(content, turns)` (or `offline` without a model).
"""

from typing import Any

import msgspec

from stages.common.llm import ChatRequest
from stages.llm_tasks.task_io import (
    TaskError,
    parse_json_reply,
    request_payload,
    strict_object,
    task_request,
)


class Turn(msgspec.Struct, kw_only=True, frozen=True):
    """One channel message of a candidate, as the model sees it."""

    speaker: str  # display name or alias
    text: str
    assistant: bool = False  # said by the assistant speaker


class SegmentVerdict(msgspec.Struct, kw_only=True, frozen=True):
    coherent: bool
    target: int | None  # index into the turns of the assistant reply to learn
    off_topic: list[int]  # indices to leave out, sorted
    reason: str


def schema(turns: list[Turn]) -> dict[str, Any]:
    """The reply schema for these turns: `target` can only name an assistant turn, and
    `off_topic` only existing turns, so a model cannot answer out of range."""
    assistant = [i for i, turn in enumerate(turns) if turn.assistant]
    return strict_object(
        {
            "coherent": {"type": "boolean"},
            "target": {"type": ["integer", "null"], "enum": [*assistant, None]},
            "off_topic": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": max(len(turns) - 1, 0)},
            },
            "reason": {"type": "string"},
        }
    )


def payload(turns: list[Turn]) -> dict[str, Any]:
    return {
        "turns": [
            {"index": i, "speaker": t.speaker, "assistant": t.assistant, "text": t.text}
            for i, t in enumerate(turns)
        ]
    }


def finish(value: dict[str, Any]) -> SegmentVerdict | TaskError:
    """A schema-valid reply as a verdict: a coherent segment needs a target, and the target
    cannot be off topic."""
    verdict = msgspec.convert(value, SegmentVerdict)
    if verdict.coherent and verdict.target is None:
        return TaskError("coherent_without_target", "a coherent segment must name its target")
    if verdict.target is not None and verdict.target in verdict.off_topic:
        return TaskError("target_off_topic", f"turn {verdict.target} is both target and off topic")
    return msgspec.structs.replace(verdict, off_topic=sorted(set(verdict.off_topic)))


def build_request(turns: list[Turn]) -> ChatRequest:
    return task_request("segment", payload(turns), "segment", schema(turns), finish)


def parse_reply(content: str | None, turns: list[Turn]) -> SegmentVerdict | TaskError:
    """The verdict on these turns, or why the reply gives none."""
    if not turns:
        return TaskError("no_turns", "a segment without turns has nothing to judge")
    value = parse_json_reply(content, schema(turns))
    return value if isinstance(value, TaskError) else finish(value)


def offline_verdict(turns: list[Turn]) -> dict[str, Any]:
    """The last assistant turn that answers someone else is the target; coherent when there is
    one. Without a model nothing is judged off topic."""
    target = next(
        (
            i
            for i in range(len(turns) - 1, 0, -1)
            if turns[i].assistant and any(not t.assistant for t in turns[:i])
        ),
        None,
    )
    reason = (
        f"offline: turn {target} is the last assistant reply after a user turn"
        if target is not None
        else "offline: no assistant reply follows a user turn"
    )
    return {"coherent": target is not None, "target": target, "off_topic": [], "reason": reason}


def offline(request: ChatRequest) -> dict[str, Any]:
    turns = [
        Turn(speaker=t["speaker"], text=t["text"], assistant=t["assistant"])
        for t in request_payload(request)["turns"]
    ]
    return offline_verdict(turns)
