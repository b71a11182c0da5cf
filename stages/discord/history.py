"""The raw channel history collect_discord keeps between runs, so no page is fetched twice.

Layout: `<folder>/<channel_id>.jsonl`. The first line is a `HistoryHeader` (the channel's
guild and name, and `checked_from`: every message with an id at or above it is held); each
line after it is one message payload as the API sent it, key-sorted, oldest first, with its
texts scrubbed of secrets and personal data (docs/privacy.md).
Payloads, not converted records, are kept so that a fix in the conversion applies to the
whole history without fetching it again. Header and messages share one file, renamed into
place whole, so a killed run can never leave a header that claims pages the file lacks.
The folder is a persistent DVC output: pushed and pulled with the rest of the data.
"""

from collections.abc import Callable
from pathlib import Path

import msgspec

from stages.common.atomic import atomic_write
from stages.common.hashing import canonical_json
from stages.common.jsonl import iter_lines
from stages.discord.rest import ChannelHistory, Payload


class HistoryHeader(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a history file knows besides its messages. Ids are strings, as in the API."""

    channel_id: str
    guild_id: str | None = None
    name: str | None = None
    checked_from: str | None = None


class HistoryError(Exception):
    """A history file that this stage did not write, or that was damaged: `str` names it."""


_header_decoder = msgspec.json.Decoder(HistoryHeader)
_payload_decoder = msgspec.json.Decoder(dict)


def history_path(folder: Path, channel_id: str) -> Path:
    return folder / f"{channel_id}.jsonl"


def _payload(data: bytes, where: str) -> Payload:
    try:
        payload = _payload_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise HistoryError(f"{where}: not a message payload ({error})") from None
    try:
        int(payload["id"])  # malformed otherwise, as the API sent it: the stage rejects it
    except (KeyError, TypeError, ValueError):
        raise HistoryError(f"{where}: a message payload without a snowflake `id`") from None
    return payload


def load_history(folder: Path, channel_id: str) -> ChannelHistory | None:
    """The kept history of a channel, or None when there is none."""
    path = history_path(folder, channel_id)
    if not path.exists():
        return None
    lines = iter_lines(path, max_line_bytes=None)
    first = next(lines, None)
    try:
        header = _header_decoder.decode(first.data if first else b"")
    except msgspec.DecodeError as error:
        raise HistoryError(f"{path}:1: not a history header ({error})") from None
    if header.channel_id != channel_id:
        raise HistoryError(f"{path}:1: the history of channel {header.channel_id}, not its name")
    payloads = [_payload(line.data, f"{path}:{line.number}") for line in lines if not line.blank]
    checked = None if header.checked_from is None else int(header.checked_from)
    return ChannelHistory(channel_id, header.guild_id, header.name, payloads, checked)


def save_history(folder: Path, history: ChannelHistory, scrub: Callable[[bytes], bytes]) -> None:
    """Write the history whole, each payload's texts scrubbed (`scrub` of its JSON line):
    the folder is pushed to DVC remotes."""
    checked = history.checked_from
    header = HistoryHeader(
        channel_id=history.channel_id,
        guild_id=history.guild_id,
        name=history.name,
        checked_from=None if checked is None else str(checked),
    )
    with atomic_write(history_path(folder, history.channel_id)) as handle:
        handle.write(msgspec.json.encode(header) + b"\n")
        for payload in history.payloads:
            handle.write(scrub(canonical_json(payload)) + b"\n")
