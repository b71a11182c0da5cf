"""One line of a game bot's daily conversation log (`conversations_YYYY-MM-DD.jsonl`)."""

from typing import Annotated, Any, Literal

import msgspec

from schemas.base import RawRecord

Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]


class BotToolCall(RawRecord):
    """A tool the bot called while answering: `arguments` is an object or its JSON text."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    arguments: dict[str, Any] | str = msgspec.field(default_factory=dict)
    result: Any = None
    error: str | None = None


class BotLogLine(RawRecord):
    """A user's message, the tool calls the bot made in order, and the bot's reply.

    `task_type` and `category` are the bot's own classification of the request;
    `label` ("good"/"bad") and `rating` (1-5) are present only on lines someone
    reviewed.
    """

    timestamp: str
    message: str
    response: str
    task_type: str
    category: str
    tool_calls: list[BotToolCall] = msgspec.field(default_factory=list)
    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    label: Literal["good", "bad"] | None = None
    rating: Rating | None = None
