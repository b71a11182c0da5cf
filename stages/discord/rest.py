"""Collect channel history from the Discord REST API with discord.py, without the gateway.

discord.py does the HTTP: its login, its per-route rate-limit buckets (a 429 is
waited out for as long as `retry_after` says) and its retries of 500/502/504. We
keep the raw JSON pages (`client.http.logs_from`) rather than `discord.Message`
objects, which need a gateway cache to be complete. On top of discord.py we retry a
page that still fails (a 503, which discord.py does not retry, or a 5xx that
outlived its five tries) from the same cursor, so nothing fetched is fetched again.

Incremental: given the history an earlier run kept, a channel is fetched only where the
window reaches beyond it: newer messages with `after`, older ones with `before`. Edits and
deletions of held messages are not seen; the caller refetches from scratch for those.

Partial results: channels are fetched one after the other and each finished
channel is handed to `on_channel` at once, so a caller can write it out before the
next one starts. A channel that fails is not fatal to the others; when every
channel has been tried, `CollectionIncomplete` is raised naming each failed
channel, carrying the finished histories and each failed channel's history so far
(held and fetched pages, contiguous, so keeping it loses nothing).
A missing or rejected token is fatal at once (`DiscordAuthError`).
"""

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    """A channel's messages as the API sent them, and how far back they are complete."""

    channel_id: str
    guild_id: str | None
    name: str | None
    payloads: list[Payload] = field(default_factory=list)  # oldest first
    # Every message with an id at or above this one is held (0: back to the channel's first
    # message); None: nothing was fetched yet.
    checked_from: int | None = None
    pages: int = 0  # history pages requested by this run
    fetched: int = 0  # messages this run added to `payloads`


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


def _id(payload: Payload) -> int:
    return int(payload["id"])


def _needs_older(checked_from: int | None, in_window: int, limits: _Limits) -> bool:
    """Could the window hold messages older than the oldest checked point, given that
    `in_window` messages are held inside it?"""
    if checked_from is not None and checked_from <= limits.cutoff:
        return False
    return limits.max_messages is None or in_window < limits.max_messages


async def _page(
    http: discord.http.HTTPClient,
    history: ChannelHistory,
    limits: _Limits,
    limit: int,
    **anchor: int | None,
) -> list[Payload]:
    """One page of history, newest first; a failure names the channel and keeps `history`."""
    history.pages += 1
    try:
        return await _with_retries(
            lambda: http.logs_from(history.channel_id, limit, **anchor), limits.retry_delays
        )
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        if isinstance(exc, discord.HTTPException):
            _check_auth(exc, limits.token_name)
            reason, detail = _describe_http_error(exc)
        else:
            reason, detail = "connection_error", f"connection failed: {exc!r}"
        raise ChannelError(
            history.channel_id,
            reason,
            f"{detail} after {history.fetched} messages",
            history,
        ) from exc


async def _fetch_newer(
    http: discord.http.HTTPClient, history: ChannelHistory, limits: _Limits
) -> None:
    """Every message sent after the newest one held (`after`, oldest pages first)."""
    after = _id(history.payloads[-1]) if history.payloads else history.checked_from
    assert after is not None
    while True:
        page = await _page(http, history, limits, PAGE_SIZE, after=after)
        fresh = sorted((m for m in page if _id(m) > after), key=_id)
        history.payloads.extend(fresh)
        history.fetched += len(fresh)
        if fresh:
            after = _id(fresh[-1])
        if len(page) < PAGE_SIZE or not fresh:
            return


async def _fetch_older(
    http: discord.http.HTTPClient,
    history: ChannelHistory,
    limits: _Limits,
    heartbeat: Heartbeat | None,
) -> None:
    """Older messages (`before`, newest pages first) until the window is full or the
    channel's start; moves `checked_from` down as each page lands."""
    start = max(snowflake_time(limits.cutoff), snowflake_time(history.channel_id))
    in_window = sum(1 for m in history.payloads if _id(m) >= limits.cutoff)
    older: list[Payload] = []  # newest first
    before = history.checked_from
    try:
        while _needs_older(history.checked_from, in_window, limits):
            wanted = PAGE_SIZE
            if limits.max_messages is not None:
                wanted = min(PAGE_SIZE, limits.max_messages - in_window)
            page = await _page(http, history, limits, wanted, before=before)
            # Only ids below the cursor count: a page can never repeat a message we hold.
            fresh = [m for m in page if before is None or _id(m) < before]
            kept = [m for m in fresh if _id(m) >= limits.cutoff]
            older.extend(kept)
            in_window += len(kept)
            history.fetched += len(kept)
            if fresh:
                before = _id(fresh[-1])
            if len(kept) < len(fresh):
                history.checked_from = limits.cutoff
            elif len(page) < wanted or not fresh:
                history.checked_from = 0  # the channel's first message is held
            else:
                history.checked_from = before
            if heartbeat and before is not None:
                covered = _covered(before, start, limits.now)
                heartbeat(ChannelProgress(history.channel_id, history.fetched, covered))
    finally:
        history.payloads[:0] = older[::-1]


async def _fetch_channel(
    http: discord.http.HTTPClient,
    channel_id: str,
    held: ChannelHistory | None,
    limits: _Limits,
    heartbeat: Heartbeat | None,
) -> ChannelHistory:
    try:
        channel = await _with_retries(lambda: http.get_channel(channel_id), limits.retry_delays)
    except discord.HTTPException as exc:
        _check_auth(exc, limits.token_name)
        reason, detail = _describe_http_error(exc)
        empty = ChannelHistory(channel_id, None, None)
        raise ChannelError(channel_id, reason, detail, empty) from exc
    history = ChannelHistory(
        channel_id,
        channel.get("guild_id"),
        channel.get("name"),
        list(held.payloads) if held else [],
        held.checked_from if held else None,
    )
    if history.checked_from is not None:
        await _fetch_newer(http, history, limits)
    await _fetch_older(http, history, limits, heartbeat)
    if heartbeat:
        heartbeat(ChannelProgress(channel_id, history.fetched, 1.0, done=True))
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
    held: Mapping[str, ChannelHistory] | None = None,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    now: datetime | None = None,
    token_name: str = DEFAULT_TOKEN_NAME,
) -> dict[str, ChannelHistory]:
    """Fetch each channel's history (oldest first), newest `max_messages` since `earliest`.

    A channel in `held` (the history an earlier run kept) is extended: messages newer than
    its newest are fetched with `after`, and older ones with `before` only when the window
    reaches past what it holds. `now` only feeds the heartbeat's `covered` share;
    `token_name` is the environment variable the token came from, named in auth errors.
    Raises `DiscordAuthError` at once, or `CollectionIncomplete` after trying every channel
    if any failed.
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
                    channel = str(channel_id)
                    kept = (held or {}).get(channel)
                    history = await _fetch_channel(client.http, channel, kept, limits, heartbeat)
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
