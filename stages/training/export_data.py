"""The export's training files as trainer rows, each with its file line and record id.

Rows go into a Hugging Face `Dataset` (Arrow), which unifies the columns of all
rows: tool arguments and tool definitions of different shapes would become one
struct with null-filled keys and render wrong. So `tools` is JSON text (TRL
json-loads it per row) and every call's `arguments` stays JSON text, which the
chat template writes verbatim. Only the export is read: which turns are targets
is the export's decision (`weight: 0` in the openai file), never this module's.
"""

from pathlib import Path
from typing import Any

import msgspec

from schemas.export_lines import OpenAIChatExample
from schemas.format_lines import PreferenceRow
from stages.common.jsonl import iter_lines
from stages.common.user_error import UserError
from stages.validation.metadata_index import index_metadata

SPLIT = "train"


class TrainerRow(msgspec.Struct, kw_only=True):
    """One line of an export file, ready for a trainer, and where it came from."""

    line: int  # 1-based line in the file
    id: str  # the record id, from records.metadata.jsonl
    columns: dict[str, Any]  # what the trainer reads: messages + tools, or prompt/chosen/rejected


def format_file(export_dir: Path, name: str) -> Path:
    return export_dir / "formats" / name / f"{SPLIT}.jsonl"


def record_ids(export_dir: Path, name: str) -> dict[int, str]:
    """0-based line of `formats/<name>/train.jsonl` → record id, from the metadata."""
    path = export_dir / "records.metadata.jsonl"
    errors: list = []
    index = index_metadata(path, errors)
    if errors:
        first = errors[0]
        raise UserError(f"{first.file}:{first.line}: {first.message}; rerun the export stage")
    return dict(index.places.get((name, SPLIT), {}))


def _json_arguments(message: dict[str, Any]) -> dict[str, Any]:
    for call in message.get("tool_calls") or []:
        arguments = call["function"]["arguments"]
        if not isinstance(arguments, str):
            call["function"]["arguments"] = msgspec.json.encode(arguments).decode()
    return message


def _decoded(export_dir: Path, name: str, struct: type) -> list[tuple[int, str, Any]]:
    """(line, record id, decoded line) for every line of a format's train file."""
    path = format_file(export_dir, name)
    if not path.exists():
        raise UserError(f"{path}: no such file; run the export stage with the {name} format")
    ids = record_ids(export_dir, name)
    decoder = msgspec.json.Decoder(struct)
    rows = []
    for line in iter_lines(path, max_line_bytes=None):
        where = f"{path}:{line.number}"
        try:
            record = decoder.decode(line.data)
        except msgspec.DecodeError as exc:
            raise UserError(f"{where}: {exc}; rerun the export stage") from None
        if line.number - 1 not in ids:
            raise UserError(
                f"{where}: records.metadata.jsonl places no record here (lines.{name}); "
                "rerun the export stage"
            )
        rows.append((line.number, ids[line.number - 1], record))
    return rows


def sft_rows(export_dir: Path) -> list[TrainerRow]:
    """The openai export's train lines as conversational rows: messages (with `weight`), tools."""
    rows = []
    for number, record_id, example in _decoded(export_dir, "openai", OpenAIChatExample):
        messages = [_json_arguments(m) for m in msgspec.to_builtins(example.messages)]
        if not any(m["role"] == "assistant" and m.get("weight") != 0 for m in messages):
            raise UserError(
                f"{format_file(export_dir, 'openai')}:{number}: no assistant "
                "turn without weight 0, so nothing to learn; the export should have refused it"
            )
        tools = msgspec.json.encode(example.tools or []).decode()
        columns = {"messages": messages, "tools": tools}
        rows.append(TrainerRow(line=number, id=record_id, columns=columns))
    return rows


def dpo_rows(export_dir: Path) -> list[TrainerRow]:
    """The preference export's train lines as conversational prompt/chosen/rejected rows."""
    rows = []
    for number, record_id, pair in _decoded(export_dir, "preference", PreferenceRow):
        columns = {
            part: [_json_arguments(m) for m in msgspec.to_builtins(getattr(pair, part))]
            for part in ("prompt", "chosen", "rejected")
        }
        rows.append(TrainerRow(line=number, id=record_id, columns=columns))
    return rows
