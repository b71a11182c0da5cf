"""Stable content hashes: the same content gives the same id on any machine."""

import hashlib
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder(order="sorted")
# Copying a started hash skips OpenSSL's per-call algorithm lookup, which costs
# more than hashing a short conversation.
_sha256 = hashlib.sha256()
_struct_encoder = msgspec.json.Encoder()

ID_HEX_CHARS = 16


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: equal content, equal bytes."""
    return _encoder.encode(value)


def content_hash(value: Any) -> str:
    """Full sha256 hex digest of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def content_id(value: Any) -> str:
    """A short record id: 64 bits of the content hash, plenty for any dataset."""
    return content_hash(value)[:ID_HEX_CHARS]


def messages_id(messages: list[Any]) -> str:
    """The id of a conversation: a hash of its messages.

    Message Structs hold no dicts, so their plain encoding is already canonical
    (fields in declaration order): no key sorting, which is the slow part.
    """
    return encoded_messages_id(_struct_encoder.encode(messages))


def encoded_messages_id(encoded: bytes) -> str:
    """`messages_id` of messages already encoded, for writers that splice them in."""
    digest = _sha256.copy()
    digest.update(encoded)
    return digest.hexdigest()[:ID_HEX_CHARS]
