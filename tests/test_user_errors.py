"""Every user error a stage can meet is one `Error:` line and exit status 1 or 2, never a
traceback; a secret pasted where a variable NAME belongs is never shown, not even in part."""

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from stages import (
    collect_discord,
    curate,
    discord_emojis,
    enrich,
    export,
    inject_tools,
    moderate,
    segment,
    validate,
)
from stages.ingest import command
from tests.conftest import REPO
from tests.records import conversation, write_conversations

SECRET = "sk-proj-Zq8vN3xK5mW2pL7rT9yB4cD6fG1hJ0aE"
DISCORD_SECRET = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbcde.abcdefghijklmnopqrstuvwxyz12345"

COMMANDS = {
    "collect_discord": collect_discord.main,
    "curate": curate.main,
    "discord_emojis": discord_emojis.main,
    "enrich": enrich.main,
    "export": export.main,
    "ingest_botlog": command("botlog"),
    "ingest_journals": command("journals"),
    "ingest_sessions": command("sessions"),
    "ingest_toollog": command("toollog"),
    "inject_tools": inject_tools.main,
    "moderate": moderate.main,
    "segment": segment.main,
    "validate": validate.main,
}

OPENAI = ("--llm", "provider=openai")
CATALOG = ("--catalog", "catalog.json")

# (stage, arguments, what the message must name); files are made by the `inputs` fixture:
# `file` a plain file, `convs.jsonl` conversations, `stats.json` a stage's stats.
CASES = [
    ("ingest_botlog", ["--input", "logs/bot", "--status"], "logs/bot: no such file or folder"),
    ("ingest_botlog", ["--input", "botlog", "--out-dir", "file/o"], "file/o/conversations"),
    ("ingest_toollog", ["--input", "nope", "--out-dir", "o"], "nope: no such file or folder"),
    ("ingest_toollog", ["--input", "raw.jsonl", "--out-dir", "file/o"], "'--out-dir'"),
    ("ingest_toollog", ["--input", "raw.jsonl", "--catalog", "bad.json"], "bad.json"),
    ("ingest_toollog", ["--input", "raw.jsonl", "--catalog", "nope.json"], "nope.json"),
    ("ingest_sessions", ["--input", "nope", "--out-dir", "o"], "nope: no such file"),
    ("ingest_sessions", ["--input", "raw.jsonl", "--out-dir", "file/o"], "'--out-dir'"),
    ("ingest_journals", ["--input", "nope", "--out-dir", "o"], "nope: no such file"),
    ("ingest_journals", ["--input", "journal.md", "--out-dir", "file/o"], "'--out-dir'"),
    ("collect_discord", ["--exports", "nope", "--out-dir", "o"], "nope: no such file"),
    ("collect_discord", ["--out-dir", "file/o"], "'--out-dir'"),
    ("segment", ["--input", "nope", "--out-dir", "o"], "nope: no such file"),
    ("segment", ["--input", "raw.jsonl", "--out-dir", "file/o"], "'--out-dir'"),
    ("inject_tools", ["--input", "nope", *CATALOG, "--out-dir", "o"], "nope: No such file"),
    ("inject_tools", ["--input", "convs.jsonl", "--catalog", "bad.json"], "bad.json"),
    ("inject_tools", ["--input", "convs.jsonl", *CATALOG, "--out-dir", "file/o"], "'--out-dir'"),
    ("enrich", ["raw.jsonl", "--out-dir", "o"], "raw.jsonl:1: not a Conversation record"),
    ("enrich", ["convs.jsonl", "--annotations", "nope.yaml"], "nope.yaml: no such annotations"),
    ("enrich", ["convs.jsonl", "--annotations", "bad.yaml"], "bad.yaml:2:1: not valid YAML"),
    ("enrich", ["convs.jsonl", "--annotations", "list.yaml"], "list.yaml: expected a mapping"),
    ("enrich", ["convs.jsonl", "--out-dir", "file/o"], "'--out-dir'"),
    ("enrich", ["convs.jsonl", "--params", "llm_type.yaml"], "llm_type.yaml: llm:"),
    ("enrich", ["convs.jsonl", *OPENAI, "--out-dir", "o"], "export OPENAI_API_KEY="),
    ("moderate", ["convs.jsonl", *OPENAI, "--out-dir", "o"], "export OPENAI_API_KEY="),
    ("moderate", ["file", "--out-dir", "o"], "file:1: not a Conversation record"),
    ("segment", ["--input", "channels", "--refine", *OPENAI], "export OPENAI_API_KEY="),
    ("inject_tools", ["--input", "convs.jsonl", *CATALOG, "--planner", "llm", *OPENAI], "export"),
    ("curate", ["nope.jsonl"], "'nope.jsonl' does not exist"),
    ("curate", ["file", "--out-dir", "o"], "file:1: not a Conversation record"),
    ("curate", ["convs.jsonl", "--params", "lots.yaml"], "lots.yaml: max_samples: 'lots'"),
    ("curate", ["convs.jsonl", "--params", "fraction.yaml"], "curate.validation_fraction: 2"),
    ("curate", ["convs.jsonl", "--params", "broken.yaml"], "broken.yaml:3:1: not valid YAML"),
    ("curate", ["convs.jsonl", "--out-dir", "file/o"], "'--out-dir'"),
    ("export", ["--curated-dir", "nope", "--curate-stats", "stats.json"], "'--curated-dir'"),
    ("export", ["--curate-stats", "nope.json"], "nope.json: no such stats file"),
    ("export", ["--curate-stats", "bad.json"], "bad.json: not a stats file"),
    ("export", ["--ingested", "."], "is the output of no source"),
    ("export", ["--formats", "nope"], "'nope' is not one of"),
    ("export", ["--params", "formats.yaml"], "formats.yaml: export.formats: 'nope' is not one"),
    ("validate", ["--export-dir", "nope", "--out-dir", "o"], "no exports to validate"),
    ("validate", ["--export-dir", "file", "--out-dir", "o"], "no exports to validate"),
]


