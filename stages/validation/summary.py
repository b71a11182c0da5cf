"""Token statistics and the rows of the DVC plots, from token counts and metadata.

Everything here is integers or rounded floats computed in a fixed order, so the
metrics and plot files are the same bytes on every machine.
"""

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

SPLITS = ("train", "validation")
FIRST_BUCKET = 64


def percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile: a value that really occurs, no interpolation."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def token_summary(lengths: Sequence[int]) -> dict[str, Any]:
    """examples, total, min, mean, p50, p90, max of one split's tokens per example."""
    if not lengths:
        return {"examples": 0, "total": 0, "min": 0, "mean": 0.0, "p50": 0, "p90": 0, "max": 0}
    values = sorted(lengths)
    return {
        "examples": len(values),
        "total": sum(values),
        "min": values[0],
        "mean": round(sum(values) / len(values), 1),
        "p50": percentile(values, 0.5),
        "p90": percentile(values, 0.9),
        "max": values[-1],
    }


def bucket(tokens: int) -> int:
    """The upper bound of a token count's bucket: 64, 128, 256, ... (powers of two)."""
    upper = FIRST_BUCKET
    while tokens > upper:
        upper *= 2
    return upper


def length_histogram(lengths: dict[str, Sequence[int]]) -> list[dict[str, int]]:
    """Rows `tokens` (bucket upper bound), then one count per split, every bucket up to
    the longest example's, so that two runs plot on the same axis."""
    counts = {split: Counter(bucket(n) for n in lengths.get(split, ())) for split in SPLITS}
    top = max((bucket(n) for values in lengths.values() for n in values), default=FIRST_BUCKET)
    rows = []
    upper = FIRST_BUCKET
    while upper <= top:
        rows.append({"tokens": upper, **{split: counts[split][upper] for split in SPLITS}})
        upper *= 2
    return rows


def examples_by(records: Counter[tuple[str, str]], key: str) -> list[dict[str, Any]]:
    """Rows `<key>`, train, validation, examples: from records counted per (source or
    example_type, split)."""
    counts: dict[str, Counter[str]] = {}
    for (value, split), n in records.items():
        counts.setdefault(value, Counter())[split] += n
    return [
        {key: name, **{s: c[s] for s in SPLITS}, "examples": sum(c[s] for s in SPLITS)}
        for name, c in sorted(counts.items())
    ]


def csv_bytes(rows: list[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """CSV with a header and `\\n` line ends, the form DVC plots read."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
