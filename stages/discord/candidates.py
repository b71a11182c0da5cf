"""Channel history → conversations, each ending in one reply by an allowed assistant.

Every message by one of `allowed_users` is a candidate target reply. Its context is:
- the reply chain, when it replies to a message we hold: the message it answers,
  the one that answers, and so on back (no time limit: the reply links them);
- otherwise the messages just before it, walking back while no two are more than
  `max_gap_minutes` apart;
at most `context_messages` either way. The target's author is the assistant of that
conversation; everybody else, other allowed users included, is a user.

A candidate is rejected by the first guard it fails, in this order, and counted under
that guard: `consecutive_replies` (its author also wrote the message just before or
just after it in the channel, within the gap: one reply split in several messages,
or a monologue), `non_text` (attachments, embeds, stickers, a forward, a voice
message, or a link), `foreign_emoji` (a custom emoji not in
`assistant_custom_emojis`), `empty_reply` (no text), `no_context` (no user message
before it).

User turns read `name said:\\n<text>`; a user mention becomes `@name` from the
message's own `mentions`, a custom emoji `:name:` from its `custom_emojis`. Earlier
assistant turns in the context are kept with `weight: 0`: shown, not learned, since
only the target passed the guards.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from schemas.conversation import Conversation, Message, Meta
from schemas.raw_discord_message import DiscordEmoji, RawDiscordMessage
from schemas.reject import Dropped
from stages.common.hashing import messages_id
from stages.common.rejects import opening
from stages.discord.markup import render_markup

SEGMENTER_VERSION = 1  # bump when the same history and params segment differently
GUARDS = ("consecutive_replies", "non_text", "foreign_emoji", "empty_reply", "no_context")
VOICE_MESSAGE_FLAG = 1 << 13
LINK = re.compile(r"https?://|www\.\S", re.IGNORECASE)


class SegmentParams(msgspec.Struct, frozen=True):
    """Everything that changes the segmentation: it is part of the cache key."""

    allowed_users: tuple[str, ...] = ()
    assistant_custom_emojis: tuple[str, ...] = ()
    max_gap_minutes: float = 30.0
    context_messages: int = 10


class CandidateTurn(msgspec.Struct, frozen=True, array_like=True):
    """One channel message of a candidate, rendered: what a conversation is built from, and
    what segment refinement shows the model and cuts by index."""

    message_id: str
    timestamp: str
    speaker: str
    text: str  # as rendered, without the `name said:` line
    assistant: bool  # said by the candidate's assistant
    eligible: bool = False  # an assistant message that passes the guards as a target itself


@dataclass
class ChannelSegments:
    conversations: list[Conversation] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)  # candidates a guard turned down
    turns: list[list[CandidateTurn]] = field(default_factory=list)  # each conversation's
    counts: Counter[str] = field(default_factory=Counter)


def emoji_allowed(emoji: DiscordEmoji, allowed: tuple[str, ...]) -> bool:
    """An entry names an emoji as `name:id`, by its `name`, or by its `id`."""
    return f"{emoji.name}:{emoji.id}" in allowed or emoji.name in allowed or emoji.id in allowed


def is_non_text(message: RawDiscordMessage) -> bool:
    return bool(
        message.attachments
        or message.embeds
        or message.stickers
        or message.forwarded_content is not None
        or message.flags & VOICE_MESSAGE_FLAG
        or LINK.search(message.content)
    )


def _time(message: RawDiscordMessage) -> datetime:
    return datetime.fromisoformat(message.timestamp)


class Names:
    """The name each user goes by in one conversation; two users never share one."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.taken: dict[str, str] = {}  # name → user id

    def name(self, user_id: str, display: str | None, username: str) -> str:
        if user_id in self.by_id:
            return self.by_id[user_id]
        for candidate in (
            display or username,
            f"{display or username} ({username})",
            f"{username} ({user_id})",
        ):
            if candidate not in self.taken:
                break
        self.by_id[user_id] = candidate
        self.taken[candidate] = user_id
        return candidate

    def of_author(self, message: RawDiscordMessage) -> str:
        author = message.author
        return self.name(author.id, author.display_name, author.name)

    def alias_map(self) -> dict[str, str]:
        return dict(sorted(self.taken.items()))


