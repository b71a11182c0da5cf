"""Segmentation on hand-made channel histories: windows, reply chains, names, every guard."""

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.raw_discord_message import (
    DiscordAttachment,
    DiscordEmbed,
    DiscordEmoji,
    DiscordMention,
    DiscordReference,
    DiscordSticker,
    DiscordUser,
    RawDiscordMessage,
)
from stages.discord.candidates import SegmentParams, segment_channel

CHANNEL = "500"
BOT = DiscordUser(id="1", name="pip", display_name="Pip", bot=True)
MOD = DiscordUser(id="2", name="rin.mod", display_name="Rin")
ANN = DiscordUser(id="11", name="ann", display_name="Ann")
BEN = DiscordUser(id="12", name="ben", display_name="Ben")
BEN_TWIN = DiscordUser(id="13", name="ben_b", display_name="Ben")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PARAMS = SegmentParams(allowed_users=("1",), assistant_custom_emojis=("ok_hand:700",))


class History:
    """Messages one minute apart by default, ids increasing with time as snowflakes do."""

    def __init__(self) -> None:
        self.messages: list[RawDiscordMessage] = []
        self.at = T0

    def say(
        self, author: DiscordUser, content: str = "", *, after: float = 1.0, **fields: Any
    ) -> str:
        self.at += timedelta(minutes=after)
        message_id = str(1000 + len(self.messages))
        fields.setdefault("type", 19 if "reference" in fields else 0)
        self.messages.append(
            RawDiscordMessage(
                id=message_id,
                channel_id=CHANNEL,
                timestamp=self.at.isoformat(timespec="microseconds"),
                author=author,
                content=content,
                source="rest",
                **fields,
            )
        )
        return message_id

    def reply(self, author: DiscordUser, to: str, content: str, **fields: Any) -> str:
        return self.say(author, content, reference=DiscordReference(message_id=to), **fields)


def turns(conversation) -> list[tuple[str, str, int | None]]:
    return [(m.role, m.content, m.weight) for m in conversation.messages]


def run(history: History, params: SegmentParams = PARAMS):
    return segment_channel(history.messages, params, file="raw/500.jsonl")


def guard_counts(result) -> dict[str, int]:
    return {k.split(".", 1)[1]: n for k, n in result.counts.items() if k.startswith("guard_")}


def test_a_window_of_context_before_the_reply_stops_at_a_long_silence():
    h = History()
    h.say(ANN, "yesterday's chatter")
    h.say(BEN, "anyone around?", after=90)  # 90 minutes later: a new conversation
    h.say(ANN, "me")
    target = h.say(BOT, "hi both")
    [conversation] = run(h).conversations
    assert turns(conversation) == [
        ("user", "Ben said:\nanyone around?\n\nAnn said:\nme", None),
        ("assistant", "hi both", None),
    ]
    meta = conversation.meta
    assert meta.message_ids == ["1001", "1002", target]
    assert (meta.channel_id, meta.assistant_user_id, meta.target_message_id) == (
        CHANNEL,
        "1",
        target,
    )
    assert meta.alias_map == {"Ann": "11", "Ben": "12", "Pip": "1"}
    assert meta.file == "raw/500.jsonl" and meta.timestamp == "2024-05-01T13:33:00.000000+00:00"
    assert conversation.source == "discord"


def test_context_is_capped_at_context_messages():
    h = History()
    for i in range(6):
        h.say(ANN if i % 2 else BEN, f"m{i}")
    h.say(BOT, "late answer")
    params = SegmentParams(allowed_users=("1",), context_messages=2)
    [conversation] = run(h, params).conversations
    assert conversation.meta.message_ids == ["1004", "1005", "1006"]


def test_a_reply_chain_is_the_context_across_a_gap_and_other_talk():
    h = History()
    question = h.say(ANN, "price of sharks?")
    answer = h.reply(BOT, question, "1,020 gp")
    h.say(BEN, "unrelated: nice weather", after=5)
    follow_up = h.reply(ANN, answer, "and tomorrow?", after=600)  # ten hours later
    h.say(BEN, "lol")
    target = h.reply(BOT, follow_up, "can't tell the future")
    conversations = run(h).conversations
    assert [c.meta.target_message_id for c in conversations] == [answer, target]
    assert turns(conversations[1]) == [
        ("user", "Ann said:\nprice of sharks?", None),
        ("assistant", "1,020 gp", 0),  # an earlier assistant turn: shown, not learned
        ("user", "Ann said:\nand tomorrow?", None),
        ("assistant", "can't tell the future", None),
    ]
    assert conversations[1].meta.message_ids == [question, answer, follow_up, target]


def test_a_reply_to_a_message_we_do_not_hold_falls_back_to_the_window():
    h = History()
    h.say(BEN, "hello?")
    target = h.say(BOT, "hi", reference=DiscordReference(message_id="42", target_deleted=True))
    [conversation] = run(h).conversations
    assert conversation.meta.message_ids == ["1000", target]


def test_mentions_resolve_from_the_message_mentions_and_names_never_collide():
    h = History()
    h.say(
        BEN,
        "hey <@1> and <@!13>, meet <@999>",
        mentions=[
            DiscordMention(id="1", name="pip", display_name="Pip"),
            DiscordMention(id="13", name="ben_b", display_name="Ben"),
        ],
    )
    h.say(BEN_TWIN, "hi <:wave:701>", custom_emojis=[DiscordEmoji(name="wave", id="701")])
    h.say(
        BOT,
        "welcome <@13> <:ok_hand:700>",
        mentions=[DiscordMention(id="13", name="ben_b", display_name="Ben")],
        custom_emojis=[DiscordEmoji(name="ok_hand", id="700")],
    )
    [conversation] = run(h).conversations
    assert turns(conversation) == [
        (
            "user",
            "Ben said:\nhey @Pip and @Ben (ben_b), meet <@999>\n\nBen (ben_b) said:\nhi :wave:",
            None,
        ),
        ("assistant", "welcome @Ben (ben_b) :ok_hand:", None),
    ]
    assert conversation.meta.alias_map == {"Ben": "12", "Ben (ben_b)": "13", "Pip": "1"}


