"""Secrets and personal data are replaced wherever they stand, and ordinary text is not."""

import json
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import FunctionCall, Message, ToolCall
from stages.common.scrub import Scrubber, own_secret_rules, pii_rules
from stages.common.secret_rules import any_of, utf8_pattern
from stages.curate import main as curate
from tests.records import conversation, write_conversations
from tests.secret_corpus import ALL, PERSONAL, SECRETS


@pytest.mark.parametrize(("name", "text", "value"), ALL, ids=[name for name, *_ in ALL])
def test_each_kind_is_replaced_in_running_text(name: str, text: str, value: str) -> None:
    scrubber = Scrubber()
    scrubbed = scrubber.text(f"before {text} after")
    assert value not in scrubbed
    assert "[REDACTED:" in scrubbed and scrubbed.startswith("before ")
    assert sum(scrubber.counts.values()) >= 1


@pytest.mark.parametrize(("name", "text", "value"), ALL, ids=[name for name, *_ in ALL])
def test_each_kind_is_replaced_inside_json_text_without_breaking_it(
    name: str, text: str, value: str
) -> None:
    """A tool output as stored: JSON, where the value starts a line after an escaped `\\n`."""
    document = json.dumps({"output": f"$ env\n{text}\nTERM=xterm", "n": 1})
    line = json.dumps({"role": "tool", "content": document})
    scrubbed = Scrubber().text(line)
    assert value not in scrubbed
    outer = json.loads(scrubbed)
    inner = json.loads(outer["content"])
    assert inner["n"] == 1 and inner["output"].startswith("$ env\n")


def test_kinds_are_named_and_context_is_kept() -> None:
    scrubber = Scrubber()
    assert scrubber.text("mysql --password hunter3 -h db") == (
        "mysql --password [REDACTED:password_flag] -h db"
    )
    assert scrubber.text("Authorization: Basic YW5uOmh1bnRlcjQ=") == (
        "Authorization: Basic [REDACTED:basic_auth]"
    )
    assert scrubber.text("git clone https://bob:pw1234@host/x") == (
        "git clone https://bob:[REDACTED:url_password]@host/x"
    )
    assert scrubber.text("cd /home/dana/webapp") == "cd /home/[REDACTED:home_user]/webapp"
    assert scrubber.text("-home-dana-webapp/a.jsonl") == "-home-[REDACTED:home_user]-webapp/a.jsonl"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbCd\n-----END RSA PRIVATE KEY-----"
    assert scrubber.text(f"key:\n{pem}\nend") == (
        "key:\n-----BEGIN RSA PRIVATE KEY-----[REDACTED:private_key]\nend"
    )


