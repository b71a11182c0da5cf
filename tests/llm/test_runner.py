"""OpenAIProvider against the local emulator, through the real `openai` client."""

import asyncio
import json

import msgspec
import openai
import pytest

from stages.common.llm import (
    ChatRequest,
    JsonSchemaFormat,
    LLMConfigError,
    LLMSettings,
    OpenAIProvider,
    complete_all,
)
from stages.common.llm.cache import ResponseCache
from tests.emulators.openai_api import Fault

from .conftest import KEY_ENV

LABEL_SCHEMA = JsonSchemaFormat(
    name="label",
    schema={
        "type": "object",
        "properties": {"tag": {"type": "string"}, "score": {"type": "number", "maximum": 1}},
        "required": ["tag", "score"],
        "additionalProperties": False,
    },
)
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        },
    },
}


def ask(text: str, **kwargs) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], **kwargs)


def run(settings: LLMSettings, requests, cache_dir):
    return complete_all(settings, requests, cache_dir=cache_dir, heuristic=None)


def test_plain_structured_and_tool_replies_in_request_order(settings, openai_emulator, tmp_path):
    requests = [
        ask("one"),
        ask("label me", response_schema=LABEL_SCHEMA),
        ask("find cats", tools=[SEARCH_TOOL]),
        ask("two"),
    ]
    results, stats = run(settings, requests, tmp_path)
    assert [r.ok for r in results] == [True] * 4
    assert results[0].reply.content == "echo: one"
    assert results[3].reply.content == "echo: two"
    assert set(results[1].parsed) == {"tag", "score"}
    assert results[1].parsed["score"] == 1.0
    call = results[2].reply.tool_calls[0]
    assert call["function"]["name"] == "search"
    assert msgspec.json.decode(call["function"]["arguments"]).keys() == {"q"}
    assert results[2].reply.finish_reason == "tool_calls"
    assert (stats.requests, stats.succeeded, stats.cache_hits) == (4, 4, 0)


def test_second_run_makes_zero_requests(settings, openai_emulator, tmp_path):
    requests = [ask(f"q{i}", response_schema=LABEL_SCHEMA) for i in range(6)]
    first, _ = run(settings, requests, tmp_path)
    assert openai_emulator.counts["chat"] == 6
    again, stats = run(settings, requests, tmp_path)
    assert openai_emulator.counts["chat"] == 6
    assert (stats.requests, stats.cache_hits) == (0, 6)
    assert all(r.cached for r in again)
    assert [r.parsed for r in again] == [r.parsed for r in first]


def test_identical_requests_are_sent_once(settings, openai_emulator, tmp_path):
    requests = [ask("same"), ask("other"), ask("same")]
    results, stats = run(settings, requests, tmp_path)
    assert [r.reply.content for r in results] == ["echo: same", "echo: other", "echo: same"]
    assert openai_emulator.by_message["same"] == 1
    assert stats.requests == 2


def test_key_is_never_written_to_the_cache(settings, api_key, tmp_path):
    run(settings, [ask("secret check")], tmp_path)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert api_key not in path.read_text()


def test_429_is_retried_after_retry_after(settings, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="http", status=429, retry_after=0.3, match="busy"))
    results, stats = run(settings, [ask("busy")], tmp_path)
    assert results[0].ok
    first, second = openai_emulator.times_for("busy")
    assert second - first >= 0.3  # backoff alone would wait at most 0.05 s
    assert stats.retry_reasons == {"rate_limited": 1}


def test_500_is_retried_with_backoff(settings, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="http", status=500, times=2, match="flaky"))
    results, stats = run(settings, [ask("flaky"), ask("fine")], tmp_path)
    assert [r.ok for r in results] == [True, True]
    assert openai_emulator.by_message["flaky"] == 3
    assert stats.retry_reasons == {"server_error": 2}
    assert stats.failed == 0


def test_hang_past_the_timeout_is_retried(settings, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="hang", hang_seconds=10, match="slow"))
    fast = msgspec.structs.replace(settings, timeout=0.3)
    results, stats = run(fast, [ask("slow")], tmp_path)
    assert results[0].ok
    assert stats.retry_reasons == {"timeout": 1}
    assert openai_emulator.by_message["slow"] == 2


def test_a_body_that_is_not_json_is_retried_then_counted(settings, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="not_json", times=1, match="garbled"))
    openai_emulator.add_fault(Fault(kind="not_json", times=99, match="broken"))
    two = msgspec.structs.replace(settings, max_attempts=2)
    results, stats = run(two, [ask("garbled"), ask("broken"), ask("fine")], tmp_path)
    assert [r.error for r in results] == [None, "empty_reply", None]
    assert results[0].reply.content == "echo: garbled"
    assert stats.retry_reasons == {"empty_reply": 2} and stats.failed == 1
    assert len(ResponseCache(tmp_path)) == 2


def test_chat_goes_through_the_clients_aiohttp_backend(settings, tmp_path):
    provider = OpenAIProvider(settings, tmp_path)
    aiohttp_client = type(openai.DefaultAioHttpClient())
    assert isinstance(provider.client, openai.AsyncOpenAI)
    assert isinstance(provider.client._client, aiohttp_client)
    assert provider.client.max_retries == 0  # the runner's retry loop is the only one


def test_retries_run_out_into_a_counted_failure(settings, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="http", status=503, times=99, match="down"))
    three = msgspec.structs.replace(settings, max_attempts=3)
    results, stats = run(three, [ask("down"), ask("up")], tmp_path)
    assert (results[0].error, results[1].ok) == ("server_error", True)
    assert openai_emulator.by_message["down"] == 3
    assert stats.failure_reasons == {"server_error": 1}
    assert results[0].key not in ResponseCache(tmp_path)