def test_only_allowed_users_are_assistants_and_each_one_in_turn():
    h = History()
    h.say(ANN, "question")
    h.say(BEN, "an answer by someone not allowed")
    h.say(MOD, "a moderator's answer")
    params = SegmentParams(allowed_users=("1", "2"))
    result = run(h, params)
    [conversation] = result.conversations
    assert conversation.meta.assistant_user_id == "2"
    assert result.counts["candidates"] == 1
    assert run(h, SegmentParams()).counts["candidates"] == 0


def test_another_allowed_user_is_a_user_in_the_bots_conversation():
    h = History()
    h.say(MOD, "pip, status?")
    h.say(BOT, "all green")
    conversations = run(h, SegmentParams(allowed_users=("1", "2"))).conversations
    assert turns(conversations[-1])[0] == ("user", "Rin said:\npip, status?", None)


def test_consecutive_replies_reject_both_halves_of_a_split_reply():
    h = History()
    h.say(ANN, "rules?")
    h.say(BOT, "one sec")
    h.say(BOT, "be nice", after=0.5)
    h.say(ANN, "thanks", after=60)
    h.say(BOT, "np")  # Ann spoke between this and the bot's last message: not consecutive
    result = run(h)
    assert guard_counts(result) == {"consecutive_replies": 2}
    assert [c.meta.target_message_id for c in result.conversations] == ["1004"]


def test_non_text_replies_are_rejected():
    h = History()
    cases = {
        "attachment": {"attachments": [DiscordAttachment(id="9", filename="a.png")]},
        "embed": {"embeds": [DiscordEmbed(title="card")]},
        "sticker": {"stickers": [DiscordSticker(id="8", name="wave")]},
        "forward": {"forwarded_content": "look at this"},
        "voice": {"flags": 1 << 13},
    }
    for fields in cases.values():
        h.say(ANN, "show me", after=120)
        h.say(BOT, "here", **fields)
    h.say(ANN, "guide?", after=120)
    h.say(BOT, "see https://example.org/guide")
    h.say(ANN, "guide?", after=120)
    h.say(BOT, "see www.example.org")
    h.say(ANN, "and you?", after=120)
    h.say(BOT, "plain text is fine")
    result = run(h)
    assert guard_counts(result) == {"non_text": 7}
    assert [turns(c)[-1][1] for c in result.conversations] == ["plain text is fine"]


def test_custom_emoji_outside_the_allowed_list_rejects_by_id_name_or_both():
    h = History()
    for emoji in (
        DiscordEmoji(name="kekw", id="999"),
        DiscordEmoji(name="ok_hand", id="701"),
        DiscordEmoji(name="ok_hand", id="700"),
    ):
        h.say(ANN, "joke", after=120)
        h.say(BOT, f"<:{emoji.name}:{emoji.id}>", custom_emojis=[emoji])
    result = run(h)
    # ok_hand:701 shares a name, not the id, with the allowed `ok_hand:700`.
    assert guard_counts(result) == {"foreign_emoji": 2}
    # By name only: kekw is out. By ids only: ok_hand:700 is out.
    for allowed in (("ok_hand",), ("701", "999")):
        params = SegmentParams(allowed_users=("1",), assistant_custom_emojis=allowed)
        assert guard_counts(run(h, params)) == {"foreign_emoji": 1}


def test_empty_replies_and_replies_without_a_user_before_them():
    h = History()
    h.say(BOT, "good morning, server")  # nobody spoke first
    h.say(ANN, "hi", after=120)
    h.say(BOT, "   ")
    result = run(h)
    assert guard_counts(result) == {"no_context": 1, "empty_reply": 1}
    assert result.conversations == []


def test_system_messages_are_skipped_and_a_reply_starts_with_a_user():
    h = History()
    h.say(ANN, "", type=7, is_system=True)
    h.say(BOT, "earlier bot talk")
    h.say(ANN, "hello", after=2)
    h.say(BEN, "", type=6, is_system=True, reference=DiscordReference(message_id="1001"))
    h.say(BOT, "hello Ann")
    result = run(h)
    [conversation] = result.conversations
    assert turns(conversation) == [
        ("user", "Ann said:\nhello", None),
        ("assistant", "hello Ann", None),
    ]
    assert result.counts["system_messages"] == 2


def test_user_attachments_and_stickers_are_noted_in_their_turn():
    h = History()
    h.say(ANN, "look", attachments=[DiscordAttachment(id="9", filename="drop.png")])
    h.say(BEN, "", stickers=[DiscordSticker(id="8", name="party")])
    h.say(BOT, "nice drop")
    [conversation] = run(h).conversations
    assert conversation.messages[0].content == (
        "Ann said:\nlook\n[attachment: drop.png]\n\nBen said:\n[sticker: party]"
    )


def test_the_same_history_segments_to_the_same_ids():
    def build() -> History:
        h = History()
        h.say(ANN, "ping")
        h.say(BOT, "pong")
        return h

    assert [c.id for c in run(build()).conversations] == [c.id for c in run(build()).conversations]
