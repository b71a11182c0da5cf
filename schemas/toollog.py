"""One line of a tool-call log, as the assistant's tool runner writes it."""

from typing import Annotated, Any

import msgspec

from schemas.base import RawRecord

Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]


class ToolLogLine(RawRecord):
    """A tool execution, with the request that caused it where the log has it.

    `user_query` and `model_response` are absent from old-format lines; those are
    rebuilt from `tool_name` and `arguments`. `model_response` is the JSON text of
    the assistant message (or a whole chat completion) that asked for the call.
    """

    tool_name: str
    arguments: str | dict[str, Any] = "{}"
    timestamp: str | None = None
    model: str | None = None
    user_query: str | None = None
    model_response: str | None = None
    status: str | None = None
    message: str | None = None
    output: Any = None
    tools_enabled: tuple[str, ...] | None = None  # a tuple: hashable, it keys a memo
    rating: Rating | None = None
    final_response: str | None = None
