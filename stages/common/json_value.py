"""Decoding JSON text into Python values as `json.loads` does, several times faster.

msgspec decodes the same values as `json.loads` for all it accepts; what it refuses
(`NaN`, `1e400`, a lone surrogate escaped or in a str, broken text) goes to `json.loads`,
which decides, so values and error messages are `json.loads`'s own.
"""

import json
from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode


def json_value(text: str | bytes) -> Any:
    """`json.loads(text)`; raises `json.JSONDecodeError` (or UnicodeDecodeError) as it does."""
    try:
        return _decode(text)
    except (msgspec.DecodeError, UnicodeEncodeError):
        return json.loads(text)
