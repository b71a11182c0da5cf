"""The structured session report a model writes after reading a developer's terminal transcript.

The reply is a JSON array of exactly one report object, the shape the trained model is asked
for (prompts/session_report.md); `synthesize` writes it as the assistant's final message.
"""

from typing import Annotated

import msgspec

from schemas.base import Record

Text = Annotated[str, msgspec.Meta(min_length=1)]


class KeySuccess(Record):
    """Something that worked, with the commands that show it and the facts around it."""

    desc: Text
    specifics: Text  # the command(s) or output lines that prove it, as the transcript has them
    adjacent_context: Text  # counts, durations, versions, branches, hosts beside it


class Blocker(Record):
    """Something that failed and is still unresolved at the end of the session."""

    desc: Text
    impact: Text
    owner_hint: Text
    resolution_hint: Text


class SessionReport(Record):
    summary: Text
    key_successes: list[KeySuccess]
    blockers: list[Blocker]
    resources: list[Text]


SessionReports = Annotated[list[SessionReport], msgspec.Meta(min_length=1, max_length=1)]
