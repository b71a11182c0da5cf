"""The journals source: markdown journals of lessons learned → reasoning_chain,
code_correction, negative and direct_execution conversations.

A journal is a hand-written file, kilobytes, read whole as one markdown document
(docs/journals.md shows the shapes recognised).
"""

import msgspec

from stages.sources import FileParse, NoOptions, SourceFile
from stages.sources.journals.markdown import EXAMPLE_TYPES, REJECT_REASONS, parse_journal

VERSION = 1
PATTERNS = ("*.md",)
COUNT_KEYS = ("read", *(f"examples.{kind}" for kind in EXAMPLE_TYPES))
__all__ = ["REJECT_REASONS"]

_encoder = msgspec.json.Encoder()


def parse_file(file: SourceFile, _options: NoOptions) -> FileParse:
    data = file.read_bytes()
    result = parse_journal(data, file.file)
    counts = {"read": len(data.splitlines())}
    for conversation in result.conversations:
        key = f"examples.{conversation.labels.example_type}"
        counts[key] = counts.get(key, 0) + 1
    return FileParse(
        lines=b"".join(_encoder.encode(c) + b"\n" for c in result.conversations),
        conversations=len(result.conversations),
        rejects=result.rejects,
        counts=counts,
    )
