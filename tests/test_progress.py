"""Progress on stderr: a heartbeat line in a log, a bar with a rate on a terminal, nothing on
stdout or in the outputs; an LLM stage logs no per-request HTTP line."""

import io
import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from stages import (
    collect_discord,
    curate,
    enrich,
    export,
    inject_tools,
    moderate,
    segment,
    validate,
)
from stages.common import progress
from stages.common.progress import Progress
from stages.ingest import command
from tests.conftest import REPO
from tests.emulators.openai_api import openai_emulator as openai_emulator
from tests.records import conversation, write_conversations


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_heartbeat_comes_once_an_interval_with_amount_rate_and_eta(caplog):
    clock = Clock()
    bar = Progress("parse", total=1000, unit="records", tty=False, interval=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="logtune"):
        for _ in range(4):
            clock.now += 4
            bar.update(100)
    # updates at 4, 8, 12, 16 s: the interval has passed at 12 s only (the next is due at 22)
    assert caplog.messages == [
        "parse: 300 records of 1.00k records (30%), 25.0 records/s, 00:28 left"
    ]


def test_bytes_without_a_total_show_amount_and_rate_only():
    bar = Progress("read", unit="B", tty=False, clock=Clock())
    bar.update(3 * 1024 * 1024)
    assert bar.heartbeat(2.0) == "read: 3.00MB, 1.50MB/s"


def test_a_disabled_progress_says_nothing(caplog):
    clock = Clock()
    bar = Progress("llm", total=5, tty=False, interval=0, clock=clock, enabled=False)
    with caplog.at_level(logging.INFO, logger="logtune"):
        clock.now += 1
        bar.update()
    assert caplog.messages == []


def test_on_a_terminal_a_bar_shows_the_rate_and_no_heartbeat(caplog):
    stream = io.StringIO()
    with (
        caplog.at_level(logging.INFO, logger="logtune"),
        Progress("parse", total=4096, unit="B", tty=True, interval=0, stream=stream) as bar,
    ):
        bar.update(2048)
    assert "parse:  50%" in stream.getvalue()
    assert "B/s" in stream.getvalue()
    assert caplog.messages == []


def samples(workdir: Path) -> None:
    """The bundled samples, and conversations for the stages after ingestion."""
    shutil.copytree(REPO / "data/samples", workdir / "samples")
    convs = [conversation(f"fish {i}", rating=5, line=i) for i in range(30)]
    write_conversations(workdir / "convs.jsonl", convs)
    (workdir / "annotations.yaml").write_text("{}\n")
    args = ["--exports", "samples/discord", "--out-dir", "collected"]
    assert CliRunner().invoke(collect_discord.main, args).exit_code == 0


CATALOG = "samples/tools/discord_catalog.json"
STAGES = {
    "ingest_toollog": (command("toollog"), ["--input", "samples/toollog"], "parse"),
    "ingest_botlog": (command("botlog"), ["--input", "samples/botlog", "--no-cache"], "parse"),
    "ingest_sessions": (
        command("sessions"),
        ["--input", "samples/sessions", "--no-cache", "--jobs", "1"],
        "parse",
    ),
    "ingest_journals": (command("journals"), ["--input", "samples/journals"], "parse"),
    "segment": (segment.main, ["--input", "collected/channels", "--no-cache"], "channels"),
    "inject_tools": (inject_tools.main, ["--input", "convs.jsonl", "--catalog", CATALOG], "read"),
    "enrich": (enrich.main, ["convs.jsonl", "--annotations", "annotations.yaml"], "read"),
    "moderate": (moderate.main, ["convs.jsonl"], "read"),
    "curate": (curate.main, ["convs.jsonl"], "pass 2 of 2"),
}


def run_stage(workdir: Path, name: str, out: str):
    command, args, _ = STAGES[name]
    result = CliRunner().invoke(command, [*args, "--out-dir", out], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.jsonl"))}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_long_run_shows_a_heartbeat_in_a_log_and_the_same_outputs(workdir, monkeypatch, name):
    samples(workdir)
    quiet = run_stage(workdir, name, "quiet")
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.0)  # every update is "long enough"
    beating = run_stage(workdir, name, "beating")
    desc = STAGES[name][2]
    assert f"{name}: {desc}: " not in quiet.stderr
    beats = [line for line in beating.stderr.splitlines() if line.startswith(f"{name}: {desc}: ")]
    assert beats, beating.stderr
    assert "/s" in beats[-1]
    assert quiet.stdout == beating.stdout
    assert folder_bytes(workdir / "quiet") == folder_bytes(workdir / "beating")


def test_export_and_validate_show_a_heartbeat(workdir, monkeypatch):
    samples(workdir)
    run_stage(workdir, "curate", "curated")
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.0)
    result = CliRunner().invoke(
        export.main,
        ["--curated-dir", "curated", "--curate-stats", "curated/stats.json", "--out-dir", "ex"],
    )
    assert result.exit_code == 0, result.output
    assert "export: read: " in result.stderr
    result = CliRunner().invoke(validate.main, ["--export-dir", "ex", "--out-dir", "va"])
    assert result.exit_code == 0, result.output
    assert "validate: check: " in result.stderr


def test_on_a_terminal_a_stage_shows_a_bar_with_a_rate(workdir, monkeypatch):
    samples(workdir)
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    result = run_stage(workdir, "ingest_toollog", "out")
    assert "\rparse: 100%" in result.stderr
    assert "B/s]" in result.stderr
    assert result.stdout == ""


def test_an_llm_stage_logs_no_http_request_lines(workdir, openai_emulator, monkeypatch):
    """The openai client's HTTP stack (httpx2 here) logs each request at INFO; not ours."""
    monkeypatch.setenv("LOGTUNE_TEST_OPENAI_KEY", "sk-test-secret-0123456789")
    openai_emulator.chat_responder = lambda body: {"content": json.dumps({"flagged": False})}
    write_conversations(workdir / "convs.jsonl", [conversation(f"fish {i}") for i in range(3)])
    settings = [
        "provider=openai",
        f"base_url={openai_emulator.base_url}",
        "api_key_env=LOGTUNE_TEST_OPENAI_KEY",
        "max_attempts=1",
    ]
    args = [arg for item in settings for arg in ("--llm", item)]
    result = CliRunner().invoke(
        moderate.main, ["convs.jsonl", *args, "--out-dir", "out", "--cache-dir", "cache"]
    )
    assert result.exit_code == 0, result.output
    stats = json.loads((workdir / "out/stats.json").read_text())
    assert stats["llm"]["requests"] >= 1  # requests were made, so each could have logged a line
    assert "HTTP Request" not in result.stderr
