"""Lines of the exported datasets and of the export's side files."""

import msgspec

from schemas.base import Record
from schemas.conversation import Labels, Message, Meta, Source, Tool


class OpenAIChatExample(Record):
    """A line of OpenAI chat fine-tuning JSONL."""

    messages: list[Message]
    tools: list[Tool] | None = None
    parallel_tool_calls: bool | None = None


class RecordMetadata(Record):
    """One curated record: where it came from and where each format put it.

    `index` is the record's position in the curated `split` file. `lines[format]` is
    its 0-based line in `formats/<format>/<split>.jsonl`; a format that refused the
    record has no key (the refusal is in the export's rejects file).
    """

    id: str
    split: str
    index: int
    source: Source
    labels: Labels
    meta: Meta
    lines: dict[str, int] = msgspec.field(default_factory=dict)


class ExportReject(Record):
    """A curated record that one format cannot carry, and why."""

    id: str
    split: str
    index: int
    format: str
    reason: str
    message: str
