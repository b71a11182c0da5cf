"""Which samples a cap keeps, and which split each sample goes to: both from ids and the seed.

The cap is stratified by (source, example type): samples are ranked once, stratum by
stratum in a Sainte-Laguë order after one seat for every stratum, each stratum's own
samples by a seeded hash of their ids. `max_samples = n` keeps the first n of that ranking,
so the choice is deterministic, independent of input order, proportional to the strata's
sizes, keeps every stratum while n allows, and a smaller cap keeps a subset of a larger.

The split is a seeded hash of the sample's original id alone (its own id when it was cut
from nothing): adding or removing other samples never moves it, and the windows of one
conversation share its split, so no validation example is a piece of a trained one.
"""

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Iterable

Stratum = tuple[str, str]


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8])


def in_validation(split_key: str, seed: int, fraction: float) -> bool:
    """Whether the sample whose original is `split_key` is held out."""
    return _hash("split", seed, split_key) < fraction * 2**64


def ranking(samples: Iterable[tuple[str, Stratum]], seed: int) -> list[str]:
    """Sample ids in the order a cap keeps them (see the module docstring)."""
    strata: dict[Stratum, list[str]] = defaultdict(list)
    for sample_id, stratum in samples:
        strata[stratum].append(sample_id)
    for ids in strata.values():
        ids.sort(key=lambda i: (_hash("cap", seed, i), i))
    floor = sorted(strata, key=lambda s: (-len(strata[s]), s))
    order = [strata[s][0] for s in floor]
    taken = dict.fromkeys(strata, 1)
    heap = [(-len(strata[s]) / 3, s) for s in floor if len(strata[s]) > 1]
    heapq.heapify(heap)
    while heap:
        _, stratum = heapq.heappop(heap)
        order.append(strata[stratum][taken[stratum]])
        taken[stratum] += 1
        size = len(strata[stratum])
        if taken[stratum] < size:
            heapq.heappush(heap, (-size / (2 * taken[stratum] + 1), stratum))
    return order
