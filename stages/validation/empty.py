"""Empty export files and formats, as warnings.

An empty file is valid JSONL, but no trainer loads it (the trainer configs leave it
out) and a format with no line at all is rarely what a run meant: at a small
`max_samples`, or when a format refuses every record, the dataset quietly lacks a
validation split or a whole format. Each is named so the card and the log can say so,
and `validate.fail_on_empty` can stop the pipeline on it.
"""

from collections.abc import Callable, Mapping

from schemas.format_lines import FormatWarning


def _why(split: str, records: int) -> str:
    if not records:
        return f"the {split} split has no records"
    return f"the format refused all {records} {split} record(s) (see rejects.jsonl)"


def empty_warnings(
    lines: Mapping[str, Mapping[str, int]],
    records: Mapping[str, int],
    place: Callable[[str, str], str],
) -> list[FormatWarning]:
    """Warnings for `lines[format][split] == 0`; `place(format, split)` names the file
    (split "" for the format's folder). A format empty in every split is one warning."""
    warnings = []
    for name, counts in sorted(lines.items()):
        if counts and not any(counts.values()):
            why = "; ".join(_why(split, records.get(split, 0)) for split in counts)
            warnings.append(
                FormatWarning(
                    format=name,
                    file=place(name, ""),
                    reason="empty_format",
                    message=f"no line in any split: {why}",
                )
            )
            continue
        warnings += [
            FormatWarning(
                format=name,
                split=split,
                file=place(name, split),
                reason="empty_split",
                message=f"no line: {_why(split, records.get(split, 0))}",
            )
            for split, n in counts.items()
            if n == 0
        ]
    return warnings
