"""Claude Code as 2.x writes it: newer record types, `<session>/subagents/` with `.meta.json`,
Task calls linked to their sub-agents, and an input folder with links, loops and other files.

The fixture (tests/fixtures/sessions_current/) is a copy of `~/.claude/projects` written by hand
from the format's description; expected values are read off it, not copied from the parser.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result

from schemas.claude_code_record import SKIPPED_TYPES
from stages.common.jsonl import Line, iter_lines, part_files
from stages.common.parts import part_name
from stages.common.scrub import private_path
from stages.ingest import command
from stages.sources.sessions.claude_code import COUNT_KEYS, parse_transcript
from stages.sources.sessions.threads import SessionParams

main = command("sessions")

FIXTURE = Path(__file__).parent / "fixtures" / "sessions_current"
SESSION = "7c1e0d2a-3b4f-4e5a-9c6d-0f1e2d3c4b5a"
PROJECT = "-home-ann-proj"
PARENT = f"{PROJECT}/{SESSION}.jsonl"
SUBAGENTS = f"{PROJECT}/{SESSION}/subagents"
OUT = Path("out")


def parse(name: str, agent_type: str | None = None) -> tuple[list[dict[str, Any]], dict]:
    lines = iter_lines(FIXTURE / name)
    result = parse_transcript(lines, name, SessionParams(), agent_type=agent_type)
    return [msgspec.to_builtins(c) for c in result.conversations], result.counts


def test_newer_record_types_are_counted_by_name_and_unknown_ones_named() -> None:
    [conversation], counts = parse(PARENT)
    assert {kind: counts.get(f"skipped.{kind}", 0) for kind in SKIPPED_TYPES} == {
        "progress": 1,
        "queue-operation": 2,  # enqueue and dequeue
        "attachment": 1,
        "file-history-snapshot": 1,
        "ai-title": 1,
        "custom-title": 1,
        "agent-name": 1,
        "last-prompt": 1,
        "mode": 1,
        "permission-mode": 1,
        "pr-link": 1,
        "worktree-state": 1,
    }
    assert counts["skipped.unknown_type"] == 1
    assert counts["unknown_types.x-future-record"] == 1
    assert {f"skipped.{kind}" for kind in SKIPPED_TYPES} <= set(COUNT_KEYS)
    # The title records hold no conversation and Meta has no title: nothing of them is kept.
    assert "Find the retry logic and its tests" not in json.dumps(conversation)


def test_a_task_call_names_its_sub_agent_in_meta() -> None:
    [conversation], counts = parse(PARENT)
    messages = conversation["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "assistant"]
    calls = messages[1]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("toolu_task_a", "Task"),
        ("toolu_task_b", "Agent"),
    ]
    assert messages[2]["content"] == "Retries live in http/retry.py: backoff()."
    assert conversation["meta"]["subagents"] == {"toolu_task_a": "a4f2", "toolu_task_b": "b7c9"}
    assert "agent_id" not in conversation["meta"]
    assert conversation["labels"] == {"tags": ["claude_code"]}  # not a sub-agent, no error
    assert counts["tool_calls.subagent"] == 2


def test_a_sub_agent_file_takes_its_type_from_the_meta_file() -> None:
    [explore], _ = parse(f"{SUBAGENTS}/agent-a4f2.jsonl", "Explore")
    assert explore["labels"]["tags"] == ["agent:Explore", "claude_code", "subagent"]
    assert explore["meta"]["agent_id"] == "a4f2"
    assert explore["meta"]["session_id"] == SESSION  # the parent's: with agent_id, the link
    assert [m["role"] for m in explore["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert explore["messages"][0]["content"] == "Find where retries are implemented."
    [untyped], counts = parse(f"{SUBAGENTS}/agent-a4f2.jsonl")
    assert untyped["labels"]["tags"] == ["claude_code", "subagent"]
    assert untyped["meta"]["agent_id"] == "a4f2"
    assert counts["skipped.progress"] == 1  # a hook's progress inside the sub-agent


def test_a_record_with_several_results_links_none_of_them() -> None:
    """Which call a record's one `toolUseResult` belongs to is known only when it answers one."""

    def line(n: int, record: dict[str, Any]) -> Line:
        return Line(n, json.dumps(record).encode())

    calls = [{"type": "tool_use", "id": i, "name": "Task", "input": {}} for i in ("t1", "t2")]
    results = [{"type": "tool_result", "tool_use_id": i, "content": "done"} for i in ("t1", "t2")]
    lines = [
        line(1, {"type": "user", "message": {"content": "go"}}),
        line(2, {"type": "assistant", "message": {"id": "m1", "content": calls}}),
        line(
            3, {"type": "user", "message": {"content": results}, "toolUseResult": {"agentId": "z"}}
        ),
        line(4, {"type": "assistant", "message": {"id": "m2", "content": "both done"}}),
    ]
    [conversation] = parse_transcript(lines, "f", SessionParams()).conversations
    assert conversation.meta.subagents is None
    one = [*lines[:2], line(3, {"type": "user", "message": {"content": results[:1]}})]
    one.append(
        line(
            4,
            {
                "type": "user",
                "message": {"content": results[1:]},
                "toolUseResult": {"agentId": "z"},
            },
        )
    )
    one.append(line(5, {"type": "assistant", "message": {"id": "m2", "content": "both done"}}))
    [conversation] = parse_transcript(one, "f", SessionParams()).conversations
    assert conversation.meta.subagents == {"t2": "z"}


