"""Discord REST message payloads (`GET /channels/{id}/messages`) into `RawDiscordMessage`.

The payload shapes below list only what we keep; everything else the API sends is
ignored, so a new API field never rejects a message. Ids are strings: a number in
an id field is a malformed payload (a float would already have lost digits).
"""

from typing import Any, Literal

import msgspec

from schemas.discord_api import (
    ApiMessage,
    ApiReaction,
    ApiReference,
    ApiUser,
)
from schemas.raw_discord_message import (
    USER_CONTENT_TYPES,
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
from stages.discord.bad_message import BadMessage
from stages.discord.snowflake import CUSTOM_EMOJI_TOKEN, is_snowflake, normalize_timestamp

REFERENCE_TYPES: dict[int, Literal["default", "forward"]] = {0: "default", 1: "forward"}


def _user(user: ApiUser, *, webhook: bool | None = False) -> DiscordUser:
    return DiscordUser(
        id=user.id, name=user.username, display_name=user.global_name, bot=user.bot, webhook=webhook
    )


def _reference(payload: dict[str, Any], ref: ApiReference | None) -> DiscordReference | None:
    if ref is None:
        return None
    # `referenced_message: null` means Discord looked for the target and it is gone;
    # an absent key means it did not look (pins, forwards).
    deleted = "referenced_message" in payload and payload["referenced_message"] is None
    return DiscordReference(
        message_id=ref.message_id,
        channel_id=ref.channel_id,
        guild_id=ref.guild_id,
        type=REFERENCE_TYPES.get(ref.type, "default"),
        target_deleted=deleted,
    )


def custom_emojis_in(content: str) -> list[DiscordEmoji]:
    """Custom emoji tokens in raw content, each once, in order of first use."""
    seen: dict[str, DiscordEmoji] = {}
    for animated, name, emoji_id in CUSTOM_EMOJI_TOKEN.findall(content):
        seen.setdefault(emoji_id, DiscordEmoji(id=emoji_id, name=name, animated=bool(animated)))
    return list(seen.values())


def _reaction(reaction: ApiReaction) -> DiscordReaction:
    emoji = reaction.emoji
    name = emoji.name or ""
    return DiscordReaction(
        emoji=DiscordEmoji(id=emoji.id, name=name, animated=emoji.animated), count=reaction.count
    )


def from_api_message(payload: dict[str, Any], *, guild_id: str | None) -> RawDiscordMessage:
    """One REST payload as a `RawDiscordMessage`; raises `BadMessage` with a reason."""
    try:
        msg = msgspec.convert(payload, ApiMessage)
    except msgspec.ValidationError as exc:
        raise BadMessage("invalid_message", str(exc)) from exc
    for field, value in (("message id", msg.id), ("channel id", msg.channel_id)):
        if not is_snowflake(value):
            raise BadMessage("bad_id", f"{field} {value!r} is not a Discord id")
    try:
        timestamp = normalize_timestamp(msg.timestamp)
        edited = normalize_timestamp(msg.edited_timestamp) if msg.edited_timestamp else None
    except ValueError as exc:
        raise BadMessage("bad_timestamp", str(exc)) from exc
    interaction = msg.interaction
    return RawDiscordMessage(
        id=msg.id,
        channel_id=msg.channel_id,
        guild_id=guild_id,
        type=msg.type,
        timestamp=timestamp,
        edited_timestamp=edited,
        author=_user(msg.author, webhook=msg.webhook_id is not None),
        content=msg.content,
        mentions=[
            DiscordMention(id=u.id, name=u.username, display_name=u.global_name)
            for u in msg.mentions
        ],
        mention_roles=msg.mention_roles,
        mention_everyone=msg.mention_everyone,
        attachments=[
            DiscordAttachment(
                id=a.id, filename=a.filename, url=a.url, content_type=a.content_type, size=a.size
            )
            for a in msg.attachments
        ],
        embeds=[
            DiscordEmbed(
                title=e.title,
                description=e.description,
                url=e.url,
                fields=[DiscordEmbedField(name=f.name, value=f.value) for f in e.fields],
            )
            for e in msg.embeds
        ],
        stickers=[DiscordSticker(id=s.id, name=s.name) for s in msg.sticker_items],
        reactions=[_reaction(r) for r in msg.reactions],
        reference=_reference(payload, msg.message_reference),
        forwarded_content=msg.message_snapshots[0].message.content
        if msg.message_snapshots
        else None,
        interaction=None
        if interaction is None
        else DiscordInteraction(
            id=interaction.id,
            name=interaction.name,
            user=None if interaction.user is None else _user(interaction.user),
        ),
        custom_emojis=custom_emojis_in(msg.content),
        flags=msg.flags,
        pinned=msg.pinned,
        is_system=msg.type not in USER_CONTENT_TYPES,
        source="rest",
    )
