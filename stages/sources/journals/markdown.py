"""Markdown journals → training conversations (pure: bytes in, records out).

A journal is a file of lessons learned, one entry per heading. Four shapes are
recognised in an entry (see docs/journals.md for examples of each):

- problem → root cause → fix parts (headings or tags) → `reasoning_chain`;
- a bad code block followed by a good one → `code_correction`;
- an anti-pattern ("Anti-pattern", "Don't", "Avoid", "Never") → `negative`;
- a description followed by a shell or tool command block → `direct_execution`.

An entry with none of them, or with a broken one, becomes a reject with a
reason, and a file with none anywhere is one `unrecognised_format` reject;
nothing in the markdown can make the parser raise.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from schemas.conversation import (
    Conversation,
    ExampleType,
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Meta,
    Tool,
    ToolCall,
)
from schemas.reject import Reject
from stages.common.hashing import messages_id
from stages.common.tool_schema import infer_schema
from stages.sources.journals.blocks import MAX_LIST_DEPTH, Block, Entry, entries, sections
from stages.sources.journals.labels import ANTI_VERBS, Kind, fence_language

REJECT_REASONS = (
    "empty_file",
    "empty_section",
    "intro_text",
    "invalid_utf8",
    "unclosed_fence",
    "nested_too_deep",
    "no_recognised_shape",
    "unrecognised_format",
    "chain_missing_problem",
    "chain_missing_fix",
    "unpaired_code_block",
    "command_without_description",
    "bad_tool_block",
    "empty_command",
    "anti_pattern_without_subject",
)
# A file whose only rejects are these holds no journal shape at all: one reject says so.
NOT_A_JOURNAL = frozenset({"empty_section", "intro_text", "no_recognised_shape"})
EXAMPLE_TYPES = ("reasoning_chain", "code_correction", "negative", "direct_execution")

SHELL_LANGUAGES = frozenset(
    {
        "bash",
        "sh",
        "shell",
        "zsh",
        "fish",
        "console",
        "shell-session",
        "sh-session",
        "terminal",
        "powershell",
        "pwsh",
        "ps1",
        "cmd",
        "bat",
        "batch",
    }
)
TOOL_LANGUAGES = frozenset({"tool", "tool-call", "toolcall", "tool_call"})

SHELL_TOOL = Tool(
    function=FunctionDef(
        name="shell",
        description="Run a shell command and return its output.",
        parameters={
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    )
)

_SURROGATE = re.compile("[\udc80-\udcff]")
_CLAUSE_END = re.compile(r":\s|\s[\u2014\u2013-]\s|;\s|\.\s|\.$|,?\s+because\s")
_NOUN_TAG = re.compile(
    r"^(?:\*\*|__)?[^:*_]{0,30}?(?:anti-?\s?patterns?|pitfalls?)(?:\*\*|__)?:?\s*", re.IGNORECASE
)


@dataclass
class JournalResult:
    conversations: list[Conversation] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class Resolved:
    """A block with its label settled ("Don't" before a fence is a bad block, else anti)."""

    block: Block
    kind: Kind | None


def parse_journal(data: bytes, file: str) -> JournalResult:
    """Every example of one journal file, and a reject for everything that is not one."""
    result = JournalResult()
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    if not text.strip():
        result.rejects.append(Reject(file=file, line=1, reason="empty_file", message="no text"))
        return result
    for entry in entries(sections(text)):
        _parse_entry(entry, file, result)
    if not result.conversations and result.rejects:
        _not_a_journal(result, file, text)
    return result


def _not_a_journal(result: JournalResult, file: str, text: str) -> None:
    """A markdown file with no journal shape anywhere (a README) is one reject with a hint."""
    if any(reject.reason not in NOT_A_JOURNAL for reject in result.rejects):
        return
    sections = len(result.rejects)
    result.rejects.clear()
    _reject(
        result,
        file,
        1,
        "unrecognised_format",
        f"not a journal: {sections} section(s), none with a problem/fix, bad/good code, "
        "anti-pattern or described command (docs/journals.md); "
        "if it is not a journal, move it out of ingest_journals.input",
        text.strip().split("\n", 1)[0],
    )


def _reject(
    result: JournalResult, file: str, line: int, reason: str, message: str, excerpt: str = ""
) -> None:
    excerpt = _SURROGATE.sub("\ufffd", excerpt)[:200]
    result.rejects.append(
        Reject(file=file, line=line, reason=reason, message=message, excerpt=excerpt)
    )


def _parse_entry(entry: Entry, file: str, result: JournalResult) -> None:
    where = f"section {entry.title!r}" if entry.title else "text before the first heading"
    if not entry.blocks:
        if (entry.line > 1 or entry.title) and not entry.has_children:
            _reject(result, file, entry.line, "empty_section", f"{where} has no content")
        return
    bad_text = next((b for b in entry.blocks if _SURROGATE.search(b.text)), None)
    if bad_text is not None or _SURROGATE.search(entry.title):
        line = bad_text.line if bad_text else entry.line
        _reject(
            result,
            file,
            line,
            "invalid_utf8",
            f"{where} is not valid UTF-8",
            bad_text.text if bad_text else entry.title,
        )
        return
    too_deep = next((b for b in entry.blocks if b.kind == "too_deep"), None)
    if too_deep is not None:
        _reject(
            result,
            file,
            too_deep.line,
            "nested_too_deep",
            f"{where}: nested more than {MAX_LIST_DEPTH} list levels deep; "
            "flatten it to keep this entry",
            too_deep.text.strip(),
        )
        return
    unclosed = next((b for b in entry.blocks if b.kind == "fence" and not b.closed), None)
    if unclosed is not None:
        _reject(
            result,
            file,
            unclosed.line,
            "unclosed_fence",
            f"{where}: code block opened on line {unclosed.line} is never closed",
            unclosed.text,
        )
        return
    before = (len(result.conversations), len(result.rejects))
    for example_type, messages, labels, tools in _examples(entry, file, result):
        result.conversations.append(
            Conversation(
                id=messages_id(messages),
                source="journals",
                messages=messages,
                tools=tools,
                labels=Labels(example_type=example_type, **labels),
                meta=Meta(file=file, line=entry.line),
            )
        )
    if (len(result.conversations), len(result.rejects)) == before and entry.has_children:
        _reject(
            result,
            file,
            entry.line,
            "intro_text",
            f"{where} introduces sub-sections but holds no example itself",
            entry.blocks[0].text,
        )
    elif (len(result.conversations), len(result.rejects)) == before:
        _reject(
            result,
            file,
            entry.line,
            "no_recognised_shape",
            f"{where} has no problem/fix, bad/good code, anti-pattern or command",
            entry.blocks[0].text,
        )


Example = tuple[ExampleType, list[Message], dict, list[Tool]]


def _examples(entry: Entry, file: str, result: JournalResult) -> Iterator[Example]:
    resolved = _resolve(entry.blocks)
    chains = list(_chains(entry, resolved, file, result))
    yield from chains
    claimed: set[int] = set()
    yield from _code_pairs(entry, resolved, claimed, file, result)
    anti_title = entry.title_label is not None and "anti" in entry.title_label.kinds
    if anti_title:
        yield from _anti_section(entry, resolved, claimed, file, result)
    else:
        yield from _anti_labels(resolved, file, result)
    if not chains and not anti_title:
        yield from _commands(entry, resolved, claimed, file, result)


def _resolve(blocks: tuple[Block, ...]) -> list[Resolved]:
    """Settle each label's kind from what follows it, and each fence's bad/good label."""
    resolved: list[Resolved] = []
    pending_bad = False
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        next_is_fence = following is not None and following.kind == "fence"
        kind: Kind | None = None
        if block.kind == "label" and block.label is not None:
            kinds = block.label.kinds
            if "bad" in kinds and ("anti" in kinds or len(kinds) == 1):
                kind = "bad" if next_is_fence or len(kinds) == 1 else "anti"
            elif "good" in kinds and ("fix" in kinds or len(kinds) == 1):
                kind = "good" if next_is_fence and (pending_bad or len(kinds) == 1) else "fix"
            else:
                kind = next(
                    k for k in ("problem", "root_cause", "fix", "lesson", "anti") if k in kinds
                )
        elif block.kind == "fence":
            kind = block.code_label
            previous = resolved[-1] if resolved else None
            if kind is None and previous is not None and previous.kind in ("bad", "good"):
                kind = previous.kind
            if kind == "bad":
                pending_bad = True
            elif kind == "good":
                pending_bad = False
        resolved.append(Resolved(block, kind))
    return resolved


def _part_text(resolved: Resolved) -> str:
    """A block as part of a chain's text: a chain tag contributes only what follows it."""
    block = resolved.block
    if block.kind == "label" and resolved.kind in ("problem", "root_cause", "fix", "lesson"):
        return block.label.rest if block.label else ""
    return block.text


