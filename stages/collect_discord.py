"""collect_discord: Discord channel history → one raw JSONL per channel.

Reads:  the Discord REST API (discord.py, bot token from the environment variable that
        `token_env` names) for `channels`, and DiscordChatExporter JSON files under `exports`.
Writes: channels/<channel_id>.jsonl (RawDiscordMessage, oldest first), rejects.jsonl,
        stats.json (per-channel counts, history pages requested); and the raw REST history
        under --history-dir (stages/discord/history.py), kept from run to run.
Params: collect_discord.channels, earliest, max_messages, api_base, token_env, exports,
        refresh; allowed_users (top level; checked here, applied by segment).

Incremental: a channel whose history was kept is fetched only where the window reaches
beyond it (newer messages, and older ones when `earliest` or `max_messages` widen it);
`refresh` fetches the window again from scratch, which is what picks up edits and deletions.
Each channel file is renamed into place as soon as that channel is complete, so a
channel already fetched stays written when a later one fails; a failed channel's pages
fetched so far are kept in its history. The token is read from the environment and handed
to discord.py; it is never written anywhere.
"""

import asyncio
import json
import logging
import os
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from schemas.raw_discord_message import RawDiscordMessage
from schemas.reject import Reject
from stages.common.cli import setup_logging, stage_command, strict_option
from stages.common.envname import EnvName
from stages.common.input_paths import input_files, provenance_path
from stages.common.jsonl import JsonlWriter
from stages.common.params import stage_params
from stages.common.rejects import RejectsWriter
from stages.common.scrub_option import ScrubSettings, scrub_option
from stages.common.source_folders import enabled, local_path, sources_option
from stages.common.stats import Stats
from stages.discord.api_message import from_api_message
from stages.discord.bad_message import BadMessage
from stages.discord.channels import ChannelMessages, Window
from stages.discord.exporter import ExportFormatError, import_export
from stages.discord.history import HistoryError, load_history, save_history
from stages.discord.pseudonymize import ChannelPseudonyms
from stages.discord.rest import (
    DEFAULT_API_BASE,
    DEFAULT_TOKEN_NAME,
    ChannelHistory,
    ChannelProgress,
    CollectionIncomplete,
    DiscordCollectError,
    collect_channels,
)

HEARTBEAT_SECONDS = 2.0
REJECT_REASONS = (
    "invalid_message",
    "invalid_json",
    "bad_timestamp",
    "bad_id",
    "unknown_type",
    "duplicate_id",
    "not_an_export",
)

log = logging.getLogger("logtune")


