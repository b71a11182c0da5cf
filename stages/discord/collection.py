"""Collecting Discord history: REST fetches kept between runs, exports, one file a channel.

The collect_discord stage (stages/collect_discord.py) wires these together: each channel's
messages, cut to the window, behind pseudonyms and scrubbed, are written as soon as the
channel is done; REST payloads are kept in the history folder so no page is fetched twice.
"""

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from schemas.raw_discord_message import RawDiscordMessage
from schemas.reject import Reject
from stages.common.input_paths import provenance_path
from stages.common.jsonl import JsonlWriter
from stages.common.rejects import RejectsWriter
from stages.common.scrub_option import ScrubSettings
from stages.common.stats import Stats
from stages.common.user_error import UserError
from stages.discord.api_message import from_api_message
from stages.discord.bad_message import BadMessage
from stages.discord.channels import ChannelMessages, Window
from stages.discord.exporter import ExportFormatError, import_export
from stages.discord.history import HistoryError, load_history, save_history
from stages.discord.pseudonymize import ChannelPseudonyms
from stages.discord.rest import (
    ChannelHistory,
    ChannelProgress,
    CollectionIncomplete,
    DiscordCollectError,
    collect_channels,
)

HEARTBEAT_SECONDS = 2.0

log = logging.getLogger("logtune")


class Heartbeat:
    """Per-channel progress on stderr: at most one line every few seconds, and the last one."""

    def __init__(self, interval: float = HEARTBEAT_SECONDS) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, progress: ChannelProgress) -> None:
        now = time.monotonic()
        last = self._last.get(progress.channel_id)
        if not progress.done and last is not None and now - last < self.interval:
            return
        self._last[progress.channel_id] = now
        state = "done" if progress.done else "reading"
        log.info(
            "channel %s: %s, %d messages, %.0f%% of the window covered",
            progress.channel_id,
            state,
            progress.fetched,
            100 * progress.covered,
        )


_encoder = msgspec.json.Encoder()


class ChannelWriter:
    """Writes each finished channel's file at once, cut to the window, and counts it."""

    def __init__(self, folder: Path, window: Window, stats: Stats, scrub: ScrubSettings) -> None:
        self.folder = folder
        self.window = window
        self.stats = stats
        self.scrubber = scrub.scrubber()
        self.history_scrubber = scrub.scrubber()  # its own: `scrubbed.*` counts the channels
        self.names = scrub.pseudonyms()
        self.speakers: dict[str, set[str]] = {}  # channel id → author ids written

    def write(self, channel: ChannelMessages) -> None:
        """Users behind pseudonyms and texts scrubbed before the file holds them."""
        kept, cut = self.window.apply(channel.oldest_first())
        if self.names is not None:
            channel_names = ChannelPseudonyms(kept, self.names)
            kept = [channel_names.message(message) for message in kept]
        lines = b"".join(self.scrubber.line(_encoder.encode(m)) + b"\n" for m in kept)
        with JsonlWriter(self.folder / f"{channel.channel_id}.jsonl") as writer:
            writer.write_encoded(lines, len(kept))
        self.speakers[channel.channel_id] = {m.author.id for m in kept}
        self.stats.add(f"messages.{channel.channel_id}", len(kept))
        self.stats.add("written", len(kept))
        self.stats.add("outside_window", cut)
        self.stats.add("duplicates", channel.duplicates)

    def count_scrubbed(self) -> None:
        self.stats.merge({f"scrubbed.{k}": n for k, n in sorted(self.scrubber.counts.items())})

    def remove_stale(self) -> None:
        """Channel files of an earlier run that this run did not write."""
        for path in sorted(self.folder.glob("*.jsonl")):
            if path.stem not in self.speakers:
                path.unlink()


def rest_messages(
    history: ChannelHistory, rejects: RejectsWriter, stats: Stats
) -> list[RawDiscordMessage]:
    """A fetched channel's payloads as records; a bad payload is rejected, never fatal."""
    messages = []
    for position, payload in enumerate(history.payloads, 1):
        stats.add("read")
        try:
            messages.append(from_api_message(payload, guild_id=history.guild_id))
        except BadMessage as error:
            rejects.add(
                Reject(
                    file=f"discord-api:channel/{history.channel_id}",
                    line=position,
                    reason=error.reason,
                    message=f"message {payload.get('id')!r}: {error}",
                )
            )
    return messages


def import_exports(
    files: Iterable[Path], rejects: RejectsWriter, stats: Stats, root: Path | None = None
) -> dict[str, ChannelMessages]:
    """Every export file's messages, grouped by channel; `line` in a reject is the message's
    position (from 1) in the file's `messages` array."""
    channels: dict[str, ChannelMessages] = {}
    for path in files:
        file = provenance_path(path, root)
        try:
            imported = import_export(path.read_bytes())
        except ExportFormatError as error:
            rejects.add(Reject(file=file, line=0, reason="not_an_export", message=str(error)))
            continue
        stats.add("export_files")
        stats.add("read", len(imported.messages) + len(imported.rejects))
        for bad in imported.rejects:
            rejects.add(
                Reject(
                    file=file,
                    line=bad.index + 1,
                    reason=bad.reason,
                    message=bad.message
                    if bad.message_id is None
                    else f"message {bad.message_id}: {bad.message}",
                )
            )
        channel = channels.setdefault(imported.channel_id, ChannelMessages(imported.channel_id))
        channel.add(imported.messages)
    return channels


def held_histories(
    folder: Path, channel_ids: list[str], refresh: bool
) -> dict[str, ChannelHistory]:
    """The history kept by earlier runs, per channel; none at all on a refresh."""
    if refresh:
        return {}
    held = {}
    for channel_id in channel_ids:
        try:
            history = load_history(folder, channel_id)
        except HistoryError as error:
            raise UserError(
                f"{error}: delete that file, or set collect_discord.refresh: true (--refresh) "
                "to fetch the channel again"
            ) from None
        if history is not None:
            held[channel_id] = history
    return held


def fetch_rest(
    channel_ids: list[str],
    token: str,
    options: dict[str, Any],
    history_dir: Path,
    held: dict[str, ChannelHistory],
    exported: dict[str, ChannelMessages],
    writer: ChannelWriter,
    rejects: RejectsWriter,
) -> None:
    """Fetch over REST what the `held` history lacks, keeping it in `history_dir` and
    writing each channel (merged with its exports) as soon as it is done."""
    stats = writer.stats

    def keep(history: ChannelHistory) -> None:
        save_history(history_dir, history, writer.history_scrubber.line)
        stats.add(f"pages.{history.channel_id}", history.pages)
        stats.add("fetched", history.fetched)
        stats.add("held", len(history.payloads) - history.fetched)

    def on_channel(history: ChannelHistory) -> None:
        keep(history)
        channel = ChannelMessages(history.channel_id)
        channel.add(rest_messages(history, rejects, stats))
        channel.add(exported.get(history.channel_id, ChannelMessages("")).oldest_first())
        writer.write(channel)

    try:
        asyncio.run(
            collect_channels(
                channel_ids,
                token=token,
                on_channel=on_channel,
                heartbeat=Heartbeat(),
                held=held,
                **options,
            )
        )
    except CollectionIncomplete as error:
        for failure in error.failures:
            stats.add(f"failed_channels.{failure.reason}")
            if failure.partial.pages:
                keep(failure.partial)
        raise UserError(
            f"{error}\nChannels read in full were written; the failed ones were not, and "
            "their pages fetched so far are kept for the next run."
        ) from error
    except DiscordCollectError as error:
        raise UserError(str(error)) from error
