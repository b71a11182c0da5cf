"""`OpenAIProvider`: chat completions and moderations through the official client, with the
response cache, bounded concurrency, retries, reply validation, counters and a progress bar."""

import asyncio
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import openai

from stages.common.llm.batch import run_batch
from stages.common.llm.cache import ResponseCache
from stages.common.llm.client import make_client
from stages.common.llm.llm_stats import LLMStats
from stages.common.llm.reply_checks import check_reply
from stages.common.llm.request import (
    CHAT_ENDPOINT,
    MODERATION_ENDPOINT,
    ChatReply,
    ChatRequest,
    ChatResult,
    ModerationResult,
    cache_key,
    chat_body,
    moderation_body,
    reply_from_completion,
)
from stages.common.llm.retry import LLMConfigError, backoff_delay, classify
from stages.common.llm.settings import LLMSettings
from stages.common.progress import Progress

T = TypeVar("T")
V = TypeVar("V")

CHAT_PATH = "/chat/completions"  # relative to the client's base_url


def moderation_value(result: Any) -> dict[str, Any]:
    """What the cache keeps of one moderation result: the verdict and its evidence."""
    data = result.model_dump(mode="json", by_alias=True)
    return {
        "flagged": bool(data["flagged"]),
        "categories": {k: bool(v) for k, v in (data.get("categories") or {}).items() if v},
        "category_scores": {
            k: float(v) for k, v in (data.get("category_scores") or {}).items() if v is not None
        },
    }


def moderation_result(key: str, value: dict[str, Any], cached: bool) -> ModerationResult:
    return ModerationResult(
        key=key,
        flagged=value["flagged"],
        categories=sorted(value["categories"]),
        scores=value["category_scores"],
        cached=cached,
    )


