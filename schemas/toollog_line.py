"""One line of a tool-call log, as the assistant's tool runner writes it."""

from typing import Annotated, Any

import msgspec

from schemas.base import RawRecord

Rating = Annotated[int, msgspec.Meta(ge=0, le=5)]  # 0: unrated, Go's zero value


class ToolLogLine(RawRecord):
    """A tool execution, with the request that caused it where the log has it.

    `user_query` and `model_response` are absent from old-format lines; those are
    rebuilt from `tool_name` and `arguments`. `model_response` is the JSON text of
    the assistant message (or a whole chat completion) that asked for the call.
    `timestamp` is kept as written (Go writes nanoseconds and a local offset).
    `output` is whatever the tool returned: raw text as a rule, JSON for some tools.
    `rating` 0 is read as unrated (Go's zero value for an int).

    `tools_enabled` says which tools the model was offered: a list of names, or,
    as the Go CLI logger writes it, a boolean for whether it was offered tools at
    all. `true` means the whole tool catalog given to the stage, if it has the
    called tool (else only that tool); `false` or absent, only the called tool.
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
    tools_enabled: bool | tuple[str, ...] | None = None  # hashable: it keys a memo
    rating: Rating | None = None
    final_response: str | None = None


# The assistant message `model_response` holds (JSON text), as far as we read it.


class ResponseFunction(RawRecord):
    """Only the name: the executed call's arguments come from the log line itself, and an
    undeclared field is skipped by msgspec without building a Python object."""

    name: str


class ResponseToolCall(RawRecord):
    function: ResponseFunction


class ContentPart(RawRecord):
    type: str = "text"
    text: str | None = None


class ResponseMessage(RawRecord):
    content: str | list[ContentPart] | None = None
    tool_calls: list[ResponseToolCall] | None = None


class Choice(RawRecord):
    message: ResponseMessage


class ModelResponse(ResponseMessage):
    """An assistant message, or a whole chat completion holding one in `choices`."""

    choices: list[Choice] | None = None
