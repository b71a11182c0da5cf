"""Token counts as validate makes them, so that what curate lets through fits validate's limit.

A conversation's count is the sum of its parts (stages/validation/openai_checks.py frames
each message and the tool definitions on their own), so windows can be sized by adding
message counts without rendering every candidate window.
"""

from array import array
from collections.abc import Sequence

import msgspec

from schemas.conversation import Conversation, Message, Tool
from stages.formats.vocab import decode_o200k_bytes, encode_o200k
from stages.validation.openai_checks import count_tokens

PRIMING = count_tokens({})  # the tokens that prime the reply, once per example
# A token is at least one byte of UTF-8, and a record's JSON line holds each text counted at
# least as long as the text: escapes only lengthen it, and the framing tokens of a message
# are fewer than its line's `{"role":...}`. The tool definitions are counted as `json.dumps`
# writes them, ASCII only: a character takes at most six times its bytes in the line (DEL,
# one raw byte there, is `\u007f`; others at most three times), and the default
# `parameters` a definition's line may leave out add less than twice its shortest line.
TOKENS_PER_LINE_BYTE = 6


def message_tokens(message: Message) -> int:
    return count_tokens({"messages": [msgspec.to_builtins(message)]}) - PRIMING


def tools_tokens(tools: list[Tool]) -> int:
    return count_tokens({"tools": msgspec.to_builtins(tools)}) - PRIMING if tools else 0


def message_costs(conversation: Conversation) -> array:
    """Each message's `message_tokens`: counted once, they give the conversation's count and
    cut its windows, in both of curate's passes."""
    return array("q", map(message_tokens, conversation.messages))


def conversation_tokens(conversation: Conversation, costs: Sequence[int] | None = None) -> int:
    """The count validate gives the conversation written as one OpenAI line; `costs`: its
    `message_costs`, when the caller has them."""
    if costs is None:
        costs = message_costs(conversation)
    return PRIMING + sum(costs) + tools_tokens(conversation.tools)


def tokens_bound(line_bytes: int) -> int:
    """At least `conversation_tokens` of the record written on a line of this many bytes:
    a record this bound shows to fit needs no count (a short tool-log record's count is a
    third of curate's work on it)."""
    return TOKENS_PER_LINE_BYTE * line_bytes


def text_tokens(text: str) -> list[int]:
    return encode_o200k(text)


def decode(tokens: list[int]) -> str:
    """Text of a token slice; a character cut at either end is left out."""
    return decode_o200k_bytes(tokens).decode("utf-8", "ignore")
