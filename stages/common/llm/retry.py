"""Which API errors are worth retrying, and how long to wait before the next attempt."""

import email.utils
import random
import time
from collections.abc import Mapping
from typing import NamedTuple

import openai

from stages.common.llm.settings import LLMSettings
from stages.common.user_error import UserError

RETRY_AFTER_CAP = 600.0


class LLMConfigError(UserError):
    """A failure no retry can fix (bad key, unknown model, no quota): stop the run.

    A UserError, because the user fixes it, not the code: a stage prints its one-line
    message and exits 1, from however deep in the event loop it was raised."""


class Failure(NamedTuple):
    reason: str
    retryable: bool
    retry_after: float | None = None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if (value := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(exc: openai.APIError, settings: LLMSettings) -> Failure:
    """Map a client exception to a failure reason; raise `LLMConfigError` for fatal ones."""
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("connection", True)
    if not isinstance(exc, openai.APIStatusError):
        return Failure("api_error", False)
    status = exc.status_code
    where = settings.base_url or "the default OpenAI endpoint"
    if status in (401, 403):
        raise LLMConfigError(
            f"{where} refused the key (HTTP {status}): check ${settings.api_key_env}"
        ) from None
    if status == 404:
        raise LLMConfigError(f"{where} has no model {settings.model!r} or no such endpoint")
    if status == 429 and exc.code == "insufficient_quota":
        raise LLMConfigError(f"{where}: the account behind ${settings.api_key_env} has no quota")
    retry_after = parse_retry_after(exc.response.headers)
    if status == 429:
        return Failure("rate_limited", True, retry_after)
    if status >= 500:
        return Failure("server_error", True, retry_after)
    if status in (408, 409):
        return Failure(f"http_{status}", True, retry_after)
    return Failure(f"http_{status}", False)


def backoff_delay(
    attempt: int, retry_after: float | None, settings: LLMSettings, rng: random.Random
) -> float:
    """Retry-After when the server gives one; else exponential backoff with equal jitter, so
    clients that failed together do not retry together."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP)
    ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
