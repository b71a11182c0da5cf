"""Claude Code transcript lines → `Conversation` records, rejects and counts (pure core).

How the traps of the format are handled (see schemas/claude_code.py for the records):
- One API response is written as one record per content block; records sharing
  `message.id` are merged back into one assistant message, even when tool results
  were written between them.
- A tool_use is paired with its tool_result by id anywhere in its thread; a call
  with no result is dropped (`tool_use_unanswered`), a result with no call is
  dropped (`tool_result_orphan`), so the output is always valid OpenAI shape.
- Sub-agent threads (`isSidechain`, inline or in `agent-<id>.jsonl`) become their own
  conversations, tagged `subagent`; inline ones are told apart by `agentId` or by
  following `parentUuid` back to the thread's first record.
- `user` records that are not prompts (isMeta, compact summaries, slash-command and
  local-command echoes, interrupt notices) are counted and skipped; an interrupt tags
  the conversation `interrupted`.
- Synthetic assistant records (API errors, `<synthetic>` model) are skipped.
- Tool results with `is_error: true` are kept and tag the conversation `tool_error`;
  a call the user refused also tags it `tool_rejected`.
- A kept thinking block becomes `<think>…</think>` at the start of the assistant
  content, the form reasoning chat templates (DeepSeek-R1, Qwen3) parse back out.
- Images become the text `[image]`: message content is a string.
- `meta.timestamp` is the earliest timestamp of the conversation's records, since
  timestamps go backwards around `/compact`; `meta.line` is its first record's line.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from schemas.claude_code import (
    AssistantRecord,
    ContentBlock,
    RecordType,
    SummaryRecord,
    SystemRecord,
    TranscriptRecord,
    UserRecord,
)
from schemas.conversation import (
    Conversation,
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Meta,
    Tool,
    ToolCall,
)
from schemas.reject import Reject
from stages.common.conversation_line import conversation_line, encode_tools
from stages.common.decode import DECODE_REASONS, LineDecoder, LineError
from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES, Line
from stages.common.tool_results import refused_by_user
from stages.common.tool_schema import JsonSchema, infer_schema, merge_schemas
from stages.sessions.messages import ToolFilter, normalize

# Bump when the same input lines would give different output: it keys the per-file cache.
PARSER_VERSION = 3

Split = Literal["whole", "turn"]
Thinking = Literal["drop", "keep"]

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
    "conversations",
    "images_replaced",
    "skipped.unknown_type",
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
    "merged.assistant_messages",
    "tool_calls.paired",
    "tool_calls.unanswered",
    "tool_calls.filtered",
    "tool_results.orphan",
    "tool_results.duplicate",
    "tool_results.error",
    "dropped.empty_assistant",
    "dropped.leading_message",
    "dropped.no_reply",
    "folded.unanswered_turns",
)
REJECT_REASONS = DECODE_REASONS
INTERRUPT_PREFIX = "[Request interrupted by user"
IMAGE_PLACEHOLDER = "[image]"

_type_decoder = msgspec.json.Decoder(RecordType)
_KNOWN_TYPES = frozenset({"user", "assistant", "system", "summary"})


class SessionParams(msgspec.Struct, frozen=True, kw_only=True):
    """The parameters that change the parse (and so key the per-file cache)."""

    split: Split = "whole"
    thinking: Thinking = "drop"
    include_tools: tuple[str, ...] = ()
    exclude_tools: tuple[str, ...] = ()


class ParseResult(msgspec.Struct, kw_only=True):
    lines: bytes  # the conversations, encoded one a line
    rejects: list[Reject]
    counts: dict[str, int]

    @property
    def conversations(self) -> list[Conversation]:
        return [msgspec.json.decode(line, type=Conversation) for line in self.lines.splitlines()]


class _Prompt(msgspec.Struct):
    line: int
    timestamp: str | None
    text: str
    starts_turn: bool


class _Reply(msgspec.Struct):
    line: int
    timestamp: str | None
    model: str | None
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[ContentBlock] = []


class _Result(msgspec.Struct):
    line: int
    timestamp: str | None
    tool_use_id: str
    text: str
    is_error: bool


class _Interrupt(msgspec.Struct):
    line: int
    timestamp: str | None


_Item = _Prompt | _Reply | _Result | _Interrupt


class _Thread(msgspec.Struct):
    sidechain: bool
    items: list[_Item] = []
    replies: dict[str, _Reply] = {}
    results: dict[str, _Result] = {}


def _unknown_type(line: Line) -> bool:
    """A well-formed record of a type we do not model (skipped, not rejected)."""
    try:
        kind = _type_decoder.decode(line.data).type
    except msgspec.DecodeError:
        return False
    return kind not in _KNOWN_TYPES


def decode_records(
    lines: Iterable[Line],
    file: str,
    counts: Counter[str],
    rejects: list[Reject],
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[tuple[int, TranscriptRecord]]:
    """Typed records of the lines we model; count unknown types, reject malformed lines.

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
            if error.reason in ("wrong_type", "missing_field") and _unknown_type(line):
                counts["skipped.unknown_type"] += 1
            else:
                rejects.append(error.reject(file, line))


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

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts
        self.threads: dict[str, _Thread] = {}
        self.sidechain_of: dict[str, str] = {}
        self.session_id: str | None = None

    def read(self, lineno: int, record: TranscriptRecord) -> None:
        if isinstance(record, SummaryRecord):
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

    def _thread(self, lineno: int, record: UserRecord | AssistantRecord) -> _Thread:
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
            self.threads[key] = _Thread(sidechain=record.isSidechain)
        return self.threads[key]

    def _assistant(self, lineno: int, record: AssistantRecord, thread: _Thread) -> None:
        message = record.message
        if record.isApiErrorMessage or message.model == "<synthetic>":
            self.counts["skipped.api_error"] += 1
            return
        key = message.id or record.requestId or record.uuid or f"line:{lineno}"
        reply = thread.replies.get(key)
        if reply is None:
            reply = _Reply(line=lineno, timestamp=record.timestamp, model=message.model)
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
                reply.calls.append(block)
            else:
                self.counts["skipped.assistant_blocks"] += 1

    def _user(self, lineno: int, record: UserRecord, thread: _Thread) -> None:
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
                    _Result(
                        line=lineno,
                        timestamp=record.timestamp,
                        tool_use_id=block.tool_use_id,
                        text=_result_text(block.content),
                        is_error=block.is_error is True,
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
                _Prompt(
                    line=lineno,
                    timestamp=record.timestamp,
                    text="\n\n".join(texts),
                    starts_turn=not carries_results,
                )
            )

    def _user_text(
        self, lineno: int, record: UserRecord, thread: _Thread, text: str, texts: list[str]
    ) -> None:
        stripped = text.lstrip()
        if stripped.startswith(INTERRUPT_PREFIX):
            self.counts["skipped.interrupt"] += 1
            thread.items.append(_Interrupt(line=lineno, timestamp=record.timestamp))
        elif stripped.startswith(NOT_PROMPT_PREFIXES):
            self.counts["skipped.command"] += 1
        else:
            texts.append(text)


