"""`LLMStats`: what a run of LLM calls cost and how it went, for the stage's stats file."""

import msgspec

# the plain counters, as a stage reports them under `llm.<name>`
COUNTERS = ("requests", "cache_hits", "succeeded", "retries", "failed", "batches", "batched")


class LLMStats(msgspec.Struct, kw_only=True):
    requests: int = 0  # HTTP calls made (each retry is one more)
    cache_hits: int = 0
    succeeded: int = 0  # replies obtained by calling, now in the cache
    retries: int = 0
    failed: int = 0
    retry_reasons: dict[str, int] = {}
    failure_reasons: dict[str, int] = {}
    batches: int = 0  # Batch API jobs created
    batched: int = 0  # requests sent through the Batch API

    def count_retry(self, reason: str) -> None:
        self.retries += 1
        self.retry_reasons[reason] = self.retry_reasons.get(reason, 0) + 1

    def count_failure(self, reason: str) -> None:
        self.failed += 1
        self.failure_reasons[reason] = self.failure_reasons.get(reason, 0) + 1

    def add(self, other: "LLMStats") -> None:
        """Add another run's counters and reasons to these."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in (
            (self.retry_reasons, other.retry_reasons),
            (self.failure_reasons, other.failure_reasons),
        ):
            for reason, n in theirs.items():
                mine[reason] = mine.get(reason, 0) + n

    def counters(self) -> dict[str, int]:
        """`llm.<counter>` → value, for a stage's Stats."""
        return {f"llm.{name}": getattr(self, name) for name in COUNTERS}
