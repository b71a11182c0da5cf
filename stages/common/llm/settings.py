"""`LLMSettings`: the `llm` section of params.yaml, one Struct with every default in one place."""

from typing import Annotated, Any, Literal

import msgspec

from stages.common.envname import env_name_problem

Positive = Annotated[float, msgspec.Meta(gt=0)]
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]


class LLMSettingsError(ValueError):
    """The `llm` params are malformed; the message names the field."""


class LLMSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """How to reach a model and how hard to try.

    Only `model`, `temperature`, `seed`, `max_tokens` and `cache_version` change an answer, so
    only they enter the cache key (through the request body); the rest (endpoint, key variable,
    timeouts, retries, concurrency, batch mode) can change without invalidating the cache.
    """

    provider: Literal["offline", "openai"] = "offline"
    model: str = "gpt-4o-mini"
    base_url: str | None = None  # None: the client's default (OPENAI_BASE_URL, else OpenAI)
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable holding the key
    timeout: Positive = 60.0
    concurrency: AtLeastOne = 8
    max_attempts: AtLeastOne = 5
    backoff_base: Positive = 1.0
    backoff_max: Positive = 60.0
    temperature: float = 0.0
    seed: int | None = 0
    max_tokens: int | None = None
    cache_version: int = 1
    mode: Literal["online", "batch"] = "online"  # batch: cache misses go through the Batch API
    batch_poll_interval: Positive = 30.0
    batch_max_requests: AtLeastOne = 50_000
    moderation_model: str = "omni-moderation-latest"
    moderation_chunk: AtLeastOne = 32
    progress: bool = True

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> "LLMSettings":
        """Build from the `llm` mapping of params.yaml; unknown or mistyped keys are errors.
        A key pasted into `api_key_env` is refused before any message could show it."""
        name = (params or {}).get("api_key_env")
        if isinstance(name, str):
            problem = env_name_problem(name, "llm.api_key_env", "OPENAI_API_KEY")
            if problem is not None:
                raise LLMSettingsError(problem)
        try:
            return msgspec.convert(params or {}, cls)
        except msgspec.ValidationError as exc:
            raise LLMSettingsError(f"llm: {exc}") from None
