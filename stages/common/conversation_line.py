"""A `Conversation`'s JSONL line in one encoding pass.

An id is the hash of the encoded messages, so a naive writer encodes the
messages twice: once to hash them, once inside the record. Ingest stages write
millions of conversations, and most of them share their encoded `tools` list
too, so both are encoded once and spliced in as `msgspec.Raw`; the bytes are the
same as `msgspec.json.encode(Conversation(...))` (tests/test_common.py checks).
"""

import msgspec

from schemas.base import Record
from schemas.conversation import Labels, Message, Meta, Source
from stages.common.hashing import encoded_messages_id

_encoder = msgspec.json.Encoder()
# The record is encoded into one reused buffer (nothing else refers to it), which skips
# growing a fresh output buffer for every record; only the finished line is copied out.
_line = bytearray(1 << 12)


class _SplicedConversation(Record):
    """`Conversation`'s fields in its order, with messages and tools pre-encoded."""

    id: str
    source: Source
    messages: msgspec.Raw
    tools: msgspec.Raw | None = None
    labels: Labels = msgspec.field(default_factory=Labels)
    meta: Meta = msgspec.field(default_factory=Meta)


def encode_tools(tools: list) -> msgspec.Raw | None:
    """A tools list encoded once for many conversations; None for no tools (omitted)."""
    return msgspec.Raw(_encoder.encode(tools)) if tools else None


def conversation_line(
    source: Source,
    messages: list[Message],
    tools: msgspec.Raw | None,
    labels: Labels,
    meta: Meta,
) -> bytes:
    """The encoded `Conversation` with its content-hash id, ending in a newline."""
    encoded = _encoder.encode(messages)
    record = _SplicedConversation(
        id=encoded_messages_id(encoded),
        source=source,
        messages=msgspec.Raw(encoded),
        tools=tools,
        labels=labels,
        meta=meta,
    )
    _encoder.encode_into(record, _line)
    _line.append(10)
    return bytes(_line)
