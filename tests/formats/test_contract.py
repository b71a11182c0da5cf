"""The training contract on hand-made records of every kind, through every format.

For each kind: which assistant turns carry loss where a format can mask (openai `weight`,
axolotl_chat `train`), what the formats without a mask carry, which records are refused and
why, and the preference pair. docs/contract.md states the same rules in prose.
"""

import json
from typing import Any

import msgspec
import pytest

from schemas.conversation import Conversation, FunctionCall, Labels, Message, ToolCall
from stages.common.hashing import messages_id
from stages.formats.exporters import FORMATS, Unexportable

UNMASKED = ("chatml", "qwen", "harmony", "sharegpt")


def call(call_id: str, name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=json.dumps(arguments)))


def user(text: str) -> Message:
    return Message(role="user", content=text)


def said(text: str, weight: int | None = None) -> Message:
    return Message(role="assistant", content=text, weight=weight)


def calls(*tool_calls: ToolCall) -> Message:
    return Message(role="assistant", tool_calls=list(tool_calls))


def result(call_id: str, text: str) -> Message:
    return Message(role="tool", tool_call_id=call_id, content=text)


def record(source: str, *messages: Message, **labels: Any) -> Conversation:
    return Conversation(
        id=messages_id(list(messages)),
        source=source,
        messages=list(messages),
        labels=Labels(**labels),
    )


REFUSED = "The user doesn't want to proceed with this tool use. The tool use was rejected."
SELL = call("s1", "ge_sell", item="lobster", quantity=100)
FAILED_SALE = result("s1", '{"status":"error","message":"Not enough items: you have 27"}')

KINDS: dict[str, Conversation] = {
    "direct_execution": record(
        "toollog",
        user("what do I have?"),
        calls(call("i1", "get_inventory")),
        result("i1", '{"items": ["net"]}'),
        said("A small fishing net."),
    ),
    "tool_error_reported_honestly": record(
        "toollog",
        user("sell 100 lobsters"),
        calls(SELL),
        FAILED_SALE,
        said("You only have 27 lobsters, so nothing was sold."),
    ),
    "false_claim_after_failure": record(
        "toollog",
        user("sell 100 lobsters"),
        calls(SELL),
        FAILED_SALE,
        said("Sold them all!"),
        tags=["unsupported_claim"],
    ),
    "false_claim_with_correction": record(
        "toollog",
        user("sell 100 lobsters"),
        calls(SELL),
        FAILED_SALE,
        said("Sold them all!"),
        example_type="negative",
        correction=said("Only 27 lobsters are here: nothing was sold."),
    ),
    "negative_with_pushback": record(
        "sessions",
        user("clean up the build folder"),
        calls(call("r1", "run", cmd="rm -rf /")),
        result("r1", "refused: dangerous"),
        user("Only ./build please."),
        calls(call("r2", "run", cmd="rm -rf ./build")),
        result("r2", ""),
        said("Removed ./build."),
        example_type="negative",
    ),
    "self_correction": record(
        "sessions",
        user("find timeouts"),
        calls(call("e1", "search", limit="ten")),
        result("e1", "Error: limit must be an integer"),
        calls(call("e2", "search", limit=10)),
        result("e2", "none"),
        said("No timeouts."),
    ),
    "user_rejected_call": record(
        "sessions",
        user("rename foo to bar"),
        calls(call("x1", "edit", old="foo", new="bar")),
        result("x1", REFUSED),
        user("only in function names"),
        calls(call("x2", "edit", old="def foo", new="def bar")),
        result("x2", "ok"),
        said("Renamed the functions."),
    ),
    "code_correction_by_the_assistant": record(
        "sessions",
        user("write add(a, b)"),
        said("def add(a, b): return a - b"),
        user("add(1, 2) returned -1"),
        said("def add(a, b): return a + b"),
        example_type="code_correction",
    ),
    "journal_lesson": record(
        "journals",
        user("Is this a good approach: poll the bank in a tight loop?"),
        said("No. It rate-limits at 10 requests a second."),
        example_type="negative",
    ),
    "journal_code_correction": record(
        "journals",
        user("Fix this code: log = open('bot.log', 'a')"),
        said("with open('bot.log', 'a') as log: ..."),
        example_type="code_correction",
    ),
    "derived_reasoning_chain": record(
        "toollog",
        user("bank the fish\n\nThis tool call failed: Bank is not open"),
        said("Root cause: the bank was closed.\n\nFix: open the bank first."),
        example_type="reasoning_chain",
        tags=["derived"],
    ),
    "discord_context_turns": record(
        "discord",
        user("ana said: price of dragon bones?"),
        said("Let me check.", weight=0),
        user("ana said: well?"),
        said("2,300 gp each."),
        example_type="direct_execution",
    ),
    "ends_on_a_tool_result": record(
        "sessions",
        user("list the files"),
        calls(call("l1", "ls")),
        result("l1", "a.py b.py"),
    ),
    "ends_on_an_unanswered_prompt": record(
        "sessions",
        user("hi"),
        said("Hello."),
        user("are you there?"),
    ),
}


