"""Import DiscordChatExporter JSON exports as `RawDiscordMessage`s, one channel per file.

What the exporter does differently from the API, and what we do about it:
- `type` is an enum name (`Default`, `Reply`, ...) or, for kinds it does not name, the
  number as a string (`"20"`): both become Discord's integer type.
- `content` is rendered markdown by default (`<@id>` shown as `@Nickname`, `<:name:id>`
  as `:name:`). User mentions and custom emoji are turned back into raw tokens from
  the message's own `mentions` and `inlineEmojis`, never guessed by pattern; channel
  and role mentions cannot be restored, so `content_format` records `rendered`.
- System messages (pins, joins, thread starts) carry fixed English text the
  exporter writes ("Pinned a message."): dropped, as the API sends no text for them.
- Timestamps are local with an offset: normalised to UTC. Standard emoji have
  `id: ""`: no id. Escaped surrogate pairs are decoded by the JSON parser.

A message that cannot be read is counted with a reason and the rest of the file
is still imported; a file that is not an export at all (another JSON file, a
channel id that is not a Discord id, nesting too deep to decode) is one
`ExportFormatError` for that file. A UTF-8 byte order mark is skipped.
"""

from dataclasses import dataclass, field
from typing import Literal

import msgspec

from schemas.discord_export import (
    ExportEmoji,
    ExportFile,
    ExportMessage,
    ExportReference,
    ExportUser,
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
from stages.common.jsonl import BOM
from stages.discord.bad_message import BadMessage
from stages.discord.snowflake import is_snowflake, normalize_timestamp

# DiscordChatExporter's MessageKind names; kinds it does not name arrive as "20", "8", ...
KIND_NAMES = {
    "Default": 0,
    "RecipientAdd": 1,
    "RecipientRemove": 2,
    "Call": 3,
    "ChannelNameChange": 4,
    "ChannelIconChange": 5,
    "ChannelPinnedMessage": 6,
    "GuildMemberJoin": 7,
    "ThreadCreated": 18,
    "Reply": 19,
}
REFERENCE_KINDS: dict[str, Literal["default", "forward"]] = {
    "Default": "default",
    "Forward": "forward",
}
DIRECT_MESSAGES_GUILD = "0"  # the exporter's pseudo-guild for DMs

Markdown = Literal["auto", "rendered", "raw"]


class ExportFormatError(ValueError):
    """The file is not a DiscordChatExporter JSON export at all."""


@dataclass(frozen=True)
class BadExportMessage:
    index: int  # position in the export's `messages` array
    message_id: str | None
    reason: str
    message: str


@dataclass
class ImportedChannel:
    guild_id: str | None
    channel_id: str
    channel_name: str
    content_format: Literal["raw", "rendered"]
    messages: list[RawDiscordMessage] = field(default_factory=list)  # oldest first
    rejects: list[BadExportMessage] = field(default_factory=list)


_message_decoder = msgspec.json.Decoder(ExportMessage)
_file_decoder = msgspec.json.Decoder(ExportFile)


def message_type(kind: str | int) -> int:
    """Discord's integer type for an exporter `type`; raises ValueError for an unknown name."""
    if isinstance(kind, int):
        return kind
    if kind in KIND_NAMES:
        return KIND_NAMES[kind]
    if kind.isdigit():
        return int(kind)
    raise ValueError(f"unknown message type {kind!r}")


def _custom(emojis: list[ExportEmoji]) -> list[ExportEmoji]:
    return [e for e in emojis if e.id]


def _has_raw_tokens(msg: ExportMessage) -> bool:
    mentioned = any(
        f"<@{u.id}>" in msg.content or f"<@!{u.id}>" in msg.content for u in msg.mentions
    )
    return mentioned or any(f":{e.name}:{e.id}>" in msg.content for e in _custom(msg.inline_emojis))


def detect_content_format(messages: list[ExportMessage]) -> Literal["raw", "rendered"]:
    """`raw` when some message holds a token for its own mentions or emoji, else `rendered`.

    An export with no mentions or custom emoji at all reads the same either way; the
    exporter's default (`rendered`) is assumed.
    """
    return "raw" if any(_has_raw_tokens(m) for m in messages) else "rendered"


def restore_tokens(msg: ExportMessage) -> str:
    """Turn rendered `@Nickname` and `:name:` back into `<@id>` and `<:name:id>`.

    Longer names are replaced first, so `@Al` never eats the start of `@Alice`.
    """
    replacements: dict[str, str] = {}
    for user in msg.mentions:
        for shown in (user.name, user.nickname):
            if shown:
                replacements.setdefault(f"@{shown}", f"<@{user.id}>")
    for emoji in _custom(msg.inline_emojis):
        prefix = "a" if emoji.is_animated else ""
        replacements.setdefault(f":{emoji.name}:", f"<{prefix}:{emoji.name}:{emoji.id}>")
    content = msg.content
    for shown in sorted(replacements, key=len, reverse=True):
        content = content.replace(shown, replacements[shown])
    return content


def _user(user: ExportUser) -> DiscordUser:
    return DiscordUser(id=user.id, name=user.name, display_name=user.nickname, bot=user.is_bot)


def _emoji(emoji: ExportEmoji) -> DiscordEmoji:
    return DiscordEmoji(id=emoji.id or None, name=emoji.name, animated=emoji.is_animated)


def _reference(ref: ExportReference | None) -> DiscordReference | None:
    if ref is None:
        return None
    return DiscordReference(
        message_id=ref.message_id,
        channel_id=ref.channel_id,
        guild_id=ref.guild_id,
        type=REFERENCE_KINDS.get(ref.type, "default"),
    )


def convert_message(
    msg: ExportMessage,
    *,
    channel_id: str,
    guild_id: str | None,
    content_format: Literal["raw", "rendered"],
) -> RawDiscordMessage:
    """One decoded export message as a `RawDiscordMessage`; raises `BadMessage` with a reason."""
    if not is_snowflake(msg.id):
        raise BadMessage("bad_id", f"message id {msg.id!r} is not a Discord id")
    try:
        kind = message_type(msg.type)
    except ValueError as exc:
        raise BadMessage("unknown_type", str(exc)) from exc
    try:
        timestamp = normalize_timestamp(msg.timestamp)
        edited = normalize_timestamp(msg.timestamp_edited) if msg.timestamp_edited else None
    except ValueError as exc:
        raise BadMessage("bad_timestamp", str(exc)) from exc
    is_system = kind not in USER_CONTENT_TYPES
    if is_system:
        content = ""
    elif content_format == "rendered":
        content = restore_tokens(msg)
    else:
        content = msg.content
    interaction = msg.interaction
    return RawDiscordMessage(
        id=msg.id,
        channel_id=channel_id,
        guild_id=guild_id,
        type=kind,
        timestamp=timestamp,
        edited_timestamp=edited,
        author=_user(msg.author),
        content=content,
        content_format=content_format,
        mentions=[
            DiscordMention(id=u.id, name=u.name, display_name=u.nickname) for u in msg.mentions
        ],
        attachments=[
            DiscordAttachment(id=a.id, filename=a.file_name, url=a.url, size=a.file_size_bytes)
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
        stickers=[DiscordSticker(id=s.id, name=s.name) for s in msg.stickers],
        reactions=[DiscordReaction(emoji=_emoji(r.emoji), count=r.count) for r in msg.reactions],
        reference=_reference(msg.reference),
        forwarded_content=msg.forwarded_message.content if msg.forwarded_message else None,
        interaction=None
        if interaction is None
        else DiscordInteraction(
            id=interaction.id,
            name=interaction.name,
            user=None if interaction.user is None else _user(interaction.user),
        ),
        custom_emojis=[_emoji(e) for e in _custom(msg.inline_emojis)],
        pinned=msg.is_pinned,
        is_system=is_system,
        source="exporter",
    )


def _decode_messages(
    raws: list[msgspec.Raw],
) -> tuple[list[tuple[int, ExportMessage]], list[BadExportMessage]]:
    decoded, rejects = [], []
    for index, raw in enumerate(raws):
        try:
            decoded.append((index, _message_decoder.decode(raw)))
        except msgspec.ValidationError as exc:
            rejects.append(BadExportMessage(index, None, "invalid_message", str(exc)))
        except msgspec.DecodeError as exc:
            rejects.append(BadExportMessage(index, None, "invalid_json", str(exc)))
    return decoded, rejects


def import_export(data: bytes, *, markdown: Markdown = "auto") -> ImportedChannel:
    """Read one export file's bytes. `markdown` says how `content` was written; `auto` detects."""
    try:
        export = _file_decoder.decode(data.removeprefix(BOM))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ExportFormatError(f"not a DiscordChatExporter JSON export: {exc}") from exc
    except RecursionError:
        raise ExportFormatError("nested too deep to decode: not an export") from None
    if not is_snowflake(export.channel.id):
        raise ExportFormatError(f"channel id {export.channel.id!r} is not a Discord id")
    guild_id = None if export.guild.id == DIRECT_MESSAGES_GUILD else export.guild.id
    decoded, rejects = _decode_messages(export.messages)
    content_format = (
        detect_content_format([m for _, m in decoded]) if markdown == "auto" else markdown
    )
    imported = ImportedChannel(guild_id, export.channel.id, export.channel.name, content_format)
    seen: set[str] = set()
    for index, msg in decoded:
        if msg.id in seen:
            rejects.append(BadExportMessage(index, msg.id, "duplicate_id", "repeated message id"))
            continue
        try:
            imported.messages.append(
                convert_message(
                    msg,
                    channel_id=export.channel.id,
                    guild_id=guild_id,
                    content_format=content_format,
                )
            )
        except BadMessage as exc:
            rejects.append(BadExportMessage(index, msg.id, exc.reason, str(exc)))
            continue
        seen.add(msg.id)
    imported.messages.sort(key=lambda m: int(m.id))
    imported.rejects.extend(sorted(rejects, key=lambda r: r.index))
    return imported
