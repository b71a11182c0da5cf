"""`RawDiscordMessage`: one Discord message as collected, whatever the source.

Both the REST collector (discord.py against the Discord API) and the
DiscordChatExporter importer write this one shape, one JSONL file per channel,
oldest message first, so the stages after them never care where history came from.

Decisions, fixed here once:
- `type` is Discord's own integer message type (0 default, 6 pin, 7 join,
  18 thread created, 19 reply, 20 slash-command response, ...): it is what the API
  sends, it is stable, and DiscordChatExporter's enum names map onto it one to one.
- `timestamp` and `edited_timestamp` are UTC, ISO 8601 with microseconds and an
  explicit `+00:00` offset, the exact form the Discord API writes.
- `content` keeps raw tokens (`<@123>`, `<:name:id>`). Exports rendered with
  markdown get their user mentions and custom emoji turned back into tokens from the
  export's own `mentions` and `inlineEmojis`; `content_format` says which form the
  source gave, because channel and role mentions cannot be restored from a render.
- `is_system` marks messages whose content Discord writes itself (pins, joins,
  thread starts): every type but 0, 19, 20 and 23.
"""

from typing import Literal

import msgspec

from schemas.base import Record

USER_CONTENT_TYPES = frozenset({0, 19, 20, 23})  # default, reply, slash command, context menu


class DiscordUser(Record):
    id: str
    name: str
    display_name: str | None = None
    bot: bool = False
    webhook: bool | None = None  # None: the source cannot tell (DiscordChatExporter)


class DiscordMention(Record):
    id: str
    name: str
    display_name: str | None = None


class DiscordAttachment(Record):
    id: str
    filename: str
    url: str | None = None
    content_type: str | None = None
    size: int | None = None


class DiscordEmbedField(Record):
    name: str
    value: str


class DiscordEmbed(Record):
    title: str | None = None
    description: str | None = None
    url: str | None = None
    fields: list[DiscordEmbedField] = msgspec.field(default_factory=list)


class DiscordSticker(Record):
    id: str
    name: str


class DiscordEmoji(Record):
    """A custom emoji has an id; a standard (unicode) emoji has none: its name is the character."""

    name: str
    id: str | None = None
    animated: bool = False


class DiscordReaction(Record):
    emoji: DiscordEmoji
    count: int


class DiscordReference(Record):
    """What a reply, a pin notice or a forward points at."""

    message_id: str | None = None
    channel_id: str | None = None
    guild_id: str | None = None
    type: Literal["default", "forward"] = "default"
    target_deleted: bool = False  # the API answered `referenced_message: null`


class DiscordInteraction(Record):
    """The slash command a bot message answers, and who ran it."""

    id: str
    name: str | None = None
    user: DiscordUser | None = None


class RawDiscordMessage(Record):
    id: str
    channel_id: str
    type: int
    timestamp: str
    author: DiscordUser
    source: Literal["rest", "exporter"]
    guild_id: str | None = None
    edited_timestamp: str | None = None
    content: str = ""
    content_format: Literal["raw", "rendered"] = "raw"
    mentions: list[DiscordMention] = msgspec.field(default_factory=list)
    mention_roles: list[str] = msgspec.field(default_factory=list)
    mention_everyone: bool = False
    attachments: list[DiscordAttachment] = msgspec.field(default_factory=list)
    embeds: list[DiscordEmbed] = msgspec.field(default_factory=list)
    stickers: list[DiscordSticker] = msgspec.field(default_factory=list)
    reactions: list[DiscordReaction] = msgspec.field(default_factory=list)
    reference: DiscordReference | None = None
    forwarded_content: str | None = None  # the text of the message a forward carries
    interaction: DiscordInteraction | None = None
    custom_emojis: list[DiscordEmoji] = msgspec.field(default_factory=list)
    flags: int = 0
    pinned: bool = False
    is_system: bool = False
