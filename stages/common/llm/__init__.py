"""The LLM layer: one interface over an OpenAI-compatible server or offline heuristics.

    settings = LLMSettings.from_params(params["llm"])
    results, stats = complete_all(settings, requests, cache_dir="data/llm_cache/enrich",
                                  heuristic=label_offline)

`results[i]` answers `requests[i]`: `.ok`, `.reply` (content / tool_calls), `.parsed` (the
JSON of a structured output, already validated against its schema) or `.error` (a reason).
"""

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from stages.common.llm.llm_stats import LLMStats
from stages.common.llm.offline import Heuristic, Moderator, OfflineProvider, flag_nothing
from stages.common.llm.openai_provider import OpenAIProvider
from stages.common.llm.request import (
    ChatReply,
    ChatRequest,
    ChatResult,
    JsonSchemaFormat,
    ModerationResult,
)
from stages.common.llm.retry import LLMConfigError
from stages.common.llm.settings import LLMSettings, LLMSettingsError

__all__ = [
    "ChatReply",
    "ChatRequest",
    "ChatResult",
    "JsonSchemaFormat",
    "LLMConfigError",
    "LLMSettings",
    "LLMSettingsError",
    "LLMStats",
    "ModerationResult",
    "OfflineProvider",
    "OpenAIProvider",
    "Provider",
    "complete_all",
    "make_provider",
    "moderate_all",
]


class Provider(Protocol):
    stats: LLMStats

    async def __aenter__(self) -> "Provider": ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def complete(self, requests: Sequence[ChatRequest]) -> list[ChatResult]: ...
    async def moderate(self, texts: Sequence[str]) -> list[ModerationResult]: ...


def make_provider(
    settings: LLMSettings,
    *,
    cache_dir: str | Path,
    heuristic: Heuristic,
    moderator: Moderator = flag_nothing,
) -> Provider:
    """The provider `settings.provider` names. `heuristic` and `moderator` serve offline."""
    if settings.provider == "openai":
        return OpenAIProvider(settings, cache_dir)
    return OfflineProvider(settings, heuristic, moderator)


def complete_all(
    settings: LLMSettings,
    requests: Sequence[ChatRequest],
    *,
    cache_dir: str | Path,
    heuristic: Heuristic,
) -> tuple[list[ChatResult], LLMStats]:
    """Synchronous entry point for a stage: all requests, results in order, and the counters."""

    async def run() -> tuple[list[ChatResult], LLMStats]:
        async with make_provider(settings, cache_dir=cache_dir, heuristic=heuristic) as provider:
            return await provider.complete(requests), provider.stats

    return asyncio.run(run())


def moderate_all(
    settings: LLMSettings,
    texts: Sequence[str],
    *,
    cache_dir: str | Path,
    moderator: Moderator = flag_nothing,
) -> tuple[list[ModerationResult], LLMStats]:
    """Synchronous moderation of many texts, in order, with the counters."""

    def no_chat(request: ChatRequest) -> str:
        raise LLMConfigError("moderate_all makes no chat requests")

    async def run() -> tuple[list[ModerationResult], LLMStats]:
        async with make_provider(
            settings, cache_dir=cache_dir, heuristic=no_chat, moderator=moderator
        ) as provider:
            return await provider.moderate(texts), provider.stats

    return asyncio.run(run())
