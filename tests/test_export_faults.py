"""A failed or killed export leaves the previous dataset whole; temp files of dead runs go."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from stages.common.atomic import replay
from stages.common.stats import json_bytes
from stages.export import main
from tests.conftest import REPO
from tests.records import conversation, lone_negative, single_turn, write_conversations

RECORDS = [conversation("a", rating=5), conversation("b", calls=2), lone_negative("x")]
ARGS = ["--curated-dir", "cur", "--curate-stats", "cur/stats.json", "--out-dir", "exp"]


def curated(workdir: Path, copies: int = 1, text: str = "answer?") -> None:
    cur = workdir / "cur"
    write_conversations(cur / "train.jsonl", [*RECORDS, single_turn(text)] * copies)
    write_conversations(cur / "validation.jsonl", [conversation("c")] * copies)
    (cur / "stats.json").write_bytes(json_bytes({"read": 5 * copies}))


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file below the export folder, hidden ones included, by relative path."""
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*ARGS, *args])
    return result.exit_code, result.output


def test_a_failed_export_leaves_the_previous_dataset(workdir: Path) -> None:
    curated(workdir)
    assert export()[0] == 0
    before = snapshot(workdir / "exp")
    assert "records.metadata.jsonl" in before and "formats/openai/train.jsonl" in before
    with (workdir / "cur" / "validation.jsonl").open("a") as handle:
        handle.write('{"not": "a conversation"}\n')
    code, output = export("--system-prompt", "Be brief.")  # train is exported, then this
    assert code == 1 and "not a Conversation record" in output
    assert snapshot(workdir / "exp") == before


def test_temp_files_of_a_dead_run_are_swept(workdir: Path) -> None:
    curated(workdir)
    assert export()[0] == 0
    out = workdir / "exp"
    leftovers = [
        out / ".rejects.jsonl.k2j4h5g6.tmp",
        out / "formats" / "openai" / ".train.jsonl.a1b2c3d4.tmp",
        out / ".formats.x9y8z7w6.tmp" / "openai" / "train.jsonl",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half")
    assert export()[0] == 0
    assert not [p for p in snapshot(out) if "/." in f"/{p}"]


EXPORT = [sys.executable, "-m", "stages.export", *ARGS, "--system-prompt", "Be brief."]


def test_an_export_killed_at_any_point_leaves_the_previous_or_the_new_dataset(
    workdir: Path,
) -> None:
    curated(workdir, copies=300)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(EXPORT[:-2], cwd=workdir, env=env, check=True, capture_output=True)
    previous = snapshot(workdir / "exp")
    started = time.monotonic()
    subprocess.run(EXPORT, cwd=workdir, env=env, check=True, capture_output=True)
    took = time.monotonic() - started
    new = snapshot(workdir / "exp")
    assert new != previous
    subprocess.run(EXPORT[:-2], cwd=workdir, env=env, check=True, capture_output=True)
    assert snapshot(workdir / "exp") == previous
    delays = random.Random(14).sample(range(5, 100), 5)
    for percent in delays:
        run = subprocess.Popen(EXPORT, cwd=workdir, env=env, stderr=subprocess.DEVNULL)
        time.sleep(took * percent / 100)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        replay(workdir / "exp")  # what the next run does first, after a kill while renaming
        left = {p: b for p, b in snapshot(workdir / "exp").items() if "/." not in f"/{p}"}
        assert left in (previous, new), f"killed at {percent}%"
        if left == new:  # the kill came after the commit: start again from the previous
            subprocess.run(EXPORT[:-2], cwd=workdir, env=env, check=True, capture_output=True)
    subprocess.run(EXPORT, cwd=workdir, env=env, check=True, capture_output=True)
    assert snapshot(workdir / "exp") == new  # no temp file of the killed runs is left
