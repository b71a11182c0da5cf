"""Importing DiscordChatExporter JSON exports (hand-written fixtures with every known trap)."""

from pathlib import Path

import msgspec
import pytest

from schemas.raw_discord_message import (
    DiscordAttachment,
    DiscordEmbed,
    DiscordEmbedField,
    DiscordEmoji,
    DiscordInteraction,
    DiscordMention,
    DiscordReaction,
    DiscordReference,
    DiscordSticker,
    DiscordUser,
    RawDiscordMessage,
)
from stages.discord.exporter import ExportFormatError, import_export
from stages.discord.snowflake import snowflake_time, utc_iso

FIXTURES = Path(__file__).parent / "fixtures" / "discord"
GUILD = "1100000000000000100"
GENERAL = "1100000000000000200"
ALICE = DiscordUser(id="1000000000000000001", name="alice", display_name="Alice")
BOB = DiscordUser(id="1000000000000000002", name="bob", display_name="Bob the Builder")


@pytest.fixture(scope="module")
def rendered():
    return import_export((FIXTURES / "rendered_export.json").read_bytes())


@pytest.fixture(scope="module")
def raw_dm():
    return import_export((FIXTURES / "raw_utc_dm_export.json").read_bytes())


def by_id(imported) -> dict[str, RawDiscordMessage]:
    return {m.id: m for m in imported.messages}


def test_rendered_export_is_detected_and_bad_messages_counted(rendered):
    assert (rendered.guild_id, rendered.channel_id, rendered.channel_name) == (
        GUILD,
        GENERAL,
        "general",
    )
    assert rendered.content_format == "rendered"
    assert len(rendered.messages) == 9
    assert [(r.index, r.message_id, r.reason) for r in rendered.rejects] == [
        (8, None, "invalid_message"),  # no author
        (9, "1224691050086531072", "unknown_type"),  # "GuildScheduledEvent"
        (10, "1224691301744771072", "bad_timestamp"),  # no UTC offset
    ]
    assert "author" in rendered.rejects[0].message


def test_mentions_and_custom_emoji_become_tokens_surrogates_decode(rendered):
    first = by_id(rendered)["1214501437812375552"]
    assert first.content == "hey <@1000000000000000002>, look <a:blobwave:1200000000000000001> 🎉"
    assert first.custom_emojis == [
        DiscordEmoji(id="1200000000000000001", name="blobwave", animated=True)
    ]
    assert first.mentions == [
        DiscordMention(id="1000000000000000002", name="bob", display_name="Bob the Builder")
    ]
    assert first.author == ALICE
    assert first.pinned is True
    # Local +01:00 with the fraction trimmed to 2 digits, as UTC with microseconds.
    assert first.timestamp == "2024-03-05T09:15:07.120000+00:00"
    assert first.edited_timestamp == "2024-03-05T09:17:00.000000+00:00"
    assert (first.type, first.is_system, first.source) == (0, False, "exporter")


def test_longer_names_are_restored_first(rendered):
    reply = by_id(rendered)["1214501659607171072"]
    assert reply.content == "<@1000000000000000001> and <@1000000000000000003>: thanks"
    assert reply.type == 19
    assert reply.reference == DiscordReference(
        message_id="1214501437812375552", channel_id=GENERAL, guild_id=GUILD
    )


def test_system_messages_lose_the_exporters_english_text(rendered):
    messages = by_id(rendered)
    pin = messages["1214502666240131072"]
    assert (pin.type, pin.is_system, pin.content) == (6, True, "")
    assert pin.reference is not None
    assert pin.reference.message_id == "1214501437812375552"
    kinds = {m.id: (m.type, m.is_system, m.content) for m in rendered.messages}
    assert kinds["1214527832064131072"] == (7, True, "")  # GuildMemberJoin
    assert kinds["1224690295111811072"] == (8, True, "")  # "8": a boost
    assert kinds["1224690546770051072"] == (18, True, "")  # ThreadCreated