def _chains(
    entry: Entry, resolved: list[Resolved], file: str, result: JournalResult
) -> Iterator[Example]:
    """problem → root cause → fix; a new problem after a fix starts the next chain."""
    chains: list[dict[str, list[str]]] = []
    preamble: list[str] = []
    part: list[str] | None = None
    for item in resolved:
        if item.kind in ("problem", "root_cause", "fix", "lesson"):
            starts_new = not chains or (item.kind == "problem" and "fix" in chains[-1])
            if starts_new:
                chains.append({})
            part = chains[-1].setdefault(item.kind, [])
        text = _part_text(item)
        if text:
            (part if part is not None else preamble).append(text)
    for number, chain in enumerate(chains):
        parts = {kind: "\n\n".join(texts).strip() for kind, texts in chain.items()}
        if number == 0 and preamble:
            parts["problem"] = "\n\n".join([*preamble, parts.get("problem", "")]).strip()
        if not parts.get("problem"):
            _reject(
                result,
                file,
                entry.line,
                "chain_missing_problem",
                f"section {entry.title!r}: a root cause or fix with no problem stated",
            )
            continue
        if not parts.get("fix"):
            _reject(
                result,
                file,
                entry.line,
                "chain_missing_fix",
                f"section {entry.title!r}: a problem with no fix or solution",
            )
            continue
        yield _chain_example(entry.title, parts)


