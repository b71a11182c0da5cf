"""The toollog source: tool-call logs, one executed call a line → one conversation each.

The Go CLI assistant writes `tool_calls.log`, others `*.jsonl`: one JSON object a line
(schemas/toollog_line.py). Lines are independent, so files are parsed in spans on all cores.
"""

from collections import Counter
from typing import Annotated

import msgspec

from schemas.toollog_line import ToolLogLine
from stages.common.catalog import load_catalog
from stages.sources.toollog.entries import ToolsResolver, to_conversation

VERSION = 1
PATTERNS = ("*.jsonl", "*.log")
LINE_TYPE = ToolLogLine
COUNT_KEYS = ("reconstructed", "unexecuted_calls_dropped", "unreadable_model_responses")
REJECT_REASONS = ("invalid_arguments",)
INPUT_OPTIONS = ("catalog",)


class Options(msgspec.Struct, frozen=True, kw_only=True):
    catalog: Annotated[
        str | None,
        msgspec.Meta(
            description="JSON list of tool definitions; tools missing from it get parameters "
            "inferred from their call."
        ),
    ] = None


def prepare(options: Options) -> ToolsResolver:
    catalog = load_catalog(options.catalog) if options.catalog else []
    return ToolsResolver({tool.function.name: tool for tool in catalog})


def convert(
    entry: ToolLogLine, file: str, line: int, tools: ToolsResolver, counts: Counter[str]
) -> bytes:
    converted = to_conversation(entry, file, line, tools)
    if converted.unexecuted_calls:
        counts["unexecuted_calls_dropped"] += converted.unexecuted_calls
    if converted.reconstructed:
        counts["reconstructed"] += 1
    if converted.unreadable_response:
        counts["unreadable_model_responses"] += 1
    return converted.line
