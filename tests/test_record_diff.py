"""The record diff's core on records built here: what counts as added, removed and changed,
and how a changed record reads. tests/test_team_flow.py runs it on real revisions."""

import msgspec

from schemas.conversation import Labels, Meta
from stages.revisions.compare import compare
from stages.revisions.read import Entry
from stages.revisions.report import text_report
from tests.records import conversation


def by_id(*entries: Entry) -> dict[str, Entry]:
    return {entry.record.id: entry for entry in entries}


def test_added_removed_and_changed_by_id_with_counts_and_a_readable_diff() -> None:
    kept = conversation("catch a fish", rating=4)
    relabelled = conversation("sell the fish", rating=2)
    gone = conversation("cook the fish")
    new = conversation("eat the fish", calls=2)
    a = by_id(Entry("train", kept), Entry("train", relabelled), Entry("validation", gone))
    better = msgspec.structs.replace(
        relabelled,
        labels=Labels(rating=5, example_type="direct_execution"),
        meta=Meta(file="logs/b.jsonl", line=1),
    )
    b = by_id(Entry("train", kept), Entry("validation", better), Entry("train", new))

    diff = compare(a, b, "v1", "v2")
    assert [r.id for r in diff.added] == [new.id] and [r.id for r in diff.removed] == [gone.id]
    assert diff.unchanged == 1 and [c.id for c in diff.changed] == [relabelled.id]
    assert diff.changed[0].fields == ["split", "labels", "meta"]
    changes = [line for line in diff.changed[0].diff if line[:1] in "+-"]
    assert changes == [
        f"--- {relabelled.id} @ v1",
        f"+++ {relabelled.id} @ v2",
        "-split: train",
        "+split: validation",
        "-example_type: None",
        "+example_type: direct_execution",
        "-rating: 2",
        "+rating: 5",
        '-meta: {"file":"logs/a.jsonl","line":1}',
        '+meta: {"file":"logs/b.jsonl","line":1}',
    ]
    assert {k: (v.a, v.b) for k, v in diff.counts["split"].items()} == {
        "train": (2, 2),
        "validation": (1, 1),
    }
    assert diff.counts["example_type"]["direct_execution"].b == 1

    report = text_report(diff)
    assert report.startswith(
        "records v1 → v2: 3 → 3 (1 added, 1 removed, 1 changed, 1 unchanged)\n"
    )
    assert f"  + {new.id}  toollog  train  -" in report
    assert f"changed {relabelled.id}: split, labels, meta\n--- {relabelled.id} @ v1" in report
    assert "  direct_execution        0        1       +1" in report


def test_a_changed_tool_call_shows_in_the_rendered_messages() -> None:
    before = conversation("catch a fish")
    calls = before.messages[1].tool_calls
    assert calls
    call = msgspec.structs.replace(
        calls[0], function=msgspec.structs.replace(calls[0].function, arguments='{"method":"rod"}')
    )
    messages = [*before.messages]
    messages[1] = msgspec.structs.replace(messages[1], tool_calls=[call])
    after = msgspec.structs.replace(before, messages=messages)
    diff = compare(by_id(Entry("train", before)), by_id(Entry("train", after)), "a", "b")
    assert diff.changed[0].fields == ["messages"]
    assert [line for line in diff.changed[0].diff if line[:1] in "+-"][2:] == [
        '-  → fish({"method":"net"}) #call_1',
        '+  → fish({"method":"rod"}) #call_1',
    ]
