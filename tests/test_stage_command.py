"""What every stage command sets up before its work: the collector tuned for records."""

import gc
from collections.abc import Iterator

import pytest

from stages.common.cli import GC_THRESHOLDS, stage_command
from stages.common.parallel import ordered_map


def thresholds(_: int) -> tuple[int, int, int]:
    return gc.get_threshold()


@pytest.fixture
def collector_restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_a_stage_and_its_workers_collect_cycles_rarely(run, collector_restored: None) -> None:
    """Decoding a chunk makes a million short-lived objects: the collector runs every 10,000
    allocations in the stage and in the workers it forks, not every 700."""
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, int, int]] = []

    @stage_command
    def probe() -> None:
        seen.append(gc.get_threshold())
        seen.extend(ordered_map(thresholds, range(4), jobs=2))

    run(probe)
    assert seen == [GC_THRESHOLDS] * 5
    assert GC_THRESHOLDS[0] >= 10_000
