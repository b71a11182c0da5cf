"""Codex CLI rollout lines → `Conversation` records, rejects and counts (pure core).

A rollout (schemas/codex_rollout.py) holds each exchange twice: as `response_item`s (what
the model saw and produced) and as `event_msg`s (what the UI showed). Response items are the
record read here; `user_message`, `agent_message` and `agent_reasoning` events repeat them
and are counted and skipped, so each exchange appears once. How the rest is read:
- `session_meta` gives the session id; its `instructions` (AGENTS.md) and
  `base_instructions` (Codex's own system prompt) become no message (`skipped.instructions`):
  the Claude Code adapter has no system prompt to give either, so both agents' records share
  one shape, and a trainer adds the system prompt of its own harness, not Codex's.
- `turn_context` sets the model of the replies that follow (`meta.model`).
- User-role messages also carry injected context (`<environment_context>`,
  `<user_instructions>`, AGENTS.md text): such parts are skipped (`skipped.injected_context`);
  what remains is the prompt. Developer and system messages are harness instructions, skipped.
- Consecutive model items (reasoning, assistant text, calls) are one response, merged into
  one assistant message. Reasoning `summary` text is its thinking (kept with
  `thinking: keep`); `encrypted_content` is unreadable and dropped with a count.
- `function_call` arguments (a JSON string) become the call's arguments object;
  `custom_tool_call` input (raw text, e.g. an `apply_patch` patch) becomes `{"input": …}`;
  `local_shell_call` is a call of `local_shell` with its `exec` action as arguments. Outputs pair by
  `call_id`. An output that is the JSON text `{output, metadata: {exit_code}}` is unwrapped to
  its output text (the escaped JSON and the timing are noise to learn from); a non-zero exit
  code stays as a first line `Exit code: N`, the words later Codex versions write, and tags
  the conversation `tool_error`.
- `web_search_call` runs on the server and its results are never written: the call is
  dropped with a count rather than trained with a result nobody saw.
- MCP tools written `<server>__<tool>` by versions before about 0.48 are renamed
  `mcp__<server>__<tool>`, as later versions write them, so one glob selects both.
- `turn_aborted` tags the conversation `interrupted`; a call it left without output is
  dropped by the shared assembly (`tool_calls.unanswered`).
- `compacted` (a summary replacing earlier history, which the file still holds) is skipped:
  `whole` keeps the session one conversation across it, as for Claude Code's `/compact`.
- Unknown line types, item kinds and event kinds are counted by name; bad lines (a torn
  last line among them) are rejected with the shared reasons.
"""

import re
from collections import Counter
from collections.abc import Iterable
from typing import get_args

import msgspec

from schemas.codex_rollout import (
    Compacted,
    CustomToolCallItem,
    CustomToolCallOutputItem,
    EventMsg,
    ExecOutput,
    FunctionCallItem,
    FunctionCallOutputItem,
    LocalShellCallItem,
    MessageItem,
    PayloadType,
    ReasoningItem,
    ResponseItem,
    RolloutLine,
    SessionMeta,
    TextPart,
    TurnContext,
    WebSearchCallItem,
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
PARSER_VERSION = 1
AGENT = "codex"
LINE_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
INJECTED_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions for",
    "<INSTRUCTIONS>",
)
# Events that repeat a response item: skipped, so each exchange is read once.
REPEATED_EVENTS = ("user_message", "agent_message", "agent_reasoning")
# Every counter the parser may report besides those named after an unknown kind
# (`unknown_types.<type>`, `skipped.unknown_item.<type>`, `skipped.event.<type>`).
COUNT_KEYS = (
    "read",
    "blank_lines",
    "images_replaced",
    "skipped.instructions",
    "skipped.injected_context",
    "skipped.developer",
    "skipped.system",
    "skipped.message_parts",
    "skipped.compacted",
    "skipped.unknown_type",
    *(f"skipped.event.{e}" for e in (*REPEATED_EVENTS, "token_count", "turn_aborted")),
    "dropped.encrypted_reasoning",
    "dropped.web_search_call",
    "renamed.mcp_tool_calls",
    "tool_calls.arguments_not_object",
    *ASSEMBLY_COUNT_KEYS,
)
REJECT_REASONS = DECODE_REASONS
LOCAL_SHELL = "local_shell"

_exec_output = msgspec.json.Decoder(ExecOutput)
_payload_type = msgspec.json.Decoder(PayloadType)
_any = msgspec.json.Decoder()
_EXIT_CODE = re.compile(r"Exit code: (-?\d+)\b")


