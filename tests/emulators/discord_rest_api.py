"""A local emulator of the Discord REST endpoints discord.py calls to read history.

An aiohttp server on 127.0.0.1 (a free port), run on its own event loop in a
background thread so that synchronous tests and code under test can both use it.
It serves login (`/users/@me`, `/oauth2/applications/@me`), channel lookup,
message history paged exactly as the API pages it (newest first, `limit` 1-100,
default 50, one of `before` / `after` / `around`), guild lookup and guild emojis.

It checks `Authorization: Bot <token>` (401 otherwise), answers 403 for a channel
marked forbidden and 404 for an unknown one, and injects faults per route: 429s with
the headers and body discord.py reads (including the `Via` header, without which
discord.py takes a 429 for a Cloudflare ban) and 5xx for the next N requests.
Every request is recorded for assertions. Point discord.py at `emulator.base_url`.
"""

import asyncio
import bisect
import json
import math
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"

Json = dict[str, Any]


def make_snowflake(when: datetime, increment: int = 0, worker: int = 1, process: int = 0) -> str:
    ms = round(when.timestamp() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (worker << 17) | (process << 12) | (increment & 0xFFF))


def api_timestamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def make_user(
    user_id: str,
    username: str,
    global_name: str | None = None,
    *,
    bot: bool = False,
) -> Json:
    user: Json = {
        "id": user_id,
        "username": username,
        "global_name": global_name,
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        user["bot"] = True
    return user


@dataclass
class MessageFactory:
    """Builds realistic API message dicts whose snowflake ids match their timestamps."""

    channel_id: str
    start: datetime
    step: timedelta = timedelta(minutes=1)
    _count: int = 0

    def next_time(self) -> datetime:
        at = self.start + self.step * self._count
        self._count += 1
        return at

    def message(
        self,
        author: Json,
        content: str = "",
        *,
        type: int = 0,
        at: datetime | None = None,
        **extra: Any,
    ) -> Json:
        when = at or self.next_time()
        message: Json = {
            "id": make_snowflake(when, self._count),
            "channel_id": self.channel_id,
            "type": type,
            "content": content,
            "author": author,
            "timestamp": api_timestamp(when),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
            "components": [],
        }
        message.update(extra)
        return message


@dataclass
class Fault:
    status: int
    retry_after: float = 0.0
    is_global: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    route: str  # e.g. "GET /channels/{channel_id}/messages"
    path: str
    query: dict[str, str]
    status: int
    authorized: bool


@dataclass
class DiscordEmulator:
    token: str = "emulator-token"
    bot_user: Json = field(
        default_factory=lambda: make_user("1100000000000000001", "logtune-bot", "Logtune", bot=True)
    )
    guilds: dict[str, Json] = field(default_factory=dict)
    emojis: dict[str, list[Json]] = field(default_factory=dict)
    channels: dict[str, Json] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    requests: list[RecordedRequest] = field(default_factory=list)
    _messages: dict[str, list[Json]] = field(default_factory=dict)
    _ids: dict[str, list[int]] = field(default_factory=dict)
    _faults: dict[str, deque[Fault | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    port: int = 0

    # -- seeding --------------------------------------------------------------

    def add_guild(self, guild_id: str, name: str, emojis: list[Json] | None = None) -> None:
        self.guilds[guild_id] = {
            "id": guild_id,
            "name": name,
            "icon": None,
            "owner_id": self.bot_user["id"],
            "roles": [],
            "features": [],
            "emojis": [],
            "stickers": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
        }
        self.emojis[guild_id] = emojis or []

    def add_channel(
        self, channel_id: str, guild_id: str | None, name: str, *, forbidden: bool = False
    ) -> None:
        self.channels[channel_id] = {
            "id": channel_id,
            "type": 0,
            "guild_id": guild_id,
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        if forbidden:
            self.forbidden.add(channel_id)
        self._messages.setdefault(channel_id, [])
        self._ids.setdefault(channel_id, [])

    def add_messages(self, channel_id: str, messages: list[Json]) -> None:
        with self._lock:
            merged = sorted(self._messages[channel_id] + messages, key=lambda m: int(m["id"]))
            self._messages[channel_id] = merged
            self._ids[channel_id] = [int(m["id"]) for m in merged]

    def edit_message(self, channel_id: str, message_id: str, content: str) -> None:
        """Change a message's content as an edit does, `edited_timestamp` and all."""
        with self._lock:
            for message in self._messages[channel_id]:
                if message["id"] == message_id:
                    message["content"] = content
                    message["edited_timestamp"] = api_timestamp(datetime.now(UTC))

    def delete_message(self, channel_id: str, message_id: str) -> None:
        with self._lock:
            kept = [m for m in self._messages[channel_id] if m["id"] != message_id]
            self._messages[channel_id] = kept
            self._ids[channel_id] = [int(m["id"]) for m in kept]

    # -- faults ---------------------------------------------------------------

    def rate_limit(
        self, route: str, count: int = 1, retry_after: float = 0.01, *, is_global: bool = False
    ) -> None:
        """Answer the next `count` requests of `route` with 429."""
        self._inject(route, [Fault(429, retry_after, is_global)] * count)

    def fail(self, route: str, status: int, count: int = 1, *, after: int = 0) -> None:
        """Let `after` requests of `route` through, then answer `count` with a server error."""
        self._inject(route, [None] * after + [Fault(status)] * count)

    def _inject(self, route: str, faults: list[Fault | None]) -> None:
        with self._lock:
            self._faults.setdefault(route, deque()).extend(faults)

    def _next_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route)
            return queue.popleft() if queue else None

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    # -- serving --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start_site())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="discord-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Discord emulator did not start")

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop.close()

    async def _start_site(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        get = [
            ("/users/@me", self._me),
            ("/oauth2/applications/@me", self._application),
            ("/channels/{channel_id}", self._channel),
            ("/channels/{channel_id}/messages", self._history),
            ("/guilds/{guild_id}", self._guild),
            ("/guilds/{guild_id}/emojis", self._guild_emojis),
        ]
        app.add_routes([web.get(API_PREFIX + path, handler) for path, handler in get])
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        route = f"{request.method} {template.removeprefix(API_PREFIX)}"
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        if not authorized:
            response = _json({"message": "401: Unauthorized", "code": 0}, 401)
        elif (fault := self._next_fault(route)) is not None:
            response = _fault_response(fault)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # aiohttp's own 404/405 for unknown paths
                response = _json({"message": exc.reason, "code": 0}, exc.status)
        if response.status != 429:
            _add_bucket_headers(response, route)
        response.headers["Via"] = "1.1 google"
        self.requests.append(
            RecordedRequest(
                request.method,
                route,
                request.path,
                dict(request.query),
                response.status,
                authorized,
            )
        )
        return response

    async def _me(self, request: web.Request) -> web.Response:
        return _json(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        owner = make_user("1100000000000000002", "owner")
        return _json(
            {
                "id": self.bot_user["id"],
                "name": self.bot_user["username"],
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
            }
        )

    def _channel_error(self, channel_id: str) -> web.Response | None:
        if channel_id not in self.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        if channel_id in self.forbidden:
            return _json({"message": "Missing Access", "code": 50001}, 403)
        return None

    async def _channel(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        return self._channel_error(channel_id) or _json(self.channels[channel_id])

    async def _history(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        if (error := self._channel_error(channel_id)) is not None:
            return error
        try:
            limit, anchor, value = _history_params(request.query)
        except ValueError as exc:
            return _json(
                {"message": "Invalid Form Body", "code": 50035, "errors": {"query": str(exc)}}, 400
            )
        with self._lock:
            ids, messages = self._ids[channel_id], self._messages[channel_id]
            if anchor == "before":
                end = bisect.bisect_left(ids, value)
                page = messages[max(end - limit, 0) : end]
            elif anchor == "after":
                begin = bisect.bisect_right(ids, value)
                page = messages[begin : begin + limit]
            elif anchor == "around":
                middle = bisect.bisect_left(ids, value)
                older = limit // 2
                page = messages[max(middle - older, 0) : middle + limit - older]
            else:
                page = messages[-limit:]
        return _json(page[::-1])

    async def _guild(self, request: web.Request) -> web.Response:
        guild_id = request.match_info["guild_id"]
        if guild_id not in self.guilds:
            return _json({"message": "Unknown Guild", "code": 10004}, 404)
        return _json({**self.guilds[guild_id], "emojis": self.emojis[guild_id]})

    async def _guild_emojis(self, request: web.Request) -> web.Response:
        guild_id = request.match_info["guild_id"]
        if guild_id not in self.guilds:
            return _json({"message": "Unknown Guild", "code": 10004}, 404)
        return _json(self.emojis[guild_id])


def _json(body: Any, status: int = 200) -> web.Response:
    # discord.py decodes a body only when content-type is exactly `application/json`.
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _history_params(query: Any) -> tuple[int, str | None, int]:
    """`limit` and the one paging anchor; the API takes only one of before/after/around."""
    raw_limit = query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise ValueError(f"limit must be an integer from 1 to 100, not {raw_limit!r}")
    anchors = [name for name in ("around", "before", "after") if name in query]
    if len(anchors) > 1:
        raise ValueError(f"only one of before, after, around is allowed, got {anchors}")
    if not anchors:
        return int(raw_limit), None, 0
    value = query[anchors[0]]
    if not value.isdigit():
        raise ValueError(f"{anchors[0]} must be a snowflake, not {value!r}")
    return int(raw_limit), anchors[0], int(value)


def _fault_response(fault: Fault) -> web.Response:
    if fault.status != 429:
        return _json({"message": "Internal Server Error", "code": 0}, fault.status)
    response = _json(
        {
            "message": "You are being rate limited.",
            "retry_after": fault.retry_after,
            "global": fault.is_global,
        },
        429,
    )
    response.headers.update(
        {
            "Retry-After": str(math.ceil(fault.retry_after)),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + fault.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{fault.retry_after:.3f}",
            "X-RateLimit-Scope": "global" if fault.is_global else "user",
        }
    )
    if fault.is_global:
        response.headers["X-RateLimit-Global"] = "true"
    return response


def _add_bucket_headers(response: web.StreamResponse, route: str) -> None:
    """A roomy bucket: discord.py tracks it but never has to wait on it."""
    response.headers.update(
        {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": f"{zlib.crc32(route.encode()):08x}",
        }
    )