class OpenAIProvider:
    """Calls an OpenAI-compatible server. Use as `async with OpenAIProvider(...) as p:`."""

    def __init__(
        self, settings: LLMSettings, cache_dir: str | Path, client: openai.AsyncOpenAI | None = None
    ) -> None:
        self.settings = settings
        self.cache = ResponseCache(cache_dir)
        self.client = client or make_client(settings)
        self.stats = LLMStats()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._rng = random.Random(0)

    async def __aenter__(self) -> "OpenAIProvider":
        return self

    async def __aexit__(self, *exc: object) -> None:
        for call in self._abandoned:
            call.cancel()
        await asyncio.gather(*self._abandoned, return_exceptions=True)
        await self.client.close()

    async def send(self, call: Callable[[], Awaitable[T]]) -> T:
        """Make one HTTP call in a concurrency slot, waiting at most `llm.timeout` for it.

        A call given up on (TimeoutError) is not cancelled: the server is still working on
        it and counts it against our concurrency, so it keeps its slot until it really ends
        (its reply, or the client's longer timeout: see client.py). Requests in flight at the
        server never exceed `llm.concurrency`, however often the runner gives up.
        """
        await self._slots.acquire()
        self.stats.requests += 1
        future = asyncio.ensure_future(call())
        future.add_done_callback(self._call_ended)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.settings.timeout)
        except TimeoutError:
            self._abandoned.add(future)
            raise
        except asyncio.CancelledError:
            future.cancel()
            raise

    def _call_ended(self, future: asyncio.Future[Any]) -> None:
        self._slots.release()
        self._abandoned.discard(future)
        if not future.cancelled():
            future.exception()  # retrieved: an abandoned call's error is not news

    # the retry loop, shared by every endpoint

    async def attempt(
        self, send: Callable[[], Awaitable[T]], accept: Callable[[T], tuple[V | None, str | None]]
    ) -> tuple[V | None, str | None]:
        """Send until `accept` takes the response or attempts run out: (value, None) on
        success, (None, reason) on failure. Only the HTTP call holds a concurrency slot."""
        reason = "no_attempt"
        retry_after: float | None = None
        for attempt in range(1, self.settings.max_attempts + 1):
            if attempt > 1:
                self.stats.count_retry(reason)
                await asyncio.sleep(
                    backoff_delay(attempt - 1, retry_after, self.settings, self._rng)
                )
            retry_after = None
            try:
                response = await self.send(send)
            except TimeoutError:
                reason = "timeout"
                continue
            except openai.APIError as exc:
                failure = classify(exc, self.settings)
                reason, retry_after = failure.reason, failure.retry_after
                if not failure.retryable:
                    return None, reason
                continue
            value, reason = accept(response)
            if reason is None:
                return value, None
        return None, reason

    # chat

    async def complete(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        """One result per request, in request order. Identical requests are sent once."""
        bodies = [chat_body(r, self.settings) for r in requests]
        keys = [cache_key(CHAT_ENDPOINT, b, self.settings) for b in bodies]
        copies = Counter(keys)
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        results: dict[str, ChatResult] = {}
        with self._progress(len(requests), "llm") as bar:
            missing = []
            for key, index in first.items():
                hit = self._cached_chat(key, requests[index])
                if hit is None:
                    missing.append(key)
                else:
                    results[key] = hit
                    bar.update(copies[key])
            if self.settings.mode == "batch":
                todo = {k: (requests[first[k]], bodies[first[k]]) for k in missing}
                results.update(await run_batch(self, todo, lambda key: bar.update(copies[key])))
            else:
                await self._gather(
                    [self._chat_one(k, requests[first[k]], bodies[first[k]]) for k in missing],
                    lambda result: (
                        results.__setitem__(result.key, result),
                        bar.update(copies[result.key]),
                    ),
                )
        return [results[key] for key in keys]

    def _cached_chat(self, key: str, request: ChatRequest) -> ChatResult | None:
        value = self.cache.get(key)
        if value is None:
            return None
        try:
            reply = msgspec.convert(value, ChatReply)
        except msgspec.ValidationError:
            return None
        parsed, reason = check_reply(request, reply)
        if reason is not None:
            return None
        self.stats.cache_hits += 1
        return ChatResult(key=key, reply=reply, parsed=parsed, cached=True)

    def accept_chat(
        self, key: str, request: ChatRequest, reply: ChatReply, *, store: bool = True
    ) -> ChatResult | str:
        """Validate a fresh reply; store it if good (unless the caller stores it itself).
        Returns the result or the failure reason."""
        parsed, reason = check_reply(request, reply)
        if reason is not None:
            return reason
        if store:
            self.cache.put(key, msgspec.to_builtins(reply))
        self.stats.succeeded += 1
        return ChatResult(key=key, reply=reply, parsed=parsed)

    async def _post_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST the body as is through the client (the exact API JSON the cache key hashes, so
        any server-specific field passes through) and read the completion as a plain dict.
        `cast_to=object` skips building the pydantic ChatCompletion, the client's costliest
        step per call (see `client.py`). A 200 whose body is not a JSON object reads as `{}`,
        which validation rejects as an empty reply."""
        try:
            completion = await self.client.post(CHAT_PATH, cast_to=object, body=body)
        except json.JSONDecodeError:
            return {}
        return completion if isinstance(completion, dict) else {}

    async def _chat_one(self, key: str, request: ChatRequest, body: dict[str, Any]) -> ChatResult:
        def accept(completion: Any) -> tuple[ChatResult | None, str | None]:
            reply = reply_from_completion(completion)
            outcome = self.accept_chat(key, request, reply, store=False)
            return (None, outcome) if isinstance(outcome, str) else (outcome, None)

        result, reason = await self.attempt(lambda: self._post_chat(body), accept)
        if result is None:
            self.stats.count_failure(reason or "unknown")
            return ChatResult(key=key, error=reason)
        # Writing an entry costs ~1 ms of blocking file-system calls; in a worker thread the
        # event loop keeps sending meanwhile. The result is returned once the entry is stored.
        await asyncio.to_thread(self.cache.put, key, msgspec.to_builtins(result.reply))
        return result

    # moderation

    async def moderate(self, texts: Sequence[str]) -> list[ModerationResult]:
        """One verdict per text, in order, cached per text; misses go in chunks per call."""
        keys = [
            cache_key(MODERATION_ENDPOINT, moderation_body(t, self.settings), self.settings)
            for t in texts
        ]
        results: dict[str, ModerationResult] = {}
        pending: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in results or key in pending:
                continue
            value = self.cache.get(key)
            if value is None:
                pending[key] = text
            else:
                self.stats.cache_hits += 1
                results[key] = moderation_result(key, value, cached=True)
        items = list(pending.items())
        size = self.settings.moderation_chunk
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        with self._progress(len(chunks), "moderation") as bar:
            await self._gather(
                [self._moderate_chunk(chunk) for chunk in chunks],
                lambda chunk_results: (results.update(chunk_results), bar.update(1)),
            )
        return [results[key] for key in keys]

    async def _moderate_chunk(self, chunk: list[tuple[str, str]]) -> dict[str, ModerationResult]:
        def accept(response: Any) -> tuple[list[dict[str, Any]] | None, str | None]:
            if len(response.results) != len(chunk):
                return None, "wrong_result_count"
            return [moderation_value(r) for r in response.results], None

        values, reason = await self.attempt(
            lambda: self.client.moderations.create(
                model=self.settings.moderation_model, input=[text for _, text in chunk]
            ),
            accept,
        )
        out: dict[str, ModerationResult] = {}
        for index, (key, _) in enumerate(chunk):
            if values is None:
                self.stats.count_failure(reason or "unknown")
                out[key] = ModerationResult(key=key, error=reason)
                continue
            self.cache.put(key, values[index])
            self.stats.succeeded += 1
            out[key] = moderation_result(key, values[index], cached=False)
        return out

    # plumbing

    def _progress(self, total: int, desc: str) -> Progress:
        """Requests done of this call: a bar that goes when the call ends (the stage's own
        progress stays), or a heartbeat line in a log while the call runs long."""
        return Progress(
            desc, total=total, unit="requests", enabled=self.settings.progress, leave=False
        )

    async def _gather(self, coroutines: list[Awaitable[T]], on_done: Callable[[T], object]) -> None:
        """Run all; report each as it finishes. A fatal error cancels the rest and is raised
        as itself, not wrapped in an ExceptionGroup."""

        async def run(coroutine: Awaitable[T]) -> None:
            on_done(await coroutine)

        try:
            async with asyncio.TaskGroup() as group:
                for coroutine in coroutines:
                    group.create_task(run(coroutine))
        except* LLMConfigError as errors:
            raise errors.exceptions[0] from None
