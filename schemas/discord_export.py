"""DiscordChatExporter's JSON export file, as far as we read it (camelCase keys).

stages/discord/exporter.py turns these into `RawDiscordMessage`s.
"""

import msgspec

from schemas.base import RawRecord


class _Camel(RawRecord, rename="camel"):
    pass


class ExportUser(_Camel):
    id: str
    name: str
    nickname: str | None = None
    is_bot: bool = False


class ExportAttachment(_Camel):
    id: str
    file_name: str
    url: str | None = None
    file_size_bytes: int | None = None


class ExportEmbedField(_Camel):
    name: str = ""
    value: str = ""


class ExportEmbed(_Camel):
    title: str | None = None
    url: str | None = None
    description: str | None = None
    fields: list[ExportEmbedField] = msgspec.field(default_factory=list)


class ExportSticker(_Camel):
    id: str
    name: str


class ExportEmoji(_Camel):
    name: str
    id: str = ""
    is_animated: bool = False


class ExportReaction(_Camel):
    emoji: ExportEmoji
    count: int


class ExportReference(_Camel):
    type: str = "Default"
    message_id: str | None = None
    channel_id: str | None = None
    guild_id: str | None = None


class ExportInteraction(_Camel):
    id: str
    name: str | None = None
    user: ExportUser | None = None


class ExportForwarded(_Camel):
    content: str = ""


class ExportMessage(_Camel):
    id: str
    type: str | int
    timestamp: str
    author: ExportUser
    content: str = ""
    timestamp_edited: str | None = None
    is_pinned: bool = False
    attachments: list[ExportAttachment] = msgspec.field(default_factory=list)
    embeds: list[ExportEmbed] = msgspec.field(default_factory=list)
    stickers: list[ExportSticker] = msgspec.field(default_factory=list)
    reactions: list[ExportReaction] = msgspec.field(default_factory=list)
    mentions: list[ExportUser] = msgspec.field(default_factory=list)
    reference: ExportReference | None = None
    forwarded_message: ExportForwarded | None = None
    interaction: ExportInteraction | None = None
    inline_emojis: list[ExportEmoji] = msgspec.field(default_factory=list)


class ExportGuild(_Camel):
    id: str
    name: str = ""


class ExportChannel(_Camel):
    id: str
    name: str = ""


class ExportFile(_Camel):
    guild: ExportGuild
    channel: ExportChannel
    messages: list[msgspec.Raw]