def recognises(line_type: str, has_payload: bool) -> bool:
    """A line of a rollout: an envelope whose `type` is one of Codex's."""
    return has_payload and line_type in LINE_TYPES


def _output(output: str | list[TextPart] | dict) -> tuple[str, bool]:
    """A call's output as the tool message's text, and whether it reports a failure."""
    if isinstance(output, list):
        text = "\n".join(IMAGE_PLACEHOLDER if "image" in p.type else p.text or "" for p in output)
    elif isinstance(output, dict):
        text = msgspec.json.encode(output).decode()
    else:
        text = output
    if text.startswith("{"):
        try:
            wrapped = _exec_output.decode(text)
        except msgspec.DecodeError:
            pass
        else:
            code = wrapped.metadata.exit_code
            if code:
                return f"Exit code: {code}\n{wrapped.output}", True
            return wrapped.output, False
    failed = _EXIT_CODE.match(text)
    return text, bool(failed and failed.group(1) != "0")


def _tool_name(name: str, counts: Counter[str]) -> str:
    """MCP tools as versions from about 0.48 name them: `mcp__<server>__<tool>`."""
    if "__" in name.strip("_") and not name.startswith("mcp__"):
        counts["renamed.mcp_tool_calls"] += 1
        return f"mcp__{name}"
    return name


def _arguments(text: str, counts: Counter[str]) -> dict:
    if not text.strip():
        return {}
    try:
        value = _any.decode(text)
    except msgspec.DecodeError:
        value = None
    if isinstance(value, dict):
        return value
    counts["tool_calls.arguments_not_object"] += 1
    return {"input": text}


