"""Batch API mode: the cache misses of a run go to OpenAI as one batch (half the price, within
24 h) instead of one call each, and the replies land in the same cache.

Steps: write the requests JSONL (custom_id = cache key, sorted for stable bytes), upload it
(purpose batch), create the batch, poll until it ends, download the output (and error) file,
validate every reply and store the good ones. Invalid or failed lines are counted by reason and
not stored, so the next run resubmits exactly those.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from stages.common.hashing import canonical_json
from stages.common.llm.request import (
    CHAT_ENDPOINT,
    ChatRequest,
    ChatResult,
    reply_from_completion,
)

if TYPE_CHECKING:
    from stages.common.llm.openai_provider import OpenAIProvider

T = TypeVar("T")

TERMINAL = {"completed", "failed", "expired", "cancelled"}


def requests_jsonl(bodies: dict[str, dict[str, Any]]) -> bytes:
    """One line per request, sorted by custom_id so the same requests give the same file."""
    lines = (
        canonical_json({"custom_id": key, "method": "POST", "url": CHAT_ENDPOINT, "body": body})
        for key, body in sorted(bodies.items())
    )
    return b"".join(line + b"\n" for line in lines)


def parse_output_lines(data: bytes) -> dict[str, tuple[dict[str, Any] | None, str | None]]:
    """custom_id → (completion body, None) or (None, failure reason), per output/error line.
    Lines that are not JSON or lack a custom_id are skipped: they cannot be attributed."""
    out: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("custom_id"), str):
            continue
        response = entry.get("response") or {}
        status = response.get("status_code")
        if entry.get("error") or status != 200:
            out[entry["custom_id"]] = (None, f"batch_http_{status}" if status else "batch_error")
        else:
            out[entry["custom_id"]] = (response.get("body") or {}, None)
    return out


class BatchFailed(Exception):
    """A batch could not be submitted, polled or read after retries; carries the reason."""


async def _call(provider: "OpenAIProvider", send: Callable[[], Awaitable[T]]) -> T:
    """One Batch API call through the provider's retry loop."""
    value, reason = await provider.attempt(send, lambda response: (response, None))
    if value is None:
        raise BatchFailed(f"batch_{reason}")
    return value


async def _submit_and_wait(provider: "OpenAIProvider", data: bytes) -> Any:
    files, batches = provider.client.files, provider.client.batches
    upload = await _call(
        provider,
        lambda: files.create(file=("requests.jsonl", data, "application/jsonl"), purpose="batch"),
    )
    batch = await _call(
        provider,
        lambda: batches.create(
            input_file_id=upload.id, endpoint=CHAT_ENDPOINT, completion_window="24h"
        ),
    )
    provider.stats.batches += 1
    batch_id = batch.id
    while batch.status not in TERMINAL:
        await asyncio.sleep(provider.settings.batch_poll_interval)
        batch = await _call(provider, lambda: batches.retrieve(batch_id))
    return batch


async def _download(provider: "OpenAIProvider", file_id: str | None) -> bytes:
    if not file_id:
        return b""
    content = await _call(provider, lambda: provider.client.files.content(file_id))
    return content.content


async def _run_chunk(
    provider: "OpenAIProvider", todo: dict[str, tuple[ChatRequest, dict[str, Any]]]
) -> dict[str, tuple[dict[str, Any] | None, str | None]]:
    """Submit one batch; custom_id → (completion, None) or (None, reason) for every key."""
    try:
        batch = await _submit_and_wait(provider, requests_jsonl({k: v[1] for k, v in todo.items()}))
        lines = parse_output_lines(await _download(provider, batch.output_file_id))
        lines.update(parse_output_lines(await _download(provider, batch.error_file_id)))
    except BatchFailed as failure:
        return {key: (None, str(failure)) for key in todo}
    missing = (None, f"batch_{batch.status}_missing")
    return {key: lines.get(key, missing) for key in todo}


async def run_batch(
    provider: "OpenAIProvider",
    todo: dict[str, tuple[ChatRequest, dict[str, Any]]],
    on_done: Callable[[str], object],
) -> dict[str, ChatResult]:
    """Send the cache misses `todo` (key → (request, body)) as batches; results by key."""
    results: dict[str, ChatResult] = {}
    keys = sorted(todo)
    size = provider.settings.batch_max_requests
    for start in range(0, len(keys), size):
        chunk = {key: todo[key] for key in keys[start : start + size]}
        provider.stats.batched += len(chunk)
        for key, (body, reason) in (await _run_chunk(provider, chunk)).items():
            if body is not None:
                outcome = provider.accept_chat(key, todo[key][0], reply_from_completion(body))
                if isinstance(outcome, str):
                    reason = outcome
                else:
                    results[key] = outcome
            if key not in results:
                provider.stats.count_failure(reason or "batch_error")
                results[key] = ChatResult(key=key, error=reason)
            on_done(key)
    return results
