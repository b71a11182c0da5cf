"""Collect channel history from the Discord REST API with discord.py, without the gateway.

discord.py does the HTTP: its login, its per-route rate-limit buckets (a 429 is
waited out for as long as `retry_after` says) and its retries of 500/502/504. We
keep the raw JSON pages (`client.http.logs_from`) rather than `discord.Message`
objects, which need a gateway cache to be complete. On top of discord.py we retry a
page that still fails (a 503, which discord.py does not retry, or a 5xx that
outlived its five tries) from the same cursor, so nothing fetched is fetched again.

Partial results: channels are fetched one after the other and each finished
channel is handed to `on_channel` at once, so a caller can write it out before the
next one starts. A channel that fails is not fatal to the others; when every
channel has been tried, `CollectionIncomplete` is raised naming each failed
channel, carrying the finished histories and each failed channel's partial pages.
A missing or rejected token is fatal at once (`DiscordAuthError`).
"""

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import aiohttp
import discord
from discord.http import Route

from stages.discord.snowflake import is_snowflake, snowflake_at, snowflake_time

DEFAULT_API_BASE = "https://discord.com/api/v10"
PAGE_SIZE = 100  # the API's maximum `limit`
DEFAULT_RETRY_DELAYS = (2.0, 10.0, 30.0)
DEFAULT_TOKEN_NAME = "DISCORD_API_TOKEN"

Payload = dict[str, Any]


@dataclass(frozen=True)
class ChannelProgress:
    """A heartbeat: how far one channel's collection has got."""

    channel_id: str
    fetched: int
    covered: float  # share of the window from `earliest` (or channel creation) to now, 0..1
    done: bool = False


@dataclass
class ChannelHistory:
    channel_id: str
    guild_id: str | None
    name: str | None
    payloads: list[Payload] = field(default_factory=list)  # oldest first


class DiscordCollectError(Exception):
    """Base of every error the collector raises: the message is meant for a person."""


class DiscordAuthError(DiscordCollectError):
    pass


class ChannelError(DiscordCollectError):
    """One channel could not be (fully) collected; `partial` holds its pages so far."""

    def __init__(self, channel_id: str, reason: str, detail: str, partial: ChannelHistory) -> None:
        super().__init__(f"channel {channel_id}: {detail}")
        self.channel_id = channel_id
        self.reason = reason
        self.partial = partial


class CollectionIncomplete(DiscordCollectError):
    """Some channels failed; `histories` holds every channel that was collected in full."""

    def __init__(self, histories: dict[str, ChannelHistory], failures: list[ChannelError]) -> None:
        lines = "\n".join(f"  {failure}" for failure in failures)
        super().__init__(
            f"{len(failures)} of {len(histories) + len(failures)} Discord channels failed:\n{lines}"
        )
        self.histories = histories
        self.failures = failures


Heartbeat = Callable[[ChannelProgress], None]


@contextmanager
def api_base(url: str) -> Iterator[None]:
    """Point discord.py at another API root (an emulator, a proxy) for the duration."""
    previous = Route.BASE
    Route.BASE = url.rstrip("/")
    try:
        yield
    finally:
        Route.BASE = previous


def earliest_snowflake(earliest: date | None) -> int:
    """Messages with a smaller id were sent before midnight UTC of `earliest`."""
    if earliest is None:
        return 0
    return snowflake_at(datetime.combine(earliest, time(), UTC))


def _covered(oldest_id: int, start: datetime, now: datetime) -> float:
    span = (now - start).total_seconds()
    if span <= 0:
        return 1.0
    share = (now - snowflake_time(oldest_id)).total_seconds() / span
    return min(max(share, 0.0), 1.0)


def _describe_http_error(exc: discord.HTTPException, what: str = "channel") -> tuple[str, str]:
    if isinstance(exc, discord.Forbidden):
        hint = "; give it View Channel and Read Message History" if what == "channel" else ""
        return "forbidden", f"forbidden (403): the bot may not read this {what}{hint}"
    if isinstance(exc, discord.NotFound):
        return "not_found", f"not found (404): no such {what}, or the bot is not in its server"
    return "http_error", f"HTTP {exc.status}: {exc.text or exc}"


def _check_auth(exc: discord.HTTPException, token_name: str) -> None:
    if exc.status == 401:
        raise DiscordAuthError(
            f"Discord rejected the token (401 Unauthorized); check {token_name}"
        ) from exc


async def _with_retries(call: Callable[[], Any], delays: Sequence[float]) -> Any:
    """Retry what discord.py gives up on: server errors and dropped connections."""
    for attempt in range(len(delays) + 1):
        try:
            return await call()
        except (discord.DiscordServerError, aiohttp.ClientError, TimeoutError):
            if attempt == len(delays):
                raise
            await asyncio.sleep(delays[attempt])
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Limits:
    cutoff: int
    max_messages: int | None
    retry_delays: Sequence[float]
    now: datetime
    token_name: str


