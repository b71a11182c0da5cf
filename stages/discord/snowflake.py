"""Snowflake ids and timestamps: the time a Discord id encodes, and one UTC text form."""

import re
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000
TIMESTAMP_SHIFT = 22
MAX_SNOWFLAKE = (1 << 64) - 1

# `<:name:id>` or `<a:name:id>`: how custom emoji appear in raw message content.
CUSTOM_EMOJI_TOKEN = re.compile(r"<(a?):(\w{2,32}):(\d{15,21})>")


def is_snowflake(text: str) -> bool:
    """A Discord id: ASCII digits within 64 bits. `str.isdigit` alone passes `12²`, which
    `int` refuses, and `١٢`, which `int` reads as another number."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_SNOWFLAKE


def snowflake_time(snowflake: int | str) -> datetime:
    """The UTC creation time encoded in the top 42 bits of a snowflake."""
    ms = (int(snowflake) >> TIMESTAMP_SHIFT) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def snowflake_at(when: datetime) -> int:
    """The smallest snowflake created at `when` (aware): every id at or after it is >= this."""
    ms = round(when.timestamp() * 1000)
    return max(ms - DISCORD_EPOCH_MS, 0) << TIMESTAMP_SHIFT


def utc_iso(when: datetime) -> str:
    """The one timestamp form we write: UTC, microseconds, `+00:00`, as the Discord API does."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def normalize_timestamp(text: str) -> str:
    """Rewrite an ISO 8601 timestamp with an offset as UTC; refuse one without an offset."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return utc_iso(parsed)
