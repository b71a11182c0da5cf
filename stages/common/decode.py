"""Decoding one input line into a typed record, or saying precisely why it cannot be.

Every ingest stage reads JSONL written by someone else, and a bad line must be
rejected with the same reason names whatever the source: `line_too_long`,
`invalid_utf8`, `truncated_line` (a last line cut off mid-write), `invalid_json`,
`missing_field`, `wrong_type` (a field of the wrong type, a value out of range,
or a line that is not an object), `nested_too_deep` (brackets nested deeper than
`MAX_NESTING`, which no decoder could follow without exhausting Python's stack).
"""

import re
from typing import Generic, TypeVar

import msgspec

from schemas.reject import Reject
from stages.common.jsonl import MAX_NESTING, Line
from stages.common.rejects import excerpt

T = TypeVar("T")

DECODE_REASONS = (
    "invalid_json",
    "invalid_utf8",
    "truncated_line",
    "line_too_long",
    "missing_field",
    "wrong_type",
    "nested_too_deep",
)


class LineError(Exception):
    """A line that cannot become a record; `reason` is its rejects-file category."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def reject(self, file: str, line: Line) -> Reject:
        return Reject(
            file=file,
            line=line.number,
            reason=self.reason,
            message=str(self),
            excerpt=excerpt(line.data),
        )


class LineDecoder(Generic[T]):
    """A typed msgspec decoder for lines, raising `LineError` with the reason named."""

    def __init__(self, record_type: type[T], max_line_bytes: int) -> None:
        self.decoder = msgspec.json.Decoder(record_type)
        self.max_line_bytes = max_line_bytes

    def decode(self, line: Line) -> T:
        if line.oversize:
            raise LineError(
                "line_too_long",
                f"line of {line.oversize} bytes is over max_line_bytes={self.max_line_bytes}",
            )
        if line.too_deep:
            raise LineError(
                "nested_too_deep",
                f"brackets nested deeper than {MAX_NESTING} levels (inside strings too)",
            )
        try:
            return self.decoder.decode(line.data)
        except msgspec.ValidationError as error:
            message = str(error)
            reason = "missing_field" if "missing required field" in message else "wrong_type"
            raise LineError(reason, message) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            raise LineError(*_malformed(line, error)) from None


# A UTF-16 surrogate escape without its pair: JSON's grammar allows it, Unicode text does not,
# and msgspec reports it as "Input data was truncated", which would send a user looking for a
# cut-off line.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _malformed(line: Line, error: Exception) -> tuple[str, str]:
    try:
        line.data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return "invalid_utf8", f"invalid UTF-8 at byte {bad.start}"
    if line.unterminated:
        return "truncated_line", f"last line has no newline and is cut off: {error}"
    lone = _LONE_SURROGATE.search(line.data)
    if lone:
        escape = lone.group().decode()
        return "invalid_json", f"unpaired surrogate escape {escape} at byte {lone.start()}"
    return "invalid_json", str(error)