def _chain_example(title: str, parts: dict[str, str]) -> Example:
    user = _join(title, parts["problem"])
    answer = []
    if parts.get("root_cause"):
        answer.append(f"Root cause: {parts['root_cause']}")
    answer.append(f"Fix: {parts['fix']}")
    if parts.get("lesson"):
        answer.append(f"Lesson: {parts['lesson']}")
    reasoning = _join(parts["fix"], parts.get("lesson", ""))
    labels = {
        "problem": parts["problem"],
        "root_cause": parts.get("root_cause") or None,
        "reasoning": reasoning,
    }
    return "reasoning_chain", _chat(user, "\n\n".join(answer)), labels, []


def _join(*texts: str) -> str:
    return "\n\n".join(text for text in texts if text)


def _chat(user: str, assistant: str) -> list[Message]:
    return [Message(role="user", content=user), Message(role="assistant", content=assistant)]


def _fenced(language: str, code: str) -> str:
    return f"```{language}\n{code if code.endswith(chr(10)) or not code else code + chr(10)}```"


def _code_pairs(
    entry: Entry, resolved: list[Resolved], claimed: set[int], file: str, result: JournalResult
) -> Iterator[Example]:
    """A bad block and the next labelled block, if good; the prose around them explains."""
    fences = [
        i
        for i, item in enumerate(resolved)
        if item.block.kind == "fence" and item.kind in ("bad", "good")
    ]
    position = 0
    while position < len(fences):
        bad = fences[position]
        good = fences[position + 1] if position + 1 < len(fences) else None
        if resolved[bad].kind != "bad" or good is None or resolved[good].kind != "good":
            block = resolved[bad].block
            _reject(
                result,
                file,
                block.line,
                "unpaired_code_block",
                f"a {resolved[bad].kind} code block with no "
                f"{'good' if resolved[bad].kind == 'bad' else 'bad'} block to pair with",
                block.text,
            )
            claimed.add(bad)
            position += 1
            continue
        claimed.update({bad, good})
        claimed.update(
            i - 1
            for i in (bad, good)
            if i
            and resolved[i - 1].block.kind == "label"
            and resolved[i - 1].kind == resolved[i].kind
        )
        end = fences[position + 2] if position + 2 < len(fences) else len(resolved)
        yield _code_example(entry.title, resolved, bad, good, end)
        position += 2


def _code_example(title: str, resolved: list[Resolved], bad: int, good: int, end: int) -> Example:
    bad_block, good_block = resolved[bad].block, resolved[good].block
    before = resolved[bad - 1] if bad else None
    start = bad - 1 if before and before.block.kind == "label" and before.kind == "bad" else bad
    notes: list[str] = []
    for index in range(start, end):
        item = resolved[index]
        block = item.block
        next_part = item.kind in ("problem", "root_cause", "fix", "lesson", "bad") and index > good
        if block.kind == "label" and next_part:
            break
        if block.kind == "fence":
            notes.append(block.code_note)
        elif block.kind == "label" and block.label is not None:
            notes.append(block.label.rest)
        else:
            notes.append(block.text)
    language = fence_language(bad_block.info) or fence_language(good_block.info)
    explanation = _join(*(note.strip() for note in notes))
    user = _join(title, "Fix this code:\n\n" + _fenced(language, bad_block.code))
    assistant = _join(explanation, _fenced(language, good_block.code))
    return "code_correction", _chat(user, assistant), {"reasoning": explanation or None}, []


def _subject(statement: str) -> str:
    """What an anti-pattern warns against: "Never force-push main — …" → "force-push main"."""
    text = _NOUN_TAG.sub("", statement.strip(), count=1)
    words = text.split(maxsplit=2)
    lowered = [w.lower().replace("\u2019", "'").strip("*_:") for w in words]
    if lowered[:2] == ["do", "not"]:
        text = " ".join(words[2:])
    elif lowered and lowered[0] in ANTI_VERBS:
        text = text.split(maxsplit=1)[1] if len(words) > 1 else ""
    text = text.strip().lstrip(":*_ ").strip()
    match = _CLAUSE_END.search(text)
    return (text[: match.start()] if match else text).strip().rstrip(".!").strip("`*_ ")


