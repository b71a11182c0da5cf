"""Secrets and personal data never reach a curated output."""

import json
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import FunctionCall, Message, ToolCall
from stages.common.scrub import Scrubber
from stages.curate import main as curate
from tests.records import conversation, write_conversations

SECRETS = [
    ("openai_key", "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"),
    ("anthropic_key", "sk-ant-api03-" + "x" * 40),
    ("discord_token", "MTA4NjU0MzIxMDEyMzQ1Njc4OQ.GhIjKl." + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5"),
    ("aws_access_key", "AKIA" + "IOSFODNN7EXAMPLE"),
    ("github_token", "ghp_" + "a" * 36),
    ("slack_token", "xoxb-123456789012-abcdefABCDEF"),
    ("google_api_key", "AIza" + "b" * 35),
    ("stripe_key", "sk_live_" + "c" * 24),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6y"),
    ("email", "ann.lee+bot@example.org"),
    ("ip_address", "192.168.1.20"),
]


@pytest.mark.parametrize(("kind", "secret"), SECRETS)
def test_each_kind_is_redacted_in_running_text(kind: str, secret: str) -> None:
    scrubber = Scrubber()
    assert scrubber.text(f"use {secret} now") == f"use [REDACTED:{kind}] now"
    assert scrubber.counts == {kind: 1}


def test_prefixes_are_kept_and_values_replaced() -> None:
    scrubber = Scrubber()
    assert scrubber.text("password: hunter2hunter2") == "password: [REDACTED:assigned_secret]"
    assert scrubber.text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123") == (
        "Authorization: Bearer [REDACTED:bearer_token]"
    )
    assert scrubber.text("git clone https://bob:pw1234@host/x") == (
        "git clone https://[REDACTED:url_password]@host/x"
    )
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert scrubber.text(f"key:\n{key}\nend") == "key:\n[REDACTED:private_key]\nend"


@pytest.mark.parametrize(
    "text",
    [
        "record 3f0c9a1e5b7d2c48 and sha 9b74c9897bac770ffc029102a200c5de",
        "deposited 28 lobsters at 3092,3245",
        "the token bucket refills",
        "sk-short",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Scrubber().text(text) == text


def test_known_environment_values_are_replaced_whatever_their_shape() -> None:
    scrubber = Scrubber(secrets=False, pii=False, known_values=["plain-looking-value"])
    assert scrubber.text("x plain-looking-value y") == "x [REDACTED:env_secret] y"


def test_arguments_stay_valid_json() -> None:
    scrubber = Scrubber()
    arguments = '{"url":"https://bob:pw1234@host/","to":["ann@example.org"],"n":1}'
    scrubbed = scrubber.arguments(arguments)
    assert json.loads(scrubbed) == {
        "url": "https://[REDACTED:url_password]@host/",
        "to": ["[REDACTED:email]"],
        "n": 1,
    }


def test_curate_output_holds_no_secret(run, workdir: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISCORD_API_TOKEN", "bot-token-value-123")
    leaky = conversation("my key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z, mail ann@example.org")
    leaky.messages[1] = Message(
        role="assistant",
        tool_calls=[
            ToolCall(
                id="call_1",
                function=FunctionCall(name="login", arguments='{"token":"bot-token-value-123"}'),
            )
        ],
    )
    write_conversations(workdir / "a.jsonl", [leaky])
    run(curate, "a.jsonl", "--out-dir", "cur", "--validation-fraction", "0")
    text = (workdir / "cur" / "train.jsonl").read_text()
    for secret in ("sk-proj-Ab3d", "ann@example.org", "bot-token-value-123"):
        assert secret not in text
    line = msgspec.json.decode(text.splitlines()[0])
    assert line["id"] == leaky.id
    assert json.loads(line["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {
        "token": "[REDACTED:env_secret]"
    }
    stats = json.loads((workdir / "cur" / "stats.json").read_text())
    assert stats["scrubbed"]["openai_key"] == 1
    assert stats["scrubbed"]["email"] == 1
    assert stats["scrubbed"]["env_secret"] == 1


def test_scrubbing_can_be_turned_off(run, workdir: Path) -> None:
    write_conversations(workdir / "a.jsonl", [conversation("mail ann@example.org")])
    run(curate, "a.jsonl", "--out-dir", "cur", "--validation-fraction", "0", "--keep-pii")
    assert "ann@example.org" in (workdir / "cur" / "train.jsonl").read_text()


def test_values_with_quotes_and_backslashes_are_found_inside_json_text() -> None:
    secret = 'hunter2\\Zq9"x'
    scrubber = Scrubber(secrets=False, pii=False, known_values=[secret])
    as_json = msgspec.json.encode({"echo": secret}).decode()
    assert scrubber.text(as_json) == '{"echo":"[REDACTED:env_secret]"}'
    assert json.loads(scrubber.arguments(as_json)) == {"echo": "[REDACTED:env_secret]"}


def test_rejected_lines_keep_no_credential(run, workdir: Path, monkeypatch) -> None:
    from stages.common import rejects
    from stages.ingest import command

    ingest = command("toollog")
    from tests.conftest import write_lines

    rejects._scrubber.cache_clear()
    monkeypatch.setenv("GAME_API_TOKEN", 'tok"en-value-42')
    bad = '{"tool_name":"deploy","arguments":{"key":"sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"},'
    write_lines(workdir / "logs" / "a.jsonl", [bad, '{"tool_name": 3, "x": "tok\\"en-value-42"}'])
    try:
        result = run(ingest, "--input", "logs", "--out-dir", "out", "--jobs", "1")
    finally:
        rejects._scrubber.cache_clear()
    kept = (workdir / "out" / "rejects.jsonl").read_text()
    assert "sk-proj-AbCd" not in kept and "sk-proj-AbCd" not in result.output
    assert "en-value-42" not in kept
    assert kept.count("[REDACTED:") == 2
