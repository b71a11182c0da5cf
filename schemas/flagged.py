"""What the moderate stage sets aside: a conversation the moderation endpoint flagged, or one
it could not judge (moderation fails closed)."""

import msgspec

from schemas.base import Record
from schemas.conversation import Conversation


class Flagged(Record, kw_only=True):
    id: str
    categories: list[str]  # the flagged categories that caused the drop, sorted
    scores: dict[str, float] = msgspec.field(
        default_factory=dict
    )  # the highest score of each category over the texts
    error: str | None = None  # set when no verdict could be obtained
    conversation: Conversation
