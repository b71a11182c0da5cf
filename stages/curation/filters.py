"""Quality filters: each a parameter, each drop a named reason counted in curate's stats."""

import msgspec

from schemas.conversation import Conversation, ExampleType

FILTER_REASONS = (
    "turns_below_min",
    "turns_above_max",
    "tokens_below_min",
    "tokens_above_max",
    "example_type_not_kept",
    "rating_below_min",
    "unrated",
    "quality_below_min",
    "unanswered_tool_call",
)


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """What a conversation must be to be kept; None (or False) lets everything through."""

    min_turns: int | None = None
    max_turns: int | None = None
    min_tokens: int | None = None
    max_total_tokens: int | None = None
    example_types: frozenset[ExampleType] | None = None
    min_rating: int | None = None
    drop_unrated: bool = False
    min_quality: float | None = None
    drop_unanswered_calls: bool = False

    @property
    def counts_tokens(self) -> bool:
        return self.min_tokens is not None or self.max_total_tokens is not None


def turns(conversation: Conversation) -> int:
    """User and assistant messages: what a person would count as the turns of a chat."""
    return sum(m.role in ("user", "assistant") for m in conversation.messages)


def unanswered_call(conversation: Conversation) -> bool:
    """Whether a tool call goes unanswered while the conversation moves on: a trainer would
    learn to call and never see what came back (OpenAI refuses such a line). A call that ends
    the conversation (a journal's command to run) teaches the call and is kept."""
    answered = {m.tool_call_id for m in conversation.messages if m.role == "tool"}
    messages = conversation.messages
    last = max((i for i, m in enumerate(messages) if m.role != "tool"), default=-1)
    return any(
        call.id not in answered
        for i, m in enumerate(messages[:last])
        for call in m.tool_calls or ()
    )


def drop_reason(conversation: Conversation, tokens: int | None, filters: Filters) -> str | None:
    """Keep (None), or the first filter the conversation fails, given its token count (None
    when no filter counts tokens)."""
    n = turns(conversation)
    labels = conversation.labels
    checks = (
        ("turns_below_min", filters.min_turns is not None and n < filters.min_turns),
        ("turns_above_max", filters.max_turns is not None and n > filters.max_turns),
        (
            "tokens_below_min",
            filters.min_tokens is not None and tokens is not None and tokens < filters.min_tokens,
        ),
        (
            "tokens_above_max",
            filters.max_total_tokens is not None
            and tokens is not None
            and tokens > filters.max_total_tokens,
        ),
        (
            "example_type_not_kept",
            filters.example_types is not None and labels.example_type not in filters.example_types,
        ),
        ("unrated", filters.drop_unrated and labels.rating is None),
        (
            "rating_below_min",
            filters.min_rating is not None
            and labels.rating is not None
            and labels.rating < filters.min_rating,
        ),
        (
            "quality_below_min",
            filters.min_quality is not None
            and labels.quality_score is not None
            and labels.quality_score < filters.min_quality,
        ),
        ("unanswered_tool_call", filters.drop_unanswered_calls and unanswered_call(conversation)),
    )
    return next((reason for reason, failed in checks if failed), None)
