"""Regenerate the committed JSON Schema files from the Structs: `python -m schemas`."""

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from schemas.botlog_line import BotLogLine
from schemas.claude_code_record import TranscriptRecord
from schemas.codex_rollout import ResponseItem, RolloutLine
from schemas.conversation import Conversation
from schemas.discord_api import ApiMessage
from schemas.discord_export import ExportFile
from schemas.export_lines import ExportReject, OpenAIChatExample, RecordMetadata
from schemas.fingerprint import StageFingerprint
from schemas.flagged import Flagged
from schemas.format_lines import (
    AlpacaRow,
    AxolotlChatRow,
    FormatError,
    FormatWarning,
    HarmonyLine,
    OpenAIFileReport,
    PreferenceRow,
    ShareGPTRow,
    TextLine,
)
from schemas.raw_discord_message import RawDiscordMessage
from schemas.reject import Dropped, Reject
from schemas.session_report import SessionReports
from schemas.toollog_line import ToolLogLine

SCHEMAS: dict[str, Any] = {  # Structs, or annotated types of them
    "conversation": Conversation,
    "toollog_line": ToolLogLine,
    "botlog_line": BotLogLine,
    "reject": Reject,
    "dropped": Dropped,
    "flagged": Flagged,
    "openai_chat_example": OpenAIChatExample,
    "record_metadata": RecordMetadata,
    "export_reject": ExportReject,
    "text_line": TextLine,
    "axolotl_chat_row": AxolotlChatRow,
    "alpaca_row": AlpacaRow,
    "sharegpt_row": ShareGPTRow,
    "harmony_line": HarmonyLine,
    "preference_row": PreferenceRow,
    "format_error": FormatError,
    "format_warning": FormatWarning,
    "openai_file_report": OpenAIFileReport,
    "raw_discord_message": RawDiscordMessage,
    "discord_api_message": ApiMessage,
    "discord_export_file": ExportFile,
    "claude_code_record": TranscriptRecord,
    "codex_rollout_line": RolloutLine,
    "codex_response_item": ResponseItem,
    "stage_fingerprint": StageFingerprint,
    "session_report": SessionReports,
}

HERE = Path(__file__).parent


def normalized(node: Any) -> Any:
    """Descriptions dedented by us: msgspec's own handling of docstrings changes between releases
    (0.23 strips their indentation, earlier ones kept it), and the committed files must not."""
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else normalized(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [normalized(item) for item in node]
    return node


def render(struct: Any) -> str:
    return json.dumps(normalized(msgspec.json.schema(struct)), indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name, struct in SCHEMAS.items():
        (HERE / f"{name}.schema.json").write_text(render(struct))


if __name__ == "__main__":
    main()
