"""The unified line: the whole Conversation, every label and provenance field,
with the learn/don't-learn rule written out as `weight: 0` on rejected turns."""

import msgspec

from schemas.conversation import Conversation
from stages.formats.contract import marked_messages


def to_unified(conv: Conversation) -> list[Conversation]:
    return [msgspec.structs.replace(conv, messages=marked_messages(conv))]
