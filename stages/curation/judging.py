"""curate's first pass over a chunk, in a worker: what each record read gives.

A record is dropped by a filter (its reason), or it is a candidate: the keys that find its
copies (exact key, MinHash signature, label rank) and the samples it gives (itself, or
its windows). Only these small things go back to the main process, which feeds the
candidates to `NearDuplicates` in input order.
"""

from array import array
from typing import NamedTuple

import msgspec

from schemas.conversation import Conversation
from stages.common.record_chunks import Chunk, sized_records
from stages.curation.filters import Filters, drop_reason
from stages.curation.near_dup import (
    Fingerprint,
    Fingerprints,
    fingerprint,
    label_rank,
    signature_text,
    stacked,
)
from stages.curation.sampling import Stratum
from stages.curation.tokens import conversation_tokens, message_costs, tokens_bound
from stages.curation.windows import Unfittable, windows
from stages.dedupe import dedupe_key, normalized_contents


class Judging(msgspec.Struct, frozen=True):
    """What a worker needs to judge records: the filters and the hand labels' verdicts."""

    filters: Filters
    budget: int  # longest example in tokens; a longer record is cut into windows
    threshold: float | None  # near-duplicate threshold; None: exact copies only
    hand_labelled: frozenset[str]
    excluded: frozenset[str]


class Candidate(NamedTuple):
    rank: tuple[int, int, float, int]
    id: str
    windows: int  # how many windows it is cut into; 0: kept whole
    stratum: Stratum
    costs: array | None  # a windowed record's message_costs, for the second pass to cut by


def stratum(conversation: Conversation) -> Stratum:
    return (conversation.source, conversation.labels.example_type or "unlabelled")


def judge(
    conversation: Conversation, line_bytes: int, judging: Judging
) -> str | tuple[Candidate, Fingerprint]:
    """A drop reason, or the candidate the record (read from a line of `line_bytes`) is and
    its fingerprint. A record the annotations exclude is dropped before any filter looks at
    it. Its tokens are counted only where a filter or the budget needs them."""
    if conversation.id in judging.excluded:
        return "excluded_by_hand"
    counted = judging.filters.counts_tokens or tokens_bound(line_bytes) > judging.budget
    costs = message_costs(conversation) if counted else None
    tokens = None if costs is None else conversation_tokens(conversation, costs)
    reason = drop_reason(conversation, tokens, judging.filters)
    if reason is not None:
        return reason
    count = 0
    if tokens is not None and tokens > judging.budget:  # counted: `costs` are at hand
        try:
            count = len(windows(conversation, judging.budget, costs))
        except Unfittable:
            return "unfittable"
    contents = normalized_contents(conversation)
    made = fingerprint(
        dedupe_key(conversation, contents),
        signature_text(conversation, contents),
        judging.threshold,
    )
    candidate = Candidate(
        label_rank(conversation, conversation.id in judging.hand_labelled),
        conversation.id,
        count,
        stratum(conversation),
        costs if count else None,
    )
    return candidate, made


class JudgedChunk(NamedTuple):
    verdicts: list[str | Candidate]  # a record's drop reason, or the candidate it is
    fingerprints: Fingerprints  # of the candidates, in order


def judge_chunk(chunk: Chunk, judging: Judging) -> JudgedChunk:
    verdicts: list[str | Candidate] = []
    fingerprints: list[Fingerprint] = []
    for size, conversation in sized_records(chunk, Conversation):
        verdict = judge(conversation, size, judging)
        if isinstance(verdict, str):
            verdicts.append(verdict)
        else:
            candidate, made = verdict
            verdicts.append(candidate)
            fingerprints.append(made)
    return JudgedChunk(verdicts, stacked(fingerprints))
