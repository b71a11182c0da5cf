"""Lines of every export format, one Struct per line shape.

Column types are fixed per format so that Hugging Face `datasets` (Arrow) casts
every row the same way: where a consumer accepts it, free-form objects (tool
arguments, tool parameters) travel as JSON strings, never as objects whose keys
and types vary from row to row. The OpenAI line is `schemas.export_lines.OpenAIChatExample`.
"""

from typing import Any

import msgspec

from schemas.base import Record


class TextLine(Record):
    """A whole conversation rendered as one training text (ChatML, Qwen)."""

    text: str


class StringFunctionCall(Record):
    name: str
    arguments: str  # JSON text of an object: Axolotl json-loads it before templating


class StringToolCall(Record, kw_only=True, omit_defaults=False):
    id: str
    type: str = "function"
    function: StringFunctionCall


class StringFunctionDef(Record, kw_only=True, omit_defaults=False):
    name: str
    description: str = ""
    parameters: str  # JSON text of the JSON Schema object


class StringTool(Record, kw_only=True, omit_defaults=False):
    type: str = "function"
    function: StringFunctionDef


class AxolotlMessage(Record):
    """A message of Axolotl's `chat_template` type; `train: false` masks a turn."""

    role: str
    content: str | None = None
    tool_calls: list[StringToolCall] | None = None
    tool_call_id: str | None = None
    train: bool | None = None


class AxolotlChatRow(Record):
    messages: list[AxolotlMessage]
    tools: list[StringTool] | None = None


class AlpacaRow(Record):
    """instruction/input/output, plus the system prompt LLaMA-Factory can read."""

    instruction: str
    input: str
    output: str
    system: str


class ShareGPTTurn(Record):
    from_: str = msgspec.field(name="from")
    value: str


class ShareGPTRow(Record):
    """LLaMA-Factory's sharegpt layout; `tools` is the JSON text of the function list."""

    conversations: list[ShareGPTTurn]
    system: str
    tools: str


class HarmonyMessage(Record, kw_only=True, omit_defaults=False):
    """One Harmony message as openai-harmony's parser returns it, content as text."""

    role: str
    name: str | None = None
    channel: str | None = None
    recipient: str | None = None
    content_type: str | None = None
    content: str


class HarmonyLine(Record):
    """Harmony training text for gpt-oss, with the messages after the developer turn."""

    text: str
    developer: str
    tools: str
    messages: list[HarmonyMessage]


class ObjectFunctionCall(Record):
    name: str
    arguments: dict[str, Any]  # Hugging Face chat templates render an object, not a string


class ObjectToolCall(Record, kw_only=True, omit_defaults=False):
    id: str
    type: str = "function"
    function: ObjectFunctionCall


class ChatMessage(Record):
    """A message as `tokenizer.apply_chat_template` wants it."""

    role: str
    content: str | None = None
    tool_calls: list[ObjectToolCall] | None = None
    tool_call_id: str | None = None


class PreferenceRow(Record):
    """TRL's conversational preference row: a prompt, a chosen and a rejected answer."""

    id: str
    prompt: list[ChatMessage]
    chosen: list[ChatMessage]
    rejected: list[ChatMessage]


class FormatError(Record, kw_only=True):
    """One problem in one exported line: which format, where it is, which record, which
    field, why. `format` is empty only for the export's metadata file, which has none."""

    format: str = ""
    file: str
    line: int
    record_id: str
    field: str
    reason: str
    message: str


class FormatWarning(Record, kw_only=True):
    """An export file or format with no line: loadable by no trainer, and probably not
    what the run meant to produce. `split` is empty when a whole format is empty."""

    format: str
    split: str = ""
    file: str
    reason: str
    message: str


class OpenAIFileReport(Record):
    """The OpenAI checks over one file, with the cost estimate OpenAI's cookbook makes."""

    file: str
    examples: int
    valid_examples: int
    errors: list[FormatError]
    error_counts: dict[str, int]
    tokens_per_example: list[int]
    too_long: int
    max_tokens_per_example: int
    billing_tokens_per_epoch: int
    epochs: int
    billing_tokens_total: int
