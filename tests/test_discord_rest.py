"""The REST collector, running the real discord.py against the local Discord emulator."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from stages.discord.rest import (
    ChannelProgress,
    CollectionIncomplete,
    DiscordAuthError,
    DiscordCollectError,
    collect_channels,
    list_guild_emojis,
)
from tests.emulators.discord_rest_api import DiscordEmulator, MessageFactory, make_user

pytest_plugins = ["tests.emulators.discord_fixture"]

GUILD = "900000000000000001"
GENERAL = "900000000000000010"
RANDOM = "900000000000000020"
SECRET = "900000000000000030"
UNKNOWN = "900000000000000099"
HISTORY = "GET /channels/{channel_id}/messages"
START = datetime(2024, 3, 1, tzinfo=UTC)
ALICE = make_user("800000000000000001", "alice", "Alice")
NO_WAIT = (0.0, 0.0, 0.0)


def seed(
    api: DiscordEmulator,
    channel_id: str,
    count: int,
    *,
    start: datetime = START,
    step: timedelta = timedelta(minutes=1),
) -> list[str]:
    """`count` messages one `step` apart; returns their ids, oldest first."""
    if GUILD not in api.guilds:
        api.add_guild(GUILD, "Test Server")
    api.add_channel(channel_id, GUILD, f"channel-{channel_id[-2:]}")
    factory = MessageFactory(channel_id, start, step)
    messages = [factory.message(ALICE, f"message {i}") for i in range(count)]
    api.add_messages(channel_id, messages)
    return [m["id"] for m in messages]


def collect(api: DiscordEmulator, channels: list[str], **options):
    options.setdefault("retry_delays", NO_WAIT)
    return asyncio.run(
        collect_channels(channels, token=api.token, base_url=api.base_url, **options)
    )


def ids_of(history) -> list[str]:
    return [m["id"] for m in history.payloads]


def test_pages_thousands_of_messages_each_once_oldest_first(discord_api):
    expected = seed(discord_api, GENERAL, 3050)
    histories = collect(discord_api, [GENERAL])
    assert ids_of(histories[GENERAL]) == expected
    pages = discord_api.requests_to(HISTORY)
    # 30 full pages of 100 and a last one of 50, which tells the collector it reached the start.
    assert len(pages) == 31
    assert pages[0].query == {"limit": "100"}
    assert pages[1].query == {"limit": "100", "before": expected[-100]}
    assert pages[-1].query == {"limit": "100", "before": expected[50]}
    assert histories[GENERAL].guild_id == GUILD


def test_earliest_cuts_off_older_messages_and_stops_paging(discord_api):
    # 600 messages, one every 12 minutes from 2024-03-01 00:00 UTC: 120 a day, 5 days.
    expected = seed(discord_api, GENERAL, 600, step=timedelta(minutes=12))
    histories = collect(discord_api, [GENERAL], earliest=date(2024, 3, 4))
    # Days 4 and 5 (March 4 and 5) are kept: the last 240 messages.
    assert ids_of(histories[GENERAL]) == expected[-240:]
    assert histories[GENERAL].payloads[0]["timestamp"] == "2024-03-04T00:00:00.000000+00:00"
    # Pages 1-2 hold 200 kept messages, page 3 crosses the cut-off; nothing older is asked for.
    assert len(discord_api.requests_to(HISTORY)) == 3


def test_max_messages_keeps_the_newest(discord_api):
    expected = seed(discord_api, GENERAL, 1000)
    histories = collect(discord_api, [GENERAL], max_messages=250)
    assert ids_of(histories[GENERAL]) == expected[-250:]
    limits = [r.query["limit"] for r in discord_api.requests_to(HISTORY)]
    assert limits == ["100", "100", "50"]


def test_rate_limits_are_waited_out_and_lose_nothing(discord_api):
    expected = seed(discord_api, GENERAL, 450)
    discord_api.rate_limit(HISTORY, count=3, retry_after=0.02)
    discord_api.rate_limit("GET /channels/{channel_id}", count=1, retry_after=0.01, is_global=True)
    histories = collect(discord_api, [GENERAL])
    assert ids_of(histories[GENERAL]) == expected
    statuses = [r.status for r in discord_api.requests_to(HISTORY)]
    assert statuses == [429, 429, 429, 200, 200, 200, 200, 200]


def test_server_errors_are_retried_from_the_same_page(discord_api):
    expected = seed(discord_api, GENERAL, 300)
    # A 500 is retried by discord.py itself (after 1 s); a 503 is not, so ours retries it.
    discord_api.fail(HISTORY, 500, count=1, after=1)
    discord_api.fail(HISTORY, 503, count=2)
    histories = collect(discord_api, [GENERAL])
    assert ids_of(histories[GENERAL]) == expected
    requests = discord_api.requests_to(HISTORY)
    assert [r.status for r in requests] == [200, 500, 503, 503, 200, 200, 200]
    assert requests[1].query == requests[4].query == {"limit": "100", "before": expected[-100]}


def test_a_failing_channel_keeps_its_partial_pages_and_the_other_channels(discord_api):
    general = seed(discord_api, GENERAL, 150)
    randoms = seed(discord_api, RANDOM, 250)
    finished = []
    # GENERAL's two pages and RANDOM's first pass; then RANDOM fails on all 4 attempts.
    discord_api.fail(HISTORY, 503, count=4, after=3)
    with pytest.raises(CollectionIncomplete) as caught:
        collect(discord_api, [GENERAL, RANDOM], on_channel=finished.append)
    error = caught.value
    assert f"channel {RANDOM}" in str(error)
    assert [h.channel_id for h in finished] == [GENERAL]
    assert ids_of(error.histories[GENERAL]) == general
    [failure] = error.failures
    assert failure.channel_id == RANDOM
    assert failure.reason == "http_error"
    assert ids_of(failure.partial) == randoms[-100:]


def test_forbidden_and_unknown_channels_are_named_and_others_kept(discord_api):
    general = seed(discord_api, GENERAL, 20)
    discord_api.add_channel(SECRET, GUILD, "secret", forbidden=True)
    with pytest.raises(CollectionIncomplete) as caught:
        collect(discord_api, [SECRET, GENERAL, UNKNOWN])
    error = caught.value
    assert ids_of(error.histories[GENERAL]) == general
    reasons = {f.channel_id: f.reason for f in error.failures}
    assert reasons == {SECRET: "forbidden", UNKNOWN: "not_found"}
    message = str(error)
    assert message.startswith("2 of 3 Discord channels failed:")
    assert f"channel {SECRET}: forbidden (403)" in message
    assert f"channel {UNKNOWN}: not found (404)" in message


@pytest.mark.parametrize("token", [None, "", "   "])
def test_a_missing_token_fails_before_any_request(discord_api, token):
    seed(discord_api, GENERAL, 5)
    with pytest.raises(DiscordAuthError, match="DISCORD_API_TOKEN"):
        asyncio.run(collect_channels([GENERAL], token=token, base_url=discord_api.base_url))
    assert discord_api.requests == []


def test_an_invalid_token_is_a_clear_error(discord_api):
    seed(discord_api, GENERAL, 5)
    with pytest.raises(DiscordAuthError, match=r"rejected the token \(401"):
        asyncio.run(collect_channels([GENERAL], token="wrong", base_url=discord_api.base_url))
    assert [(r.route, r.status, r.authorized) for r in discord_api.requests] == [
        ("GET /users/@me", 401, False)
    ]


def test_heartbeat_reports_count_and_share_of_the_window(discord_api):
    # One message an hour from March 6 00:00 to March 10 23:00: the newest 5 days of a
    # 10-day window (March 1 to "now" = March 11).
    seed(discord_api, GENERAL, 120, start=datetime(2024, 3, 6, tzinfo=UTC), step=timedelta(hours=1))
    beats: list[ChannelProgress] = []
    collect(
        discord_api,
        [GENERAL],
        earliest=date(2024, 3, 1),
        now=datetime(2024, 3, 11, tzinfo=UTC),
        heartbeat=beats.append,
    )
    assert [(b.fetched, b.done) for b in beats] == [(100, False), (120, False), (120, True)]
    # After 100 messages the oldest is March 6 20:00: 100 hours of the 240-hour window.
    assert beats[0].covered == pytest.approx(100 / 240)
    assert beats[1].covered == pytest.approx(0.5)
    assert beats[2].covered == 1.0


def test_guild_emojis(discord_api):
    emojis = [
        {
            "id": "700000000000000001",
            "name": "blobwave",
            "animated": True,
            "roles": [],
            "require_colons": True,
            "managed": False,
            "available": True,
        },
        {
            "id": "700000000000000002",
            "name": "kekw",
            "animated": False,
            "roles": [],
            "require_colons": True,
            "managed": False,
            "available": True,
        },
    ]
    discord_api.add_guild(GUILD, "Test Server", emojis=emojis)
    got = asyncio.run(
        list_guild_emojis(GUILD, token=discord_api.token, base_url=discord_api.base_url)
    )
    assert got == emojis
    with pytest.raises(DiscordCollectError, match=f"guild {UNKNOWN}: not found"):
        asyncio.run(
            list_guild_emojis(
                UNKNOWN,
                token=discord_api.token,
                base_url=discord_api.base_url,
                retry_delays=NO_WAIT,
            )
        )
