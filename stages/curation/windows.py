"""Windows: a conversation over the token budget cut into examples that each fit it.

A long agent session (300,000 tokens is an ordinary day) cannot train as one example. It is
cut at turn boundaries: a unit is a user message, or an assistant message with the tool
results that answer it, so no call is ever parted from its result. Each window's own part
ends with an assistant unit and trains; before it, as context that carries no loss
(assistant turns `weight: 0`), come the system prompt, the user request its turns answer,
and as many of the units just before it as fit. A message so large that its unit could not
share a window with the request is shortened with a marker (tool outputs first).

Every window is a new record: its id is derived from the windowed record's id and its index
(a variant and its original, which share `meta.original`, never share window ids), and
`meta.original`, `meta.window` and `meta.context_messages` say where it came from (the
record's own original when it has one, which keeps its split) and where its own part starts
(docs/contract.md: the views without a mask leave the context out).
"""

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from schemas.conversation import Conversation, Message
from stages.common.hashing import content_id
from stages.curation.tokens import (
    PRIMING,
    decode,
    message_costs,
    message_tokens,
    text_tokens,
    tools_tokens,
)
from stages.formats.contract import problem_turn

MARKER = "\n[... {n} tokens cut by curate ...]\n"
MIN_UNIT_TOKENS = 256  # below this a window has no room for a turn worth training
MIN_SHRINK_TOKENS = 64  # a text this short is not worth a marker
SHRINK_ROUNDS = 4  # re-encoding a cut text can merge tokens differently: a few rounds settle it


class Unfittable(Exception):
    """A conversation no window can hold (a tool call's arguments alone exceed it)."""


class Unit(NamedTuple):
    start: int  # first message index in the conversation
    end: int  # one past the last
    tokens: int
    role: str  # the role of its first message


def window_id(original: str, index: int) -> str:
    return content_id(["window", original, index])


def shorten(message: Message, limit: int) -> Message:
    """The message with its text cut in the middle, marked, so that it costs at most `limit`."""
    for _ in range(SHRINK_ROUNDS):
        excess = message_tokens(message) - limit
        if excess <= 0 or not message.content:
            return message
        tokens = text_tokens(message.content)
        marker = len(text_tokens(MARKER.format(n=len(tokens)))) + 2
        keep = max(0, len(tokens) - excess - marker)
        head, tail = keep // 2, keep - keep // 2
        text = (
            decode(tokens[:head])
            + MARKER.format(n=len(tokens) - keep)
            + decode(tokens[len(tokens) - tail :])
        )
        message = msgspec.structs.replace(message, content=text)
    return message


def _units(messages: list[Message], first: int) -> list[list[int]]:
    """Message indices grouped into units: a user message, or an assistant turn and its results."""
    units: list[list[int]] = []
    for i in range(first, len(messages)):
        if messages[i].role == "tool" and units:
            units[-1].append(i)
        else:
            units.append([i])
    return units


def _fit_unit(messages: list[Message], unit: list[int], limit: int, counted: Sequence[int]) -> int:
    """Shrink the unit's largest texts, tool outputs and prompts before replies, to `limit`
    (`counted`: each message's tokens as it was)."""
    costs = {i: counted[i] for i in unit}
    while (excess := sum(costs.values()) - limit) > 0:
        texts = [i for i in unit if messages[i].content and costs[i] > MIN_SHRINK_TOKENS]
        if not texts:
            raise Unfittable
        i = max(texts, key=lambda k: (messages[k].role != "assistant", costs[k]))
        shrunk = shorten(messages[i], max(costs[i] - excess, 0))
        if message_tokens(shrunk) >= costs[i]:
            raise Unfittable
        messages[i], costs[i] = shrunk, message_tokens(shrunk)
    return sum(costs.values())


def windows(
    conversation: Conversation, max_tokens: int, costs: Sequence[int] | None = None
) -> list[Conversation]:
    """The windows of a conversation over `max_tokens`; raises Unfittable when none can hold
    one of its turns. `costs`: its `message_costs`, when the caller has them."""
    messages = list(conversation.messages)
    if costs is None:
        costs = message_costs(conversation)
    budget = max_tokens - PRIMING - tools_tokens(conversation.tools)
    first = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    system = sum(costs[:first])
    half = (budget - system) // 2
    if half < MIN_UNIT_TOKENS:
        raise Unfittable
    units = [
        Unit(u[0], u[-1] + 1, _fit_unit(messages, u, half, costs), messages[u[0]].role)
        for u in _units(messages, first)
    ]
    out: list[Conversation] = []
    i = 0
    while any(u.role == "assistant" for u in units[i:]):
        own_end, own_cost = _own(units, i, budget - system, reserve=half // 2 if i else 0)
        picked = _context(units, i, budget - system - own_cost)
        out.append(_window(conversation, messages, units, picked, i, own_end, len(out)))
        i = own_end
    return out


def _request(units: list[Unit], start: int) -> int | None:
    """The last user unit before `start`: the request the units from `start` on answer."""
    return next((k for k in range(start - 1, -1, -1) if units[k].role == "user"), None)


def _own(units: list[Unit], start: int, room: int, reserve: int) -> tuple[int, int]:
    """Where the window's own part ends (after an assistant unit) and what it costs, leaving
    `reserve` tokens for context once it holds one assistant unit."""
    request = _request(units, start) if units[start].role != "user" else None
    head = units[request].tokens if request is not None else 0
    cost, end, end_cost = head, None, head
    for j in range(start, len(units)):
        if cost + units[j].tokens > room - (reserve if end is not None else 0):
            break
        cost += units[j].tokens
        if units[j].role == "assistant":
            end, end_cost = j + 1, cost
    if end is None:
        raise Unfittable
    return end, end_cost


def _context(units: list[Unit], start: int, room: int) -> list[int]:
    """The unit indices shown before the own part: the user request the own part answers,
    then the units just before the own part, contiguous, as many as fit in `room` (which
    already paid for the request when the own part does not open with a user message)."""
    request = _request(units, start)
    if request is None:
        return []
    if units[start].role == "user":
        if units[request].tokens > room:
            return []
        room -= units[request].tokens
    k = start
    while k - 1 > request and units[k - 1].tokens <= room:
        room -= units[k - 1].tokens
        k -= 1
    return [request, *range(k, start)]


def _window(
    conversation: Conversation,
    messages: list[Message],
    units: list[Unit],
    context: list[int],
    start: int,
    end: int,
    index: int,
) -> Conversation:
    first = units[0].start if units else len(messages)
    shown = list(messages[:first])
    for k in context:
        shown += [
            msgspec.structs.replace(m, weight=0) if m.role == "assistant" else m
            for m in messages[units[k].start : units[k].end]
        ]
    context_messages = len(shown)
    own = range(units[start].start, units[end - 1].end)
    shown += messages[own.start : own.stop]
    original = conversation.meta.original or conversation.id
    labels = conversation.labels
    if labels.correction is not None and problem_turn(conversation) not in own:
        labels = msgspec.structs.replace(labels, correction=None)
    return msgspec.structs.replace(
        conversation,
        id=window_id(conversation.id, index),
        messages=shown,
        labels=labels,
        meta=msgspec.structs.replace(
            conversation.meta,
            original=original,
            window=index,
            context_messages=context_messages,
        ),
    )
