"""Per-stage counters, written as a DVC metrics file.

Keys are dotted (`rejected.invalid_json`); the file nests them one level
(`{"rejected": {"invalid_json": 2}}`) which `dvc metrics show` flattens back.
Every reason a stage knows is written, zero or not, so `dvc metrics diff`
compares like with like between runs.
"""

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stages.common.atomic import write_bytes_atomic
from stages.common.user_error import UserError


class Stats:
    def __init__(self, known: Iterable[str] = ()) -> None:
        self.counts: Counter[str] = Counter({key: 0 for key in known})

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def merge(self, counts: Mapping[str, int]) -> None:
        for key, n in counts.items():
            self.counts[key] += n

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def group(self, prefix: str) -> dict[str, int]:
        start = prefix + "."
        return {k[len(start) :]: n for k, n in self.counts.items() if k.startswith(start)}

    def to_dict(self) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for key in sorted(self.counts):
            head, _, rest = key.partition(".")
            if rest:
                nested.setdefault(head, {})[rest] = self.counts[key]
            else:
                nested[head] = self.counts[key]
        return nested

    def write(self, path: str | Path) -> None:
        write_bytes_atomic(path, json_bytes(self.to_dict()))


def json_bytes(value: Any) -> bytes:
    """Human-readable, key-sorted JSON for small files people diff: stats, configs."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def read_stats(path: str | Path) -> dict[str, Any]:
    """A stats file of an earlier stage; a damaged one is a one-line error naming it."""
    try:
        stats = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such stats file: run its stage first") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a stats file ({error}): run its stage again") from None
    if not isinstance(stats, dict):
        raise UserError(f"{path}: not a stats file (a JSON object): run its stage again")
    return stats