def render_text(message: RawDiscordMessage, names: Names) -> str:
    """The message's text as a person reads it: mentions as @name, custom emoji as :name:,
    other markup as stages/discord/markup.py renders it."""
    text = render_markup(message.content)
    for mention in message.mentions:
        shown = "@" + names.name(mention.id, mention.display_name, mention.name)
        text = text.replace(f"<@{mention.id}>", shown).replace(f"<@!{mention.id}>", shown)
    for emoji in message.custom_emojis:
        prefix = "a" if emoji.animated else ""
        text = text.replace(f"<{prefix}:{emoji.name}:{emoji.id}>", f":{emoji.name}:")
    notes = [f"[attachment: {a.filename}]" for a in message.attachments]
    notes += [f"[sticker: {s.name}]" for s in message.stickers]
    if message.forwarded_content:
        notes.append(f"[forwarded: {render_markup(message.forwarded_content)}]")
    return "\n".join(part for part in [text.strip(), *notes] if part)


class Channel:
    """One channel's user-written messages, oldest first, with lookups for segmenting."""

    def __init__(self, messages: list[RawDiscordMessage], params: SegmentParams) -> None:
        self.timeline = sorted((m for m in messages if not m.is_system), key=lambda m: int(m.id))
        self.position = {m.id: i for i, m in enumerate(self.timeline)}
        self.params = params
        self.gap = timedelta(minutes=params.max_gap_minutes)

    def parent(self, message: RawDiscordMessage) -> RawDiscordMessage | None:
        """The message this one replies to, when it is a reply to a message we hold."""
        ref = message.reference
        if ref is None or ref.type != "default" or ref.message_id not in self.position:
            return None
        parent = self.timeline[self.position[ref.message_id]]
        return parent if int(parent.id) < int(message.id) else None

    def close(self, earlier: RawDiscordMessage, later: RawDiscordMessage) -> bool:
        return _time(later) - _time(earlier) <= self.gap

    def context(self, index: int) -> list[RawDiscordMessage]:
        """The messages a candidate answers, oldest first (see the module docstring)."""
        target = self.timeline[index]
        limit = self.params.context_messages
        chain: list[RawDiscordMessage] = []
        parent = self.parent(target)
        while parent is not None and len(chain) < limit:
            chain.append(parent)
            parent = self.parent(parent)
        if chain:
            return chain[::-1]
        window: list[RawDiscordMessage] = []
        later = target
        for earlier in reversed(self.timeline[max(index - limit, 0) : index]):
            if not self.close(earlier, later):
                break
            window.append(earlier)
            later = earlier
        return window[::-1]

    def passes_guards(self, message: RawDiscordMessage) -> bool:
        """Would this message be accepted as a target reply of its own?"""
        index = self.position[message.id]
        return self.guard(index, self.context(index)) is None

    def guard(self, index: int, context: list[RawDiscordMessage]) -> str | None:
        """The first guard the candidate at `index` fails, or None."""
        target = self.timeline[index]
        author = target.author.id
        before = self.timeline[index - 1] if index > 0 else None
        after = self.timeline[index + 1] if index + 1 < len(self.timeline) else None
        if (before is not None and before.author.id == author and self.close(before, target)) or (
            after is not None and after.author.id == author and self.close(target, after)
        ):
            return "consecutive_replies"
        if is_non_text(target):
            return "non_text"
        allowed = self.params.assistant_custom_emojis
        if any(not emoji_allowed(e, allowed) for e in target.custom_emojis):
            return "foreign_emoji"
        if not target.content.strip():
            return "empty_reply"
        if all(m.author.id == author for m in context):
            return "no_context"
        return None


