"""curate cuts a conversation too long to train into windows that validate accepts."""

import json
import random
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import Conversation, FunctionCall, Message, ToolCall
from stages import export, validate
from stages.common.hashing import messages_id
from stages.common.stats import json_bytes
from stages.curate import main
from stages.curation import tokens, windows
from stages.curation.tokens import conversation_tokens
from stages.curation.windows import window_id
from stages.formats.contract import clean_conversation, trained_messages
from tests.conftest import read_jsonl
from tests.records import write_conversations

VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "tes", "vor", "qua") for b in range(200)]


def prose(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n_words))


def session(steps: int, words_per_output: int, *, huge_output: int = 0) -> Conversation:
    """A Claude Code-like session: one request, then `steps` tool calls, each with its result,
    the user asking for news every tenth step (answered beside the call), and a final reply."""
    rng = random.Random(7)
    messages = [
        Message(role="system", content="You are a careful coding agent."),
        Message(role="user", content="Port the billing module to the new API. " + prose(rng, 40)),
    ]
    for k in range(steps):
        note = None
        if k and k % 10 == 0:
            messages.append(Message(role="user", content=f"Status? {prose(rng, 10)}"))
            note = f"Step {k}: {prose(rng, 30)}"
        call = ToolCall(
            id=f"call_{k}",
            function=FunctionCall(name="Bash", arguments=json.dumps({"command": f"cat f{k}.py"})),
        )
        size = huge_output if huge_output and k == 3 else words_per_output
        messages.append(Message(role="assistant", content=note, tool_calls=[call]))
        messages.append(Message(role="tool", tool_call_id=call.id, content=prose(rng, size)))
    messages.append(Message(role="assistant", content="Done: " + prose(rng, 20)))
    return Conversation(id=messages_id(messages), source="session", messages=messages)


def curate(run, workdir: Path, record: Conversation, *args: str) -> list[dict]:
    write_conversations(workdir / "s.jsonl", [record])
    run(main, "s.jsonl", "--out-dir", "cur", "--validation-fraction", "0", *args)
    return read_jsonl(workdir / "cur" / "train.jsonl")


@pytest.fixture(scope="module")
def long_session() -> Conversation:
    record = session(steps=150, words_per_output=1000)
    assert 280_000 < conversation_tokens(record) < 340_000
    return record


def test_a_300k_token_session_becomes_windows_that_pass_validate(
    run, workdir: Path, long_session: Conversation
) -> None:
    windows = curate(run, workdir, long_session)
    stats = json.loads((workdir / "cur" / "stats.json").read_text())
    assert stats["windowed"] == 1 and stats["windows"] == len(windows) >= 5
    (workdir / "cur" / "stats.json").write_bytes(json_bytes({}))
    run(export.main, "--curated-dir", "cur", "--curate-stats", "cur/stats.json", "--out-dir", "exp")
    run(validate.main, "--export-dir", "exp", "--out-dir", "val")
    metrics = json.loads((workdir / "val" / "metrics.json").read_text())
    assert metrics["errors"] == {}
    assert metrics["tokens"]["train"]["examples"] == len(windows)
    assert metrics["tokens"]["train"]["max"] <= 65536
    for name in ("chatml", "qwen", "sharegpt", "harmony"):
        lines = (workdir / "exp" / "formats" / name / "train.jsonl").read_text().splitlines()
        assert len(lines) == len(windows), name  # no format refuses a window for its context


def test_windows_end_with_a_reply_keep_calls_with_results_and_carry_context(
    run, workdir: Path, long_session: Conversation
) -> None:
    windows = curate(run, workdir, long_session)
    originals = {m.content for m in long_session.messages if m.role == "assistant" and m.content}
    trained: list[str] = []
    for index, window in enumerate(windows):
        assert window["id"] == window_id(long_session.id, index)
        assert window["meta"]["original"] == long_session.id
        assert window["meta"]["window"] == index
        messages = window["messages"]
        assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
        context = window["meta"]["context_messages"]
        assert messages[-1]["role"] in ("assistant", "tool")
        calls = {c["id"] for m in messages for c in m.get("tool_calls") or []}
        assert calls == {m["tool_call_id"] for m in messages if m["role"] == "tool"}
        assert all(m.get("weight") == 0 for m in messages[:context] if m["role"] == "assistant")
        if index:
            assert any(m["role"] == "assistant" for m in messages[:context])  # carried context
        record = msgspec.convert(window, Conversation)
        trained += [
            m.content
            for m in trained_messages(record)
            if m.role == "assistant" and m.weight != 0 and m.content
        ]
        clean = clean_conversation(record).messages
        assert clean[1].role == "user" and all(m.weight != 0 for m in clean)
    assert sorted(trained) == sorted(originals)  # each reply trains once


def test_an_oversize_tool_output_is_shortened_with_a_marker(run, workdir: Path) -> None:
    record = session(steps=5, words_per_output=50, huge_output=60_000)
    [window] = curate(run, workdir, record, "--max-tokens", "20000")
    outputs = [m["content"] for m in window["messages"] if m["role"] == "tool"]
    [cut] = [o for o in outputs if "tokens cut by curate" in o]
    assert len(cut) < len(record.messages[9].content or "") // 3
    assert conversation_tokens(msgspec.convert(window, Conversation)) <= 20000


def test_a_tool_output_of_a_million_characters_is_shortened_not_a_crash(run, workdir: Path) -> None:
    """Past a million characters (or 200,000 tokens) bpe-openai's encode_ordinary refuses a
    text; one `cat` of a big file is that long."""
    record = session(steps=5, words_per_output=50, huge_output=200_000)
    huge = record.messages[9].content or ""
    assert len(huge) > 1_000_000 and conversation_tokens(record) > 200_000
    [window] = curate(run, workdir, record, "--max-tokens", "20000")
    outputs = [m["content"] for m in window["messages"] if m["role"] == "tool"]
    [cut] = [o for o in outputs if "tokens cut by curate" in o]
    assert huge.startswith(cut.split("\n")[0][:1000])
    assert conversation_tokens(msgspec.convert(window, Conversation)) <= 20000


def test_windows_are_the_same_bytes_on_every_run(run, workdir: Path) -> None:
    record = session(steps=30, words_per_output=400)
    curate(run, workdir, record, "--max-tokens", "8000")
    first = (workdir / "cur" / "train.jsonl").read_bytes()
    curate(run, workdir, record, "--max-tokens", "8000")
    assert (workdir / "cur" / "train.jsonl").read_bytes() == first
    assert first.count(b"\n") > 3


def test_the_second_pass_cuts_windows_by_the_first_passs_counts(
    run, workdir: Path, monkeypatch
) -> None:
    """A windowed record's messages are counted once, in the first pass; the second cuts the
    same windows by those counts (only a message it shortens is counted again)."""
    record = session(steps=30, words_per_output=400)
    want = curate(run, workdir, record, "--max-tokens", "8000", "--jobs", "1")
    counted: list[int] = []
    count = tokens.message_tokens

    def counting(message: Message) -> int:
        counted.append(1)
        return count(message)

    monkeypatch.setattr(tokens, "message_tokens", counting)
    monkeypatch.setattr(windows, "message_tokens", counting)
    assert curate(run, workdir, record, "--max-tokens", "8000", "--jobs", "1") == want
    assert len(want) > 3 and len(counted) == len(record.messages)