class _Reader:
    """Sorts rollout lines into one thread of prompts, replies, tool results and interrupts."""

    def __init__(self, file: str, counts: Counter[str], rejects: list[Reject], limit: int):
        self.file, self.counts, self.rejects = file, counts, rejects
        self.thread = Thread()
        self.session_id: str | None = None
        self.model: str | None = None
        self.instructions: set[str] = set()
        self.reply: Reply | None = None  # the response being read, until a non-model item
        self.items = LineDecoder(ResponseItem, limit)
        self.payloads = {
            "session_meta": LineDecoder(SessionMeta, limit),
            "turn_context": LineDecoder(TurnContext, limit),
            "event_msg": LineDecoder(EventMsg, limit),
            "compacted": LineDecoder(Compacted, limit),
        }

    def read(self, line: Line, record: RolloutLine) -> None:
        payload = Line(line.number, bytes(record.payload))
        try:
            if record.type == "response_item":
                self._item(line.number, record.timestamp, self._response_item(payload))
            elif record.type in self.payloads:
                self._other(line.number, record, self.payloads[record.type].decode(payload))
            else:
                self.counts["skipped.unknown_type"] += 1
                self.counts[f"unknown_types.{record.type}"] += 1
        except LineError as error:
            self.rejects.append(error.reject(self.file, line))

    def _response_item(self, payload: Line) -> ResponseItem | None:
        try:
            return self.items.decode(payload)
        except LineError as error:
            if error.reason not in ("wrong_type", "missing_field"):
                raise
            try:
                kind = _payload_type.decode(payload.data).type
            except msgspec.DecodeError:
                raise error from None
            if kind in _ITEM_KINDS:
                raise
            self.counts[f"skipped.unknown_item.{kind}"] += 1
            return None

    def _other(self, lineno: int, record: RolloutLine, payload: object) -> None:
        if isinstance(payload, SessionMeta):
            self._session_meta(payload)
        elif isinstance(payload, TurnContext):
            self.model = payload.model or self.model
            self.reply = None
        elif isinstance(payload, EventMsg):
            self.counts[f"skipped.event.{payload.type}"] += 1
            if payload.type == "turn_aborted":
                self.thread.items.append(Interrupt(line=lineno, timestamp=record.timestamp))
                self.reply = None
        elif isinstance(payload, Compacted):
            self.counts["skipped.compacted"] += 1
            self.reply = None

    def _session_meta(self, meta: SessionMeta) -> None:
        self.session_id = self.session_id or meta.id
        texts = [meta.instructions, meta.base_instructions and meta.base_instructions.text]
        for text in texts:
            if text:
                self.counts["skipped.instructions"] += 1
                self.instructions.add(text.strip())
        if isinstance(meta.source, dict) and "subagent" in meta.source:
            self.thread.subagent = True

    def _open_reply(self, lineno: int, timestamp: str | None) -> Reply:
        if self.reply is None:
            self.reply = Reply(line=lineno, timestamp=timestamp, model=self.model)
            self.thread.replies[str(lineno)] = self.reply
            self.thread.items.append(self.reply)
        return self.reply

    def _item(self, lineno: int, timestamp: str | None, item: ResponseItem | None) -> None:
        if isinstance(item, MessageItem):
            self._message(lineno, timestamp, item)
        elif isinstance(item, ReasoningItem):
            self._reasoning(lineno, timestamp, item)
        elif isinstance(item, FunctionCallItem):
            call = Call(
                item.call_id,
                _tool_name(item.name, self.counts),
                _arguments(item.arguments, self.counts),
            )
            self._open_reply(lineno, timestamp).calls.append(call)
        elif isinstance(item, CustomToolCallItem):
            call = Call(item.call_id, _tool_name(item.name, self.counts), {"input": item.input})
            self._open_reply(lineno, timestamp).calls.append(call)
        elif isinstance(item, LocalShellCallItem):
            call_id = item.call_id or item.id or f"line:{lineno}"
            action = {k: v for k, v in item.action.items() if k != "type"}  # always "exec"
            call = Call(call_id, LOCAL_SHELL, action)
            self._open_reply(lineno, timestamp).calls.append(call)
        elif isinstance(item, WebSearchCallItem):
            self.counts["dropped.web_search_call"] += 1
        elif isinstance(item, FunctionCallOutputItem | CustomToolCallOutputItem):
            text, failed = _output(item.output)
            self.reply = None
            self.thread.items.append(Result(lineno, timestamp, item.call_id, text, failed))

    def _reasoning(self, lineno: int, timestamp: str | None, item: ReasoningItem) -> None:
        if item.encrypted_content:
            self.counts["dropped.encrypted_reasoning"] += 1
        parts = item.summary or item.content or []
        texts = [p.text for p in parts if p.text]
        reply = self._open_reply(lineno, timestamp)
        reply.thinking.extend(texts)

    def _message(self, lineno: int, timestamp: str | None, item: MessageItem) -> None:
        if item.role == "assistant":
            reply = self._open_reply(lineno, timestamp)
            for part in item.content:
                if part.text and part.type == "output_text":
                    reply.texts.append(part.text)
                else:
                    self.counts["skipped.message_parts"] += 1
            return
        self.reply = None
        if item.role != "user":
            self.counts["skipped.developer" if item.role == "developer" else "skipped.system"] += 1
            return
        texts = [t for part in item.content if (t := self._prompt_part(part))]
        if texts:
            self.thread.items.append(Prompt(lineno, timestamp, "\n\n".join(texts)))

    def _prompt_part(self, part: TextPart) -> str | None:
        if "image" in part.type:
            self.counts["images_replaced"] += 1
            return IMAGE_PLACEHOLDER
        if part.type != "input_text" or not part.text:
            self.counts["skipped.message_parts"] += 1
            return None
        stripped = part.text.strip()
        if stripped.startswith(INJECTED_PREFIXES) or stripped in self.instructions:
            self.counts["skipped.injected_context"] += 1
            return None
        return part.text


_ITEM_KINDS = frozenset(kind.__struct_config__.tag for kind in get_args(ResponseItem))


def parse_rollout(
    lines: Iterable[Line],
    file: str,
    params: SessionParams,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    agent_type: str | None = None,
) -> ParseResult:
    """Every conversation in one rollout file, with the rejected lines and what was counted.

    `agent_type` is a sub-agent's type found beside the file: it tags a sub-agent's rollout.
    """
    counts: Counter[str] = Counter()
    rejects: list[Reject] = []
    reader = _Reader(file, counts, rejects, max_line_bytes)
    decode = LineDecoder(RolloutLine, max_line_bytes).decode
    for line in lines:
        counts["read"] += 1
        if line.blank:
            counts["blank_lines"] += 1
            continue
        try:
            record = decode(line)
        except LineError as error:
            rejects.append(error.reject(file, line))
            continue
        reader.read(line, record)
    if reader.thread.subagent:
        reader.thread.agent_type = agent_type
    meta = Meta(file=file, session_id=reader.session_id)
    encoded = encode_threads([reader.thread], params, meta, AGENT, counts)
    return ParseResult(lines=encoded, rejects=rejects, counts=dict(sorted(counts.items())))
