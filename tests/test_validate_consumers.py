"""validate reads every format as its consumer does: a line broken by hand in one format
gives exactly one error row naming the format, file, line, record, field and reason."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stages import export, validate
from stages.formats.chatml import IM_END, IM_START
from tests.conftest import read_jsonl
from tests.formats import conversations as c
from tests.records import write_conversations

Row = dict[str, Any]
Break = Callable[[list[Row]], tuple[int, Row, str]]
CALL = "<tool_call>\n{"
ASSISTANT = IM_START + "assistant"


@pytest.fixture
def exported(run, workdir: Path) -> Path:
    write_conversations(workdir / "cur" / "train.jsonl", [*c.ALL, c.LONE_NEGATIVE])
    write_conversations(workdir / "cur" / "validation.jsonl", [c.PARALLEL, c.TOOL_ERROR])
    (workdir / "cur" / "stats.json").write_text("{}")
    args = ["--curated-dir", "cur", "--curate-stats", "cur/stats.json", "--out-dir", "exp"]
    run(export.main, *args)
    return workdir / "exp"


def unclosed_turn(rows: list[Row]) -> tuple[int, Row, str]:
    return 0, {**rows[0], "text": rows[0]["text"].replace(IM_END, "", 1)}, "text.turns[0]"


def call_not_json(rows: list[Row]) -> tuple[int, Row, str]:
    """The first call of an assistant turn (Qwen's system turn shows the call syntax too)."""
    index = next(i for i, row in enumerate(rows) if CALL in row["text"].split(ASSISTANT, 1)[-1])
    text = rows[index]["text"]
    at = text.index(CALL, text.index(ASSISTANT))
    turn = text.count(IM_START, 0, at) - 1
    broken = text[:at] + CALL + "name: " + text[at + len(CALL) :]
    return index, {**rows[index], "text": broken}, f"text.turns[{turn}].tool_calls[0]"


def harmony_garbage(rows: list[Row]) -> tuple[int, Row, str]:
    return 0, {**rows[0], "text": "garbage, not Harmony"}, "text"


def humn(rows: list[Row]) -> tuple[int, Row, str]:
    turns = [{**rows[0]["conversations"][0], "from": "humn"}, *rows[0]["conversations"][1:]]
    return 0, {**rows[0], "conversations": turns}, "conversations[0].from"


def no_output(rows: list[Row]) -> tuple[int, Row, str]:
    return 0, {k: v for k, v in rows[0].items() if k != "output"}, "output"


def blank_output(rows: list[Row]) -> tuple[int, Row, str]:
    return 0, {**rows[0], "output": "  "}, "output"


def same_pair(rows: list[Row]) -> tuple[int, Row, str]:
    return 0, {**rows[0], "chosen": rows[0]["rejected"]}, "chosen"


def prompt_answered(rows: list[Row]) -> tuple[int, Row, str]:
    prompt = [*rows[0]["prompt"], *rows[0]["rejected"]]
    return 0, {**rows[0], "prompt": prompt}, f"prompt[{len(prompt) - 1}].role"


def arguments_not_json(rows: list[Row]) -> tuple[int, Row, str]:
    index = next(i for i, row in enumerate(rows) if row["messages"][1].get("tool_calls"))
    messages = [dict(m) for m in rows[index]["messages"]]
    first, *others = messages[1]["tool_calls"]
    broken = {**first, "function": {**first["function"], "arguments": "{"}}
    messages[1]["tool_calls"] = [broken, *others]
    return (
        index,
        {**rows[index], "messages": messages},
        "messages[1].tool_calls[0].function.arguments",
    )


def ends_on_a_prompt(rows: list[Row]) -> tuple[int, Row, str]:
    messages = [*rows[0]["messages"], {"role": "user", "content": "are you there?"}]
    return 0, {**rows[0], "messages": messages}, f"messages[{len(messages) - 1}].role"


BROKEN: list[tuple[str, Break, str]] = [
    ("axolotl_chat", arguments_not_json, "arguments_not_json_object"),
    ("axolotl_chat", ends_on_a_prompt, "ends_after_last_reply"),
    ("chatml", unclosed_turn, "unclosed_turn"),
    ("qwen", unclosed_turn, "unclosed_turn"),
    ("chatml", call_not_json, "tool_call_not_json"),
    ("qwen", call_not_json, "tool_call_not_json"),
    ("harmony", harmony_garbage, "harmony_unparseable"),
    ("sharegpt", humn, "unknown_role"),
    ("alpaca", no_output, "schema_required"),
    ("alpaca", blank_output, "empty_output"),
    ("preference", same_pair, "chosen_equals_rejected"),
    ("preference", prompt_answered, "prompt_not_awaiting_reply"),
]


def record_on_line(out: Path, fmt: str, index: int) -> str:
    metadata = read_jsonl(out / "records.metadata.jsonl")
    return next(r["id"] for r in metadata if r["split"] == "train" and r["lines"].get(fmt) == index)


@pytest.mark.parametrize(
    ("fmt", "breaker", "reason"), BROKEN, ids=[f"{f}-{b.__name__}" for f, b, _ in BROKEN]
)
def test_a_broken_line_is_one_error_naming_everything(
    run, workdir: Path, exported: Path, fmt: str, breaker: Break, reason: str
) -> None:
    path = exported / "formats" / fmt / "train.jsonl"
    rows = read_jsonl(path)
    index, row, field = breaker(rows)
    rows[index] = row
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    result = run(validate.main, "--export-dir", "exp", "--out-dir", "val", exit_code=1)

    [error] = read_jsonl(workdir / "val" / "errors.jsonl")
    assert error.pop("message")
    assert error == {
        "format": fmt,
        "file": f"exp/formats/{fmt}/train.jsonl",
        "line": index + 1,
        "record_id": record_on_line(exported, fmt, index),
        "field": field,
        "reason": reason,
    }
    first = f"first: {fmt}: exp/formats/{fmt}/train.jsonl:{index + 1}: record {error['record_id']}"
    assert first in result.output


def test_every_format_of_an_unbroken_export_passes(run, workdir: Path, exported: Path) -> None:
    run(validate.main, "--export-dir", "exp", "--out-dir", "val")
    metrics = json.loads((workdir / "val" / "metrics.json").read_text())
    assert metrics["errors_total"] == 0
    assert all(f["lines"]["train"] > 0 for f in metrics["formats"].values())
