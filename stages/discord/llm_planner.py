"""The `llm` planner of inject_tools: the tool trigger model reads each conversation's target
reply with its context and the tool catalog, and decides whether a tool call belongs before the
reply, which tool, with which arguments, returning what (stages/llm_tasks/tool_plan.py).

Unlike the per-conversation `Planner`s, it plans a chunk of conversations at once: one round of
requests, sent concurrently and answered from the response cache where it can. A reply that is
unusable (not JSON, off schema, arguments that break the tool's parameters, no result) is
counted by reason and gives no call: the conversation goes on unchanged.
"""

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from schemas.conversation import Conversation, Tool
from schemas.reject import Dropped
from stages.common.llm import LLMSettings, LLMStats, complete_all
from stages.discord.tool_injection import Injection
from stages.llm_tasks import tool_plan as task
from stages.llm_tasks.task_io import TaskError, usable


class Planned(NamedTuple):
    injections: list[list[Injection]]  # per conversation, in order
    failures: list[Dropped]
    counts: dict[str, int]


def has_target_reply(conversation: Conversation) -> bool:
    """A text reply by the assistant, after something it answers: what a call can precede."""
    messages = conversation.messages
    return len(messages) >= 2 and messages[-1].role == "assistant" and bool(messages[-1].content)


def as_injection(conversation: Conversation, planned: task.Injection) -> Injection:
    """The task's call (arguments as checked JSON text) as a call before the target reply."""
    return Injection(
        before=len(conversation.messages) - 1,
        name=planned.tool,
        arguments=json.loads(planned.arguments),
        result=planned.result,
    )


def plan_with_llm(
    conversations: Sequence[Conversation],
    catalog: Sequence[Tool],
    settings: LLMSettings,
    cache_dir: str | Path,
    llm_stats: LLMStats,
) -> Planned:
    """At most one call per conversation, before its target reply, as the model decides."""
    tools = list(catalog)
    asked = [i for i, c in enumerate(conversations) if has_target_reply(c)]
    requests = [
        task.build_request(
            conversations[i].messages[:-1], conversations[i].messages[-1].content or "", tools
        )
        for i in asked
    ]
    results, stats = complete_all(settings, requests, cache_dir=cache_dir, heuristic=task.offline)
    llm_stats.add(stats)
    planned = Planned([[] for _ in conversations], [], {})
    parse = functools.partial(task.parse_reply, catalog=tools)
    for index, result in zip(asked, results, strict=True):
        conversation = conversations[index]
        outcome = usable(result, parse)
        if isinstance(outcome, TaskError):
            key = f"planner_failed.{outcome.reason}"
            planned.counts[key] = planned.counts.get(key, 0) + 1
            planned.failures.append(
                Dropped(
                    id=conversation.id,
                    reason=f"inject_tools:{outcome.reason}",
                    file=conversation.meta.file,
                    line=conversation.meta.line,
                )
            )
        elif outcome is not None:
            planned.injections[index] = [as_injection(conversation, outcome)]
    return planned
