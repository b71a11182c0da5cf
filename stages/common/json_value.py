"""Decoding JSON text into Python values as `json.loads` does, several times faster.

msgspec decodes the same values as `json.loads` for all it accepts; what it refuses
(`NaN`, `1e400`, a lone surrogate escaped or in a str, broken text) goes to `json.loads`,
which decides, so values and error messages are `json.loads`'s own.
"""

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import msgspec

_decode = msgspec.json.Decoder().decode


def json_value(text: str | bytes) -> Any:
    """`json.loads(text)`; raises `json.JSONDecodeError` (or UnicodeDecodeError) as it does."""
    try:
        return _decode(text)
    except (msgspec.DecodeError, UnicodeEncodeError):
        return json.loads(text)


def json_or_none(text: str) -> Any:
    """The value of a JSON text a check reads (arguments, tool definitions), or None where it
    is no JSON: the check then says what the text should have been."""
    try:
        return json_value(text)
    except json.JSONDecodeError:
        return None


class NotJson(NamedTuple):
    """What stands for the value of a line that does not decode."""

    message: str


def decode_lines(lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every line, a `NotJson` for a line that is no JSON: decoded
    once for every check of the line."""
    for number, data in lines:
        try:
            yield number, json_value(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield number, NotJson(f"not JSON: {exc}")
