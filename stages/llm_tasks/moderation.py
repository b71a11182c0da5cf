"""Task `moderation`: the texts of a conversation as the moderation endpoint takes them, and
the offline stand-in for the endpoint.

Every message's text and every tool call's arguments are moderated, in pieces of at most
`max_chars` (a long conversation is cut, never truncated); a conversation is flagged when any
piece is. The offline moderator flags only the unambiguous phrases of `PHRASES` (whole words,
any case): game talk such as "attack the goblin" or "kill the cow" passes.
"""

import re

from schemas.conversation import Conversation
from stages.common.llm import ModerationResult

CATEGORIES = (  # the categories of OpenAI's moderation models
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
PHRASES: dict[str, tuple[str, ...]] = {
    "harassment": ("you are worthless", "you're worthless", "you pathetic idiot"),
    "harassment/threatening": ("i will kill you", "i'll kill you", "i will hurt you"),
    "hate": ("subhuman",),
    "illicit": ("how to make a bomb", "buy stolen credit cards"),
    "self-harm/intent": ("kill myself", "end my life", "want to die"),
    "violence/graphic": ("dismembered", "disembowel"),
}
_PATTERNS = {
    category: re.compile(r"\b(" + "|".join(map(re.escape, phrases)) + r")\b", re.IGNORECASE)
    for category, phrases in PHRASES.items()
}


def conversation_texts(conversation: Conversation, max_chars: int) -> list[str]:
    """The conversation's text in pieces of at most `max_chars`, in message order."""
    parts = []
    for message in conversation.messages:
        if message.content:
            parts.append(f"{message.role}: {message.content}")
        for call in message.tool_calls or ():
            parts.append(f"call {call.function.name}: {call.function.arguments}")
    text = "\n".join(parts)
    return [text[i : i + max_chars] for i in range(0, len(text), max_chars)] or [""]


def _candidates(text: str) -> list[str]:
    """The categories whose pattern can match: for ASCII text (nearly all), those with a
    phrase in the lower-cased text, a substring test far cheaper than the case-blind
    regular expression; it only narrows, the pattern still decides."""
    if not text.isascii():
        return list(_PATTERNS)
    lowered = text.lower()
    return [c for c, phrases in PHRASES.items() if any(p in lowered for p in phrases)]


def offline_moderator(text: str) -> ModerationResult:
    categories = sorted(c for c in _candidates(text) if _PATTERNS[c].search(text))
    return ModerationResult(
        key="",
        flagged=bool(categories),
        categories=categories,
        scores=dict.fromkeys(categories, 1.0),
    )
