"""One agent thread → conversations: the half of every session adapter that knows no format.

An adapter reads its transcript format into `Thread`s of items in file order (prompts,
replies, tool results, interrupts); this module does the rest, the same for every agent:
- a call is paired with its result by id anywhere in its thread; a call with no result is
  dropped (`tool_calls.unanswered`), a result with no call too (`tool_results.orphan`), so
  the output is always valid OpenAI shape;
- tools are filtered by name (`include_tools` / `exclude_tools`), and each kept tool's
  parameters are inferred from every call of it in the thread;
- `split: turn` cuts a thread at each prompt that starts a turn; a turn that got no reply
  (an API error, an interrupt) opens the next one instead of vanishing;
- a kept thinking text becomes `<think>…</think>` at the start of the assistant content,
  the form reasoning chat templates (DeepSeek-R1, Qwen3) parse back out;
- each conversation is tagged with the agent that wrote it (`claude_code`, `codex`), so
  downstream stages can tell the agents apart within `source: sessions`;
- a sub-agent's thread gives its conversations `meta.agent_id` and, when the adapter knows
  the agent's type, the tag `agent:<type>`; a call whose result names the sub-agent it ran
  is listed in `meta.subagents` (call id → agent id), the link to that agent's conversations.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

import msgspec

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
from stages.common.tool_results import refused_by_user
from stages.common.tool_schema import JsonSchema, infer_schema, merge_schemas
from stages.sources.sessions.messages import ToolFilter, normalize

THINK_OPEN, THINK_CLOSE = "<think>\n", "\n</think>"
Split = Literal["whole", "turn"]
Thinking = Literal["drop", "keep"]

# What an image in a prompt or a tool result becomes: text models train on no pixels.
IMAGE_PLACEHOLDER = "[image]"

# What assembling counts, whatever the agent: every adapter lists these in its stats.
ASSEMBLY_COUNT_KEYS = (
    "conversations",
    "merged.assistant_messages",
    "tool_calls.paired",
    "tool_calls.unanswered",
    "tool_calls.filtered",
    "tool_calls.subagent",
    "tool_results.orphan",
    "tool_results.duplicate",
    "tool_results.error",
    "dropped.empty_assistant",
    "dropped.leading_message",
    "dropped.thinking_only",
    "dropped.no_reply",
    "folded.unanswered_turns",
)


class SessionParams(msgspec.Struct, frozen=True, kw_only=True):
    """The parameters that change the parse (and so key the per-file cache)."""

    split: Annotated[
        Split,
        msgspec.Meta(
            description="One conversation per session thread (whole), or one per user prompt "
            "with its tool calls (turn)."
        ),
    ] = "whole"
    thinking: Annotated[
        Thinking,
        msgspec.Meta(
            description="Keep thinking blocks (Codex: reasoning summaries) as <think>…</think> "
            "at the start of the assistant content."
        ),
    ] = "drop"
    include_tools: Annotated[
        tuple[str, ...],
        msgspec.Meta(
            description="Keep only tools whose name matches one of these globs, e.g. 'mcp__*'."
        ),
    ] = ()
    exclude_tools: Annotated[
        tuple[str, ...],
        msgspec.Meta(description="Drop tools whose name matches one of these globs, e.g. Read."),
    ] = ()


class ParseResult(msgspec.Struct, kw_only=True):
    """What an adapter makes of one file."""

    lines: bytes  # the conversations, encoded one a line
    rejects: list[Reject]
    counts: dict[str, int]

    @property
    def conversations(self) -> list[Conversation]:
        return [msgspec.json.decode(line, type=Conversation) for line in self.lines.splitlines()]


class Call(msgspec.Struct, gc=False):
    """A tool call as the model made it: `input` is the arguments object."""

    id: str
    name: str
    input: dict[str, Any]


class Prompt(msgspec.Struct):
    line: int
    timestamp: str | None
    text: str
    starts_turn: bool = True  # False: text sent beside tool results, within a turn


class Reply(msgspec.Struct):
    """One model response: its texts, thinking and calls, merged into one assistant message."""

    line: int
    timestamp: str | None
    model: str | None
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[Call] = []


class Result(msgspec.Struct):
    line: int
    timestamp: str | None
    call_id: str
    text: str
    is_error: bool
    agent_id: str | None = None  # the sub-agent this call ran, when its result names it


class Interrupt(msgspec.Struct):
    """The user stopped the turn: tags the conversation `interrupted`."""

    line: int
    timestamp: str | None


Item = Prompt | Reply | Result | Interrupt


class Thread(msgspec.Struct):
    """One line of conversation: a session's main thread, or one sub-agent's."""

    subagent: bool = False
    agent_id: str | None = None  # a sub-agent's id, and its type (e.g. `Explore`) when known
    agent_type: str | None = None
    items: list[Item] = []
    replies: dict[str, Reply] = {}  # by the adapter's response key


def _tools(thread: Thread, keep: ToolFilter) -> list[Tool]:
    """The kept tools the thread called, with parameters inferred from all its calls.

    Every conversation of a thread lists them all, turns without calls too: the
    model had them at hand and chose not to call.
    """
    schemas: dict[str, JsonSchema] = {}
    for reply in thread.replies.values():
        for call in reply.calls:
            if keep.keeps(call.name):
                seen = infer_schema(call.input)
                known = schemas.get(call.name)
                schemas[call.name] = (
                    seen if known is None or known == seen else merge_schemas(known, seen)
                )
    return [Tool(function=FunctionDef(name=n, parameters=schemas[n])) for n in sorted(schemas)]


def _segments(thread: Thread, split: Split) -> list[list[Item]]:
    if split == "whole":
        return [thread.items]
    segments: list[list[Item]] = [[]]
    for item in thread.items:
        if isinstance(item, Prompt) and item.starts_turn and segments[-1]:
            segments.append([])
        segments[-1].append(item)
    return segments


class _Assembler:
    """Turns one thread's items into conversations: pairs calls with results, filters tools."""

    def __init__(
        self,
        thread: Thread,
        params: SessionParams,
        meta: Meta,
        agent: str,
        counts: Counter[str],
    ) -> None:
        self.thread, self.params, self.meta, self.agent = thread, params, meta, agent
        self.counts = counts
        self.keep = ToolFilter(params.include_tools, params.exclude_tools)
        self.tools = encode_tools(_tools(thread, self.keep))
        self.results: dict[str, Result] = {}
        for item in thread.items:
            if isinstance(item, Result):
                if item.call_id in self.results:
                    counts["tool_results.duplicate"] += 1
                else:
                    self.results[item.call_id] = item
        called = {c.id for r in thread.replies.values() for c in r.calls}
        counts["tool_results.orphan"] += sum(1 for i in self.results if i not in called)

    def conversations(self) -> Iterator[bytes]:
        """Each conversation of the thread, encoded as its JSONL line.

        A turn that got no reply (an API error, an interrupt) opens the next turn instead of
        vanishing: "try again" keeps the request it refers to.
        """
        pending: list[Item] = []
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

    def _conversation(self, segment: list[Item]) -> bytes | None:
        tags = {self.agent, "subagent"} if self.thread.subagent else {self.agent}
        if self.thread.agent_type:
            tags.add(f"agent:{self.thread.agent_type}")
        spawned: dict[str, str] = {}
        raw: list[Message] = []
        for item in segment:
            if isinstance(item, Prompt):
                raw.append(Message(role="user", content=item.text))
            elif isinstance(item, Reply):
                raw.extend(self._reply(item, tags, spawned))
            elif isinstance(item, Interrupt):
                tags.add("interrupted")
        messages = [m for m in normalize(raw, self.counts) if not self._thinking_only(m)]
        if not any(m.role == "assistant" for m in messages):
            return None
        self.counts["conversations"] += 1
        stamps = [i.timestamp for i in segment if i.timestamp]
        model = next((i.model for i in segment if isinstance(i, Reply) and i.model), None)
        return conversation_line(
            "sessions",
            messages,
            self.tools,
            Labels(tags=sorted(tags)),
            msgspec.structs.replace(
                self.meta,
                line=segment[0].line,
                timestamp=min(stamps, default=None),
                model=model,
                agent_id=self.thread.agent_id,
                subagents=spawned or None,
            ),
        )

    def _thinking_only(self, message: Message) -> bool:
        """Thinking with nothing after it, once replies in a row are merged: its calls were
        dropped (unanswered after an interrupt, or filtered). Kept, it would teach a reply that
        thinks and then does nothing."""
        content = message.content or ""
        alone = (
            message.role == "assistant"
            and not message.tool_calls
            and content.startswith(THINK_OPEN)
            and content.endswith(THINK_CLOSE)
        )
        self.counts["dropped.thinking_only"] += alone
        return alone

    def _reply(self, reply: Reply, tags: set[str], spawned: dict[str, str]) -> list[Message]:
        calls: list[ToolCall] = []
        answers: list[Message] = []
        for call in reply.calls:
            result = self.results.get(call.id)
            if not self.keep.keeps(call.name):
                self.counts["tool_calls.filtered"] += 1
                continue
            if result is None:
                self.counts["tool_calls.unanswered"] += 1
                continue
            arguments = msgspec.json.encode(call.input).decode()
            calls.append(
                ToolCall(id=call.id, function=FunctionCall(name=call.name, arguments=arguments))
            )
            answers.append(Message(role="tool", tool_call_id=call.id, content=result.text))
            self.counts["tool_calls.paired"] += 1
            if result.agent_id:
                self.counts["tool_calls.subagent"] += 1
                spawned[call.id] = result.agent_id
            if result.is_error:
                self.counts["tool_results.error"] += 1
                tags.add("tool_error")
                if refused_by_user(result.text):
                    tags.add("tool_rejected")
        text = "\n\n".join(reply.texts)
        if self.params.thinking == "keep" and reply.thinking:
            think = THINK_OPEN + "\n\n".join(reply.thinking) + THINK_CLOSE
            text = f"{think}\n\n{text}" if text else think
        assistant = Message(role="assistant", content=text or None, tool_calls=calls or None)
        return [assistant, *answers]


def encode_threads(
    threads: Iterable[Thread],
    params: SessionParams,
    meta: Meta,
    agent: str,
    counts: Counter[str],
) -> bytes:
    """Every conversation of the threads, one JSONL line each.

    `meta` holds what the whole file shares (file, session id); each conversation adds
    its first item's line, its earliest timestamp (timestamps go backwards around
    compaction) and the model of its first reply.
    """
    return b"".join(
        line
        for thread in threads
        for line in _Assembler(thread, params, meta, agent, counts).conversations()
    )
