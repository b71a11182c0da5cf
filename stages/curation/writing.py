"""curate's second pass over a chunk, in a worker: the kept samples scrubbed and encoded,
and a line for every drop.

The main process sends each record's plan (a drop reason, or `Keep`) with its chunk and
writes what comes back in input order; each worker scrubs with its own `Scrubber` and
returns its counts, which the main process adds up. A sample is scrubbed as its encoded
line, as ingest scrubs (one search over the record, not one per field).
"""

from array import array
from collections import Counter
from typing import NamedTuple

import msgspec

from schemas.conversation import Conversation
from schemas.reject import Dropped
from stages.common.record_chunks import Chunk, iter_records
from stages.common.rejects import opening
from stages.common.scrub import Scrubber
from stages.common.scrub_option import ScrubSettings
from stages.curation.sampling import in_validation
from stages.curation.windows import windows


class Keep(NamedTuple):
    """A record kept: whole or cut into windows, less the samples the cap leaves out."""

    # A windowed record's message_costs, counted in the first pass: the windows are cut
    # again by them without counting again. None: kept whole.
    costs: array | None = None
    over_cap: frozenset[int] = frozenset()  # indices of its samples past max_samples

    @property
    def windowed(self) -> bool:
        return self.costs is not None


# Shared by every record the cap leaves whole: the main process holds no object per record.
KEEP_WHOLE = Keep()


class Writing(msgspec.Struct, frozen=True):
    budget: int
    seed: int
    validation_fraction: float
    scrub: ScrubSettings


class Lines:
    """Encoded lines for one output file, and how many."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.count = 0

    def add(self, line: bytes) -> None:
        self.data += line + b"\n"
        self.count += 1


class WrittenChunk(NamedTuple):
    train: tuple[bytes, int]
    validation: tuple[bytes, int]
    dropped: tuple[bytes, int]
    counts: dict[str, int]  # dropped.<reason> and scrubbed.<kind>


def excerpt(conversation: Conversation, scrubber: Scrubber) -> str:
    """The opening of the first user text (else of the first text), scrubbed before it is cut
    so that no cut secret escapes its pattern."""
    texts = [m.content for m in conversation.messages if m.content]
    users = [m.content for m in conversation.messages if m.role == "user" and m.content]
    return opening(scrubber.text((users or texts or [""])[0]) or "")


def write_chunk(planned: tuple[Chunk, list[str | Keep]], writing: Writing) -> WrittenChunk:
    """A chunk's records (with their plans) as lines of train, validation and dropped."""
    chunk, plans = planned
    encode = msgspec.json.Encoder().encode
    # Excerpts of dropped records get their own scrubber: `scrubbed.*` counts what was written.
    scrubber, excerpts = writing.scrub.scrubber(), writing.scrub.scrubber()
    train, validation, dropped = Lines(), Lines(), Lines()
    counts: Counter[str] = Counter()

    def drop(record: Conversation, reason: str) -> None:
        counts[f"dropped.{reason}"] += 1
        line = Dropped(
            id=record.id,
            reason=reason,
            file=record.meta.file,
            line=record.meta.line,
            source=record.source,
            stage="curate",
            excerpt=excerpt(record, excerpts),
        )
        dropped.add(encode(line))

    for conversation, plan in zip(iter_records(chunk, Conversation), plans, strict=True):
        if isinstance(plan, str):
            drop(conversation, plan)
            continue
        split_key = conversation.meta.original or conversation.id
        held_out = in_validation(split_key, writing.seed, writing.validation_fraction)
        out = validation if held_out else train
        samples = (
            windows(conversation, writing.budget, plan.costs) if plan.windowed else [conversation]
        )
        for index, sample in enumerate(samples):
            if index in plan.over_cap:
                drop(sample, "over_max_samples")
            else:
                out.add(scrubber.line(encode(sample)))
    counts.update({f"scrubbed.{kind}": n for kind, n in scrubber.counts.items()})
    return WrittenChunk(
        (bytes(train.data), train.count),
        (bytes(validation.data), validation.count),
        (bytes(dropped.data), dropped.count),
        dict(counts),
    )
