"""Claude Code transcript lines → `Conversation` records, rejects and counts (pure core).

How the traps of the format are handled (see schemas/claude_code_record.py for the records):
- One API response is written as one record per content block; records sharing
  `message.id` are merged back into one assistant message, even when tool results
  were written between them.
- Pairing calls with results, tool filters, turn splits and thinking are the shared
  assembly of stages/sources/sessions/threads.py.
- Sub-agent threads (`isSidechain`, inline or in `agent-<id>.jsonl`) become their own
  conversations, tagged `subagent` (and `agent:<type>` when the file's `.meta.json` names
  the type), with `meta.agent_id`; inline ones are told apart by `agentId` or by
  following `parentUuid` back to the thread's first record.
- A call of a tool that starts a sub-agent (`Task`, later `Agent`) whose result names it
  (`toolUseResult.agentId`) is listed in its conversation's `meta.subagents` (call id →
  agent id): the link to the sub-agent's conversations, which come from another file and
  so cannot be named by id.
- Record types that hold no conversation (`SKIPPED_TYPES`) are counted by name; a type
  nobody listed is counted as `unknown_type` and under `unknown_types.<type>`.
- `user` records that are not prompts (isMeta, compact summaries, slash-command and
  local-command echoes, interrupt notices) are counted and skipped; an interrupt tags
  the conversation `interrupted`.
- Synthetic assistant records (API errors, `<synthetic>` model) are skipped.
- Tool results with `is_error: true` are kept and tag the conversation `tool_error`;
  a call the user refused also tags it `tool_rejected`.
- Images become the text `[image]`: message content is a string.
- `meta.timestamp` is the earliest timestamp of the conversation's records, since
  timestamps go backwards around `/compact`; `meta.line` is its first record's line.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from schemas.claude_code_record import (
    SKIPPED_TYPES,
    AssistantRecord,
    ContentBlock,
    RecordType,
    SkippedRecord,
    SubagentMeta,
    SummaryRecord,
    SystemRecord,
    TaskResult,
    TranscriptRecord,
    UserRecord,
)
from schemas.conversation import Meta
from schemas.reject import Reject
from stages.common.decode import DECODE_REASONS, LineDecoder, LineError
from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES, Line
from stages.sources.sessions.threads import (
    ASSEMBLY_COUNT_KEYS,
    IMAGE_PLACEHOLDER,
    Call,
    Interrupt,
    ParseResult,
    Prompt,
    Reply,
    Result,
    SessionParams,
    Thread,
    encode_threads,
)

# Bump when the same input lines would give different output: it keys the per-file cache.
PARSER_VERSION = 5
AGENT = "claude_code"

NOT_PROMPT_PREFIXES = (
    "<command-name>",
    "<command-message>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
)
# Every counter the parser may report, so stats files list them all, zero or not.
COUNT_KEYS = (
    "read",
    "blank_lines",
    "images_replaced",
    "skipped.unknown_type",
    *(f"skipped.{kind}" for kind in SKIPPED_TYPES),
    "skipped.summary",
    "skipped.system",
    "skipped.compact_boundary",
    "skipped.compact_summary",
    "skipped.meta",
    "skipped.command",
    "skipped.interrupt",
    "skipped.api_error",
    "skipped.assistant_blocks",
    "skipped.user_blocks",
    "merged.assistant_records",
    *ASSEMBLY_COUNT_KEYS,
)
REJECT_REASONS = DECODE_REASONS
INTERRUPT_PREFIX = "[Request interrupted by user"

_type_decoder = msgspec.json.Decoder(RecordType)
_task_result_decoder = msgspec.json.Decoder(TaskResult)
_meta_decoder = msgspec.json.Decoder(SubagentMeta)
META_SUFFIX = ".meta.json"
# The tools that start a sub-agent: only their results' `toolUseResult` is read.
SUBAGENT_TOOLS = frozenset({"Task", "Agent"})
# Every record type Claude Code writes, read or skipped by name: a file of these is its own.
RECORD_TYPES = frozenset({"user", "assistant", "system", "summary", *SKIPPED_TYPES})


def recognises(record_type: str, envelope: bool) -> bool:
    """A Claude Code record: one of its types, not wrapped in an envelope with a payload."""
    return not envelope and record_type in RECORD_TYPES


def _unknown_type(line: Line) -> str | None:
    """The type of a well-formed record of a type nobody listed (skipped, not rejected)."""
    try:
        kind = _type_decoder.decode(line.data).type
    except msgspec.DecodeError:
        return None
    return None if kind in RECORD_TYPES else kind


def decode_records(
    lines: Iterable[Line],
    file: str,
    counts: Counter[str],
    rejects: list[Reject],
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[tuple[int, TranscriptRecord]]:
    """Typed records of the lines we model; count unknown types by name, reject malformed lines.

    Invalid JSON on an unterminated last line is a `truncated_line`: a file
    still being written ends with a cut-off line.
    """
    decode = LineDecoder(TranscriptRecord, max_line_bytes).decode
    for line in lines:
        counts["read"] += 1
        if line.blank:
            counts["blank_lines"] += 1
            continue
        try:
            yield line.number, decode(line)
        except LineError as error:
            kind = _unknown_type(line) if error.reason in ("wrong_type", "missing_field") else None
            if kind is None:
                rejects.append(error.reject(file, line))
            else:
                counts["skipped.unknown_type"] += 1
                counts[f"unknown_types.{kind}"] += 1


def _spawned_agent(record: UserRecord, blocks: list[ContentBlock]) -> str | None:
    """The sub-agent named by the record's `toolUseResult`, if it names one and the record
    answers one call (Claude Code writes one result a record: of several, whose would it be?)."""
    if sum(1 for b in blocks if b.type == "tool_result") != 1:
        return None
    try:
        return _task_result_decoder.decode(record.toolUseResult).agentId
    except msgspec.DecodeError:  # absent, or not an object: the call failed
        return None


def _result_text(content: str | list[ContentBlock] | dict | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return msgspec.json.encode(content).decode()
    parts = []
    for block in content:
        if block.type == "text" and block.text:
            parts.append(block.text)
        elif block.type == "image":
            parts.append(IMAGE_PLACEHOLDER)
    return "\n".join(parts)


class _Reader:
    """Sorts records into threads of prompts, replies, tool results and interrupts."""

    def __init__(self, counts: Counter[str], agent_type: str | None) -> None:
        self.counts = counts
        self.agent_type = agent_type  # of the file's sub-agent, from its .meta.json
        self.threads: dict[str, Thread] = {}
        self.sidechain_of: dict[str, str] = {}
        self.spawning: set[str] = set()  # ids of calls that start a sub-agent
        self.session_id: str | None = None

    def read(self, lineno: int, record: TranscriptRecord) -> None:
        if isinstance(record, SkippedRecord):
            self.counts[f"skipped.{record.kind()}"] += 1
        elif isinstance(record, SummaryRecord):
            self.counts["skipped.summary"] += 1
        elif isinstance(record, SystemRecord):
            boundary = record.subtype == "compact_boundary"
            self.counts["skipped.compact_boundary" if boundary else "skipped.system"] += 1
        else:
            self.session_id = self.session_id or record.sessionId
            thread = self._thread(lineno, record)
            if isinstance(record, AssistantRecord):
                self._assistant(lineno, record, thread)
            else:
                self._user(lineno, record, thread)

    def _thread(self, lineno: int, record: UserRecord | AssistantRecord) -> Thread:
        if not record.isSidechain:
            key = "main"
        elif record.agentId:
            key = f"agent:{record.agentId}"
        else:
            parent = self.sidechain_of.get(record.parentUuid or "")
            key = parent or f"sidechain:{record.uuid or lineno}"
        if record.isSidechain and record.uuid:
            self.sidechain_of[record.uuid] = key
        if key not in self.threads:
            sub = record.isSidechain
            self.threads[key] = Thread(
                subagent=sub,
                agent_id=record.agentId if sub else None,
                agent_type=self.agent_type if sub else None,
            )
        return self.threads[key]

    def _assistant(self, lineno: int, record: AssistantRecord, thread: Thread) -> None:
        message = record.message
        if record.isApiErrorMessage or message.model == "<synthetic>":
            self.counts["skipped.api_error"] += 1
            return
        key = message.id or record.requestId or record.uuid or f"line:{lineno}"
        reply = thread.replies.get(key)
        if reply is None:
            reply = Reply(line=lineno, timestamp=record.timestamp, model=message.model)
            thread.replies[key] = reply
            thread.items.append(reply)
        else:
            self.counts["merged.assistant_records"] += 1
        content = message.content
        blocks = [ContentBlock(type="text", text=content)] if isinstance(content, str) else content
        for block in blocks:
            if block.type == "text" and block.text:
                reply.texts.append(block.text)
            elif block.type == "thinking" and block.thinking:
                reply.thinking.append(block.thinking)
            elif block.type == "tool_use" and block.id and block.name:
                reply.calls.append(Call(block.id, block.name, block.input or {}))
                if block.name in SUBAGENT_TOOLS:
                    self.spawning.add(block.id)
            else:
                self.counts["skipped.assistant_blocks"] += 1

    def _user(self, lineno: int, record: UserRecord, thread: Thread) -> None:
        if record.isMeta:
            self.counts["skipped.meta"] += 1
            return
        if record.isCompactSummary:
            self.counts["skipped.compact_summary"] += 1
            return
        content = record.message.content
        blocks = [ContentBlock(type="text", text=content)] if isinstance(content, str) else content
        texts: list[str] = []
        carries_results = False
        for block in blocks:
            if block.type == "tool_result" and block.tool_use_id:
                carries_results = True
                thread.items.append(
                    Result(
                        line=lineno,
                        timestamp=record.timestamp,
                        call_id=block.tool_use_id,
                        text=_result_text(block.content),
                        is_error=block.is_error is True,
                        agent_id=_spawned_agent(record, blocks)
                        if block.tool_use_id in self.spawning
                        else None,
                    )
                )
            elif block.type == "text" and block.text:
                self._user_text(lineno, record, thread, block.text, texts)
            elif block.type == "image":
                self.counts["images_replaced"] += 1
                texts.append(IMAGE_PLACEHOLDER)
            else:
                self.counts["skipped.user_blocks"] += 1
        if texts:
            thread.items.append(
                Prompt(
                    line=lineno,
                    timestamp=record.timestamp,
                    text="\n\n".join(texts),
                    starts_turn=not carries_results,
                )
            )

    def _user_text(
        self, lineno: int, record: UserRecord, thread: Thread, text: str, texts: list[str]
    ) -> None:
        stripped = text.lstrip()
        if stripped.startswith(INTERRUPT_PREFIX):
            self.counts["skipped.interrupt"] += 1
            thread.items.append(Interrupt(line=lineno, timestamp=record.timestamp))
        elif stripped.startswith(NOT_PROMPT_PREFIXES):
            self.counts["skipped.command"] += 1
        else:
            texts.append(text)


def meta_file(transcript: Path) -> Path | None:
    """Where Claude Code writes a sub-agent transcript's `agent-<id>.meta.json` (None if no
    sub-agent's): beside it, in `<session>/subagents/` (and `subagents/workflows/<run>/`)."""
    name = transcript.name
    if not (name.startswith("agent-") and name.endswith(".jsonl")):
        return None
    return transcript.with_name(name.removesuffix(".jsonl") + META_SUFFIX)


def read_meta_file(path: Path) -> SubagentMeta | None:
    """A sub-agent's `.meta.json`, or None when it cannot be read or is not such an object."""
    try:
        return _meta_decoder.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None


def parse_transcript(
    lines: Iterable[Line],
    file: str,
    params: SessionParams,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    agent_type: str | None = None,
) -> ParseResult:
    """Every conversation in one transcript file, with the rejected lines and what was counted.

    `agent_type` is the type the sub-agent's `.meta.json` names, when the file is a sub-agent's.
    """
    counts: Counter[str] = Counter()
    rejects: list[Reject] = []
    reader = _Reader(counts, agent_type)
    for lineno, record in decode_records(lines, file, counts, rejects, max_line_bytes):
        reader.read(lineno, record)
    meta = Meta(file=file, session_id=reader.session_id)
    encoded = encode_threads(reader.threads.values(), params, meta, AGENT, counts)
    return ParseResult(lines=encoded, rejects=rejects, counts=dict(sorted(counts.items())))
