"""Two revisions' records compared by id: added, removed, changed, and counts by facet.

Ids are content hashes of the normalized messages made at ingestion, so a record keeps its
id through labelling, scrubbing and splitting: `changed` is the same conversation with other
labels, tools, metadata, scrubbed text or split; a conversation whose messages were parsed
differently is removed under its old id and added under its new one.
"""

import difflib
from collections import Counter

import msgspec

from stages.revisions.read import Entry
from stages.revisions.render import render

FACETS = ("source", "example_type", "split")
FIELDS = ("messages", "tools", "labels", "meta", "source")


class Listed(msgspec.Struct, kw_only=True):
    id: str
    source: str
    example_type: str | None
    split: str


class Changed(msgspec.Struct, kw_only=True):
    id: str
    fields: list[str]  # what differs: split and the record's top-level fields
    diff: list[str]  # unified diff of the rendered record, one line each


class Side(msgspec.Struct, kw_only=True):
    rev: str
    records: int


class FacetCount(msgspec.Struct, kw_only=True):
    a: int
    b: int


class RecordDiff(msgspec.Struct, kw_only=True):
    a: Side
    b: Side
    added: list[Listed]
    removed: list[Listed]
    changed: list[Changed]
    unchanged: int
    counts: dict[str, dict[str, FacetCount]]  # facet → value → count at a and at b


def _facet(entry: Entry, facet: str) -> str:
    if facet == "split":
        return entry.split
    if facet == "source":
        return entry.record.source
    return str(entry.record.labels.example_type)


def _listed(record_id: str, entry: Entry) -> Listed:
    record = entry.record
    return Listed(
        id=record_id,
        source=record.source,
        example_type=record.labels.example_type,
        split=entry.split,
    )


def _changed_fields(old: Entry, new: Entry) -> list[str]:
    fields = ["split"] if old.split != new.split else []
    return fields + [
        name
        for name in FIELDS
        if msgspec.json.encode(getattr(old.record, name))
        != msgspec.json.encode(getattr(new.record, name))
    ]


def _counts(a: dict[str, Entry], b: dict[str, Entry]) -> dict[str, dict[str, FacetCount]]:
    counts = {}
    for facet in FACETS:
        before = Counter(_facet(entry, facet) for entry in a.values())
        after = Counter(_facet(entry, facet) for entry in b.values())
        counts[facet] = {
            value: FacetCount(a=before[value], b=after[value])
            for value in sorted(before.keys() | after.keys())
        }
    return counts


def compare(
    a: dict[str, Entry], b: dict[str, Entry], rev_a: str, rev_b: str, context: int = 2
) -> RecordDiff:
    changed = []
    for record_id in sorted(a.keys() & b.keys()):
        fields = _changed_fields(a[record_id], b[record_id])
        if fields:
            diff = difflib.unified_diff(
                render(a[record_id]),
                render(b[record_id]),
                fromfile=f"{record_id} @ {rev_a}",
                tofile=f"{record_id} @ {rev_b}",
                n=context,
                lineterm="",
            )
            changed.append(Changed(id=record_id, fields=fields, diff=list(diff)))
    return RecordDiff(
        a=Side(rev=rev_a, records=len(a)),
        b=Side(rev=rev_b, records=len(b)),
        added=[_listed(i, b[i]) for i in sorted(b.keys() - a.keys())],
        removed=[_listed(i, a[i]) for i in sorted(a.keys() - b.keys())],
        changed=changed,
        unchanged=len(a.keys() & b.keys()) - len(changed),
        counts=_counts(a, b),
    )