@pytest.fixture
def projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture copied as `in/`, with what a real folder also holds: a link that loops back,
    a link in a loop of links, a broken link, and a project linked in from elsewhere."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURE, tmp_path / "in")
    (tmp_path / "in" / PROJECT / "back").symlink_to("..")
    (tmp_path / "in" / "self.jsonl").symlink_to("self.jsonl")
    (tmp_path / "in" / "gone.jsonl").symlink_to("moved-away.jsonl")
    elsewhere = tmp_path / "disk2" / "-home-ann-other"
    elsewhere.mkdir(parents=True)
    shutil.copy(FIXTURE / PARENT, elsewhere / "s2.jsonl")
    (tmp_path / "in" / "-home-ann-other").symlink_to(elsewhere)
    return tmp_path / "in"


def run(*args: str, exit_code: int = 0) -> Result:
    result = CliRunner().invoke(
        main, ["--input", "in", "--out-dir", "out", "--jobs", "1", *args], catch_exceptions=False
    )
    assert result.exit_code == exit_code, result.output
    return result


def stats() -> dict[str, Any]:
    return json.loads((OUT / "stats.json").read_text())


def conversations() -> list[dict[str, Any]]:
    return [json.loads(x) for p in part_files(OUT / "conversations") for x in p.open()]


def test_the_stage_names_every_path_it_passes_over(projects: Path) -> None:
    result = run()
    assert [line for line in result.stderr.splitlines() if "passed over" in line] == [
        "ingest_sessions: passed over links that loop or lead to a folder already read: 2 "
        f"(in/{PROJECT}/back, in/self.jsonl)",
        "ingest_sessions: passed over files whose names do not match *.jsonl: 1 (in/README.md)",
        "ingest_sessions: passed over files or folders that cannot be read (no permission, or a "
        "broken link): 1 (in/gone.jsonl)",
    ]
    assert "skipped records of types no reader knows: x-future-record (2)" in result.stderr
    counted = stats()
    assert counted["skipped_files"] == {"not_matching": 1, "symlink_loop": 2, "unreadable": 1}
    assert counted["subagent_meta"] == {"invalid": 0, "read": 2}
    assert counted["unknown_types"] == {"x-future-record": 2}
    assert counted["files"] == {
        "total": 4,
        "claude_code": 4,
        "codex": 0,
        "unrecognised": 0,
        "empty": 0,
    }
    # a part is named by its input's path, with the home folder's user name replaced
    assert sorted(p.name for p in part_files(OUT / "conversations")) == sorted(
        part_name(private_path(path))
        for path in (
            "-home-ann-other/s2.jsonl",  # a linked project folder is read
            f"{PROJECT}/{SESSION}/subagents/agent-a4f2.jsonl",
            f"{PROJECT}/{SESSION}/subagents/agent-b7c9.jsonl",
            f"{PROJECT}/{SESSION}.jsonl",
        )
    )
    assert not [p for p in part_files(OUT / "conversations") if "ann" in p.name]
    by_agent = {c["meta"].get("agent_id"): c for c in conversations()}
    assert by_agent["a4f2"]["labels"]["tags"] == ["agent:Explore", "claude_code", "subagent"]
    assert by_agent["b7c9"]["labels"]["tags"] == [
        "agent:general-purpose",
        "claude_code",
        "subagent",
    ]
    # meta.file holds the project folder with its user name replaced, as every record does
    recorded = f"in/-home-[REDACTED:home_user]-proj/{SESSION}.jsonl"
    parent = next(c for c in conversations() if c["meta"]["file"] == recorded)
    assert {by_agent[a]["meta"]["session_id"] for a in parent["meta"]["subagents"].values()} == {
        parent["meta"]["session_id"]
    }


def test_a_meta_file_that_cannot_be_read_is_named_and_its_transcript_still_parsed(
    projects: Path,
) -> None:
    (projects / SUBAGENTS / "agent-b7c9.meta.json").write_text('{"agentType": ')
    result = run()
    assert (
        "could not read sub-agent .meta.json files (their agent type is not tagged): 1 "
        f"(in/{SUBAGENTS}/agent-b7c9.meta.json)"
    ) in result.stderr
    assert stats()["subagent_meta"] == {"invalid": 1, "read": 1}
    assert stats()["skipped_files"]["not_matching"] == 1  # still only README.md
    [b7c9] = [c for c in conversations() if c["meta"].get("agent_id") == "b7c9"]
    assert b7c9["labels"]["tags"] == ["claude_code", "subagent"]


def test_a_changed_meta_file_parses_its_transcript_again(projects: Path) -> None:
    run()
    (projects / SUBAGENTS / "agent-a4f2.meta.json").write_text('{"agentType": "Plan"}')
    result = run()
    assert "parsed 1 files, kept 3 parts" in result.stderr
    [a4f2] = [c for c in conversations() if c["meta"].get("agent_id") == "a4f2"]
    assert a4f2["labels"]["tags"] == ["agent:Plan", "claude_code", "subagent"]


def test_only_the_results_of_tools_that_start_sub_agents_are_read() -> None:
    def line(n: int, record: dict[str, Any]) -> Line:
        return Line(n, json.dumps(record).encode())

    call = {"type": "tool_use", "id": "r1", "name": "Read", "input": {"file_path": "a.json"}}
    result = {"type": "tool_result", "tool_use_id": "r1", "content": '{"agentId": "z"}'}
    lines = [
        line(1, {"type": "user", "message": {"content": "read a.json"}}),
        line(2, {"type": "assistant", "message": {"id": "m1", "content": [call]}}),
        line(
            3, {"type": "user", "message": {"content": [result]}, "toolUseResult": {"agentId": "z"}}
        ),
        line(4, {"type": "assistant", "message": {"id": "m2", "content": "It names agent z."}}),
    ]
    [conversation] = parse_transcript(lines, "f", SessionParams()).conversations
    assert conversation.meta.subagents is None
