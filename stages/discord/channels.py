"""One channel's messages from every source: merged by id, cut to the collection window.

A channel can arrive from the REST API and from several DiscordChatExporter files
(exports are often made in date ranges); the same message seen twice is kept once,
the REST copy first. `earliest` and `max_messages` apply to every source alike, so
a parameter means the same whether history came from a token or from a file.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from schemas.raw_discord_message import RawDiscordMessage


@dataclass
class ChannelMessages:
    channel_id: str
    by_id: dict[str, RawDiscordMessage] = field(default_factory=dict)
    duplicates: int = 0

    def add(self, messages: Iterable[RawDiscordMessage]) -> None:
        """Keep the first copy of each message id; count the others."""
        for message in messages:
            if message.id in self.by_id:
                self.duplicates += 1
            else:
                self.by_id[message.id] = message

    def oldest_first(self) -> list[RawDiscordMessage]:
        return [self.by_id[key] for key in sorted(self.by_id, key=int)]


@dataclass(frozen=True)
class Window:
    """What a channel keeps: nothing sent before midnight UTC of `earliest`, the newest N."""

    earliest: date | None = None
    max_messages: int | None = None

    def start(self) -> datetime | None:
        return None if self.earliest is None else datetime.combine(self.earliest, time(), UTC)

    def apply(self, oldest_first: list[RawDiscordMessage]) -> tuple[list[RawDiscordMessage], int]:
        """The messages kept, oldest first, and how many were cut."""
        start = self.start()
        kept = oldest_first
        if start is not None:
            kept = [m for m in kept if datetime.fromisoformat(m.timestamp) >= start]
        if self.max_messages is not None and len(kept) > self.max_messages:
            kept = kept[len(kept) - self.max_messages :]
        return kept, len(oldest_first) - len(kept)
