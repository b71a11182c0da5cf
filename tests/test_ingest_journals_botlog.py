"""ingest_journals and ingest_botlog through their command lines, on the fixtures."""

import json
import shutil
from pathlib import Path

from stages.common import filecache, ingestion
from stages.common.jsonl import read_records
from stages.ingest import command
from tests.conftest import read_jsonl

ingest_botlog = command("botlog")
ingest_journals = command("journals")

FIXTURES = Path(__file__).parent / "fixtures"


def test_journals_stage_writes_examples_rejects_and_stats(run, workdir: Path) -> None:
    shutil.copytree(FIXTURES / "journals", workdir / "notes")
    run(ingest_journals, "--input", "notes", "--out-dir", "out")
    conversations = read_jsonl(workdir / "out" / "conversations")
    rejects = read_jsonl(workdir / "out" / "rejects.jsonl")
    stats = json.loads((workdir / "out" / "stats.json").read_text())
    # per fixture: anti 6, chains 5, code_pairs 4, commands 5, invalid_utf8 2, odd 1
    assert stats["conversations"] == len(conversations) == 23
    assert stats["examples"] == {
        "code_correction": 5,
        "direct_execution": 5,
        "negative": 5,
        "reasoning_chain": 8,
    }
    assert stats["files"]["total"] == 7
    assert stats["read"] == 256  # `wc -l` of the seven fixtures
    # rejects: chains 2, code_pairs 1, commands 4, odd 3, invalid_utf8 1, empty 1
    assert sum(stats["rejected"].values()) == len(rejects) == 12
    assert stats["rejected"]["empty_file"] == 1
    assert stats["rejected"]["intro_text"] == 0
    assert {r["file"] for r in rejects} >= {"notes/empty.md", "notes/odd.md"}
    assert conversations[0]["meta"]["file"] == "notes/anti.md"


def test_journals_stage_strict_stops_at_the_first_reject(run, workdir: Path) -> None:
    shutil.copytree(FIXTURES / "journals", workdir / "notes")
    result = run(ingest_journals, "--input", "notes", "--out-dir", "out", "--strict", exit_code=1)
    assert "notes/chains.md:48: chain_missing_fix" in result.output
    assert not (workdir / "out" / "stats.json").exists()


def test_journals_stage_reads_its_params(run, workdir: Path) -> None:
    shutil.copytree(FIXTURES / "journals", workdir / "notes")
    (workdir / "params.yaml").write_text("ingest_journals:\n  input: notes/commands.md\n")
    run(ingest_journals, "--out-dir", "out")
    assert len(read_jsonl(workdir / "out" / "conversations")) == 5


def test_botlog_stage_and_status(run, workdir: Path) -> None:
    shutil.copytree(FIXTURES / "botlog", workdir / "logs")
    run(ingest_botlog, "--input", "logs", "--out-dir", "out")
    out = workdir / "out"
    conversations = list(read_records(out / "conversations", dict))
    assert [(c["meta"]["file"], c["meta"]["line"]) for c in conversations] == [
        *(("logs/conversations_2024-06-01.jsonl", n) for n in (1, 2, 3, 4, 5, 16)),
        ("logs/conversations_2024-06-02.jsonl", 1),
    ]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejected"]["truncated_line"] == 1
    assert sum(stats["rejected"].values()) == len(read_jsonl(out / "rejects.jsonl")) == 10
    assert (stats["read"], stats["blank_lines"]) == (18, 1)

    (workdir / "logs" / "conversations_2024-06-03.jsonl").write_text("")
    with (workdir / "logs" / "conversations_2024-06-02.jsonl").open("a") as handle:
        handle.write("more\n")
    result = run(ingest_botlog, "--input", "logs", "--out-dir", "out", "--status")
    (workdir / "logs" / "notes.txt").write_text("not a day")
    result = run(ingest_botlog, "--input", "logs", "--out-dir", "out", "--status")
    assert result.output.splitlines() == [
        "parsed (1): logs/conversations_2024-06-01.jsonl",
        "new (1): logs/conversations_2024-06-03.jsonl",
        "changed (1): logs/conversations_2024-06-02.jsonl",
        "passed_over (1): logs/notes.txt",
    ]


def test_status_reads_no_unchanged_file_again(run, workdir: Path, monkeypatch) -> None:
    shutil.copytree(FIXTURES / "botlog", workdir / "logs")
    run(ingest_botlog, "--input", "logs", "--out-dir", "out")
    hashed: list[str] = []
    real = filecache.file_sha256

    def recording(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(filecache, "file_sha256", recording)
    monkeypatch.setattr(ingestion, "file_sha256", recording)
    with (workdir / "logs" / "conversations_2024-06-02.jsonl").open("a") as handle:
        handle.write("more\n")
    result = run(ingest_botlog, "--input", "logs", "--out-dir", "out", "--status")
    assert "changed (1): logs/conversations_2024-06-02.jsonl" in result.output
    assert hashed == ["conversations_2024-06-02.jsonl"]


def test_botlog_stage_rejects_huge_lines_by_size(run, workdir: Path) -> None:
    logs = workdir / "logs"
    logs.mkdir()
    (logs / "conversations_2024-06-09.jsonl").write_text('{"message": "' + "x" * 500 + '"}\n')
    run(ingest_botlog, "--input", "logs", "--out-dir", "out", "--max-line-bytes", "100")
    [reject] = read_jsonl(workdir / "out" / "rejects.jsonl")
    assert (reject["line"], reject["reason"]) == (1, "line_too_long")


def test_botlog_stage_needs_a_folder(run, workdir: Path) -> None:
    result = run(ingest_botlog, "--input", "missing", "--out-dir", "out", exit_code=1)
    assert "missing: no such file or folder" in result.output


def test_botlog_new_day_parses_only_that_file(run, workdir: Path, monkeypatch) -> None:
    parsed: list[str] = []
    real = ingestion.parse_file_part

    def spy(item):
        parsed.append(item[0].file.file)
        return real(item)

    monkeypatch.setattr(ingestion, "parse_file_part", spy)
    logs = workdir / "logs"
    shutil.copytree(FIXTURES / "botlog", logs)
    held = workdir / "held.jsonl"
    shutil.move(logs / "conversations_2024-06-02.jsonl", held)
    run(ingest_botlog, "--input", "logs", "--out-dir", "out", "--jobs", "1")
    assert parsed == ["logs/conversations_2024-06-01.jsonl"]
    shutil.move(held, logs / "conversations_2024-06-02.jsonl")
    parsed.clear()
    run(ingest_botlog, "--input", "logs", "--out-dir", "out", "--jobs", "1")
    assert parsed == ["logs/conversations_2024-06-02.jsonl"]
    parsed.clear()
    run(ingest_botlog, "--input", "logs", "--out-dir", "cold", "--no-cache", "--jobs", "1")
    assert len(parsed) == 2
    for name in ("rejects.jsonl", "stats.json"):
        assert (workdir / "out" / name).read_bytes() == (workdir / "cold" / name).read_bytes()
    for part in sorted((workdir / "cold" / "conversations").iterdir()):
        assert (workdir / "out" / "conversations" / part.name).read_bytes() == part.read_bytes()
    assert len(list((workdir / "out" / "conversations").iterdir())) == 3  # two days, the index
