"""`OfflineProvider`: the default. Deterministic heuristics stand in for the model, so the
pipeline runs end to end with no key and no network.

The caller supplies the heuristic for its task (one function per stage: request → reply).
Replies are validated exactly like a model's, so a heuristic that breaks the task's schema
is counted as a failure, not passed on. Nothing is cached: a heuristic is cheaper to rerun
than to read back, and the cache stays a record of paid-for answers only. So a result's cache
key is empty: hashing each request body for it took a tenth of enrich's time.
"""

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from stages.common.hashing import canonical_json
from stages.common.llm.llm_stats import LLMStats
from stages.common.llm.reply_checks import check_reply
from stages.common.llm.request import ChatReply, ChatRequest, ChatResult, ModerationResult
from stages.common.llm.settings import LLMSettings

# A heuristic returns the reply text, a ChatReply, or (for structured output) the JSON value.
Heuristic = Callable[[ChatRequest], str | ChatReply | dict[str, Any] | list[Any]]
Moderator = Callable[[str], ModerationResult]


def flag_nothing(text: str) -> ModerationResult:
    """The default offline moderator: every text passes (curate's own filters still apply)."""
    return ModerationResult(key="")


def _as_reply(value: str | ChatReply | dict[str, Any] | list[Any]) -> ChatReply:
    if isinstance(value, ChatReply):
        return value
    if isinstance(value, str):
        return ChatReply(content=value, finish_reason="stop")
    return ChatReply(content=canonical_json(value).decode(), finish_reason="stop")


class OfflineProvider:
    def __init__(
        self, settings: LLMSettings, heuristic: Heuristic, moderator: Moderator = flag_nothing
    ) -> None:
        self.settings = settings
        self.heuristic = heuristic
        self.moderator = moderator
        self.stats = LLMStats()

    async def __aenter__(self) -> "OfflineProvider":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def complete(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        results = []
        for request in requests:
            reply = _as_reply(self.heuristic(request))
            parsed, reason = check_reply(request, reply)
            if reason is not None:
                self.stats.count_failure(reason)
                results.append(ChatResult(key="", error=reason))
                continue
            self.stats.succeeded += 1
            results.append(ChatResult(key="", reply=reply, parsed=parsed))
        return results

    async def moderate(self, texts: Sequence[str]) -> list[ModerationResult]:
        results = []
        for text in texts:
            results.append(msgspec.structs.replace(self.moderator(text), key=""))
            self.stats.succeeded += 1
        return results
