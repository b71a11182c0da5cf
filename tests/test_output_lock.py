"""One run at a time into an output folder: a second run fails at once with one line."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from stages.common.lock import lock_path
from stages.ingest import command
from tests.conftest import REPO, read_jsonl, write_lines
from tests.test_input_faults import toollog_line

ingest_toollog = command("toollog")

HOLD = """
import sys
from stages.common.lock import output_lock

with output_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def hold_lock(out_dir: Path) -> subprocess.Popen[str]:
    """Another process holding the folder's lock until its stdin closes (or it is killed)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out_dir)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def ingest(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        ingest_toollog, ["--input", "logs", "--out-dir", "out", "--jobs", "1", *args]
    )
    return result.exit_code, result.output


def test_a_second_run_into_a_folder_in_use_fails_and_leaves_it_alone(workdir: Path) -> None:
    write_lines(workdir / "logs" / "day.jsonl", [toollog_line()])
    assert ingest()[0] == 0
    before = read_jsonl(workdir / "out" / "conversations")
    write_lines(workdir / "logs" / "day.jsonl", [toollog_line(), toollog_line()])
    holder = hold_lock(workdir / "out")
    try:
        code, output = ingest()
        assert code == 1
        assert output == (
            f"Error: out: another run (process {holder.pid}) is writing this output folder; "
            "wait for it to finish, or give another --out-dir\n"
        )
        assert read_jsonl(workdir / "out" / "conversations") == before
    finally:
        holder.communicate("")
    assert ingest()[0] == 0
    assert len(read_jsonl(workdir / "out" / "conversations")) == 2


def test_the_lock_is_one_per_folder_whatever_the_spelling(workdir: Path) -> None:
    (workdir / "sub").mkdir()
    assert lock_path("out") == lock_path("./sub/../out/") == lock_path(workdir / "out")
    assert lock_path("out") != lock_path("sub/out") and workdir not in lock_path("out").parents
    holder = hold_lock(workdir / "sub" / ".." / "out")
    try:
        write_lines(workdir / "logs" / "day.jsonl", [toollog_line()])
        assert ingest()[0] == 1
        assert ingest("--out-dir", "other")[0] == 0  # another folder is free
    finally:
        holder.communicate("")


def test_a_killed_holder_leaves_the_folder_free(workdir: Path) -> None:
    holder = hold_lock(workdir / "out")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    write_lines(workdir / "logs" / "day.jsonl", [toollog_line()])
    assert ingest()[0] == 0