def _negative(statement: str, body: str) -> Example | None:
    statement = _NOUN_TAG.sub("", statement.strip(), count=1).strip()
    subject = _subject(statement)
    if not subject:
        return None
    if statement and statement[-1] not in ".!?:":
        statement += "."
    assistant = _join("No. " + statement, body)
    labels = {"problem": subject, "reasoning": _join(statement, body)}
    return "negative", _chat(f"Is this a good approach: {subject}?", assistant), labels, []


def _anti_section(
    entry: Entry, resolved: list[Resolved], claimed: set[int], file: str, result: JournalResult
) -> Iterator[Example]:
    """An "Anti-patterns"/"Don't …" section: one negative per list item, or one for the whole."""
    rest = [item.block for i, item in enumerate(resolved) if i not in claimed]
    lists = [block for block in rest if block.kind in ("list", "item", "label")]
    is_list = bool(lists) and all(b.kind == "prose" for b in rest if b not in lists)
    if is_list and len(rest) - len(lists) <= 1:
        items = [i for b in lists for i in (b.items if b.kind == "list" else (b,))]
        for item in items:
            yield from _item_negative(item, "", file, result)
        return
    body = _join(*(block.text for block in rest))
    example = _negative(entry.title, body)
    if example is not None:
        yield example


def _anti_labels(resolved: list[Resolved], file: str, result: JournalResult) -> Iterator[Example]:
    """ "**Don't:** …" paragraphs and "- Never …" items in any other section."""
    for index, item in enumerate(resolved):
        if item.kind != "anti":
            continue
        body: list[str] = []
        for following in resolved[index + 1 :]:
            if following.block.kind in ("label", "item") or following.kind is not None:
                break
            body.append(following.block.text)
        yield from _item_negative(item.block, _join(*body), file, result)


def _item_negative(block: Block, body: str, file: str, result: JournalResult) -> Iterator[Example]:
    """One anti-pattern item's negative, or a reject when it never says what to avoid."""
    example = _negative(block.text, body)
    if example is None:
        _reject(
            result,
            file,
            block.line,
            "anti_pattern_without_subject",
            "an anti-pattern item that does not say what to avoid: write it after the label",
            block.text,
        )
        return
    yield example


def _commands(
    entry: Entry, resolved: list[Resolved], claimed: set[int], file: str, result: JournalResult
) -> Iterator[Example]:
    for index, item in enumerate(resolved):
        block = item.block
        language = fence_language(block.info)
        if (
            block.kind != "fence"
            or index in claimed
            or language not in SHELL_LANGUAGES | TOOL_LANGUAGES
        ):
            continue
        previous = resolved[index - 1].block if index else None
        if previous is not None and previous.kind == "prose":
            description = previous.text
        elif previous is None and entry.title:
            description = entry.title
        else:
            _reject(
                result,
                file,
                block.line,
                "command_without_description",
                "a command block with no description before it",
                block.text,
            )
            continue
        description = description.strip().rstrip(":").strip()
        if language in TOOL_LANGUAGES:
            call = _tool_call(block.code)
            if call is None:
                _reject(
                    result,
                    file,
                    block.line,
                    "bad_tool_block",
                    'a tool block must hold {"name": ..., "arguments": {...}}',
                    block.text,
                )
                continue
            name, arguments = call
            tool = Tool(function=FunctionDef(name=name, parameters=infer_schema(arguments)))
        else:
            name, arguments, tool = "shell", {"command": _shell_command(block.code)}, SHELL_TOOL
        if name == "shell" and not arguments["command"]:
            _reject(result, file, block.line, "empty_command", "an empty command block", block.text)
            continue
        messages = [
            Message(role="user", content=description),
            Message(
                role="assistant",
                tool_calls=[
                    ToolCall(
                        id="call_1",
                        function=FunctionCall(
                            name=name,
                            arguments=json.dumps(
                                arguments, ensure_ascii=False, separators=(",", ":"), sort_keys=True
                            ),
                        ),
                    )
                ],
            ),
        ]
        yield "direct_execution", messages, {}, [tool]


def _shell_command(code: str) -> str:
    """The commands of a block; with `$ ` prompts, only the prompted lines (the rest is output)."""
    lines = code.rstrip("\n").split("\n")
    prompted = [line.strip()[2:] for line in lines if line.strip().startswith("$ ")]
    return "\n".join(prompted) if prompted else "\n".join(lines).strip()


def _tool_call(code: str) -> tuple[str, dict] | None:
    try:
        value = json.loads(code)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    name = value.get("name", value.get("tool"))
    arguments = value.get("arguments", value.get("args", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(name, str) or not name or not isinstance(arguments, dict):
        return None
    return name, arguments
