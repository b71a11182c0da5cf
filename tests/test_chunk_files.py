"""Workers write their chunks straight into shared files: in chunk order, whoever finishes
first, and a failed chunk fails the ones after it instead of leaving them waiting."""

import functools
import os
import pickle
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stages.common.chunk_files import ChunkAbandoned, ChunkFiles
from stages.common.parallel import ordered_map
from tests.conftest import REPO


def parts_of(number: int) -> list[bytes]:
    """Chunk `number`'s bytes for two files: sizes vary, and some chunks have none for one."""
    rng = random.Random(number)
    return [
        bytes([65 + number % 26]) * rng.choice([0, 1, 7, 5000]),
        f"{number};".encode() * rng.randint(0, 300),
    ]


def slow_write(number: int, files: ChunkFiles) -> int:
    # Later chunks often finish first, so a chunk's offsets must wait for the one before.
    time.sleep(random.Random(-number).choice([0, 0.001, 0.02]))
    files.write(number, parts_of(number))
    return number


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_the_files_hold_every_chunk_in_order_for_any_number_of_workers(
    tmp_path: Path, jobs: int
) -> None:
    paths = [tmp_path / "a" / "one.jsonl", tmp_path / "b" / "two.jsonl"]
    with ChunkFiles(paths, in_flight=2 * jobs) as files:
        work = functools.partial(slow_write, files=files)
        done = list(ordered_map(work, range(60), jobs=jobs, window=files.in_flight))
    assert done == list(range(60))
    for i, path in enumerate(paths):
        assert path.read_bytes() == b"".join(parts_of(n)[i] for n in range(60))


def fail_at_seven(number: int, files: ChunkFiles) -> int:
    if number == 7:
        files.abandon(number)
        raise ValueError("chunk 7 is bad")
    time.sleep(0.005)
    files.write(number, [b"x"])
    return number


FAILING = """
import functools, sys
from pathlib import Path
from stages.common.chunk_files import ChunkFiles
from stages.common.parallel import ordered_map
from tests.test_chunk_files import fail_at_seven

with ChunkFiles([Path(sys.argv[1])], in_flight=4) as files:
    work = functools.partial(fail_at_seven, files=files)
    try:
        list(ordered_map(work, range(40), jobs=2, window=files.in_flight))
    except ValueError as error:
        print("raised:", error)
"""


def test_a_failed_chunk_fails_the_run_instead_of_leaving_its_successors_waiting(
    tmp_path: Path,
) -> None:
    # In a child process with a deadline: the defect this guards against is a hang.
    result = subprocess.run(
        [sys.executable, "-c", FAILING, str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "raised: chunk 7 is bad\n", result.stderr
    assert (tmp_path / "out").read_bytes() == b"x" * 7


def test_the_chunk_after_a_failed_one_fails_with_it(tmp_path: Path) -> None:
    with ChunkFiles([tmp_path / "out"], in_flight=2) as files:
        files.write(0, [b"first\n"])
        files.abandon(1)
        with pytest.raises(ChunkAbandoned, match="chunk 1 failed"):
            files.write(2, [b"never\n"])
        with pytest.raises(ChunkAbandoned, match="chunk 2 failed"):
            files.write(3, [b"never\n"])
    assert (tmp_path / "out").read_bytes() == b"first\n"


def test_a_chunk_that_fails_before_publishing_its_offsets_fails_the_next(tmp_path: Path) -> None:
    raised: list[BaseException] = []

    def next_chunk() -> None:
        try:
            files.write(1, [b"never\n"])
        except ChunkAbandoned as error:
            raised.append(error)

    with ChunkFiles([tmp_path / "out"], in_flight=2) as files:
        with pytest.raises(ValueError):
            files.write(0, [b"one part too many", b"\n"])
        # In a thread with a deadline: the defect this guards against is a wait forever.
        waiting = threading.Thread(target=next_chunk, daemon=True)
        waiting.start()
        waiting.join(timeout=20)
    assert [str(error) for error in raised] == ["chunk 0 failed"]
    assert (tmp_path / "out").read_bytes() == b""


def test_a_chunk_does_not_overwrite_the_slot_of_a_later_one(tmp_path: Path) -> None:
    with ChunkFiles([tmp_path / "out"], in_flight=1) as files:
        for number in range(3):
            files.write(number, [b"%d" % number])
        with pytest.raises(RuntimeError, match="more than 1 chunks in flight"):
            files.abandon(0)  # slot 0 holds chunk 2 now
        files.write(3, [b"3"])
    assert (tmp_path / "out").read_bytes() == b"0123"


def test_a_chunk_whose_predecessor_slot_was_reused_gets_no_offsets(tmp_path: Path) -> None:
    with ChunkFiles([tmp_path / "out"], in_flight=1) as files:
        for number in range(4):
            files.write(number, [b"%d" % number])
        with pytest.raises(RuntimeError, match="more than 1 chunks in flight"):
            files.write(2, [b"again"])
    assert (tmp_path / "out").read_bytes() == b"0123"


def test_a_short_pwrite_is_carried_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    pwrite = os.pwrite

    def at_most_five(fd: int, data: memoryview, offset: int) -> int:
        calls.append(offset)
        return pwrite(fd, data[:5], offset)

    monkeypatch.setattr(os, "pwrite", at_most_five)
    with ChunkFiles([tmp_path / "out"], in_flight=1) as files:
        files.write(0, [b"0123456789ab"])
        files.write(1, [b"cd"])
    assert (tmp_path / "out").read_bytes() == b"0123456789abcd"
    assert calls == [0, 5, 10, 12]


def test_a_task_carries_only_a_key_to_the_files_its_worker_inherited(tmp_path: Path) -> None:
    with ChunkFiles([tmp_path / "out"], in_flight=1) as files:
        carried = pickle.dumps(files)
        assert len(carried) < 100
        assert pickle.loads(carried) is files
    with pytest.raises(KeyError):
        pickle.loads(carried)  # closed: no worker forked from now on can reach it
