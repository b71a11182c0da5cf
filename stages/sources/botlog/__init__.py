"""The botlog source: a game bot's daily conversation logs → conversations with tool calls.

One file a day, `conversations_YYYY-MM-DD.jsonl`, one exchange a line
(schemas/botlog_line.py). Each day is a part of its own: a new day parses only that day.
"""

import msgspec

from stages.sources import FileParse, NoOptions, SourceFile
from stages.sources.botlog.day_log import PARSER_VERSION, REJECT_REASONS, parse_day

VERSION = PARSER_VERSION
PATTERNS = ("conversations_[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].jsonl",)
COUNT_KEYS = ("read", "blank_lines")
__all__ = ["REJECT_REASONS"]

_encoder = msgspec.json.Encoder()


def parse_file(file: SourceFile, _options: NoOptions) -> FileParse:
    result = parse_day(file.lines(), file.file, file.max_line_bytes)
    return FileParse(
        lines=b"".join(_encoder.encode(c) + b"\n" for c in result.conversations),
        conversations=len(result.conversations),
        rejects=result.rejects,
        counts={"read": result.read, "blank_lines": result.blank_lines},
    )
