"""Every export format by name, each a pure function: one Conversation in, its line(s) out.

A function raises `Unexportable(reason, detail)` for a conversation its format
cannot carry faithfully; the export stage counts the reason and keeps the id.
"""

from collections.abc import Callable

import msgspec

from schemas.conversation import Conversation
from stages.formats.axolotl import to_alpaca, to_axolotl_chat
from stages.formats.chatml import to_chatml
from stages.formats.format_helpers import Unexportable
from stages.formats.harmony import to_harmony
from stages.formats.openai_chat import to_openai_chat
from stages.formats.preference import to_preference
from stages.formats.qwen import to_qwen
from stages.formats.sharegpt import to_sharegpt
from stages.formats.unified import to_unified

Exporter = Callable[[Conversation], list[msgspec.Struct]]

FORMATS: dict[str, Exporter] = {
    "openai": to_openai_chat,
    "chatml": to_chatml,
    "qwen": to_qwen,
    "axolotl_chat": to_axolotl_chat,
    "alpaca": to_alpaca,
    "sharegpt": to_sharegpt,
    "harmony": to_harmony,
    "preference": to_preference,
    "unified": to_unified,
}

# The generated JSON Schema (schemas/<name>.schema.json) every line of a format obeys.
LINE_SCHEMAS: dict[str, str] = {
    "openai": "openai_chat_example",
    "chatml": "text_line",
    "qwen": "text_line",
    "axolotl_chat": "axolotl_chat_row",
    "alpaca": "alpaca_row",
    "sharegpt": "sharegpt_row",
    "harmony": "harmony_line",
    "preference": "preference_row",
    "unified": "conversation",
}

__all__ = ["FORMATS", "LINE_SCHEMAS", "Exporter", "Unexportable"]