@pytest.mark.parametrize(
    "text",
    [
        "record 3f0c9a1e5b7d2c48 and sha 9b74c9897bac770ffc029102a200c5de",
        "deposited 28 lobsters at 3092,3245",
        "the token bucket refills; password reset link sent",
        "sk-short",
        "version 1.2.3.4.5 released 2024-01-15 at 12:30:45",
        "std::vector<int> and a::b",
        "sort_key = customer_name",
        "Basic authentication is off",
        "listening on 127.0.0.1:8080 and ::1",
        "discord id 1180000000000000001",
        "password: ${DB_PASSWORD}",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Scrubber().text(text) == text


def test_known_environment_values_are_replaced_whatever_their_shape() -> None:
    scrubber = Scrubber(secrets=False, pii=False, known_values=["plain-looking-value"])
    assert scrubber.text("x plain-looking-value y") == "x [REDACTED:env_secret] y"


def test_values_with_quotes_and_backslashes_are_found_inside_json_text() -> None:
    secret = 'hunter2\\Zq9"x'
    scrubber = Scrubber(secrets=False, pii=False, known_values=[secret])
    as_json = msgspec.json.encode({"echo": secret}).decode()
    assert scrubber.text(as_json) == '{"echo":"[REDACTED:env_secret]"}'


def test_only_the_chosen_families_are_replaced() -> None:
    text = "mail ann@example.org with sk-proj-" + SECRETS[9][2]
    assert "ann@example.org" in Scrubber(pii=False).text(text)
    assert SECRETS[9][2] in Scrubber(secrets=False).text(text)


def test_arguments_stay_valid_json() -> None:
    arguments = json.dumps(
        {"url": "https://bob:pw1234@host/", "to": ["ann@example.org"], "password": "hunter2"}
    )
    assert json.loads(Scrubber().text(arguments) or "") == {
        "url": "https://bob:[REDACTED:url_password]@host/",
        "to": ["[REDACTED:email]"],
        "password": "[REDACTED:assigned_secret]",
    }


def test_curate_checks_again(run, workdir: Path, monkeypatch) -> None:
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
    assert stats["scrubbed"] == {"openai_key": 1, "email": 1, "env_secret": 1}


def test_personal_data_can_be_kept(run, workdir: Path) -> None:
    write_conversations(workdir / "a.jsonl", [conversation("mail ann@example.org")])
    run(curate, "a.jsonl", "--out-dir", "cur", "--validation-fraction", "0", "--scrub", "pii=false")
    assert "ann@example.org" in (workdir / "cur" / "train.jsonl").read_text()


def test_ingest_scrubs_at_the_door(run, workdir: Path, monkeypatch) -> None:
    """Parts, the parse cache, rejects and stats hold no planted value; counts by kind."""
    from stages.ingest import command

    lines = [
        json.dumps(
            {
                "tool_name": "shell",
                "arguments": {"cmd": text},
                "user_query": f"run this: {text}",
                "status": "success",
                "output": f"ok\n{text}\n",
            }
        )
        for _, text, _ in ALL
    ]
    (workdir / "logs").mkdir()
    (workdir / "logs" / "a.jsonl").write_text("\n".join([*lines, lines[0][:-9]]) + "\n")
    monkeypatch.setenv("OPENAI_API_KEY", "a-key-of-no-known-shape-0042")
    (workdir / "logs" / "b.jsonl").write_text(
        json.dumps({"tool_name": "x", "output": "a-key-of-no-known-shape-0042"}) + "\n"
    )
    run(command("toollog"), "--input", "logs", "--out-dir", "out", "--jobs", "2")
    written = "".join(p.read_text() for p in sorted((workdir / "out").rglob("*")) if p.is_file())
    assert written.count('"tool_name"') or written  # the parts and rejects were read
    for name, _, value in [*ALL, ("env", "", "a-key-of-no-known-shape-0042")]:
        assert value not in written, name
    stats = json.loads((workdir / "out" / "stats.json").read_text())
    assert stats["conversations"] == len(ALL) + 1 and stats["rejected"]["invalid_json"] == 1
    assert stats["scrubbed"]["email"] >= 3 and stats["scrubbed"]["env_secret"] == 1
    assert len(PERSONAL) <= sum(stats["scrubbed"].values())


def test_rejected_lines_keep_no_credential(run, workdir: Path, monkeypatch) -> None:
    from stages.common import rejects
    from stages.ingest import command
    from tests.conftest import write_lines

    ingest = command("toollog")
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


def test_rules_run_on_every_text_skip_only_texts_their_re2_prefilter_rules_out() -> None:
    """A rule without keywords runs where its RE2 prefilter finds something: the prefilter
    must find every text the rule's own pattern matches, Unicode digits included."""
    samples = [
        *(text for _, text, _ in ALL),
        "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 here",
        "call +\u0664\u0664 \u0662\u0660 \u0667\u0669\u0664\u0666 \u0660\u0669\u0665\u0668",
        "host \u0661\u0669\u0662.\u0661\u0666\u0668.\u0662.\u0662\u0665",
        "tel \uff14\uff11\uff15-\uff15\uff15\uff15-\uff10\uff11\uff13\uff17",
    ]
    for rules in (own_secret_rules(), pii_rules()):
        for index in rules.always:
            rule = rules.rules[index]
            assert rule.prefilter is not None, f"{rule.kind} runs on every text unfiltered"
            prefilter = utf8_pattern(rule.prefilter)
            matched = [text for text in samples if rule.pattern.search(text)]
            assert matched, f"no sample for {rule.kind}"
            assert [text for text in matched if not prefilter.search(text.encode())] == []


def test_one_scan_for_a_sets_rules_without_keywords_finds_what_each_of_theirs_finds() -> None:
    """The personal-data rules without keywords (IPv4, IPv6, phones) run only where one scan
    for all their prefilters finds something: it must find a text wherever one of theirs does."""
    rules = pii_rules()
    joined = rules.joined_prefilter
    prefilters = [rules._prefilter(index) for index in rules.always]
    assert joined is not None and len(prefilters) == 3
    texts = [
        *(f"before {text} after" for _, text, _ in ALL),
        "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 here",
        "call +44 20 7946 0958, host 192.168.2.25",
        "an ordinary line, 12 words, no number to redact",
    ]
    for text in texts:
        data = text.encode()  # as the rules scan it
        found = any(prefilter.search(data) for prefilter in prefilters)
        assert (joined.search(data) is not None) == found, text
    assert sum(joined.search(text.encode()) is not None for text in texts) >= 3
    # One rule without keywords (discord tokens, the secret values) keeps its own scan only.
    assert own_secret_rules().joined_prefilter is None


def test_scrubbers_of_one_choice_share_their_rules() -> None:
    """The keyword automaton is built once a process for each choice of rules."""
    one = Scrubber(known_values=["b" * 9, "a" * 9])
    assert one.rules is Scrubber(known_values=["a" * 9, "b" * 9]).rules
    assert Scrubber(pii=False).rules is not Scrubber().rules


def test_patterns_joined_keep_their_own_flags() -> None:
    joined = any_of(["(?i)secret", "token"])
    assert joined.search(b"a SECRET") and joined.search(b"a token")
    assert not joined.search(b"a TOKEN")
    assert any_of(["token", None]) is None and any_of([]) is None


def test_a_lone_surrogate_is_kept_and_the_secrets_around_it_are_found() -> None:
    """`json.loads` turns a `\\ud83d` escape (an emoji cut in half) into a lone surrogate,
    which UTF-8, and so RE2 and the keyword automaton, cannot take."""
    key = "sk-proj-" + "a1B2" * 12
    text = f'\ud83d api_key="{key}" mail bob@example.com \ud83d\ude00'
    scrubbed = Scrubber().text(text)
    assert scrubbed == (
        '\ud83d api_key="[REDACTED:assigned_secret]" mail [REDACTED:email] \ud83d\ude00'
    )


@pytest.mark.parametrize("before", ["", "é" * 600, "日本語" * 300, "😀" * 200])
def test_a_key_found_near_its_keyword_after_text_of_any_width(before: str) -> None:
    """RE2 scans UTF-8 bytes: around a keyword, the window it scans must be the window in
    bytes, wherever wider characters have moved it."""
    key = "Zx9" + "q7Lm2Vb8Rt4Wn6" * 2
    text = f"{before} config: my_service_auth = {key}\n"
    assert Scrubber().text(text) == (
        f"{before} config: my_service_auth = [REDACTED:generic_api_key]\n"
    )
