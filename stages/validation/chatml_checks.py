"""ChatML and Qwen2.5 text read back into turns, the way `stages.formats.chatml` and
`stages.formats.qwen` write them.

Every turn is `<|im_start|>role` ... `<|im_end|>`, closed before the next one opens, with
nothing but whitespace between turns; the role is one the format writes. An assistant
turn's calls are trailing `<tool_call>` blocks, one JSON object a line with a `name` and
object `arguments` (a `<tool_call>` tag anywhere else is one no parser reads as a call).
A tool result answers a call of the turn before: a `tool` turn in ChatML, a user turn of
`<tool_response>` blocks in Qwen, whose first turn is always the system turn, with its
tools one JSON object a line. Structure errors stop the walk: after an unclosed turn
every later role is misread, so the first is the one to fix.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from stages.common.json_value import json_or_none, json_value
from stages.formats.chatml import IM_END, IM_START
from stages.formats.qwen import RESPONSE_CLOSE, RESPONSE_OPEN, TOOLS_HEAD, TOOLS_TAIL
from stages.validation.finding import Finding

CHATML_ROLES = frozenset({"system", "user", "assistant", "tool"})
QWEN_ROLES = frozenset({"system", "user", "assistant"})
CALL_OPEN = "\n<tool_call>\n"
CALL_CLOSE = "\n</tool_call>"
RESPONSE_TAG = "<tool_response>"


class Turn(NamedTuple):
    index: int
    role: str
    body: str  # what follows the role: "\n" and the content, or nothing

    @property
    def at(self) -> str:
        return f"text.turns[{self.index}]"


def turns(text: str) -> Iterator[Turn | Finding]:
    """The turns of a text, then a Finding if its structure breaks (and nothing after)."""
    # Cut at every <|im_start|>: a turn is what precedes the first <|im_end|> of its piece,
    # and only whitespace may follow that.
    before, *pieces = text.split(IM_START)
    if before.strip():
        message = f"{before.strip()[:40]!r} at offset 0 is outside every turn"
        yield Finding("text", "text_outside_turn", message)
        return
    start = len(before)
    for index, piece in enumerate(pieces):
        inner, closed, after = piece.partition(IM_END)
        if not closed:
            message = f"the turn at offset {start} is not closed by {IM_END}"
            yield Finding(f"text.turns[{index}]", "unclosed_turn", message)
            return
        role = inner.partition("\n")[0]
        yield Turn(index, role, inner[len(role) :])
        if after.strip():
            at = start + len(IM_START) + len(inner) + len(IM_END)
            message = f"{after.strip()[:40]!r} at offset {at} is outside every turn"
            yield Finding("text", "text_outside_turn", message)
            return
        start += len(IM_START) + len(piece)


def trailing_calls(body: str) -> tuple[str, list[str]]:
    """(what precedes the calls, the JSON text of each call) of an assistant turn."""
    calls: list[str] = []
    while body.endswith(CALL_CLOSE):
        start = body.rfind(CALL_OPEN)
        raw = body[start + len(CALL_OPEN) : -len(CALL_CLOSE)] if start >= 0 else "\n"
        if "\n" in raw:
            break
        calls.insert(0, raw)
        body = body[:start]
    return body, calls


def check_calls(turn: Turn) -> tuple[list[Finding], int]:
    """The findings of an assistant turn's calls, and how many calls it makes."""
    before, calls = trailing_calls(turn.body)
    findings: list[Finding] = []
    if "<tool_call>" in before or "</tool_call>" in before:
        message = "a <tool_call> tag outside the call blocks"
        findings.append(Finding(turn.at, "misplaced_tool_call", message))
    for k, raw in enumerate(calls):
        at = f"{turn.at}.tool_calls[{k}]"
        try:
            call = json_value(raw)
        except json.JSONDecodeError as exc:
            findings.append(Finding(at, "tool_call_not_json", f"not JSON: {exc}"))
            continue
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            findings.append(
                Finding(at, "tool_call_missing_name", "a call is an object with a name")
            )
        elif not isinstance(call.get("arguments"), dict):
            findings.append(Finding(at, "tool_call_arguments", "arguments must be a JSON object"))
    return findings, len(calls)