def learned(message: dict[str, Any]) -> str:
    """An assistant turn as one comparable string: its text, or its calls."""
    if message.get("tool_calls"):
        names = [c["function"]["name"] for c in message["tool_calls"]]
        arguments = [
            a if isinstance(a, str) else json.dumps(a)  # preference rows hold objects
            for a in (c["function"]["arguments"] for c in message["tool_calls"])
        ]
        return f"{names}{arguments}"
    return message.get("content") or ""


def export(fmt: str, conv: Conversation) -> dict[str, Any] | str:
    """The format's line for the record, or the reason it was refused."""
    try:
        (line,) = FORMATS[fmt](conv)
    except Unexportable as refusal:
        return refusal.reason
    return json.loads(msgspec.json.encode(line))


def openai_targets(conv: Conversation) -> list[str] | str:
    line = export("openai", conv)
    if isinstance(line, str):
        return line
    assert line["messages"][-1]["role"] == "assistant"  # trains up to its last turn
    return [learned(m) for m in line["messages"] if m["role"] == "assistant" and "weight" not in m]


def chatml_assistants(conv: Conversation) -> list[str] | str:
    line = export("chatml", conv)
    if isinstance(line, str):
        return line
    blocks = line["text"].split("<|im_start|>")[1:]
    assert blocks[-1].startswith("assistant")
    return [
        b.removeprefix("assistant\n").removesuffix("<|im_end|>\n")
        for b in blocks
        if b.startswith("assistant")
    ]


def pair(conv: Conversation) -> tuple[str, str] | str:
    line = export("preference", conv)
    if isinstance(line, str):
        return line
    return learned(line["chosen"][0]), learned(line["rejected"][0])


def args(**arguments: Any) -> str:
    return json.dumps(arguments)


