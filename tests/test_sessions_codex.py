"""Codex CLI rollouts → conversations, on rollouts written from the format's documentation.

`full` holds every response item kind with the events that repeat them, injected context,
encrypted reasoning, apply_patch and MCP calls of both naming eras; `aborted` an interrupted
turn whose call has no output, a compaction, unknown kinds, a bad line and a torn last line.
Expected messages are written out from reading the fixtures, not copied from the parser.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from click.testing import CliRunner

from schemas.__main__ import HERE as SCHEMA_DIR
from stages.common.jsonl import Line, iter_lines, part_files
from stages.ingest import command
from stages.sources.sessions.codex import parse_rollout
from stages.sources.sessions.threads import ParseResult, SessionParams
from tests.records import assistant, call, tool, user

main = command("sessions")

SESSIONS = Path(__file__).parent / "fixtures" / "sessions"
CODEX = SESSIONS / "codex"
FULL = "rollout-2025-10-01T10-00-00-0199a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b.jsonl"
ABORTED = "rollout-2025-10-02T09-00-00-0199b3c4-1d2e-7f30-9a4b-5c6d7e8f9a0b.jsonl"
PATCH = (
    "*** Begin Patch\n*** Update File: parse.py\n@@\n def parse(text):\n"
    "-    return text.split()[0]\n+    words = text.split()\n"
    "+    return words[0] if words else None\n*** End Patch\n"
)
FULL_TURN_1 = [
    user("The tests fail on empty input. Fix the parser."),
    assistant(
        "Running the tests to see the failure.",
        call(
            "call_shell1",
            "shell",
            {"command": ["bash", "-lc", "pytest -q"], "workdir": "/home/ann/proj"},
        ),
    ),
    tool(
        "call_shell1",
        "Exit code: 1\nF.\nFAILED tests/test_parse.py::test_empty - IndexError: list index "
        "out of range\n1 failed, 1 passed in 0.05s\n",
    ),
    assistant(None, call("call_patch1", "apply_patch", {"input": PATCH})),
    tool("call_patch1", "Success. Updated the following files:\nM parse.py\n"),
    assistant(
        None,
        call("call_mcp1", "mcp__docs-server__search", {"query": "parse empty input", "limit": 3}),
        call("call_mcp2", "mcp__github__list_issues", {"repo": "ann/proj", "state": "open"}),
    ),
    tool("call_mcp1", "docs/parsing.md: empty input returns None"),
    tool("call_mcp2", "#12 Parser crashes on empty file"),
    assistant("Fixed: `parse` returns None on empty input (issue #12)."),
]
FULL_TURN_2 = [
    user("Run the tests again.\n\n[image]"),
    assistant(
        None,
        call(
            "call_local1",
            "local_shell",
            {
                "command": ["pytest", "-q"],
                "working_directory": "/home/ann/proj",
                "timeout_ms": 60000,
            },
        ),
    ),
    tool("call_local1", "Exit code: 0\nWall time: 0.3 seconds\nOutput:\n2 passed in 0.04s\n"),
    assistant("All tests pass."),
]


def parse(name: str, **params: Any) -> ParseResult:
    return parse_rollout(iter_lines(CODEX / name), name, SessionParams(**params))


def plain(result: ParseResult) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(c) for c in result.conversations]


def texts(conversation: dict[str, Any]) -> list[str]:
    return [m["content"] for m in conversation["messages"] if m.get("content")]


def test_every_item_kind_becomes_one_whole_conversation() -> None:
    result = parse(FULL)
    [conversation] = plain(result)
    assert conversation["messages"] == FULL_TURN_1 + FULL_TURN_2
    assert conversation["source"] == "sessions"
    assert conversation["labels"] == {"tags": ["codex", "tool_error"]}  # pytest exited 1
    assert conversation["meta"] == {
        "file": FULL,
        "line": 6,
        "timestamp": "2025-10-01T10:00:01.100Z",
        "model": "gpt-5-codex",
        "session_id": "0199a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    }
    assert [t["function"]["name"] for t in conversation["tools"]] == [
        "apply_patch",
        "local_shell",
        "mcp__docs-server__search",
        "mcp__github__list_issues",
        "shell",
    ]
    assert result.rejects == []
    counts = result.counts
    assert counts["read"] == 33
    assert counts["tool_calls.paired"] == 5
    assert counts["tool_results.error"] == 1
    assert counts["dropped.web_search_call"] == 1  # its results are never written
    assert counts["images_replaced"] == 1
    schema = json.loads((SCHEMA_DIR / "conversation.schema.json").read_text())
    jsonschema.validate(conversation, schema)


def test_events_repeating_items_are_counted_and_each_exchange_appears_once() -> None:
    result = parse(FULL, split="turn", thinking="keep")
    said = [text for conversation in plain(result) for text in texts(conversation)]
    for once in (
        "The tests fail on empty input. Fix the parser.",
        "Fixed: `parse` returns None on empty input (issue #12).",
        "All tests pass.",
    ):
        assert sum(once in text for text in said) == 1, once
    assert sum("**Running the tests first**" in text for text in said) == 1
    counts = result.counts
    assert counts["skipped.event.user_message"] == 2
    assert counts["skipped.event.agent_message"] == 3
    assert counts["skipped.event.agent_reasoning"] == 1
    assert counts["skipped.event.token_count"] == 3  # `info: null` twice, usage once


def test_injected_context_instructions_and_developer_messages_are_not_prompts() -> None:
    result = parse(FULL)
    [conversation] = plain(result)
    user_texts = [m["content"] for m in conversation["messages"] if m["role"] == "user"]
    assert user_texts == [
        "The tests fail on empty input. Fix the parser.",
        FULL_TURN_2[0]["content"],
    ]
    assert not any(m["role"] == "system" for m in conversation["messages"])
    assert result.counts["skipped.instructions"] == 2  # AGENTS.md and base_instructions
    assert result.counts["skipped.injected_context"] == 2  # <user_instructions>, <environment…>
    assert result.counts["skipped.developer"] == 1
    # the newer AGENTS.md header and an environment block, as two parts of one message
    assert parse(ABORTED).counts["skipped.injected_context"] == 2


def test_reasoning_summary_is_thinking_and_encrypted_reasoning_is_dropped() -> None:
    dropped = parse(FULL, split="turn")
    kept = parse(FULL, split="turn", thinking="keep")
    assert plain(dropped)[0]["messages"][1]["content"] == "Running the tests to see the failure."
    assert plain(kept)[0]["messages"][1]["content"] == (
        "<think>\n**Running the tests first**\n</think>\n\nRunning the tests to see the failure."
    )
    assert kept.counts["dropped.encrypted_reasoning"] == 2
    assert b"gAAAA" not in kept.lines


def test_turn_split_gives_one_conversation_per_prompt_with_all_tools() -> None:
    first, second = plain(parse(FULL, split="turn"))
    assert first["messages"] == FULL_TURN_1
    assert second["messages"] == FULL_TURN_2
    assert second["labels"] == {"tags": ["codex"]}
    assert second["meta"]["line"] == 27
    assert first["tools"] == second["tools"]


def test_tool_globs_select_mcp_tools_of_both_naming_eras() -> None:
    [conversation] = plain(parse(FULL, include_tools=("mcp__*",)))
    assert [t["function"]["name"] for t in conversation["tools"]] == [
        "mcp__docs-server__search",
        "mcp__github__list_issues",  # written `github__list_issues` by an older Codex
    ]
    # the shell and patch calls are gone, and the text before them joins the MCP calls
    assert conversation["messages"][:4] == [
        FULL_TURN_1[0],
        assistant("Running the tests to see the failure.", *FULL_TURN_1[5]["tool_calls"]),
        *FULL_TURN_1[6:8],
    ]
    result = parse(FULL, exclude_tools=("apply_patch",))
    assert "apply_patch" not in result.lines.decode()
    assert result.counts["renamed.mcp_tool_calls"] == 1
    assert result.counts["tool_calls.filtered"] == 1


def test_aborted_turn_drops_the_call_without_output_and_tags_interrupted() -> None:
    result = parse(ABORTED, thinking="keep")
    [conversation] = plain(result)
    assert conversation["messages"] == [
        user("Delete the build folder and rebuild."),
        user("Only rebuild, keep the folder."),
        assistant(
            None, call("call_build1", "shell", {"command": ["bash", "-lc", "npm run build"]})
        ),
        tool("call_build1", "built in 2.1s\n"),
        assistant("Rebuilt without touching the folder."),
        user("What changed in the bundle size?"),
        assistant("The bundle is 4 kB smaller."),
    ]
    assert conversation["labels"] == {"tags": ["codex", "interrupted"]}
    assert result.counts["tool_calls.unanswered"] == 1
    assert result.counts["skipped.event.turn_aborted"] == 1
    # its thinking alone would teach a reply that thinks and does nothing
    assert result.counts["dropped.thinking_only"] == 1
    assert "rm -rf" not in result.lines.decode()


def test_aborted_turn_opens_the_next_turn_and_compaction_repeats_nothing() -> None:
    result = parse(ABORTED, split="turn")
    retried, after_compaction = plain(result)
    assert [m["content"] for m in retried["messages"][:2]] == [
        "Delete the build folder and rebuild.",
        "Only rebuild, keep the folder.",
    ]
    assert retried["labels"] == {"tags": ["codex", "interrupted"]}
    assert after_compaction["messages"] == [
        user("What changed in the bundle size?"),
        assistant("The bundle is 4 kB smaller."),
    ]
    assert after_compaction["meta"]["model"] == "gpt-5-codex"  # from its own turn_context
    assert result.counts["folded.unanswered_turns"] == 1
    assert result.counts["skipped.compacted"] == 1
    said = [text for conversation in plain(result) for text in texts(conversation)]
    assert said.count("Rebuilt without touching the folder.") == 1  # not again from the summary


def test_torn_last_line_and_bad_line_are_rejects_and_unknown_kinds_are_counted_by_name() -> None:
    result = parse(ABORTED)
    assert [(r.line, r.reason) for r in result.rejects] == [
        (25, "missing_field"),
        (26, "truncated_line"),
    ]
    assert len(result.conversations) == 1  # the lines around them are kept
    assert result.counts["skipped.unknown_item.ghost_snapshot"] == 1
    assert result.counts["unknown_types.session_note"] == 1
    assert result.counts["read"] == 26


@pytest.fixture
def mixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Claude Code transcripts, Codex rollouts and one file of neither kind, in one folder."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SESSIONS, tmp_path / "in")
    (tmp_path / "in" / "notes.jsonl").write_text(
        '{"query": "weather in Paris", "tool": "weather", "status": "ok"}\n'
    )
    (tmp_path / "in" / "empty.jsonl").write_text("")
    return tmp_path / "in"


def stage_output(name: str) -> list[dict[str, Any]]:
    out = Path("data/ingested/sessions")
    files = part_files(out / "conversations") if name == "conversations" else [out / name]
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def test_mixed_folder_routes_each_file_and_names_the_unrecognised_one(mixed: Path) -> None:
    result = CliRunner().invoke(main, ["--input", "in", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    conversations = stage_output("conversations")
    by_agent = {
        agent: [c for c in conversations if agent in c["labels"]["tags"]]
        for agent in ("claude_code", "codex")
    }
    assert len(by_agent["claude_code"]) == 7  # as many as the Claude Code fixtures alone give
    assert {c["meta"]["file"] for c in by_agent["codex"]} == {
        f"in/codex/{FULL}",
        f"in/codex/{ABORTED}",
    }
    assert len(conversations) == 7 + 2
    unrecognised = [
        r for r in stage_output("rejects.jsonl") if r["reason"] == "unrecognised_format"
    ]
    assert unrecognised == [
        {
            "file": "in/notes.jsonl",
            "line": 1,
            "reason": "unrecognised_format",
            "message": "in/notes.jsonl: no sessions adapter recognises this file; the sessions "
            "source reads Claude Code transcripts (~/.claude/projects) and Codex CLI rollouts "
            "(~/.codex/sessions): move it out of ingest_sessions.input",
            "excerpt": '{"query": "weather in Paris", "tool": "weather", "status": "ok"}',
        }
    ]
    assert "in/notes.jsonl: no sessions adapter recognises this file" in result.output
    # Unknown record types are named, whichever adapter met them.
    assert "types no reader knows: session_note (1)" in result.output
    stats = json.loads(Path("data/ingested/sessions/stats.json").read_text())
    assert stats["files"] == {
        "total": 9,
        "claude_code": 5,
        "codex": 2,
        "unrecognised": 1,
        "empty": 1,
    }
    assert stats["rejected"]["unrecognised_format"] == 1


def test_unrecognised_file_stops_a_strict_run(mixed: Path) -> None:
    result = CliRunner().invoke(main, ["--input", "in/notes.jsonl", "--strict", "--jobs", "1"])
    assert result.exit_code == 1
    assert "in/notes.jsonl" in result.output
    assert "unrecognised_format" in result.output


def rollout_lines(*records: tuple[str, dict[str, Any]]) -> list[Line]:
    """Lines of a rollout written in the test: (type, payload) pairs, stamped in order."""
    return [
        Line(
            n,
            json.dumps(
                {"timestamp": f"2025-10-04T08:00:{n:02d}.000Z", "type": t, "payload": p}
            ).encode(),
        )
        for n, (t, p) in enumerate(records, start=1)
    ]


def test_sub_agent_rollouts_odd_arguments_and_output_forms() -> None:
    lines = rollout_lines(
        ("session_meta", {"id": "r-sub", "source": {"subagent": "review"}}),
        (
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Review the diff."}],
            },
        ),
        (
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": "git diff", "call_id": "c1"},
        ),
        (
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": "Exit code: 2\nWall time: 0.1 seconds\nOutput:\nfatal: bad revision\n",
            },
        ),
        (
            "response_item",
            {
                "type": "function_call",
                "name": "view_image",
                "arguments": '{"path":"a.png"}',
                "call_id": "c2",
            },
        ),
        (
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [
                    {"type": "input_text", "text": "a.png"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA=="},
                ],
            },
        ),
        ("event_msg", {"type": "task_started", "model_context_window": 272000}),
        (
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "The diff is empty."}],
            },
        ),
    )
    result = parse_rollout(lines, "sub.jsonl", SessionParams())
    [conversation] = plain(result)
    assert conversation["messages"][1:] == [
        assistant(None, call("c1", "shell", {"input": "git diff"})),
        tool("c1", "Exit code: 2\nWall time: 0.1 seconds\nOutput:\nfatal: bad revision\n"),
        assistant(None, call("c2", "view_image", {"path": "a.png"})),
        tool("c2", "a.png\n[image]"),
        assistant("The diff is empty."),
    ]
    assert conversation["labels"] == {"tags": ["codex", "subagent", "tool_error"]}
    assert conversation["meta"]["session_id"] == "r-sub"
    assert result.counts["tool_calls.arguments_not_object"] == 1
    assert result.counts["skipped.event.task_started"] == 1
    [typed] = plain(parse_rollout(lines, "sub.jsonl", SessionParams(), agent_type="review"))
    assert typed["labels"] == {"tags": ["agent:review", "codex", "subagent", "tool_error"]}
