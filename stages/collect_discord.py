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

import json
import logging
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from stages.common.cli import setup_logging, stage_command, strict_option
from stages.common.envname import EnvName
from stages.common.input_paths import input_files
from stages.common.params import stage_params
from stages.common.rejects import RejectsWriter
from stages.common.scrub_option import ScrubSettings, scrub_option
from stages.common.source_folders import enabled, local_path, sources_option
from stages.common.stats import Stats
from stages.discord.channels import Window
from stages.discord.collection import ChannelWriter, fetch_rest, held_histories, import_exports
from stages.discord.rest import (
    DEFAULT_API_BASE,
    DEFAULT_TOKEN_NAME,
)

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
