"""Input that did not make it, kept with a reason so that nothing is silently lost."""

from schemas.base import Record


class Reject(Record):
    file: str
    line: int
    reason: str
    message: str
    excerpt: str = ""


class Dropped(Record):
    """A valid record a stage left out (a duplicate, filtered, over the cap, a guard's
    rejection), with enough to read it beside the others: where it came from and its start."""

    id: str
    reason: str
    file: str | None = None
    line: int | None = None
    source: str | None = None
    stage: str | None = None  # the stage that dropped it: curate, segment, ...
    excerpt: str | None = None  # the opening of its first text, scrubbed
