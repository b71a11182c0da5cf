"""inputs: fingerprints of each reading stage's files, and the `sources` switch."""

import json
from pathlib import Path

import pytest

from stages import inputs
from stages.ingest import command
from tests.conftest import read_jsonl, write_lines

TOOLLOG_LINE = '{"tool_name": "fish", "arguments": "{}", "status": "success", "output": "ok"}'


def params(workdir: Path, text: str) -> None:
    (workdir / "params.yaml").write_text(text)


def fingerprint(workdir: Path, stage: str) -> dict:
    return json.loads((workdir / "data/inputs" / f"{stage}.json").read_text())


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("home")  # outside the working directory
    monkeypatch.setenv("HOME", str(folder))
    return folder


def test_fingerprint_of_a_folder_under_home_names_no_machine_path(
    run, workdir: Path, home: Path
) -> None:
    write_lines(home / "logs" / "b" / "tool_calls.log", [TOOLLOG_LINE])
    write_lines(home / "logs" / "a.jsonl", [TOOLLOG_LINE, TOOLLOG_LINE])
    params(workdir, "sources: [toollog]\ningest_toollog:\n  input: ~/logs\n  catalog: null\n")
    run(inputs.main)
    written = (workdir / "data/inputs/ingest_toollog.json").read_text()
    assert str(home) not in written
    toollog = json.loads(written)
    assert toollog["enabled"] is True
    folder, catalog = toollog["inputs"]
    assert folder["param"] == "ingest_toollog.input" and folder["path"] == "~/logs"
    assert [(f["path"], f["size"]) for f in folder["files"]] == [
        ("a.jsonl", 2 * (len(TOOLLOG_LINE) + 1)),
        ("b/tool_calls.log", len(TOOLLOG_LINE) + 1),
    ]
    assert catalog == {"param": "ingest_toollog.catalog", "path": None}
    assert fingerprint(workdir, "ingest_sessions") == {
        "stage": "ingest_sessions",
        "source": "sessions",
        "enabled": False,
    }


def test_fingerprint_changes_with_content_not_with_mtime(run, workdir: Path) -> None:
    log = write_lines(workdir / "logs" / "t.jsonl", [TOOLLOG_LINE])
    params(workdir, "sources: [toollog]\ningest_toollog:\n  input: logs\n")
    run(inputs.main)
    first = fingerprint(workdir, "ingest_toollog")
    log.touch()
    run(inputs.main)
    assert fingerprint(workdir, "ingest_toollog") == first
    log.write_text(TOOLLOG_LINE.replace("fish", "cook") + "\n")
    run(inputs.main)
    changed = fingerprint(workdir, "ingest_toollog")["inputs"][0]["files"][0]
    assert changed["sha256"] != first["inputs"][0]["files"][0]["sha256"]


def test_link_loop_is_not_followed(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "t.jsonl", [TOOLLOG_LINE])
    (workdir / "logs" / "loop").symlink_to(workdir / "logs")
    params(workdir, "sources: [toollog]\ningest_toollog:\n  input: logs\n")
    run(inputs.main)
    files = fingerprint(workdir, "ingest_toollog")["inputs"][0]["files"]
    assert [f["path"] for f in files] == ["t.jsonl"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources: [toollog]\ningest_toollog:\n  input: ~/nowhere\n",
            "`ingest_toollog.input` is ~/nowhere, which does not exist: fix the path, "
            "or leave its source out of `sources`",
        ),
        ("sources: [toollog, slack]\n", "`sources` names slack; known sources: botlog, discord,"),
        ("sources: {toollog: 1}\n", "`sources` must be a list of source names"),
        ("sources: [toollog]\ningest_toollog:\n  input: 3\n", "`ingest_toollog.input` must be"),
    ],
)
def test_bad_sources_or_paths_are_one_line(
    run, workdir: Path, home: Path, text: str, message: str
) -> None:
    params(workdir, text)
    result = run(inputs.main, exit_code=1)
    assert message in result.output and "Traceback" not in result.output


def test_a_source_left_out_reads_nothing_and_writes_empty_outputs(run, workdir: Path) -> None:
    params(workdir, "sources: [journals]\ningest_toollog:\n  input: not/here\n")
    result = run(command("toollog"), "--out-dir", "out")
    assert "toollog is not in `sources`: nothing is read" in result.output
    assert read_jsonl(workdir / "out" / "conversations") == []
    assert json.loads((workdir / "out" / "stats.json").read_text())["files"]["total"] == 0


def test_an_enabled_source_reads_its_input_under_home(run, workdir: Path, home: Path) -> None:
    (home / "notes").mkdir()
    journal = Path(__file__).parent.parent / "data/samples/journals/bot-lessons.md"
    (home / "notes" / "j.md").write_bytes(journal.read_bytes())
    params(workdir, "sources: [journals]\ningest_journals:\n  input: ~/notes\n")
    run(command("journals"), "--out-dir", "out")
    records = read_jsonl(workdir / "out" / "conversations")
    assert records and {r["meta"]["file"] for r in records} == {"notes/j.md"}
    assert all(str(home) not in p.read_text() for p in (workdir / "out").rglob("*.json*"))
