"""Batch mode, moderation, the offline provider, settings, and a run killed by SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from stages.common.llm import (
    ChatReply,
    ChatRequest,
    LLMSettings,
    LLMSettingsError,
    ModerationResult,
    OfflineProvider,
    complete_all,
    make_provider,
    moderate_all,
)
from stages.common.llm.cache import ResponseCache
from tests.emulators.openai_api import Fault

from .test_runner import LABEL_SCHEMA, ask

REPO = Path(__file__).resolve().parents[2]


def test_batch_mode_end_to_end(settings, openai_emulator, tmp_path):
    batch = msgspec.structs.replace(settings, mode="batch")
    requests = [ask(f"b{i}", response_schema=LABEL_SCHEMA) for i in [0, 1, 2, 3, 4, "0x"]]
    openai_emulator.add_fault(Fault(kind="http", status=500, match="b3"))
    openai_emulator.add_fault(Fault(kind="schema_violation", match="b0x"))
    results, stats = complete_all(batch, requests, cache_dir=tmp_path, heuristic=None)
    counts = openai_emulator.counts
    assert (counts["files.create"], counts["batches.create"], counts["chat"]) == (1, 1, 0)
    assert counts["batches.retrieve"] == 2  # validating → in_progress → completed
    uploaded = next(iter(openai_emulator.files.values()))[2].splitlines()
    assert sorted(json.loads(line)["custom_id"] for line in uploaded) == sorted(
        r.key for r in results
    )
    assert [r.error for r in results] == [
        None,
        None,
        None,
        "batch_http_500",
        None,
        "schema_violation",
    ]
    assert set(results[0].parsed) == {"tag", "score"}
    assert stats.failure_reasons == {"batch_http_500": 1, "schema_violation": 1}
    assert (stats.batches, stats.batched) == (1, 6)
    assert len(ResponseCache(tmp_path)) == 4

    # The same cache serves the online mode: only the two failures are asked again.
    online, stats = complete_all(settings, requests, cache_dir=tmp_path, heuristic=None)
    assert all(r.ok for r in online)
    assert stats.cache_hits == 4
    assert openai_emulator.counts["chat"] == 2
    assert [r.parsed for r in online[:3]] == [r.parsed for r in results[:3]]


def test_moderation_is_cached_per_text(settings, openai_emulator, tmp_path):
    texts = ["a violent threat", "a kind word", "a violent threat", "hello"]
    results, stats = moderate_all(settings, texts, cache_dir=tmp_path)
    assert [r.flagged for r in results] == [True, False, True, False]
    assert results[0].categories == ["violence"]
    assert results[0].scores["violence"] == 0.9
    assert openai_emulator.counts["moderations"] == 1  # three distinct texts in one chunk
    assert openai_emulator.by_message["a violent threat"] == 1
    again, stats = moderate_all(settings, [*texts, "new"], cache_dir=tmp_path)
    assert (stats.cache_hits, stats.requests) == (3, 1)
    assert openai_emulator.by_message["new"] == 1
    assert [r.flagged for r in again[:4]] == [True, False, True, False]
    assert again[0].cached and not again[4].cached


def test_offline_provider_needs_no_key_and_validates(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    def heuristic(request: ChatRequest):
        text = request.messages[-1]["content"]
        if request.response_schema is None:
            return f"offline: {text}"
        return {"tag": text, "score": 0.5} if text != "broken" else {"tag": text}

    requests = [ask("plain"), ask("lab", response_schema=LABEL_SCHEMA)]
    requests.append(ask("broken", response_schema=LABEL_SCHEMA))
    results, stats = complete_all(
        LLMSettings(), requests, cache_dir=tmp_path / "cache", heuristic=heuristic
    )
    assert results[0].reply == ChatReply(content="offline: plain", finish_reason="stop")
    assert results[1].parsed == {"tag": "lab", "score": 0.5}
    assert results[2].error == "schema_violation"
    assert stats.failure_reasons == {"schema_violation": 1}
    assert not (tmp_path / "cache").exists()


def test_offline_moderation_uses_the_given_moderator(tmp_path):
    def moderator(text: str) -> ModerationResult:
        return ModerationResult(key="", flagged="bad" in text, categories=["custom"])

    results, _ = moderate_all(
        LLMSettings(), ["good", "bad"], cache_dir=tmp_path, moderator=moderator
    )
    assert [r.flagged for r in results] == [False, True]
    assert [r.key for r in results] == ["", ""]  # nothing offline is cached, so no key
    assert not any(tmp_path.iterdir())
    assert isinstance(
        make_provider(LLMSettings(), cache_dir=tmp_path, heuristic=str), OfflineProvider
    )


def test_settings_errors_name_the_field():
    assert LLMSettings.from_params(None) == LLMSettings()
    assert LLMSettings.from_params({"concurrency": 4}).concurrency == 4
    with pytest.raises(LLMSettingsError, match="concurency"):
        LLMSettings.from_params({"concurency": 4})
    with pytest.raises(LLMSettingsError, match=r"\$.concurrency"):
        LLMSettings.from_params({"concurrency": 0})
    with pytest.raises(LLMSettingsError, match=r"\$.provider"):
        LLMSettings.from_params({"provider": "anthropic"})


KILLED_RUN = """
import sys
from stages.common.llm import ChatRequest, LLMSettings, complete_all
settings = LLMSettings(provider="openai", base_url=sys.argv[1], api_key_env="{env}",
                       concurrency=2, progress=False)
requests = [ChatRequest(messages=[{{"role": "user", "content": f"m{{i}}"}}]) for i in range(20)]
complete_all(settings, requests, cache_dir=sys.argv[2], heuristic=None)
"""


def test_killed_run_reruns_only_the_missing_requests(settings, openai_emulator, tmp_path):
    openai_emulator.latency = 0.05
    cache_dir = tmp_path / "cache"
    script = KILLED_RUN.format(env=settings.api_key_env)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", script, openai_emulator.base_url, str(cache_dir)],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 20
    while len(list(cache_dir.glob("*/*.json"))) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    stored = len(ResponseCache(cache_dir))
    assert 6 <= stored < 20
    before = openai_emulator.counts["chat"]
    requests = [ask(f"m{i}") for i in range(20)]
    results, stats = complete_all(settings, requests, cache_dir=cache_dir, heuristic=None)
    assert [r.reply.content for r in results] == [f"echo: m{i}" for i in range(20)]
    assert stats.cache_hits == stored
    assert openai_emulator.counts["chat"] - before == 20 - stored
