"""The consumer checks one by one, on real export lines broken one way each: the reason
and field they give, and nothing for the line as exported."""

import json
from typing import Any

import msgspec
import openai_harmony as oh
import pytest

from stages.formats.axolotl import to_axolotl_chat
from stages.formats.chatml import to_chatml
from stages.formats.harmony import SLOT, to_harmony
from stages.formats.qwen import to_qwen
from stages.formats.sharegpt import to_sharegpt
from stages.validation.consumers import CONSUMER_CHECKS
from stages.validation.harmony_checks import _parse_header, _parse_whole, parse_harmony
from tests.formats import conversations as c


def line(fmt: str, conv=c.PREAMBLE_CALL) -> dict[str, Any]:
    exporter = {"chatml": to_chatml, "qwen": to_qwen, "harmony": to_harmony}
    exporter["sharegpt"] = to_sharegpt
    exporter["axolotl_chat"] = to_axolotl_chat
    return msgspec.to_builtins(exporter[fmt](conv)[0])


def found(fmt: str, row: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.field, f.reason) for f in CONSUMER_CHECKS[fmt](row)]


@pytest.mark.parametrize("fmt", ["chatml", "qwen", "harmony", "sharegpt"])
@pytest.mark.parametrize("conv", c.CLEAN, ids=lambda conv: conv.id)
def test_lines_as_exported_have_no_finding(fmt: str, conv) -> None:
    assert found(fmt, line(fmt, conv)) == []


def test_chatml_structure() -> None:
    text = line("chatml")["text"]
    assert found("chatml", {"text": "hello " + text}) == [("text", "text_outside_turn")]
    assert found("chatml", {"text": text.replace("<|im_start|>user", "<|im_start|>usr")}) == [
        ("text.turns[1].role", "unknown_role")
    ]
    misplaced = text.replace("Let me search", "<tool_call> Let me search")
    assert found("chatml", {"text": misplaced}) == [("text.turns[2]", "misplaced_tool_call")]
    assert found("chatml", {"text": "<|im_start|>user\nhi<|im_end|>\n"}) == [
        ("text", "no_assistant_turn")
    ]
    orphan = "<|im_start|>assistant\nok<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n"
    assert found("chatml", {"text": orphan}) == [("text.turns[1]", "tool_without_call")]
    args_text = text.replace('{"query": "error", "limit": 5}}', '"error"}')
    assert found("chatml", {"text": args_text}) == [
        ("text.turns[2].tool_calls[0]", "tool_call_arguments")
    ]


def test_qwen_structure() -> None:
    text = line("qwen")["text"]
    system_end = text.index("<|im_end|>") + len("<|im_end|>\n")
    assert found("qwen", {"text": text[system_end:]}) == [("text.turns[0].role", "missing_system")]
    stray = text.replace("Two errors", "<tool_response> Two errors")
    assert found("qwen", {"text": stray}) == [("text.turns[4]", "misplaced_tool_response")]
    two = text.replace("2 errors: E1, E2", "a\n</tool_response>\n<tool_response>\nb")
    assert found("qwen", {"text": two}) == [("text.turns[3]", "tool_without_call")]
    tools = text.replace('{"type": "function"', "{broken", 1)
    assert found("qwen", {"text": tools}) == [("text.turns[0].tools[0]", "bad_tools")]
    unnamed = text.replace('{"name": "search_logs", "arguments"', '{"arguments"')
    assert found("qwen", {"text": unnamed}) == [
        ("text.turns[2].tool_calls[0]", "tool_call_missing_name")
    ]


def test_harmony_must_say_what_the_line_lists() -> None:
    row = line("harmony")
    messages = [*row["messages"][:-1], {**row["messages"][-1], "content": "Other words."}]
    assert found("harmony", {**row, "messages": messages}) == [
        ("messages[4].content", "harmony_messages_mismatch")
    ]
    assert found("harmony", {**row, "messages": row["messages"][:-1]}) == [
        ("messages", "harmony_messages_mismatch")
    ]
    undeclared = json.dumps([{"name": "search_logs"}, {"name": "delete_all"}])
    assert found("harmony", {**row, "tools": undeclared}) == [("tools[1]", "tool_not_declared")]
    body = row["text"][row["text"].index("<|start|>user") :]
    assert found("harmony", {**row, "text": body}) == [("text", "harmony_missing_header")]


