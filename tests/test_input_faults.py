"""Hostile input lines in every JSONL source: deep nesting and a byte order mark.

A line nested past what Python's stack can follow becomes one `nested_too_deep` reject and
the good lines around it are kept; a UTF-8 byte order mark at the start of a file (Windows
editors write one) is skipped, so the first line decodes.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from stages.common.jsonl import BOM, MAX_NESTING, iter_lines, nested_too_deep
from stages.ingest import command
from tests.conftest import read_jsonl, write_lines

ingest_botlog = command("botlog")
ingest_sessions = command("sessions")
ingest_toollog = command("toollog")

FIXTURES = Path(__file__).parent / "fixtures"


def nested_arguments(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def toollog_line(arguments: object = '{"item": "coins"}', output: str = '{"ok": true}') -> str:
    head = {
        "timestamp": "2026-11-02T09:16:02Z",
        "user_query": "bank the coins",
        "tool_name": "bank_deposit",
        "arguments": arguments,
        "status": "success",
    }
    return json.dumps(head)[:-1] + f', "output": {output}}}'


def botlog_line(arguments: object = None) -> str:
    return json.dumps(
        {
            "timestamp": "2024-06-01T09:12:03Z",
            "message": "withdraw 500 coins",
            "task_type": "command",
            "category": "banking",
            "tool_calls": [
                {
                    "name": "bank_withdraw",
                    "arguments": {"amount": 500} if arguments is None else arguments,
                    "result": {"ok": True},
                }
            ],
            "response": "Withdrew 500 coins.",
        }
    )


def session_lines() -> list[str]:
    return (FIXTURES / "sessions" / "basic.jsonl").read_text().splitlines()


def session_tool_use(depth: int) -> str:
    """An assistant record calling a tool with arguments `depth` objects deep."""
    return json.dumps(
        {
            "parentUuid": "u1",
            "isSidechain": False,
            "sessionId": "s-basic",
            "type": "assistant",
            "uuid": "u-deep",
            "timestamp": "2025-06-01T10:00:01.000Z",
            "requestId": "req-deep",
            "message": {
                "id": "msg-deep",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "tu-deep",
                        "name": "Bash",
                        "input": nested_arguments(depth),
                    }
                ],
            },
        }
    )


def outputs(workdir: Path) -> tuple[list[Any], list[Any], dict[str, Any]]:
    out = workdir / "out"
    stats = json.loads((out / "stats.json").read_text())
    return read_jsonl(out / "conversations"), read_jsonl(out / "rejects.jsonl"), stats


def reject_lines(rejects: list[Any]) -> list[tuple[int, str]]:
    return [(r["line"], r["reason"]) for r in rejects]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_toollog_deep_lines_are_rejects_among_good_lines(run, workdir: Path, jobs: str) -> None:
    good = toollog_line()
    lines = [
        good,
        toollog_line(output=deep_array(1000)),  # the line itself, past msgspec's depth
        toollog_line(arguments=json.dumps(nested_arguments(500))),  # JSON text in `arguments`
        toollog_line(arguments=nested_arguments(500)),  # an object, where schemas are inferred
        good,
    ]
    write_lines(workdir / "logs" / "day.jsonl", lines)
    run(ingest_toollog, "--input", "logs", "--out-dir", "out", "--jobs", jobs)
    conversations, rejects, stats = outputs(workdir)
    assert [c["meta"]["line"] for c in conversations] == [1, 5]
    assert reject_lines(rejects) == [(n, "nested_too_deep") for n in (2, 3, 4)]
    assert stats["rejected"]["nested_too_deep"] == 3
    assert f"nested deeper than {MAX_NESTING} levels" in rejects[0]["message"]


def test_botlog_deep_arguments_are_rejects_among_good_lines(run, workdir: Path) -> None:
    lines = [
        botlog_line(),
        botlog_line(nested_arguments(500)),
        botlog_line(json.dumps(nested_arguments(900))),
        botlog_line()[:-1] + f', "extra": {deep_array(1000)}}}',
        botlog_line(),
    ]
    write_lines(workdir / "logs" / "conversations_2024-06-01.jsonl", lines)
    run(ingest_botlog, "--input", "logs", "--out-dir", "out")
    conversations, rejects, _ = outputs(workdir)
    assert [c["meta"]["line"] for c in conversations] == [1, 5]
    assert reject_lines(rejects) == [(n, "nested_too_deep") for n in (2, 3, 4)]


def test_sessions_deep_records_are_rejects_and_the_session_is_kept(run, workdir: Path) -> None:
    lines = session_lines()
    deep_first = f'{{"type": "summary", "summary": {deep_array(1000)}}}'
    write_lines(
        workdir / "in" / "s.jsonl", [deep_first, *lines[:2], session_tool_use(500), *lines[2:]]
    )
    run(ingest_sessions, "--input", "in", "--out-dir", "out", "--jobs", "1", "--no-cache")
    conversations, rejects, stats = outputs(workdir)
    assert reject_lines(rejects) == [(1, "nested_too_deep"), (4, "nested_too_deep")]
    assert stats["files"]["claude_code"] == 1  # a deep first line does not hide the format
    assert [c["meta"]["session_id"] for c in conversations] == ["s-basic"]


def with_bom(path: Path) -> None:
    path.write_bytes(BOM + path.read_bytes())


def test_a_byte_order_mark_is_skipped_in_every_jsonl_source(run, workdir: Path) -> None:
    with_bom(write_lines(workdir / "tl" / "day.jsonl", [toollog_line(), toollog_line()]))
    with_bom(write_lines(workdir / "bl" / "conversations_2024-06-01.jsonl", [botlog_line()]))
    with_bom(write_lines(workdir / "ss" / "s.jsonl", session_lines()))
    run(ingest_toollog, "--input", "tl", "--out-dir", "tl-out", "--jobs", "2")
    run(ingest_botlog, "--input", "bl", "--out-dir", "bl-out")
    run(ingest_sessions, "--input", "ss", "--out-dir", "ss-out", "--jobs", "1", "--no-cache")
    for name, count in (("tl-out", 2), ("bl-out", 1), ("ss-out", 1)):
        assert read_jsonl(workdir / name / "rejects.jsonl") == [], name
        assert len(read_jsonl(workdir / name / "conversations")) == count, name
    assert [c["meta"]["line"] for c in read_jsonl(workdir / "tl-out" / "conversations")] == [1, 2]


def test_a_byte_order_mark_only_counts_at_the_start_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(BOM + b"{}\n" + BOM + b"{}\n")
    assert [line.data for line in iter_lines(path)] == [b"{}", BOM + b"{}"]


@pytest.mark.parametrize(
    ("data", "deep"),
    [
        (b"[" * MAX_NESTING + b"]" * MAX_NESTING, False),
        (b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1), True),
        (b"[{" * (MAX_NESTING // 2) + b"}]" * (MAX_NESTING // 2), False),
        (b'{"a":' * (MAX_NESTING + 1) + b"1" + b"}" * (MAX_NESTING + 1), True),
        (b'{"text": "' + b"{" * 5000 + b'"}', False),  # unmatched brackets in a string
        (b'{"args": "' + b"[" * 300 + b"]" * 300 + b'"}', True),  # JSON text in a string
        (b"[" + b"[1], {}, " * 5000 + b"[]]", False),  # wide, not deep
    ],
)
def test_nesting_depth_is_measured_in_brackets(data: bytes, deep: bool) -> None:
    assert nested_too_deep(data) is deep
