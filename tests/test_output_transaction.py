"""A stage's outputs change together: a run killed while renaming them in is finished by the
next one (the journal), never left as new conversations beside old stats."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from stages.common import atomic
from stages.common.atomic import journal_path, replay
from stages.ingest import command
from tests.conftest import write_lines
from tests.test_export_faults import snapshot
from tests.test_input_faults import toollog_line

ingest_toollog = command("toollog")


def ingest(out: str) -> int:
    args = ["--input", "logs", "--out-dir", out, "--jobs", "1"]
    return CliRunner().invoke(ingest_toollog, args).exit_code


def test_a_kill_between_two_renames_is_finished_by_the_next_run(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lines(workdir / "logs" / "day.jsonl", [toollog_line()])
    assert ingest("out") == 0
    previous = snapshot(workdir / "out")
    write_lines(workdir / "logs" / "day.jsonl", [toollog_line(), "not json", toollog_line()])
    assert ingest("ref") == 0
    new = snapshot(workdir / "ref")
    real_move = atomic._move
    done: list[atomic.Move] = []

    def killed_after_one(move: atomic.Move) -> None:
        if done:
            raise SystemExit(137)
        real_move(move)
        done.append(move)

    monkeypatch.setattr(atomic, "_move", killed_after_one)
    ingest("out")
    monkeypatch.setattr(atomic, "_move", real_move)
    mixed = snapshot(workdir / "out")
    assert mixed["stats.json"] == previous["stats.json"] and mixed != previous
    assert journal_path(workdir / "out").exists()
    replay(workdir / "out")  # the first thing the next run into the folder does
    assert {p: b for p, b in snapshot(workdir / "out").items() if not p.startswith(".")} == new
    assert not journal_path(workdir / "out").exists()
    assert ingest("out") == 0
    assert snapshot(workdir / "out") == new
