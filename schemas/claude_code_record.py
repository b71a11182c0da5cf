"""Claude Code session transcript lines, as Claude Code writes them.

A transcript is one JSON object a line under `~/.claude/projects/<project>/`.
Records are a tagged union on `type`. The record types that hold no conversation
(`progress`, `file-history-snapshot`, `queue-operation`, `ai-title`, ...: `SKIPPED_TYPES`)
are in the union as empty Structs, so they decode without building their content and the
parser counts each by name; a type nobody listed fails the union's tag check and is counted
as unknown, never rejected.

Content blocks are one lenient Struct rather than a tagged union: the API grows
block types (`redacted_thinking`, `server_tool_use`, `document`, ...) and an
unknown block must cost only itself, not the whole record around it.
Large fields we never read (`usage`, image data, snapshots) are left undeclared, so
msgspec skips them without building Python objects; `toolUseResult`, where a Task call's
result names its sub-agent, is kept as raw bytes, decoded only for such calls.
"""

from typing import Any, Union

import msgspec

from schemas.base import RawRecord


class ContentBlock(RawRecord):
    """One block of a message: text, thinking, tool_use, tool_result, image, or newer kinds.

    `content` is a string or a list of blocks for tool_result; some server-side
    result blocks carry an object there. `is_error` absent means success.
    """

    type: str
    text: str | None = None
    thinking: str | None = None
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    content: str | list["ContentBlock"] | dict[str, Any] | None = None
    is_error: bool | None = None


class UserMessage(RawRecord):
    role: str = "user"
    content: str | list[ContentBlock] = ""


class AssistantMessage(RawRecord):
    """One API response's message; Claude Code writes one record per content block."""

    id: str | None = None
    model: str | None = None
    role: str = "assistant"
    content: str | list[ContentBlock] = msgspec.field(default_factory=list)


class _Envelope(RawRecord):
    """Fields shared by records that belong to a thread."""

    uuid: str | None = None
    parentUuid: str | None = None
    isSidechain: bool = False
    sessionId: str | None = None
    agentId: str | None = None
    timestamp: str | None = None


class UserRecord(_Envelope, kw_only=True, tag_field="type", tag="user"):
    """A user-role record: a typed prompt, a command, a meta caveat or tool results."""

    message: UserMessage
    isMeta: bool = False
    isCompactSummary: bool = False
    # The structured tool output (any JSON), as raw bytes: read only for a sub-agent's id.
    toolUseResult: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class AssistantRecord(_Envelope, kw_only=True, tag_field="type", tag="assistant"):
    """One content block of an assistant response, or a synthetic API error."""

    message: AssistantMessage
    requestId: str | None = None
    isApiErrorMessage: bool = False


class SystemRecord(_Envelope, tag_field="type", tag="system"):
    """A hook notice or a `compact_boundary` (whose `parentUuid` is null)."""

    subtype: str | None = None
    content: str | None = None
    level: str | None = None
    logicalParentUuid: str | None = None


class SummaryRecord(RawRecord, tag_field="type", tag="summary"):
    """A session title; no session id or timestamp, anywhere in the file."""

    summary: str = ""
    leafUuid: str | None = None


class SkippedRecord(RawRecord, tag_field="type"):
    """A record that holds no conversation: one subclass per type of `SKIPPED_TYPES`."""

    @classmethod
    def kind(cls) -> str:
        return str(cls.__struct_config__.tag)


# What each record type holds, as far as its readers (and the files) show.
SKIPPED_TYPES = {
    "progress": "progress of a running tool, hook or sub-agent (a sub-agent's own messages "
    "are read from its file)",
    "queue-operation": "a prompt queued, dequeued or removed while the agent was busy",
    "attachment": "context attached to a turn (hook output, files, reminders)",
    "file-history-snapshot": "backups of edited files, for rewinding",
    "ai-title": "the session's generated title (`aiTitle`)",
    "custom-title": "the title the user gave the session (`customTitle`)",
    "agent-name": "the session's agent name (`agentName`)",
    "last-prompt": "the last prompt typed, for resuming",
    "mode": "the session's mode",
    "permission-mode": "the permission mode (`permissionMode`)",
    "pr-link": "a pull request linked to the session",
    "worktree-state": "the git worktree the session runs in",
}


def _skipped_record(kind: str) -> type[SkippedRecord]:
    name = "".join(part.title() for part in kind.split("-")) + "Record"
    doc = f"A `{kind}` record, skipped: {SKIPPED_TYPES[kind]}."
    return msgspec.defstruct(name, [], bases=(SkippedRecord,), tag=kind, namespace={"__doc__": doc})


SKIPPED_RECORDS = tuple(_skipped_record(kind) for kind in SKIPPED_TYPES)


class RecordType(RawRecord):
    """Just the `type` of a line: tells an unknown record type from a malformed record."""

    type: str


class TaskResult(RawRecord):
    """The `toolUseResult` of a call that ran a sub-agent (`Task`, later `Agent`): names it."""

    agentId: str | None = None


class SubagentMeta(RawRecord):
    """`agent-<id>.meta.json`, written beside a sub-agent's `agent-<id>.jsonl` (2.x).

    Seen as `{"agentType": "general-purpose", "spawnDepth": 1}`, some versions adding
    `description` and `toolUseId`; only the agent type is read.
    """

    agentType: str | None = None


TranscriptRecord = Union[UserRecord, AssistantRecord, SystemRecord, SummaryRecord, *SKIPPED_RECORDS]