def _tools(thread: _Thread, keep: ToolFilter) -> list[Tool]:
    """The kept tools the thread called, with parameters inferred from all its calls.

    Every conversation of a thread lists them all, turns without calls too: the
    model had them at hand and chose not to call.
    """
    schemas: dict[str, JsonSchema] = {}
    for reply in thread.replies.values():
        for call in reply.calls:
            name = call.name or ""
            if keep.keeps(name):
                seen = infer_schema(call.input or {})
                known = schemas.get(name)
                schemas[name] = (
                    seen if known is None or known == seen else merge_schemas(known, seen)
                )
    return [Tool(function=FunctionDef(name=n, parameters=schemas[n])) for n in sorted(schemas)]


def _segments(thread: _Thread, split: Split) -> list[list[_Item]]:
    if split == "whole":
        return [thread.items]
    segments: list[list[_Item]] = [[]]
    for item in thread.items:
        if isinstance(item, _Prompt) and item.starts_turn and segments[-1]:
            segments.append([])
        segments[-1].append(item)
    return segments


class _Assembler:
    """Turns one thread's items into conversations: pairs calls with results, filters tools."""

    def __init__(
        self,
        thread: _Thread,
        params: SessionParams,
        file: str,
        session_id: str | None,
        counts: Counter[str],
    ) -> None:
        self.thread, self.params, self.file, self.session_id = thread, params, file, session_id
        self.counts = counts
        self.keep = ToolFilter(params.include_tools, params.exclude_tools)
        self.tools = encode_tools(_tools(thread, self.keep))
        self.results: dict[str, _Result] = {}
        for item in thread.items:
            if isinstance(item, _Result):
                if item.tool_use_id in self.results:
                    counts["tool_results.duplicate"] += 1
                else:
                    self.results[item.tool_use_id] = item
        called = {c.id for r in thread.replies.values() for c in r.calls}
        counts["tool_results.orphan"] += sum(1 for i in self.results if i not in called)

    def conversations(self) -> Iterator[bytes]:
        """Each conversation of the thread, encoded as its JSONL line.

        A turn that got no reply (an API error, an interrupt) opens the next turn instead of
        vanishing: "try again" keeps the request it refers to.
        """
        pending: list[_Item] = []
        unanswered = 0
        for segment in _segments(self.thread, self.params.split):
            conversation = self._conversation([*pending, *segment])
            if conversation is None:
                pending.extend(segment)
                unanswered += 1
                continue
            self.counts["folded.unanswered_turns"] += unanswered
            pending, unanswered = [], 0
            yield conversation
        self.counts["dropped.no_reply"] += min(unanswered, 1)

    def _conversation(self, segment: list[_Item]) -> bytes | None:
        tags: set[str] = {"subagent"} if self.thread.sidechain else set()
        raw: list[Message] = []
        for item in segment:
            if isinstance(item, _Prompt):
                raw.append(Message(role="user", content=item.text))
            elif isinstance(item, _Reply):
                raw.extend(self._reply(item, tags))
            elif isinstance(item, _Interrupt):
                tags.add("interrupted")
        messages = normalize(raw, self.counts)
        if not any(m.role == "assistant" for m in messages):
            return None
        self.counts["conversations"] += 1
        stamps = [i.timestamp for i in segment if i.timestamp]
        model = next((i.model for i in segment if isinstance(i, _Reply) and i.model), None)
        return conversation_line(
            "session",
            messages,
            self.tools,
            Labels(tags=sorted(tags)),
            Meta(
                file=self.file,
                line=segment[0].line,
                timestamp=min(stamps, default=None),
                model=model,
                session_id=self.session_id,
            ),
        )

    def _reply(self, reply: _Reply, tags: set[str]) -> list[Message]:
        calls: list[ToolCall] = []
        answers: list[Message] = []
        for call in reply.calls:
            call_id, name = call.id or "", call.name or ""
            result = self.results.get(call_id)
            if not self.keep.keeps(name):
                self.counts["tool_calls.filtered"] += 1
                continue
            if result is None:
                self.counts["tool_calls.unanswered"] += 1
                continue
            calls.append(
                ToolCall(
                    id=call_id,
                    function=FunctionCall(
                        name=name, arguments=msgspec.json.encode(call.input or {}).decode()
                    ),
                )
            )
            answers.append(Message(role="tool", tool_call_id=call_id, content=result.text))
            self.counts["tool_calls.paired"] += 1
            if result.is_error:
                self.counts["tool_results.error"] += 1
                tags.add("tool_error")
                if refused_by_user(result.text):
                    tags.add("tool_rejected")
        text = "\n\n".join(reply.texts)
        if self.params.thinking == "keep" and reply.thinking:
            think = "<think>\n" + "\n\n".join(reply.thinking) + "\n</think>"
            text = f"{think}\n\n{text}" if text else think
        assistant = Message(role="assistant", content=text or None, tool_calls=calls or None)
        return [assistant, *answers]


def parse_transcript(
    lines: Iterable[Line],
    file: str,
    params: SessionParams,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ParseResult:
    """Every conversation in one transcript file, with the rejected lines and what was counted."""
    counts: Counter[str] = Counter()
    rejects: list[Reject] = []
    reader = _Reader(counts)
    for lineno, record in decode_records(lines, file, counts, rejects, max_line_bytes):
        reader.read(lineno, record)
    encoded = b"".join(
        line
        for thread in reader.threads.values()
        for line in _Assembler(thread, params, file, reader.session_id, counts).conversations()
    )
    return ParseResult(lines=encoded, rejects=rejects, counts=dict(sorted(counts.items())))
