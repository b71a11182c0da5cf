"""Codex CLI rollout lines, as Codex writes them (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`).

Every line is an envelope `{"timestamp", "type", "payload"}` (`RolloutLine`); the payload's
shape depends on `type`, so it is kept raw and decoded in a second step: `SessionMeta`,
`TurnContext`, a `ResponseItem` (a tagged union on the payload's own `type`), an `EventMsg`,
or `Compacted`. The format is no versioned contract (fields come and go between releases,
see `codex-rs/protocol`): every Struct is lenient, declares only what the parser reads, and an
item or event type we do not model is counted by name, never rejected.
"""

from typing import Any

import msgspec

from schemas.base import RawRecord


class RolloutLine(RawRecord, kw_only=True):
    """One line: when, what kind, and the payload of that kind (decoded by kind)."""

    timestamp: str | None = None
    type: str
    payload: msgspec.Raw


class TextPart(RawRecord, kw_only=True):
    """A part of a message or reasoning item: `input_text`, `output_text`, `summary_text`,
    `reasoning_text`, `input_image`, …"""

    type: str
    text: str | None = None


class BaseInstructions(RawRecord, kw_only=True):
    text: str | None = None


class SessionMeta(RawRecord, kw_only=True):
    """The first line: the rollout's id (also in the file name), and the instructions in play.

    `instructions` is the AGENTS.md text (or null); newer versions write Codex's own
    system prompt as `base_instructions {text}`. `source` is `cli`, `exec`, `vscode`, … or
    an object such as `{"subagent": …}` for a sub-agent's rollout.
    """

    id: str | None = None
    cwd: str | None = None
    originator: str | None = None
    cli_version: str | None = None
    instructions: str | None = None
    base_instructions: BaseInstructions | None = None
    source: str | dict[str, Any] | None = None


class TurnContext(RawRecord, kw_only=True):
    """The settings of a turn; the parser reads only the model."""

    model: str | None = None
    cwd: str | None = None


class MessageItem(RawRecord, kw_only=True, tag_field="type", tag="message"):
    """A message the model saw or wrote: role `user`, `assistant` or `developer`."""

    role: str
    content: list[TextPart] = msgspec.field(default_factory=list)


class ReasoningItem(RawRecord, kw_only=True, tag_field="type", tag="reasoning"):
    """The model's reasoning: readable `summary` (and `content` for open-weight models), and
    `encrypted_content` only the API can read."""

    summary: list[TextPart] = msgspec.field(default_factory=list)
    content: list[TextPart] | None = None
    encrypted_content: str | None = None


class FunctionCallItem(RawRecord, kw_only=True, tag_field="type", tag="function_call"):
    """A function call; `arguments` is a JSON string, as the Responses API sends it."""

    name: str
    arguments: str = ""
    call_id: str


class FunctionCallOutputItem(RawRecord, kw_only=True, tag_field="type", tag="function_call_output"):
    """A call's output: a string (shell outputs often the JSON text of `{output, metadata}`),
    or in newer versions a list of content parts."""

    call_id: str
    output: str | list[TextPart] | dict[str, Any] = ""


class CustomToolCallItem(RawRecord, kw_only=True, tag_field="type", tag="custom_tool_call"):
    """A freeform tool call (e.g. `apply_patch`): `input` is raw text, not JSON."""

    call_id: str
    name: str
    input: str = ""
    status: str | None = None


class CustomToolCallOutputItem(
    RawRecord, kw_only=True, tag_field="type", tag="custom_tool_call_output"
):
    call_id: str
    output: str | list[TextPart] | dict[str, Any] = ""


class LocalShellCallItem(RawRecord, kw_only=True, tag_field="type", tag="local_shell_call"):
    """A shell command the model ran through the built-in local shell tool; its output comes
    back as a `function_call_output` with the same `call_id`."""

    call_id: str | None = None
    id: str | None = None
    status: str | None = None
    action: dict[str, Any] = msgspec.field(default_factory=dict)


class WebSearchCallItem(RawRecord, kw_only=True, tag_field="type", tag="web_search_call"):
    """A search run on the server: the rollout holds the query, never the results."""

    id: str | None = None
    status: str | None = None
    action: dict[str, Any] | None = None


ResponseItem = (
    MessageItem
    | ReasoningItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | CustomToolCallItem
    | CustomToolCallOutputItem
    | LocalShellCallItem
    | WebSearchCallItem
)


class EventMsg(RawRecord, kw_only=True):
    """A UI event. `user_message`, `agent_message` and `agent_reasoning` repeat response
    items; `token_count` holds cumulative usage; `turn_aborted {reason}` ends a turn early."""

    type: str
    reason: str | None = None


class Compacted(RawRecord, kw_only=True):
    """A summary that replaced the history before it (`replacement_history` is not read)."""

    message: str = ""


class PayloadType(RawRecord, kw_only=True):
    """Just a payload's `type`: tells an unknown item kind from a malformed item."""

    type: str


class ExecMetadata(RawRecord, kw_only=True):
    exit_code: int | None = None


class ExecOutput(RawRecord, kw_only=True):
    """The JSON text many versions write as a shell call's output string."""

    output: str
    metadata: ExecMetadata
