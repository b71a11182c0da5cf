"""The exact keys' table: each record gets the first record read with its digest, across
growths of the table and digests alike in their low bits."""

import numpy as np

from stages.curation.exact_keys import ExactKeys


def test_each_record_gets_the_first_record_with_its_digest() -> None:
    rng = np.random.default_rng(5)
    distinct = [rng.bytes(16) for _ in range(3000)]
    # 500 digests that differ only in their high half all probe from the same slot
    distinct += [b"\x07" * 8 + rng.bytes(8) for _ in range(500)]
    reads = [distinct[i] for i in rng.integers(0, len(distinct), 20000)]
    table, start, expected = ExactKeys(), 0, {}
    got: list[int] = []
    while start < len(reads):  # batches of uneven sizes, so the table grows mid-run
        batch = reads[start : start + int(rng.integers(1, 700))]
        got += table.first_readers(batch, start)
        start += len(batch)
    for index, digest in enumerate(reads):
        expected.setdefault(digest, index)
    assert got == [expected[digest] for digest in reads]
    assert len(table) == len(expected) > 3000


def test_digests_equal_in_one_half_only_are_different_keys() -> None:
    table = ExactKeys()
    low, high = b"\x01" * 8, b"\x02" * 8
    assert table.first_readers([low + high, high + low, low + low, low + high], 0) == [0, 1, 2, 0]