class DateParam(click.ParamType):
    """A calendar date from the command line (`2024-01-01`) or from YAML (already a date)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date like 2024-01-31", param, ctx)


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
            raise click.ClickException(
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
        raise click.ClickException(
            f"{error}\nChannels read in full were written; the failed ones were not, and "
            "their pages fetched so far are kept for the next run."
        ) from error
    except DiscordCollectError as error:
        raise click.ClickException(str(error)) from error


def check_allowed_users(
    speakers: dict[str, set[str]], allowed: set[str], as_written: set[str]
) -> None:
    """Warn about channels where no allowed user speaks: segment would find no assistant there.
    `as_written`: the allowed ids as the files hold them (stand-ins, with pseudonyms)."""
    if speakers and not allowed:
        log.warning("allowed_users is empty: segment will take nobody as the assistant")
        return
    for channel_id in sorted(speakers, key=int):
        if not speakers[channel_id] & as_written:
            log.warning(
                "channel %s: no message by any of allowed_users %s; segment will find "
                "no assistant reply there",
                channel_id,
                sorted(allowed),
            )


@stage_command
@stage_params("collect_discord", top_level=("allowed_users", "sources"))
@click.option("--channels", multiple=True, help="A channel id to read over REST (repeatable).")
@click.option(
    "--allowed-users",
    multiple=True,
    help="User ids that may be the assistant (applied by segment; checked here).",
)
@click.option(
    "--earliest",
    type=DateParam(),
    default=None,
    help="Skip messages sent before midnight UTC of this date, e.g. 2024-01-31.",
)
@click.option(
    "--max-messages",
    type=click.IntRange(min=0),
    default=None,
    help="Per channel, keep the newest N messages.",
)
@click.option(
    "--api-base",
    default=DEFAULT_API_BASE,
    show_default=True,
    help="The Discord API root (a proxy, an emulator).",
)
@click.option(
    "--token-env",
    type=EnvName("collect_discord.token_env", DEFAULT_TOKEN_NAME),
    default=DEFAULT_TOKEN_NAME,
    show_default=True,
    help="NAME of the environment variable holding the bot token.",
)
@click.option(
    "--exports",
    default=None,
    help="A DiscordChatExporter JSON file, or a folder searched for *.json.",
)
@click.option(
    "--refresh/--no-refresh",
    default=False,
    help="Fetch every channel's window again, ignoring the kept history (picks up edits "
    "and deletions).",
)
@click.option(
    "--history-dir",
    default="data/discord/history",
    show_default=True,
    help="Where the raw REST history is kept between runs, one <channel_id>.jsonl each.",
)
@click.option(
    "--out-dir",
    default="data/discord/collected",
    show_default=True,
    help="Where channels/<id>.jsonl, rejects.jsonl and stats.json go.",
)
@sources_option
@strict_option
@scrub_option
def main(
    channels: tuple[str, ...],
    allowed_users: tuple[str, ...],
    earliest: date | None,
    max_messages: int | None,
    api_base: str,
    token_env: str,
    exports: str | None,
    refresh: bool,
    history_dir: str,
    out_dir: str,
    sources: tuple[str, ...],
    strict: bool,
    scrub: ScrubSettings,
) -> None:
    """Collect Discord history over REST and from DiscordChatExporter files, one JSONL a channel.

    The bot token is read from the environment variable that `--token-env` names. A
    channel's history kept by an earlier run is only extended: newer messages, and older
    ones when the window widens; `--refresh` fetches it all again.

    Example: python -m stages.collect_discord --channels 1180000000000000200
    --earliest 2024-01-01 --max-messages 5000
    """
    setup_logging("collect_discord")
    out = Path(out_dir)
    if not enabled("discord", sources):
        channels, exports = (), None
    channel_ids = list(dict.fromkeys(str(c) for c in channels))
    root = local_path(exports) if exports else None
    token = os.environ.get(token_env, "")
    if channel_ids and not token.strip():
        raise click.ClickException(
            f"no Discord bot token to read channel(s) {', '.join(channel_ids)}: set the "
            f"environment variable {token_env} (collect_discord.token_env), or use exports"
        )
    stats = Stats(
        [
            "read",
            "written",
            "channels",
            "export_files",
            "duplicates",
            "outside_window",
            "fetched",
            "held",
            *(f"rejected.{r}" for r in REJECT_REASONS),
        ]
    )
    folder = out / "channels"
    folder.mkdir(parents=True, exist_ok=True)
    Path(history_dir).mkdir(parents=True, exist_ok=True)  # a DVC output, even with no channel
    window = Window(earliest, max_messages)
    with RejectsWriter(out / "rejects.jsonl", stats, strict=strict) as rejects:
        exported = import_exports(input_files(root, "*.json") if root else [], rejects, stats, root)
        writer = ChannelWriter(folder, window, stats, scrub)
        for channel_id in sorted(set(exported) - set(channel_ids), key=int):
            writer.write(exported[channel_id])
        try:
            if channel_ids:
                options = {
                    "earliest": earliest,
                    "max_messages": max_messages,
                    "base_url": api_base,
                    "token_name": token_env,
                }
                kept = Path(history_dir)
                held = held_histories(kept, channel_ids, refresh)
                fetch_rest(channel_ids, token, options, kept, held, exported, writer, rejects)
        finally:
            stats.add("channels", len(writer.speakers))
            writer.count_scrubbed()
            stats.write(out / "stats.json")
    writer.remove_stale()
    allowed = {str(u) for u in allowed_users}
    check_allowed_users(writer.speakers, allowed, set(scrub.user_ids(allowed)))
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
