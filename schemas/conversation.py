"""`Conversation`: the one record that flows through every stage after ingestion.

Messages follow the OpenAI chat shape so that the most common export is a
projection, not a translation: assistant `tool_calls` carry `arguments` as a JSON
string, tool messages answer them by `tool_call_id`.
"""

from typing import Annotated, Any, Literal

import msgspec

from schemas.base import Record

# Options are per class in msgspec: ToolCall and Tool restate kw_only, and keep
# their defaults on disk because consumers require `"type": "function"`.
Role = Literal["system", "user", "assistant", "tool"]
# The name of the source that made the record: its folder under stages/sources/, or a
# source with stages of its own (discord).
Source = Annotated[str, msgspec.Meta(pattern="^[a-z][a-z0-9_]*$")]
ExampleType = Literal["direct_execution", "reasoning_chain", "negative", "code_correction"]


class FunctionCall(Record):
    name: str
    arguments: str  # compact JSON text of an object, as OpenAI expects


class ToolCall(Record, kw_only=True, omit_defaults=False):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(Record):
    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    weight: Literal[0, 1] | None = None  # 0: shown in context, not learned


class FunctionDef(Record):
    name: str
    description: str | None = None
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


class Tool(Record, kw_only=True, omit_defaults=False):
    type: Literal["function"] = "function"
    function: FunctionDef


class Labels(Record):
    example_type: ExampleType | None = None
    quality_score: float | None = None
    rating: int | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    reasoning: str | None = None
    problem: str | None = None
    root_cause: str | None = None
    # What the assistant should have said or called instead of its problem turn (a hand
    # label); stages/formats/contract.py trains it in that turn's place.
    correction: Message | None = None


class Meta(Record):
    """Provenance: where a conversation came from, precisely enough to find it again."""

    file: str | None = None
    line: int | None = None
    timestamp: str | None = None
    model: str | None = None
    session_id: str | None = None
    channel_id: str | None = None
    message_ids: list[str] | None = None
    assistant_user_id: str | None = None
    assistant_alias: str | None = None  # the persona's name in the conversation (a pseudonym)
    target_message_id: str | None = None
    alias_map: dict[str, str] | None = None
    synthetic_tool_calls: int | None = None
    reconstructed: bool | None = None
    # A sub-agent's conversation: the agent's id; the conversation that ran it: for each of
    # its tool calls that started a sub-agent, call id → agent id (same session_id).
    agent_id: str | None = None
    subagents: dict[str, str] | None = None
    # A record made from another (a window of a long conversation, a variant): the id of the
    # record it came from, which also decides its split; a window's index, and how many of
    # its leading messages are context carried from before (no loss; docs/contract.md).
    original: str | None = None
    window: int | None = None
    context_messages: int | None = None
    # How a made-up record was made: `scenario` (a generated terminal session, stages/synthesis),
    # `paraphrase` or `arguments` (a variant of the real record named by `original`).
    synthetic: str | None = None


class Conversation(Record):
    id: str
    source: Source
    messages: list[Message]
    tools: list[Tool] = msgspec.field(default_factory=list)
    labels: Labels = msgspec.field(default_factory=Labels)
    meta: Meta = msgspec.field(default_factory=Meta)