@pytest.mark.parametrize("kind", ["invalid_json", "schema_violation"])
def test_invalid_structured_reply_is_retried_then_counted(
    kind, settings, openai_emulator, tmp_path
):
    openai_emulator.add_fault(Fault(kind=kind, times=1, match="once"))
    openai_emulator.add_fault(Fault(kind=kind, times=99, match="always"))
    three = msgspec.structs.replace(settings, max_attempts=3)
    requests = [
        ask("once", response_schema=LABEL_SCHEMA),
        ask("always", response_schema=LABEL_SCHEMA),
    ]
    results, stats = run(three, requests, tmp_path)
    assert results[0].ok and results[0].parsed is not None
    assert results[1].error == kind and results[1].reply is None
    assert openai_emulator.by_message["always"] == 3
    assert stats.retry_reasons == {kind: 3}  # once for "once", twice for "always"
    assert stats.failure_reasons == {kind: 1}
    cache = ResponseCache(tmp_path)
    assert results[0].key in cache and results[1].key not in cache
    # A rerun asks only for the failed one again.
    run(three, requests, tmp_path)
    assert openai_emulator.by_message["once"] == 2
    assert openai_emulator.by_message["always"] == 6


def test_tool_call_arguments_are_checked_against_the_tool(settings, openai_emulator, tmp_path):
    def bad_arguments(body):
        call = {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
        return {"content": None, "tool_calls": [call]}

    openai_emulator.chat_responder = bad_arguments
    two = msgspec.structs.replace(settings, max_attempts=2)
    results, stats = run(two, [ask("find", tools=[SEARCH_TOOL])], tmp_path)
    assert results[0].error == "schema_violation"
    assert stats.requests == 2


def test_client_error_is_not_retried(settings, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="http", status=400, match="bad"))
    results, stats = run(settings, [ask("bad")], tmp_path)
    assert results[0].error == "http_400"
    assert (stats.requests, stats.retries) == (1, 0)


def test_refused_key_stops_the_run_without_showing_it(settings, api_key, openai_emulator, tmp_path):
    openai_emulator.add_fault(Fault(kind="http", status=401, times=99))
    with pytest.raises(LLMConfigError, match=KEY_ENV) as info:
        run(settings, [ask(f"q{i}") for i in range(5)], tmp_path)
    assert api_key not in str(info.value)


def test_missing_key_variable_is_a_clear_error(settings, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(LLMConfigError, match=f"{KEY_ENV} \\(llm.api_key_env\\) is not set"):
        run(settings, [ask("x")], tmp_path)


def test_concurrency_is_bounded(settings, openai_emulator, tmp_path):
    openai_emulator.latency = 0.05
    three = msgspec.structs.replace(settings, concurrency=3)
    results, _ = run(three, [ask(f"c{i}") for i in range(24)], tmp_path)
    assert all(r.ok for r in results)
    assert openai_emulator.max_in_flight == 3


def test_cancelled_run_keeps_finished_replies(settings, openai_emulator, tmp_path):
    openai_emulator.latency = 0.05
    one = msgspec.structs.replace(settings, concurrency=1)
    requests = [ask(f"k{i}") for i in range(10)]

    async def cancelled_midway():
        async with OpenAIProvider(one, tmp_path) as provider:
            task = asyncio.create_task(provider.complete(requests))
            while len(ResponseCache(tmp_path)) < 3:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(cancelled_midway())
    stored = len(ResponseCache(tmp_path))
    before = openai_emulator.counts["chat"]
    results, stats = run(one, requests, tmp_path)
    assert all(r.ok for r in results)
    assert stats.cache_hits == stored
    assert openai_emulator.counts["chat"] - before == 10 - stored


def test_emulator_replies_parse_as_the_clients_typed_models(openai_emulator, api_key):
    """The raw chat path reads dicts, so check the shapes against the client's own models,
    with strict response validation on."""

    async def typed_calls():
        client = openai.AsyncOpenAI(
            api_key=api_key, base_url=openai_emulator.base_url, _strict_response_validation=True
        )
        async with client:
            plain = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
            tool = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "go"}], tools=[SEARCH_TOOL]
            )
            schema = {"type": "json_schema", "json_schema": msgspec.to_builtins(LABEL_SCHEMA)}
            structured = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], response_format=schema
            )
            moderation = await client.moderations.create(input=["a violent act"])
        return plain, tool, structured, moderation

    plain, tool, structured, moderation = asyncio.run(typed_calls())
    assert plain.choices[0].message.content == "echo: hi"
    assert tool.choices[0].message.tool_calls[0].function.name == "search"
    assert set(json.loads(structured.choices[0].message.content)) == {"tag", "score"}
    assert moderation.results[0].categories.violence is True


def test_requests_given_up_on_still_count_against_the_concurrency(
    settings, openai_emulator, tmp_path
):
    """The server holds every reply longer than llm.timeout: the runner gives up on each
    call and retries, but never has more than `concurrency` requests at the server, which
    works on to the end of every request it was sent."""
    openai_emulator.latency = 0.4
    openai_emulator.finishes_abandoned = True
    impatient = msgspec.structs.replace(settings, concurrency=3, timeout=0.1, max_attempts=3)
    results, stats = run(impatient, [ask(f"t{i}") for i in range(6)], tmp_path)
    assert not any(r.ok for r in results)
    assert stats.retry_reasons["timeout"] == 12  # 6 requests, 2 retries each
    assert openai_emulator.counts["chat"] == 18
    assert openai_emulator.max_in_flight == 3
