"""A `RecordDiff` as text for a reviewer: the totals, the counts that moved, the records."""

from stages.revisions.compare import Listed, RecordDiff


def _row(name: str, a: object, b: object, change: str, width: int) -> str:
    return f"  {name:<{width}} {a!s:>8} {b!s:>8} {change:>8}"


def _listing(mark: str, records: list[Listed]) -> list[str]:
    return [f"  {mark} {r.id}  {r.source}  {r.split}  {r.example_type or '-'}" for r in records]


def text_report(diff: RecordDiff) -> str:
    lines = [
        f"records {diff.a.rev} → {diff.b.rev}: {diff.a.records} → {diff.b.records} "
        f"({len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed, "
        f"{diff.unchanged} unchanged)"
    ]
    for facet, values in diff.counts.items():
        width = max([len(facet), *(len(v) for v in values)])
        lines += ["", _row(facet, diff.a.rev[:8], diff.b.rev[:8], "change", width)]
        for value, count in values.items():
            delta = count.b - count.a
            lines.append(_row(value, count.a, count.b, f"{delta:+d}" if delta else "", width))
    if diff.added:
        lines += ["", f"added ({len(diff.added)}):", *_listing("+", diff.added)]
    if diff.removed:
        lines += ["", f"removed ({len(diff.removed)}):", *_listing("-", diff.removed)]
    for changed in diff.changed:
        lines += ["", f"changed {changed.id}: {', '.join(changed.fields)}", *changed.diff]
    return "\n".join(lines) + "\n"
