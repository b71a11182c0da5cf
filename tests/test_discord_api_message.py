"""REST message payloads into RawDiscordMessage, and the emulator's paging rules."""

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from schemas.raw_discord_message import (
    DiscordAttachment,
    DiscordEmoji,
    DiscordInteraction,
    DiscordMention,
    DiscordReaction,
    DiscordReference,
    DiscordSticker,
    DiscordUser,
)
from stages.discord.api_message import from_api_message
from stages.discord.bad_message import BadMessage
from tests.emulators.discord_rest_api import MessageFactory, make_user

pytest_plugins = ["tests.emulators.discord_fixture"]

GUILD = "900000000000000001"
CHANNEL = "900000000000000010"
ALICE = make_user("800000000000000001", "alice", "Alice")
BOB = make_user("800000000000000002", "bob")
HOOK = {"id": "800000000000000009", "username": "CI", "avatar": None, "discriminator": "0000"}


def factory() -> MessageFactory:
    return MessageFactory(CHANNEL, datetime(2024, 5, 1, 8, 30, tzinfo=UTC))


def test_reply_to_a_deleted_message_with_tokens_and_emoji():
    f = factory()
    original = f.message(ALICE, "hi")
    reply = f.message(
        BOB,
        "<@800000000000000001> ok <a:blobwave:700000000000000001> <:kekw:700000000000000002> "
        "<a:blobwave:700000000000000001>",
        type=19,
        mentions=[ALICE],
        message_reference={
            "type": 0,
            "channel_id": CHANNEL,
            "message_id": original["id"],
            "guild_id": GUILD,
        },
        referenced_message=None,
        edited_timestamp="2024-05-01T08:40:00.123456+00:00",
    )
    message = from_api_message(reply, guild_id=GUILD)
    assert message.timestamp == "2024-05-01T08:31:00.000000+00:00"
    assert message.edited_timestamp == "2024-05-01T08:40:00.123456+00:00"
    assert message.content == reply["content"]
    assert message.mentions == [
        DiscordMention(id="800000000000000001", name="alice", display_name="Alice")
    ]
    assert message.reference == DiscordReference(
        message_id=original["id"], channel_id=CHANNEL, guild_id=GUILD, target_deleted=True
    )
    assert message.custom_emojis == [
        DiscordEmoji(id="700000000000000001", name="blobwave", animated=True),
        DiscordEmoji(id="700000000000000002", name="kekw"),
    ]
    assert (message.type, message.is_system, message.guild_id) == (19, False, GUILD)
    assert message.author == DiscordUser(id="800000000000000002", name="bob", webhook=False)


def test_webhook_attachments_stickers_reactions_and_flags():
    payload = factory().message(
        HOOK,
        "",
        webhook_id="800000000000000009",
        flags=1 << 2,
        attachments=[
            {
                "id": "600000000000000001",
                "filename": "build.log",
                "size": 2048,
                "url": "https://cdn.discordapp.com/attachments/x/build.log",
                "proxy_url": "https://media.discordapp.net/x/build.log",
                "content_type": "text/plain; charset=utf-8",
            }
        ],
        sticker_items=[{"id": "500000000000000001", "name": "ship it", "format_type": 1}],
        reactions=[
            {
                "count": 2,
                "me": False,
                "emoji": {"id": None, "name": "👍"},
                "count_details": {"burst": 0, "normal": 2},
                "burst_colors": [],
            }
        ],
    )
    message = from_api_message(payload, guild_id=GUILD)
    assert message.author == DiscordUser(id="800000000000000009", name="CI", webhook=True)
    assert message.flags == 4
    assert message.attachments == [
        DiscordAttachment(
            id="600000000000000001",
            filename="build.log",
            size=2048,
            url="https://cdn.discordapp.com/attachments/x/build.log",
            content_type="text/plain; charset=utf-8",
        )
    ]
    assert message.stickers == [DiscordSticker(id="500000000000000001", name="ship it")]
    assert message.reactions == [DiscordReaction(emoji=DiscordEmoji(name="👍"), count=2)]


def test_system_messages_and_slash_commands():
    f = factory()
    pin = from_api_message(
        f.message(
            ALICE,
            "",
            type=6,
            message_reference={"channel_id": CHANNEL, "message_id": "900000000000000500"},
        ),
        guild_id=GUILD,
    )
    join = from_api_message(f.message(BOB, "", type=7), guild_id=GUILD)
    bot = make_user("800000000000000003", "helper", bot=True)
    answer = from_api_message(
        f.message(
            bot,
            "42",
            type=20,
            interaction={"id": "900000000000000600", "type": 2, "name": "ask", "user": ALICE},
        ),
        guild_id=GUILD,
    )
    assert (pin.is_system, pin.reference.target_deleted) == (True, False)
    assert (join.type, join.is_system) == (7, True)
    assert (answer.is_system, answer.author.bot) == (False, True)
    assert answer.interaction == DiscordInteraction(
        id="900000000000000600",
        name="ask",
        user=DiscordUser(
            id="800000000000000001", name="alice", display_name="Alice", webhook=False
        ),
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": 1.2e18}, "invalid_message"),
        ({"author": None}, "invalid_message"),
        ({"timestamp": "2024-05-01T08:30:00"}, "bad_timestamp"),
        ({"id": "12²"}, "bad_id"),  # passes str.isdigit, fails int
        ({"channel_id": "general"}, "bad_id"),
    ],
)
def test_bad_payloads_raise_with_a_reason(change, reason):
    payload = {**factory().message(ALICE, "x"), **change}
    with pytest.raises(BadMessage) as caught:
        from_api_message(payload, guild_id=GUILD)
    assert caught.value.reason == reason


def get(api, path: str) -> tuple[int, object]:
    request = urllib.request.Request(
        api.base_url + path, headers={"Authorization": f"Bot {api.token}"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_emulator_pages_like_the_api(discord_api):
    discord_api.add_guild(GUILD, "g")
    discord_api.add_channel(CHANNEL, GUILD, "general")
    f = factory()
    messages = [f.message(ALICE, str(i)) for i in range(120)]
    ids = [m["id"] for m in messages]
    discord_api.add_messages(CHANNEL, messages)
    history = f"/channels/{CHANNEL}/messages"

    def page(query: str) -> list[str]:
        status, body = get(discord_api, history + query)
        assert status == 200
        return [m["id"] for m in body]

    assert page("") == ids[-50:][::-1]  # default limit 50, newest first
    assert page(f"?limit=10&before={ids[30]}") == ids[20:30][::-1]
    assert page(f"?limit=10&after={ids[30]}") == ids[31:41][::-1]
    assert page(f"?limit=10&around={ids[30]}") == ids[25:35][::-1]
    assert get(discord_api, history + "?limit=101")[0] == 400
    assert get(discord_api, history + f"?before={ids[1]}&after={ids[0]}")[0] == 400
    assert get(discord_api, "/channels/900000000000000077/messages") == (
        404,
        {"message": "Unknown Channel", "code": 10003},
    )