def candidate_turns(
    channel: "Channel",
    context: list[RawDiscordMessage],
    target: RawDiscordMessage,
    names: Names,
) -> list[CandidateTurn]:
    """Context and target as turns, oldest first; leading assistant messages left out."""
    assistant = target.author.id
    while context and context[0].author.id == assistant:
        context = context[1:]
    turns = []
    for message in [*context, target]:
        speaker = names.of_author(message)  # before its mentions: a speaker keeps their own name
        mine = message.author.id == assistant
        eligible = message is target or (mine and channel.passes_guards(message))
        turns.append(
            CandidateTurn(
                message.id, message.timestamp, speaker, render_text(message, names), mine, eligible
            )
        )
    return turns


def without_leading_assistant(turns: list[CandidateTurn]) -> list[CandidateTurn]:
    """A conversation starts with a user: assistant turns before the first one go."""
    start = next((i for i, turn in enumerate(turns) if not turn.assistant), len(turns))
    return turns[start:]


def build_messages(turns: list[CandidateTurn]) -> list[Message]:
    """Chat messages of turns that start with a user and end with the target: same-role
    neighbours merged, earlier assistant turns at weight 0."""
    messages: list[Message] = []
    for turn in turns[:-1]:
        if turn.assistant:
            message = Message(role="assistant", content=turn.text, weight=0)
        else:
            message = Message(role="user", content=f"{turn.speaker} said:\n{turn.text}")
        previous = messages[-1] if messages else None
        if previous is not None and previous.role == message.role:
            joiner = "\n\n" if message.role == "user" else "\n"
            messages[-1] = msgspec.structs.replace(
                previous, content=f"{previous.content}{joiner}{message.content}"
            )
        else:
            messages.append(message)
    messages.append(Message(role="assistant", content=turns[-1].text))
    return messages


def build_conversation(turns: list[CandidateTurn], base: Meta) -> Conversation | None:
    """The conversation of these turns, the last one its target, provenance from `base`;
    None when no user turn comes before the target."""
    turns = without_leading_assistant(turns[:-1]) + turns[-1:]
    if len(turns) < 2:
        return None
    messages = build_messages(turns)
    return Conversation(
        id=messages_id(messages),
        source="discord",
        messages=messages,
        meta=msgspec.structs.replace(
            base,
            timestamp=turns[-1].timestamp,
            message_ids=[t.message_id for t in turns],
            target_message_id=turns[-1].message_id,
        ),
    )


def guard_dropped(target: RawDiscordMessage, guard: str, file: str | None) -> Dropped:
    """A candidate reply a guard turned down, by its message id, readable beside curate's drops."""
    return Dropped(
        id=target.id,
        reason=f"guard_rejected:{guard}",
        file=file,
        source="discord",
        stage="segment",
        excerpt=opening(render_text(target, Names())),
    )


def segment_channel(
    messages: list[RawDiscordMessage], params: SegmentParams, *, file: str | None = None
) -> ChannelSegments:
    """Every accepted candidate of one channel as a `Conversation` and its turns, in
    channel order."""
    channel = Channel(messages, params)
    result = ChannelSegments()
    result.counts["system_messages"] += len(messages) - len(channel.timeline)
    allowed = set(params.allowed_users)
    for index, target in enumerate(channel.timeline):
        if target.author.id not in allowed:
            continue
        result.counts["candidates"] += 1
        context = channel.context(index)
        reason = channel.guard(index, context)
        if reason is not None:
            result.counts[f"guard_rejected.{reason}"] += 1
            result.dropped.append(guard_dropped(target, reason, file))
            continue
        names = Names()
        alias = names.of_author(target)
        turns = candidate_turns(channel, context, target, names)
        base = Meta(
            file=file,
            channel_id=target.channel_id,
            assistant_user_id=target.author.id,
            assistant_alias=alias,
            alias_map=names.alias_map(),
        )
        conversation = build_conversation(turns, base)
        if conversation is None:  # only assistant turns before it: no_context, said otherwise
            result.counts["guard_rejected.no_context"] += 1
            result.dropped.append(guard_dropped(target, "no_context", file))
            continue
        result.conversations.append(conversation)
        result.turns.append(turns)
    result.counts["conversations"] += len(result.conversations)
    return result
