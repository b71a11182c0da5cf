"""Collected messages with every user behind a pseudonym, before any file holds them.

Authors, mentions and the user who ran a slash command get their pseudonym and stand-in id
(stages/common/pseudonyms.py); mention tokens in the text follow, and so do the names of the
channel's users where the text spells them out ("Alice picks"). The assistant is a user like
any other: its pseudonym is the persona the dataset trains, recorded per record.
"""

import re
from collections.abc import Iterable

import msgspec

from schemas.raw_discord_message import DiscordMention, DiscordUser, RawDiscordMessage
from stages.common.pseudonyms import Pseudonyms

MIN_NAME = 3  # a shorter name ("Al", "J") would replace pieces of ordinary words


def spelled_names(user: DiscordUser | DiscordMention) -> list[str]:
    """The names a text may spell out: the display name, and a user name that is no plain
    word (`dave99`, `rin.mod`; not `pip`, which is also a command)."""
    names = [user.display_name] if user.display_name else []
    if not user.name.isalpha():
        names.append(user.name)
    return [name for name in names if len(name) >= MIN_NAME]


class ChannelPseudonyms:
    """One channel's users by id, and a pattern for their names as words in its texts."""

    def __init__(self, messages: Iterable[RawDiscordMessage], names: Pseudonyms) -> None:
        self.names = names
        spelled: dict[str, str] = {}
        for message in messages:
            users = [message.author, *message.mentions]
            if message.interaction is not None and message.interaction.user is not None:
                users.append(message.interaction.user)
            for user in users:
                for name in spelled_names(user):
                    spelled.setdefault(name, names.name(user.id))
        longest_first = sorted(spelled, key=lambda n: (-len(n), n))
        self.spelled = spelled
        self.pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, longest_first)) + r")(?!\w)")
            if spelled
            else None
        )

    def text(self, text: str) -> str:
        text = self.names.mentions(text)
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.spelled[m.group()], text)

    def user(self, user: DiscordUser) -> DiscordUser:
        names = self.names
        return msgspec.structs.replace(
            user, id=names.user_id(user.id), name=names.name(user.id), display_name=None
        )

    def message(self, message: RawDiscordMessage) -> RawDiscordMessage:
        interaction = message.interaction
        if interaction is not None and interaction.user is not None:
            interaction = msgspec.structs.replace(interaction, user=self.user(interaction.user))
        names = self.names
        return msgspec.structs.replace(
            message,
            author=self.user(message.author),
            mentions=[
                DiscordMention(id=names.user_id(m.id), name=names.name(m.id))
                for m in message.mentions
            ],
            content=self.text(message.content),
            forwarded_content=message.forwarded_content and self.text(message.forwarded_content),
            interaction=interaction,
        )