@pytest.fixture
def inputs(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("DISCORD_API_TOKEN", raising=False)
    files = {
        "file": "not json\n",
        "raw.jsonl": '{"timestamp": "2024-01-01T00:00:00Z", "query": "hi"}\n',
        "journal.md": "# 2024-01-01\n",
        "bad.json": "not json",
        "bad.yaml": "a: [\n",
        "list.yaml": "- 1\n",
        "stats.json": "{}\n",
        "lots.yaml": "max_samples: lots\n",
        "fraction.yaml": "curate:\n  validation_fraction: 2\n",
        "broken.yaml": "curate:\n  seed: [\n",
        "formats.yaml": "export:\n  formats: [nope]\n",
        "llm_type.yaml": "llm:\n  concurrency: many\n",
        "botlog/conversations_2024-01-01.jsonl": "",
        "channels/1.jsonl": "",
        "data/annotations.yaml": "{}\n",
        "catalog.json": (REPO / "data/samples/tools/discord_catalog.json").read_text(),
    }
    for name, text in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    write_conversations(workdir / "convs.jsonl", [conversation("fish")])
    return workdir


def invoke(command: click.Command, args: list[str]) -> Result:
    return CliRunner().invoke(command, args)


def assert_one_line_error(result: Result, names: str) -> None:
    """Exit 1 or 2 through click (not an escaped exception), one `Error:` line naming it."""
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert names in errors[0], result.output


@pytest.mark.parametrize(("stage", "args", "names"), CASES, ids=lambda v: str(v)[:40])
def test_a_user_error_is_one_line(inputs, stage, args, names):
    assert_one_line_error(invoke(COMMANDS[stage], args), names)


SECRET_CASES = [
    ("enrich", ["convs.jsonl", "--llm", f"api_key_env={SECRET}"], "llm.api_key_env", SECRET),
    ("enrich", ["convs.jsonl", "--params", "key.yaml"], "llm.api_key_env", SECRET),
    ("moderate", ["convs.jsonl", "--params", "key.yaml"], "llm.api_key_env", SECRET),
    ("segment", ["--input", "channels", "--params", "key.yaml"], "llm.api_key_env", SECRET),
    ("collect_discord", ["--token-env", DISCORD_SECRET], "token_env", DISCORD_SECRET),
    ("collect_discord", ["--params", "token.yaml"], "token_env", DISCORD_SECRET),
    ("discord_emojis", ["--guild", "1", "--params", "token.yaml"], "token_env", DISCORD_SECRET),
    ("curate", ["convs.jsonl", "--scrub", f"env=[{SECRET}]"], "scrub.env", SECRET),
]


@pytest.mark.parametrize(("stage", "args", "names", "secret"), SECRET_CASES, ids=str)
def test_a_secret_given_as_a_variable_name_is_never_shown(inputs, stage, args, names, secret):
    (inputs / "key.yaml").write_text(f"llm:\n  provider: openai\n  api_key_env: {SECRET}\n")
    (inputs / "token.yaml").write_text(f"collect_discord:\n  token_env: {DISCORD_SECRET}\n")
    result = CliRunner().invoke(COMMANDS[stage], args)
    assert_one_line_error(result, f"{names} takes the NAME of an environment variable")
    # no piece of it either: its first 8 characters, nor any 8 in a row
    pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
    assert not [piece for piece in pieces if piece in result.output]


def test_a_name_that_holds_a_known_secret_shape_is_refused_too(inputs):
    """`ghp_...` is a valid variable name by its characters, but a GitHub token by its shape."""
    token = "ghp_" + "a1B2c3D4e5" * 4
    result = invoke(enrich.main, ["convs.jsonl", "--llm", f"api_key_env={token}"])
    assert_one_line_error(result, "llm.api_key_env takes the NAME")
    assert token[4:12] not in result.output


def test_the_default_annotations_file_missing_is_a_warning(inputs):
    (inputs / "data/annotations.yaml").unlink()
    result = CliRunner().invoke(enrich.main, ["convs.jsonl", "--out-dir", "o"])
    assert result.exit_code == 0, result.output
    assert "data/annotations.yaml: no annotations file" in result.stderr
    assert "echo '{}' > data/annotations.yaml" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["stages.ingest", "botlog", "--input", "logs/bot", "--status"],
        ["stages.enrich", "convs.jsonl", "--llm", "provider=openai", "--out-dir", "o"],
    ],
    ids=["botlog_status", "enrich_no_key"],
)
def test_as_a_shell_runs_it_the_error_is_one_line(inputs, args):
    """The issue's own examples, through `python -m` as a user types them."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=inputs, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("Error: ")