def responses(turn: Turn) -> int | None:
    """How many `<tool_response>` blocks a Qwen user turn is made of, None if not one."""
    body = turn.body
    if not (body.startswith(RESPONSE_OPEN) and body.endswith(RESPONSE_CLOSE)):
        return None
    return body.count(RESPONSE_CLOSE + RESPONSE_OPEN) + 1


def check_tools(turn: Turn) -> tuple[Finding, ...]:
    """The tool lines of a Qwen system turn: one `{"type": "function", ...}` object each."""
    return _tools_findings(turn.body.removeprefix("\n"), turn.at)


@lru_cache(maxsize=256)
def _tools_findings(content: str, at: str) -> tuple[Finding, ...]:
    """`check_tools` of a system turn's content: a record's system turn repeats across its
    examples, so each is read once."""
    head = content.find(TOOLS_HEAD)
    if head < 0:
        return ()
    if not content.endswith(TOOLS_TAIL):
        return (Finding(at, "bad_tools", "the tools header has no footer"),)
    lines = content[head + len(TOOLS_HEAD) : -len(TOOLS_TAIL)].split("\n")[1:]
    tools = [json_or_none(line) for line in lines]
    return tuple(
        Finding(f"{at}.tools[{k}]", "bad_tools", "not a function definition")
        for k, tool in enumerate(tools)
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict)
    )


# A turn's findings (usually none), and how many calls it makes: a list and a count per
# turn, not a generator, which cost more to make than most turns take to check.
TurnCheck = Callable[[Turn], tuple[Sequence[Finding], int]]
NOTHING: tuple[Sequence[Finding], int] = ((), 0)


def _walk(
    text: str, roles: frozenset[str], check_turn: TurnCheck, results: Callable[[Turn], int | None]
) -> Iterator[Finding]:
    """The findings of every turn; `results(turn)` is how many tool results a turn is (None
    for a turn that is not a result), each of which must answer a call of the turn before."""
    pending = 0
    assistant = False
    for turn in turns(text):
        if isinstance(turn, Finding):
            yield turn
            return
        if turn.role not in roles:
            yield Finding(
                f"{turn.at}.role", "unknown_role", f"{turn.role!r} is not a role this format writes"
            )
            pending = 0
            continue
        findings, calls = check_turn(turn)
        yield from findings
        count = results(turn)
        if count is not None:
            if count > pending:
                message = f"{count} result(s) for {pending} call(s)"
                yield Finding(turn.at, "tool_without_call", message)
            pending = max(0, pending - count)
            continue
        assistant = assistant or turn.role == "assistant"
        pending = calls
    if not assistant:
        yield Finding("text", "no_assistant_turn", "no assistant turn to learn")


def _chatml_turn(turn: Turn) -> tuple[Sequence[Finding], int]:
    return check_calls(turn) if turn.role == "assistant" else NOTHING


def _qwen_turn(turn: Turn) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    if turn.index == 0 and turn.role != "system":
        message = "Qwen's first turn is the system"
        findings.append(Finding(f"{turn.at}.role", "missing_system", message))
    if RESPONSE_TAG in turn.body and _qwen_results(turn) is None:
        message = "<tool_response> outside a result"
        findings.append(Finding(turn.at, "misplaced_tool_response", message))
        return findings, len(trailing_calls(turn.body)[1]) if turn.role == "assistant" else 0
    if turn.role == "assistant":
        more, calls = check_calls(turn)
        return findings + more, calls
    if turn.index == 0:
        findings.extend(check_tools(turn))
    return findings, 0


def _qwen_results(turn: Turn) -> int | None:
    return responses(turn) if turn.role == "user" else None


def check_chatml(row: dict[str, Any]) -> Iterator[Finding]:
    return _walk(row["text"], CHATML_ROLES, _chatml_turn, lambda t: 1 if t.role == "tool" else None)


def check_qwen(row: dict[str, Any]) -> Iterator[Finding]:
    return _walk(row["text"], QWEN_ROLES, _qwen_turn, _qwen_results)
