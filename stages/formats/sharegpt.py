"""ShareGPT rows for LLaMA-Factory, and their `dataset_info.json` entry.

Turns alternate human/observation and gpt/function_call as LLaMA-Factory requires.
A turn's calls are one `function_call` value: a `{name, arguments}` object, or a
JSON list of them for parallel calls; arguments are objects (LLaMA-Factory
re-encodes them). Consecutive tool results are one `observation`, joined the way
LLaMA-Factory's own OpenAI converter joins them. `system` and `tools` (JSON text)
are columns. Preamble text beside a call cannot be carried by a function_call value
and is dropped; consecutive same-side turns are joined with a blank line. A turn out of
LLaMA-Factory's order ends the example (see `in_order`).
"""

from typing import Any

from schemas.conversation import Conversation, Message
from schemas.format_lines import ShareGPTRow, ShareGPTTurn
from stages.formats.chatml import call_object
from stages.formats.contract import clean_conversation
from stages.formats.format_helpers import Unexportable, compact_json, tool_texts

OBSERVATION_JOIN = "\n</tool_response>\n<tool_response>\n"
TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def _turn(m: Message) -> ShareGPTTurn:
    if m.role == "user":
        return ShareGPTTurn(from_="human", value=m.content or "")
    if m.role == "tool":
        return ShareGPTTurn(from_="observation", value=m.content or "")
    if m.tool_calls:
        calls = [call_object(c) for c in m.tool_calls]
        return ShareGPTTurn(
            from_="function_call", value=compact_json(calls[0] if len(calls) == 1 else calls)
        )
    return ShareGPTTurn(from_="gpt", value=m.content or "")


def _merge(turns: list[ShareGPTTurn]) -> list[ShareGPTTurn]:
    out: list[ShareGPTTurn] = []
    for t in turns:
        prev = out[-1] if out else None
        if prev and prev.from_ == t.from_ == "observation":
            out[-1] = ShareGPTTurn(
                from_="observation", value=prev.value + OBSERVATION_JOIN + t.value
            )
        elif prev and prev.from_ == t.from_ in ("human", "gpt"):
            out[-1] = ShareGPTTurn(from_=t.from_, value=prev.value + "\n\n" + t.value)
        else:
            out.append(t)
    return out


def in_order(turns: list[ShareGPTTurn]) -> list[ShareGPTTurn]:
    """The longest prefix LLaMA-Factory reads: human/observation and gpt/function_call
    alternate and the last turn is the model's. A prompt that follows tool results with no
    reply between (the user interrupted) ends the example there."""
    for i, t in enumerate(turns):
        expected = ("human", "observation") if i % 2 == 0 else ("gpt", "function_call")
        if t.from_ not in expected:
            turns = turns[:i]
            break
    return turns[: len(turns) - len(turns) % 2]


def to_sharegpt(conv: Conversation) -> list[ShareGPTRow]:
    conv = clean_conversation(conv)
    messages = conv.messages
    system = ""
    if messages and messages[0].role == "system":
        system, messages = messages[0].content or "", messages[1:]
    turns = in_order(_merge([_turn(m) for m in messages if m.role != "system"]))
    if not turns:
        raise Unexportable("nothing_to_learn", "no assistant turn")
    return [
        ShareGPTRow(conversations=turns, system=system, tools=tool_texts(conv.tools).functions_json)
    ]


def dataset_info_entry(file_name: str, *, formatting: str = "sharegpt") -> dict[str, Any]:
    """The `dataset_info.json` value that makes LLaMA-Factory read one of our files."""
    if formatting == "alpaca":
        columns = {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
        }
        return {"file_name": file_name, "formatting": "alpaca", "columns": columns}
    if formatting != "sharegpt":
        raise ValueError(f"unknown LLaMA-Factory formatting {formatting!r}")
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": dict(TAGS),
    }
