"""Discord REST message payloads (`GET /channels/{id}/messages`), as far as we read them.

Only what we keep is listed; everything else the API sends is ignored, so a new API field
never rejects a message. stages/discord/api_message.py turns these into `RawDiscordMessage`s.
"""

import msgspec

from schemas.base import RawRecord


class ApiUser(RawRecord):
    id: str
    username: str
    global_name: str | None = None
    bot: bool = False


class ApiAttachment(RawRecord):
    id: str
    filename: str
    url: str | None = None
    content_type: str | None = None
    size: int | None = None


class ApiEmbedField(RawRecord):
    name: str = ""
    value: str = ""


class ApiEmbed(RawRecord):
    title: str | None = None
    description: str | None = None
    url: str | None = None
    fields: list[ApiEmbedField] = msgspec.field(default_factory=list)


class ApiSticker(RawRecord):
    id: str
    name: str


class ApiEmoji(RawRecord):
    id: str | None = None
    name: str | None = None
    animated: bool = False


class ApiReaction(RawRecord):
    emoji: ApiEmoji
    count: int


class ApiReference(RawRecord):
    type: int = 0
    message_id: str | None = None
    channel_id: str | None = None
    guild_id: str | None = None


class ApiInteraction(RawRecord):
    id: str
    name: str | None = None
    user: ApiUser | None = None


class ApiSnapshotMessage(RawRecord):
    content: str = ""


class ApiSnapshot(RawRecord):
    message: ApiSnapshotMessage


class ApiMessage(RawRecord):
    id: str
    channel_id: str
    type: int
    timestamp: str
    author: ApiUser
    content: str = ""
    edited_timestamp: str | None = None
    webhook_id: str | None = None
    mentions: list[ApiUser] = msgspec.field(default_factory=list)
    mention_roles: list[str] = msgspec.field(default_factory=list)
    mention_everyone: bool = False
    attachments: list[ApiAttachment] = msgspec.field(default_factory=list)
    embeds: list[ApiEmbed] = msgspec.field(default_factory=list)
    sticker_items: list[ApiSticker] = msgspec.field(default_factory=list)
    reactions: list[ApiReaction] = msgspec.field(default_factory=list)
    message_reference: ApiReference | None = None
    message_snapshots: list[ApiSnapshot] = msgspec.field(default_factory=list)
    interaction: ApiInteraction | None = None
    flags: int = 0
    pinned: bool = False
