"""Tool-call log lines → conversations: the pure core of `ingest_toollog`."""

from typing import Any

import msgspec

from schemas.base import Record
from schemas.conversation import (
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Meta,
    Tool,
    ToolCall,
)
from schemas.toollog_line import ModelResponse, ResponseMessage, ToolLogLine
from stages.common.conversation_line import conversation_line, encode_tools
from stages.common.decode import LineError
from stages.common.tool_schema import infer_schema

SUCCESS_STATUSES = frozenset({"success", "succeeded", "ok", "completed", "done"})


class ToolResult(Record):
    status: str | None = None
    message: str | None = None
    output: Any = None


_response_decoder = msgspec.json.Decoder(ModelResponse)
_arguments_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def parse_arguments(raw: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        return _arguments_decoder.decode(raw) if raw.strip() else {}
    except msgspec.ValidationError:
        raise LineError("invalid_arguments", "`arguments` must hold a JSON object") from None
    except msgspec.DecodeError as error:
        raise LineError("invalid_arguments", f"`arguments` is not JSON: {error}") from None


def parse_model_response(raw: str) -> ResponseMessage | None:
    """The assistant message, or None when the text is not one (the line is kept: see below)."""
    try:
        response = _response_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if response.choices:
        return response.choices[0].message
    return response


def response_text(message: ResponseMessage) -> str | None:
    content = message.content
    if isinstance(content, list):
        content = "".join(part.text or "" for part in content if part.type == "text")
    return content if content and content.strip() else None


def reconstructed_query(tool_name: str, arguments: dict[str, Any]) -> str:
    """A user request for old-format lines, which logged only the call itself."""
    if not arguments:
        return f"Use {tool_name}."
    settings = ", ".join(f"{k}={_encoder.encode(v).decode()}" for k, v in arguments.items())
    return f"Use {tool_name} with {settings}."


def tool_content(entry: ToolLogLine) -> str:
    return _encoder.encode(
        ToolResult(status=entry.status, message=entry.message, output=entry.output)
    ).decode()


_UNSEEN = object()


class ToolsResolver:
    """The `tools` of a line, encoded: catalog definitions, or parameters inferred from the call.

    Lines of one tool mostly share an argument shape, so the encoded tools list
    is memoised per shape of flat arguments: inference and encoding run once,
    not per line.
    """

    def __init__(self, catalog: dict[str, Tool], cache_size: int = 4096) -> None:
        self.catalog = catalog
        self.cache_size = cache_size
        self._cache: dict[tuple[Any, ...], msgspec.Raw | None] = {}

    def __call__(self, entry: ToolLogLine, arguments: dict[str, Any]) -> msgspec.Raw | None:
        types = tuple(map(type, arguments.values()))
        key = (entry.tool_name, entry.tools_enabled, tuple(arguments), types)
        tools = self._cache.get(key, _UNSEEN)
        if tools is _UNSEEN:
            tools = encode_tools(self.resolve(entry, arguments))
            if dict not in types and list not in types:  # nested shapes are not in the key
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[key] = tools
        return tools

    def resolve(self, entry: ToolLogLine, arguments: dict[str, Any]) -> list[Tool]:
        """The tools the model was offered, per `tools_enabled` (see `ToolLogLine`).

        `true` is the Go CLI's "tools were offered": the catalog is taken to be
        that assistant's tool set, so all of it was in play, unless it lacks the
        called tool: then it is some other assistant's, and the called tool is all
        we know of (as with no catalog). A list names the tools; `false` or absent
        leaves only the called tool. A called tool the catalog lacks is inferred.
        """
        enabled = entry.tools_enabled
        if enabled is True:
            offered = list(self.catalog) if entry.tool_name in self.catalog else []
        else:
            offered = enabled or []
        names = dict.fromkeys([*offered, entry.tool_name])
        tools = [self.catalog[name] for name in names if name in self.catalog]
        if entry.tool_name not in self.catalog:
            inferred = infer_schema(arguments)
            tools.append(Tool(function=FunctionDef(name=entry.tool_name, parameters=inferred)))
        return tools


class Converted(msgspec.Struct, gc=False):
    line: bytes  # the encoded conversation, ending in a newline
    unexecuted_calls: int
    reconstructed: bool
    unreadable_response: bool


def to_conversation(entry: ToolLogLine, file: str, line: int, tools: ToolsResolver) -> Converted:
    """The conversation one log line records, encoded, and how many unexecuted calls it dropped.

    The log's `tool_name`/`arguments` are what actually ran, so they make the
    tool call; `model_response` contributes the assistant's preamble text. Other
    calls in that response have no result in the log and cannot be trained on.
    A `model_response` that is not JSON of a message (the seed's own example
    elides it as `[...]`) costs only that preamble, so the line is kept and counted.
    """
    if not entry.tool_name.strip():
        raise LineError("missing_field", "`tool_name` is empty")
    arguments = parse_arguments(entry.arguments)
    response = parse_model_response(entry.model_response) if entry.model_response else None
    unreadable = response is None and bool(entry.model_response)
    reconstructed = not (entry.user_query and entry.user_query.strip())
    query = reconstructed_query(entry.tool_name, arguments) if reconstructed else entry.user_query
    call = ToolCall(
        id="call_1",
        function=FunctionCall(name=entry.tool_name, arguments=_encoder.encode(arguments).decode()),
    )
    messages = [
        Message(role="user", content=query),
        Message(
            role="assistant",
            content=response_text(response) if response else None,
            tool_calls=[call],
        ),
        Message(role="tool", tool_call_id="call_1", content=tool_content(entry)),
    ]
    if entry.final_response and entry.final_response.strip():
        messages.append(Message(role="assistant", content=entry.final_response))
    tags = []
    if entry.status is not None and entry.status.lower() not in SUCCESS_STATUSES:
        tags.append("tool_error")
    if reconstructed:
        tags.append("reconstructed")
    encoded = conversation_line(
        "toollog",
        messages,
        tools(entry, arguments),
        Labels(rating=entry.rating or None, tags=tags),
        Meta(
            file=file,
            line=line,
            timestamp=entry.timestamp,
            model=entry.model,
            reconstructed=reconstructed or None,
        ),
    )
    return Converted(
        encoded, unexecuted_calls(response, entry.tool_name), reconstructed, unreadable
    )


def unexecuted_calls(response: ResponseMessage | None, executed: str) -> int:
    calls = response.tool_calls if response is not None else None
    if not calls:
        return 0
    for call in calls:
        if call.function.name == executed:
            return len(calls) - 1
    return len(calls)
