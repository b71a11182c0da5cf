"""ingest_sessions through click: the parts folder, rejects, stats, params, incremental runs."""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stages.common import ingestion
from stages.common.jsonl import part_files
from stages.common.parts import Parsed
from stages.ingest import command

main = command("sessions")

FIXTURES = Path(__file__).parent / "fixtures" / "sessions"
OUT = Path("data/ingested/sessions")
PARTS = OUT / "conversations"


@pytest.fixture
def transcripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Claude Code fixture transcripts copied into a fresh working directory, as `in/`."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES, tmp_path / "in", ignore=shutil.ignore_patterns("codex"))
    return tmp_path / "in"


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files actually parsed (not served from the cache) during a test."""
    seen: list[str] = []
    real = ingestion.parse_file_part

    def spy(item: tuple[ingestion.FileTask, Path]) -> Parsed:
        seen.append(item[0].file.file)
        return real(item)

    monkeypatch.setattr(ingestion, "parse_file_part", spy)
    return seen


def run(*args: str, exit_code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--input", "in", "--jobs", "1", *args])
    assert result.exit_code == exit_code, result.output
    return result


def records(name: str) -> list[dict[str, Any]]:
    """A file's records, or for `conversations` the records of its parts in order."""
    files = part_files(PARTS) if name == "conversations" else [OUT / name]
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def test_folder_of_transcripts_gives_conversations_rejects_and_stats(transcripts: Path) -> None:
    run()
    conversations = records("conversations")
    assert [(c["meta"]["file"], c["meta"]["line"]) for c in conversations] == [
        ("in/basic.jsonl", 2),
        ("in/interleaved.jsonl", 1),
        ("in/s-side/subagents/agent-x3.jsonl", 1),
        ("in/sidechain_inline.jsonl", 1),
        ("in/sidechain_inline.jsonl", 4),
        ("in/sidechain_inline.jsonl", 5),
        ("in/traps.jsonl", 4),
    ]
    assert all(c["source"] == "sessions" for c in conversations)
    assert [(r["file"], r["line"], r["reason"]) for r in records("rejects.jsonl")] == [
        ("in/traps.jsonl", 10, "invalid_json"),
        ("in/traps.jsonl", 14, "wrong_type"),
        ("in/traps.jsonl", 15, "missing_field"),
        ("in/traps.jsonl", 21, "truncated_line"),
    ]
    stats = json.loads((OUT / "stats.json").read_text())
    assert stats["files"] == {
        "total": 5,
        "claude_code": 5,
        "codex": 0,
        "unrecognised": 0,
        "empty": 0,
    }
    assert stats["conversations"] == 7
    assert stats["read"] == 17 + 21 + 8 + 14 + 6
    assert stats["rejected"] == {
        "invalid_json": 1,
        "invalid_utf8": 0,
        "line_too_long": 0,
        "missing_field": 1,
        "nested_too_deep": 0,
        "truncated_line": 1,
        "unrecognised_format": 0,
        "wrong_type": 1,
    }
    assert stats["tool_calls"] == {
        "arguments_not_object": 0,
        "filtered": 0,
        "paired": 3 + 1 + 2 + 4 + 2,
        "subagent": 2,  # the Task calls of sidechain_inline.jsonl
        "unanswered": 1,
    }
    assert stats["tool_results"]["orphan"] == 1


def test_options_reach_the_parser(transcripts: Path) -> None:
    run("--split", "turn", "--include-tools", "mcp__*", "--thinking", "keep")
    basic = [c for c in records("conversations") if c["meta"]["file"] == "in/basic.jsonl"]
    assert len(basic) == 2
    assert basic[0]["messages"][1]["content"].startswith("<think>\nI should read")
    assert [t["function"]["name"] for t in basic[0]["tools"]] == ["mcp__code-search__find"]