async def _fetch_channel(
    http: discord.http.HTTPClient, channel_id: str, limits: _Limits, heartbeat: Heartbeat | None
) -> ChannelHistory:
    try:
        channel = await _with_retries(lambda: http.get_channel(channel_id), limits.retry_delays)
    except discord.HTTPException as exc:
        _check_auth(exc, limits.token_name)
        reason, detail = _describe_http_error(exc)
        empty = ChannelHistory(channel_id, None, None)
        raise ChannelError(channel_id, reason, detail, empty) from exc
    history = ChannelHistory(channel_id, channel.get("guild_id"), channel.get("name"))
    start = max(snowflake_time(limits.cutoff), snowflake_time(channel_id))
    newest_first: list[Payload] = []
    before: int | None = None
    while limits.max_messages is None or len(newest_first) < limits.max_messages:
        wanted = PAGE_SIZE
        if limits.max_messages is not None:
            wanted = min(PAGE_SIZE, limits.max_messages - len(newest_first))
        try:
            page = await _with_retries(
                lambda n=wanted, b=before: http.logs_from(channel_id, n, before=b),
                limits.retry_delays,
            )
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            history.payloads = newest_first[::-1]
            if isinstance(exc, discord.HTTPException):
                _check_auth(exc, limits.token_name)
                reason, detail = _describe_http_error(exc)
            else:
                reason, detail = "connection_error", f"connection failed: {exc!r}"
            raise ChannelError(
                channel_id, reason, f"{detail} after {len(newest_first)} messages", history
            ) from exc
        # Only ids below the cursor count: a page can never repeat a message we hold.
        fresh = [m for m in page if before is None or int(m["id"]) < before]
        kept = [m for m in fresh if int(m["id"]) >= limits.cutoff][:wanted]
        newest_first.extend(kept)
        if fresh:
            before = int(fresh[-1]["id"])
        if heartbeat and before is not None:
            covered = _covered(before, start, limits.now)
            heartbeat(ChannelProgress(channel_id, len(newest_first), covered))
        if len(kept) < len(fresh) or len(page) < wanted or not fresh:
            break
    history.payloads = newest_first[::-1]
    if heartbeat:
        heartbeat(ChannelProgress(channel_id, len(history.payloads), 1.0, done=True))
    return history


async def _login(client: discord.Client, token: str | None, token_name: str) -> None:
    if not token or not token.strip():
        raise DiscordAuthError(f"no Discord bot token: set {token_name}")
    try:
        await client.login(token)
    except discord.LoginFailure as exc:
        raise DiscordAuthError(
            f"Discord rejected the token (401 Unauthorized); check {token_name}"
        ) from exc


async def collect_channels(
    channel_ids: Sequence[str],
    *,
    token: str | None,
    earliest: date | None = None,
    max_messages: int | None = None,
    base_url: str = DEFAULT_API_BASE,
    heartbeat: Heartbeat | None = None,
    on_channel: Callable[[ChannelHistory], None] | None = None,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    now: datetime | None = None,
    token_name: str = DEFAULT_TOKEN_NAME,
) -> dict[str, ChannelHistory]:
    """Fetch each channel's history (oldest first), newest `max_messages` since `earliest`.

    `now` only feeds the heartbeat's `covered` share; `token_name` is the environment
    variable the token came from, named in auth errors. Raises `DiscordAuthError` at
    once, or `CollectionIncomplete` after trying every channel if any failed.
    """
    for channel_id in channel_ids:
        if not is_snowflake(channel_id):
            raise DiscordCollectError(
                f"channel id {channel_id!r} is not a Discord id (digits only, as Discord's "
                "'Copy Channel ID' gives it): check --channels (collect_discord.channels)"
            )
    limits = _Limits(
        earliest_snowflake(earliest),
        max_messages,
        tuple(retry_delays),
        now or datetime.now(UTC),
        token_name,
    )
    histories: dict[str, ChannelHistory] = {}
    failures: list[ChannelError] = []
    with api_base(base_url):
        async with discord.Client(intents=discord.Intents.none()) as client:
            await _login(client, token, token_name)
            for channel_id in channel_ids:
                try:
                    history = await _fetch_channel(client.http, str(channel_id), limits, heartbeat)
                except ChannelError as failure:
                    failures.append(failure)
                    continue
                histories[history.channel_id] = history
                if on_channel:
                    on_channel(history)
    if failures:
        raise CollectionIncomplete(histories, failures)
    return histories


async def list_guild_emojis(
    guild_id: str,
    *,
    token: str | None,
    base_url: str = DEFAULT_API_BASE,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    token_name: str = DEFAULT_TOKEN_NAME,
) -> list[Payload]:
    """The guild's custom emojis as the API returns them (`id`, `name`, `animated`, ...)."""
    with api_base(base_url):
        async with discord.Client(intents=discord.Intents.none()) as client:
            await _login(client, token, token_name)
            try:
                return await _with_retries(
                    lambda: client.http.get_all_custom_emojis(guild_id), retry_delays
                )
            except discord.HTTPException as exc:
                _check_auth(exc, token_name)
                _reason, detail = _describe_http_error(exc, "server")
                raise DiscordCollectError(f"guild {guild_id}: {detail}") from exc
