"""Hand-built conversations with every trap the exports must survive."""

import openai_harmony as oh

from schemas.conversation import (
    Conversation,
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Meta,
    Tool,
    ToolCall,
)
from stages.common.hashing import messages_id
from stages.formats.harmony import encoding

SEARCH = Tool(
    function=FunctionDef(
        name="search_logs",
        description="Search the logs",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
    )
)
READ = Tool(
    function=FunctionDef(
        name="read_file",
        description="Read a file",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}},
    )
)
RUN = Tool(function=FunctionDef(name="run", description="Run a shell command"))


def call(call_id: str, name: str, arguments: str) -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))


def conversation(messages: list[Message], **kwargs) -> Conversation:
    return Conversation(id=messages_id(messages), messages=messages, **kwargs)


PLAIN = conversation(
    [
        Message(role="system", content="You are terse."),
        Message(role="user", content="What is 2+2?"),
        Message(role="assistant", content="4"),
    ],
    source="discord",
    meta=Meta(channel_id="123", message_ids=["1", "2"], target_message_id="2"),
)

PREAMBLE_CALL = conversation(
    [
        Message(role="system", content="You help with logs."),
        Message(role="user", content="Find errors from último deploy"),
        Message(
            role="assistant",
            content="Let me search the logs first.",
            tool_calls=[call("c1", "search_logs", '{"query": "error", "limit": 5}')],
        ),
        Message(role="tool", tool_call_id="c1", name="search_logs", content="2 errors: E1, E2"),
        Message(role="assistant", content="Two errors: E1 and E2."),
    ],
    source="sessions",
    tools=[SEARCH],
    labels=Labels(example_type="direct_execution", quality_score=0.9, tags=["logs"]),
    meta=Meta(session_id="s-1", file="a.jsonl", line=7),
)

PARALLEL = conversation(
    [
        Message(role="user", content="Read a.txt and b.txt"),
        Message(
            role="assistant",
            tool_calls=[
                call("p1", "read_file", '{"path":"a.txt"}'),
                call("p2", "read_file", '{"path":"b.txt"}'),
            ],
        ),
        Message(role="tool", tool_call_id="p1", content="alpha"),
        Message(role="tool", tool_call_id="p2", content="beta"),
        Message(role="assistant", content="a.txt says alpha, b.txt says beta."),
    ],
    source="toollog",
    tools=[READ],
)

# Same argument key as PREAMBLE_CALL with another JSON type: breaks Arrow if stored as objects.
TOOL_ERROR = conversation(
    [
        Message(role="user", content="Search for timeouts, ten of them"),
        Message(
            role="assistant",
            tool_calls=[call("e1", "search_logs", '{"query":"timeout","limit":"ten"}')],
        ),
        Message(role="tool", tool_call_id="e1", content="Error: limit must be an integer"),
        Message(
            role="assistant",
            tool_calls=[call("e2", "search_logs", '{"query":"timeout","limit":10}')],
        ),
        Message(role="tool", tool_call_id="e2", content="no timeouts"),
        Message(role="assistant", content="No timeouts found."),
    ],
    source="toollog",
    tools=[SEARCH],
    labels=Labels(rating=4),
)

NEGATIVE = conversation(
    [
        Message(role="user", content="Clean up the build folder"),
        Message(role="assistant", tool_calls=[call("n1", "run", '{"cmd":"rm -rf /"}')]),
        Message(role="tool", tool_call_id="n1", content="refused: dangerous command"),
        Message(role="user", content="That would wipe the disk. Only ./build please."),
        Message(role="assistant", tool_calls=[call("n2", "run", '{"cmd":"rm -rf ./build"}')]),
        Message(role="tool", tool_call_id="n2", content=""),
        Message(role="assistant", content="Removed ./build."),
    ],
    source="sessions",
    tools=[RUN],
    labels=Labels(example_type="negative", problem="deleted the root", root_cause="no path check"),
)

CODE_CORRECTION = conversation(
    [
        Message(role="system", content="You write Python."),
        Message(role="user", content="Write add(a, b)"),
        Message(role="assistant", content="def add(a, b): return a - b", weight=0),
        Message(role="user", content="add(1, 2) returned -1"),
        Message(role="assistant", content="def add(a, b): return a + b"),
    ],
    source="sessions",
    labels=Labels(example_type="code_correction", reasoning="sign error"),
)

LONE_NEGATIVE = conversation(
    [
        Message(role="user", content="Delete prod"),
        Message(role="assistant", content="Deleting prod now."),
    ],
    source="sessions",
    labels=Labels(example_type="negative"),
)

ALL = [PLAIN, PREAMBLE_CALL, PARALLEL, TOOL_ERROR, NEGATIVE, CODE_CORRECTION]
CLEAN = [PLAIN, PREAMBLE_CALL, PARALLEL, TOOL_ERROR]


HARMONY_KEYS = ("role", "name", "channel", "recipient", "content_type", "content")


def parse_harmony(text: str, tools: list[Tool]) -> list[dict]:
    """A Harmony text read back by openai-harmony: the messages after the system and developer
    headers, which must be there and must declare every tool."""
    tokens = encoding().encode(text, allowed_special="all")
    parsed = encoding().parse_messages_from_completion_tokens(tokens)
    assert [m.author.role for m in parsed[:2]] == [oh.Role.SYSTEM, oh.Role.DEVELOPER]
    for tool in tools:
        assert f"type {tool.function.name} = " in parsed[1].content[0].text
    return [
        {
            "role": m.author.role.value,
            "name": m.author.name,
            "channel": m.channel,
            "recipient": m.recipient,
            "content_type": m.content_type,
            "content": m.content[0].text,
        }
        for m in parsed[2:]
    ]