def test_params_yaml_sets_defaults_and_the_command_line_wins(transcripts: Path) -> None:
    Path("params.yaml").write_text(
        "ingest_sessions:\n  split: turn\n  exclude_tools: [Read, 'mcp__*']\n"
    )
    run()
    first = records("conversations")[0]
    assert first["meta"]["file"] == "in/basic.jsonl"
    assert [t["function"]["name"] for t in first["tools"]] == ["Bash"]
    assert len(records("conversations")) == 2 + 1 + 1 + 3 + 3
    run("--split", "whole")
    assert len(records("conversations")) == 7


def test_unknown_param_in_params_yaml_is_a_clear_error(transcripts: Path) -> None:
    Path("params.yaml").write_text("ingest_sessions:\n  splitt: turn\n")
    result = run(exit_code=1)
    assert "ingest_sessions.splitt is not a parameter of this stage" in result.output


def test_strict_stops_at_the_first_bad_line(transcripts: Path) -> None:
    result = run("--strict", exit_code=1)
    assert "in/traps.jsonl:10: invalid_json" in result.output


def stamps() -> dict[str, tuple[int, int]]:
    """Each part's inode and mtime: a part rewritten or replaced changes one of them."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in part_files(PARTS)}


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_one_part_per_transcript_named_by_its_path(transcripts: Path) -> None:
    run()
    assert sorted(p.name for p in PARTS.iterdir()) == [
        "basic.jsonl",
        "index.json",
        "interleaved.jsonl",
        "s-side%2Fsubagents%2Fagent-x3.jsonl",
        "sidechain_inline.jsonl",
        "traps.jsonl",
    ]
    sub = [json.loads(line) for line in (PARTS / "s-side%2Fsubagents%2Fagent-x3.jsonl").open()]
    assert [c["meta"]["file"] for c in sub] == ["in/s-side/subagents/agent-x3.jsonl"]
    index = json.loads((PARTS / "index.json").read_text())["parts"]
    assert index["traps.jsonl"]["count"] == 1
    assert [r["line"] for r in index["traps.jsonl"]["rejects"]] == [10, 14, 15, 21]
    assert index["basic.jsonl"]["size"] == (PARTS / "basic.jsonl").stat().st_size


def test_adding_a_file_writes_only_its_part_and_matches_a_cold_run(
    transcripts: Path, parsed: list[str]
) -> None:
    held = transcripts.parent / "held.jsonl"
    shutil.move(transcripts / "interleaved.jsonl", held)
    run()
    assert len(parsed) == 4
    before = stamps()
    assert "interleaved.jsonl" not in before
    parsed.clear()
    shutil.move(held, transcripts / "interleaved.jsonl")
    run()
    assert parsed == ["in/interleaved.jsonl"]
    after = stamps()
    assert set(after) == {*before, "interleaved.jsonl"}
    assert {name: after[name] for name in before} == before
    warm = folder_bytes(PARTS)
    warm_rejects = (OUT / "rejects.jsonl").read_bytes()
    warm_stats = (OUT / "stats.json").read_bytes()
    parsed.clear()
    run("--no-cache", "--out-dir", "cold")
    assert len(parsed) == 5
    assert folder_bytes(Path("cold/conversations")) == warm
    assert (Path("cold/rejects.jsonl")).read_bytes() == warm_rejects
    assert (Path("cold/stats.json")).read_bytes() == warm_stats
    joined = b"".join(part.read_bytes() for part in part_files("cold/conversations"))
    assert joined.count(b"\n") == 7


def test_removed_transcript_removes_its_part_only(transcripts: Path, parsed: list[str]) -> None:
    run()
    before = stamps()
    parsed.clear()
    (transcripts / "traps.jsonl").unlink()
    run()
    assert parsed == []
    after = stamps()
    assert set(after) == set(before) - {"traps.jsonl"}
    assert after == {name: before[name] for name in after}
    assert records("rejects.jsonl") == []
    stats = json.loads((OUT / "stats.json").read_text())
    assert (stats["files"]["total"], stats["conversations"]) == (4, 6)
    assert "traps.jsonl" not in json.loads((PARTS / "index.json").read_text())["parts"]


def test_changed_content_or_params_parse_again(transcripts: Path, parsed: list[str]) -> None:
    run()
    parsed.clear()
    run()
    assert parsed == []
    basic = transcripts / "basic.jsonl"
    basic.write_bytes(basic.read_bytes().replace(b"Run the tests.", b"Run all tests."))
    before = stamps()
    run()
    assert parsed == ["in/basic.jsonl"]
    assert "Run all tests." in (PARTS / "basic.jsonl").read_text()
    after = stamps()
    assert after["basic.jsonl"] != before["basic.jsonl"]
    assert {n: after[n] for n in before if n != "basic.jsonl"} == {
        n: before[n] for n in before if n != "basic.jsonl"
    }
    parsed.clear()
    run("--split", "turn")
    assert len(parsed) == 5
    assert len(records("conversations")) == 2 + 1 + 1 + 3 + 3
    assert all(stamps()[n] != after[n] for n in after)


def test_touched_file_or_lost_hash_memo_is_hashed_again_not_parsed(
    transcripts: Path, parsed: list[str]
) -> None:
    """Like a fresh clone that pulled the parts: same content, no memo, new stats."""
    run()
    cold = folder_bytes(PARTS)
    parsed.clear()
    basic = transcripts / "basic.jsonl"
    os.utime(basic, ns=(basic.stat().st_atime_ns, basic.stat().st_mtime_ns + 10**9))
    shutil.rmtree("data/cache/ingest_sessions")
    run()
    assert parsed == []
    assert folder_bytes(PARTS) == cold


def test_damaged_part_or_index_is_parsed_again(transcripts: Path, parsed: list[str]) -> None:
    run()
    cold = folder_bytes(PARTS)
    (PARTS / "basic.jsonl").write_bytes(cold["basic.jsonl"][:-10])  # cut short: sizes disagree
    (PARTS / "traps.jsonl").unlink()
    parsed.clear()
    run()
    assert sorted(parsed) == ["in/basic.jsonl", "in/traps.jsonl"]
    assert folder_bytes(PARTS) == cold
    (PARTS / "index.json").write_bytes(b"\x00garbage")
    parsed.clear()
    run()
    assert len(parsed) == 5
    assert folder_bytes(PARTS) == cold


def test_stray_parts_and_temp_files_are_removed(transcripts: Path) -> None:
    run()
    (PARTS / "gone.jsonl").write_text("{}\n")
    (PARTS / ".basic.jsonl.x1.tmp").write_text("half")
    run()
    assert "gone.jsonl" not in folder_bytes(PARTS)
    assert ".basic.jsonl.x1.tmp" not in folder_bytes(PARTS)


def test_output_is_the_same_for_any_number_of_jobs(transcripts: Path) -> None:
    run("--no-cache")
    one = folder_bytes(PARTS)
    run("--no-cache", "--jobs", "2")
    assert folder_bytes(PARTS) == one


def test_missing_input_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(exit_code=1)
    assert "in: no such file or folder" in result.output


def test_help_documents_every_option() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for option in ["--split", "--thinking", "--include-tools", "--exclude-tools", "--cache-dir"]:
        assert option in result.output
    assert "Example:\n    python -m stages.ingest sessions" in result.output


def test_bundled_samples_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples = Path(__file__).resolve().parent.parent / "data" / "samples" / "sessions"
    monkeypatch.chdir(tmp_path)
    shutil.copytree(samples, tmp_path / "in")
    run("--split", "turn")
    conversations = records("conversations")
    assert len(conversations) == 2 + 3 + 1 + 3 + 1 + 1  # the last: a Codex rollout
    assert sum("subagent" in c["labels"].get("tags", []) for c in conversations) == 3
    assert len(records("rejects.jsonl")) == 4
