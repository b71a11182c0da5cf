"""The committed JSON Schemas match the Structs, and validate what the Structs encode."""

import json

import jsonschema
import msgspec
import pytest

from schemas.__main__ import HERE, SCHEMAS, normalized, render
from schemas.conversation import Conversation, FunctionCall, Message, ToolCall


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_struct(name: str) -> None:
    committed = (HERE / f"{name}.schema.json").read_text()
    assert committed == render(SCHEMAS[name]), f"run `python -m schemas`: {name} drifted"


def test_no_stray_schema_files() -> None:
    on_disk = {p.name.removesuffix(".schema.json") for p in HERE.glob("*.schema.json")}
    assert on_disk == set(SCHEMAS)


def conversation() -> Conversation:
    call = ToolCall(id="call_1", function=FunctionCall(name="fish", arguments='{"method":"net"}'))
    return Conversation(
        id="0123456789abcdef",
        source="toollog",
        messages=[
            Message(role="user", content="fish"),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id="call_1", content="ok"),
        ],
    )


def test_encoded_conversation_validates_and_round_trips() -> None:
    encoded = msgspec.json.encode(conversation())
    schema = json.loads((HERE / "conversation.schema.json").read_text())
    jsonschema.validate(json.loads(encoded), schema)
    assert msgspec.json.decode(encoded, type=Conversation) == conversation()
    assert b'"type":"function"' in encoded  # consumers require it although it is the default


def test_unknown_fields_refused_in_our_records() -> None:
    bad = msgspec.json.encode(conversation())[:-1] + b',"extra":1}'
    with pytest.raises(msgspec.ValidationError, match="extra"):
        msgspec.json.decode(bad, type=Conversation)


def test_descriptions_dedented_whatever_msgspec_does() -> None:
    raw = {"description": "First.\n\n    Indented by the docstring.", "properties": {}}
    nested = {"$defs": {"A": raw}, "anyOf": [raw]}
    expected = {"description": "First.\n\nIndented by the docstring.", "properties": {}}
    assert normalized(nested) == {"$defs": {"A": expected}, "anyOf": [expected]}