def test_sharegpt_follows_llama_factory() -> None:
    row = line("sharegpt")
    turns = row["conversations"]
    assert [t["from"] for t in turns] == ["human", "function_call", "observation", "gpt"]
    with_system = [{"from": "system", "value": "Be brief."}, *turns]
    assert found("sharegpt", {**row, "conversations": with_system}) == []
    swapped = [turns[1], turns[0], *turns[2:]]
    assert found("sharegpt", {**row, "conversations": swapped}) == [
        ("conversations[0].from", "sharegpt_order")
    ]
    assert found("sharegpt", {**row, "conversations": turns[:3]}) == [
        ("conversations", "odd_turn_count")
    ]
    call = json.loads(turns[1]["value"])
    for value, reason in [
        ("not json", "function_call_not_json"),
        (
            json.dumps([{**call, "arguments": json.dumps(call["arguments"])}]),
            "function_call_arguments",
        ),
        (json.dumps({"arguments": {}}), "function_call_missing_name"),
    ]:
        broken = [turns[0], {"from": "function_call", "value": value}, *turns[2:]]
        assert found("sharegpt", {**row, "conversations": broken}) == [
            ("conversations[1].value", reason)
        ]
    assert found("sharegpt", {**row, "tools": "{}"}) == [("tools", "tools_not_json")]


def test_alpaca_and_preference_rules() -> None:
    row = {"instruction": " ", "input": "", "output": "42", "system": ""}
    assert found("alpaca", row) == [("instruction", "empty_instruction")]
    user = {"role": "user", "content": "hi"}
    good = {"role": "assistant", "content": "hello"}
    pair = {"id": "x", "prompt": [user], "chosen": [good], "rejected": [{"role": "assistant"}]}
    assert found("preference", pair) == [("rejected[0]", "empty_reply")]
    two = {**pair, "rejected": [good, {"role": "assistant", "content": "bye"}]}
    assert ("rejected", "not_one_assistant_message") in found("preference", two)
    assert found("preference", {**pair, "prompt": []})[0] == ("prompt", "empty_prompt")


def test_axolotl_rows_json_load_as_axolotl_does() -> None:
    row = line("axolotl_chat")
    assert found("axolotl_chat", row) == []
    tools = row["tools"]
    broken = [{"type": "function", "function": {**tools[0]["function"], "parameters": "{"}}]
    for _ in range(2):  # the verdict on a tool's parameters is kept: the same the second time
        assert found("axolotl_chat", {**row, "tools": broken}) == [
            ("tools[0].function.parameters", "parameters_not_json_object")
        ]
    assert found("axolotl_chat", row) == []
    messages = row["messages"]
    call = messages[2]["tool_calls"][0]
    bad_call = {**call, "function": {**call["function"], "arguments": "[1]"}}
    calling = [*messages[:2], {**messages[2], "tool_calls": [bad_call]}, *messages[3:]]
    assert found("axolotl_chat", {**row, "messages": calling}) == [
        ("messages[2].tool_calls[0].function.arguments", "arguments_not_json_object")
    ]
    orphan = [*messages[:3], {**messages[3], "tool_call_id": "other"}, messages[4]]
    assert found("axolotl_chat", {**row, "messages": orphan}) == [
        ("messages[3].tool_call_id", "tool_without_call")
    ]
    assert found("axolotl_chat", {**row, "messages": messages[:4]}) == [
        ("messages[3].role", "ends_after_last_reply")
    ]


def _parsed_or_error(parse, text: str):
    try:
        return parse(text)
    except oh.HarmonyError as exc:
        return type(exc)


def _harmony_texts() -> list[str]:
    """Exported texts, and the same texts broken in the ways a file gets broken."""
    good = [line("harmony", conv)["text"] for conv in c.CLEAN]
    text = good[1]
    return [
        *good,
        "",
        text + "trailing words",
        "leading words" + text,
        text[: len(text) // 2],
        text.replace("<|start|>user", "<|start|>usr"),
        text.replace("<|start|>user", "<|start|>user<|start|>assistant"),
        text.replace("<|channel|>final", "<|channel|>"),
        text.replace("<|message|>Let me", "<|message|>Let <|end|> me"),
        text.replace("<|message|>Let me", "<|message|>Let <|reserved_200013|> me"),
        text.replace("<|message|>Let me", f"<|message|>Let {SLOT} me"),
        text.replace("<|end|>", "<|call|>", 3),
        text.replace("to=functions.search_logs", "to=functions.search logs"),
        text.replace(" <|constrain|>json", "<|constrain|>"),
    ]


@pytest.mark.parametrize("text", _harmony_texts())
def test_harmony_read_message_by_message_as_openai_harmony_reads_it_whole(text: str) -> None:
    assert _parsed_or_error(parse_harmony, text) == _parsed_or_error(_parse_whole, text)


def test_harmony_headers_are_parsed_once_per_kind() -> None:
    _parse_header.cache_clear()
    for conv in c.CLEAN:
        parse_harmony(line("harmony", conv)["text"])
    headers = _parse_header.cache_info()
    assert headers.hits > 0 and headers.currsize < headers.hits + headers.misses