EXPECTED: dict[str, tuple[Any, Any, Any]] = {
    # kind: (openai targets, chatml assistant turns, preference pair)
    "direct_execution": (
        ["['get_inventory']['{}']", "A small fishing net."],
        [
            '\n<tool_call>\n{"name": "get_inventory", "arguments": {}}\n</tool_call>',
            "A small fishing net.",
        ],
        "no_wrong_turn",
    ),
    "tool_error_reported_honestly": (
        [
            f"['ge_sell'][{args(item='lobster', quantity=100)!r}]",
            "You only have 27 lobsters, so nothing was sold.",
        ],
        2,
        "no_wrong_turn",
    ),
    "false_claim_after_failure": (
        "negative_without_correction",
        "negative_without_correction",
        "no_correction",
    ),
    "false_claim_with_correction": (
        [
            f"['ge_sell'][{args(item='lobster', quantity=100)!r}]",
            "Only 27 lobsters are here: nothing was sold.",
        ],
        2,
        ("Only 27 lobsters are here: nothing was sold.", "Sold them all!"),
    ),
    "negative_with_pushback": (
        [f"['run'][{args(cmd='rm -rf ./build')!r}]", "Removed ./build."],
        2,
        (f"['run'][{args(cmd='rm -rf ./build')!r}]", f"['run'][{args(cmd='rm -rf /')!r}]"),
    ),
    "self_correction": (
        [f"['search'][{args(limit=10)!r}]", "No timeouts."],
        2,
        (f"['search'][{args(limit=10)!r}]", f"['search'][{args(limit='ten')!r}]"),
    ),
    "user_rejected_call": (
        [f"['edit'][{args(old='def foo', new='def bar')!r}]", "Renamed the functions."],
        2,
        "no_correction",
    ),
    "code_correction_by_the_assistant": (
        ["def add(a, b): return a + b"],
        ["def add(a, b): return a + b"],
        ("def add(a, b): return a + b", "def add(a, b): return a - b"),
    ),
    "journal_lesson": (
        ["No. It rate-limits at 10 requests a second."],
        ["No. It rate-limits at 10 requests a second."],
        "no_wrong_turn",
    ),
    "journal_code_correction": (
        ["with open('bot.log', 'a') as log: ..."],
        ["with open('bot.log', 'a') as log: ..."],
        "no_wrong_turn",
    ),
    "derived_reasoning_chain": (
        ["Root cause: the bank was closed.\n\nFix: open the bank first."],
        ["Root cause: the bank was closed.\n\nFix: open the bank first."],
        "no_wrong_turn",
    ),
    "discord_context_turns": (
        ["2,300 gp each."],
        "context_turn_unmaskable",
        "no_wrong_turn",
    ),
    "ends_on_a_tool_result": (["['ls']['{}']"], 1, "no_wrong_turn"),
    "ends_on_an_unanswered_prompt": (["Hello."], ["Hello."], "no_wrong_turn"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_masked_formats_train_exactly_the_targets(kind: str) -> None:
    expected = EXPECTED[kind][0]
    assert openai_targets(KINDS[kind]) == expected
    axolotl = export("axolotl_chat", KINDS[kind])
    if isinstance(expected, str):
        assert axolotl == expected
    else:
        trained = [m for m in axolotl["messages"] if m["role"] == "assistant" and "train" not in m]
        assert len(trained) == len(expected)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_formats_without_a_mask_carry_only_targets(kind: str) -> None:
    expected = EXPECTED[kind][1]
    shown = chatml_assistants(KINDS[kind])
    if isinstance(expected, int):
        assert not isinstance(shown, str) and len(shown) == expected
    else:
        assert shown == expected
    for fmt in UNMASKED:
        line = export(fmt, KINDS[kind])
        assert isinstance(line, str) == isinstance(shown, str), fmt
        if isinstance(line, str):
            assert line == shown, fmt
        text = json.dumps(line)
        for wrong in ("Sold them all!", "rm -rf /\\", "return a - b", '\\"ten\\"', "Let me check."):
            assert wrong not in text, (fmt, wrong)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_preference_pairs_prefer_the_correction(kind: str) -> None:
    assert pair(KINDS[kind]) == EXPECTED[kind][2]


def test_no_format_trains_a_known_wrong_turn() -> None:
    wrong = ["Sold them all!", 'rm -rf /"', "return a - b", '"ten"', "Let me check."]
    for conv in KINDS.values():
        for fmt in ("openai", "axolotl_chat", *UNMASKED, "alpaca"):
            line = export(fmt, conv)
            if isinstance(line, str):
                continue
            messages = line.get("messages") or []
            targets = [
                m
                for m in messages
                if m.get("role") == "assistant"
                and m.get("weight") != 0
                and m.get("train") is not False
            ]
            for text in wrong:
                assert not any(text in json.dumps(m) for m in targets), (fmt, conv.id, text)