def test_numeric_string_type_slash_command_keeps_content_and_interaction(rendered):
    answer = by_id(rendered)["1224690043453571072"]
    assert (answer.type, answer.is_system, answer.content) == (20, False, "Here is the answer")
    assert answer.author == DiscordUser(
        id="1000000000000000009", name="helperbot", display_name="Helper", bot=True
    )
    assert answer.interaction == DiscordInteraction(
        id="1224690043453571000", name="ask", user=ALICE
    )
    assert answer.embeds == [
        DiscordEmbed(
            title="Result",
            description="42 rows",
            fields=[DiscordEmbedField(name="status", value="ok")],
        )
    ]


def test_empty_content_with_attachment_and_sticker_after_dst_change(rendered):
    upload = by_id(rendered)["1224689793892483072"]
    assert upload.content == ""
    assert upload.author == BOB
    # +02:00 after the DST change, fraction ".5".
    assert upload.timestamp == "2024-04-02T12:00:00.500000+00:00"
    assert upload.attachments == [
        DiscordAttachment(
            id="1224689793892483073",
            filename="trace.log",
            size=5120,
            url="https://cdn.discordapp.com/attachments/1100000000000000200/1224689793892483073/trace.log",
        )
    ]
    assert upload.stickers == [DiscordSticker(id="1300000000000000001", name="thumbs")]


def test_standard_emoji_reaction_has_no_id(rendered):
    nice = by_id(rendered)["1224691553403011072"]
    assert nice.reactions == [
        DiscordReaction(emoji=DiscordEmoji(name="🎉"), count=3),
        DiscordReaction(
            emoji=DiscordEmoji(id="1200000000000000001", name="blobwave", animated=True), count=1
        ),
    ]


def test_every_timestamp_matches_its_snowflake(rendered, raw_dm):
    for message in rendered.messages + raw_dm.messages:
        assert utc_iso(snowflake_time(message.id)) == message.timestamp


def test_raw_utc_dm_export(raw_dm):
    assert raw_dm.guild_id is None  # the exporter's "0" pseudo-guild for DMs
    assert raw_dm.content_format == "raw"
    # Sorted oldest first although the file lists them out of order.
    assert [m.id for m in raw_dm.messages] == [
        "1224689791795331072",
        "1224690043453571072",
        "1224690295111811072",
    ]
    tokens = raw_dm.messages[1]
    assert tokens.content == (
        "<@!1000000000000000002> see <#1100000000000000200> "
        "<:kekw:1200000000000000002> <t:1712059200:R>"
    )
    assert tokens.custom_emojis == [DiscordEmoji(id="1200000000000000002", name="kekw")]
    forward = raw_dm.messages[2]
    assert forward.content == ""
    assert forward.forwarded_content == "hey <@1000000000000000002>"
    assert forward.reference == DiscordReference(
        message_id="1214501437812375552", channel_id=GENERAL, guild_id=GUILD, type="forward"
    )
    assert [(r.index, r.reason) for r in raw_dm.rejects] == [
        (3, "duplicate_id"),
        (4, "invalid_message"),
    ]
    assert "Expected `str`, got `float`" in raw_dm.rejects[1].message


def test_markdown_can_be_forced(raw_dm):
    data = (FIXTURES / "raw_utc_dm_export.json").read_bytes()
    assert import_export(data, markdown="rendered").content_format == "rendered"
    assert import_export(data, markdown="raw").messages == raw_dm.messages


def test_output_round_trips_through_the_schema(rendered):
    encoded = msgspec.json.encode(rendered.messages)
    assert msgspec.json.decode(encoded, type=list[RawDiscordMessage]) == rendered.messages


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"guild": {"id": "1"}}'])
def test_a_file_that_is_not_an_export_is_a_clear_error(data):
    with pytest.raises(ExportFormatError, match="not a DiscordChatExporter JSON export"):
        import_export(data)
