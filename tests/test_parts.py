"""Folder outputs of parts: part names, and reading a folder back in order."""

from pathlib import Path

import msgspec
import pytest

from stages.common.jsonl import part_files, read_records
from stages.common.parts import MAX_NAME_BYTES, part_name
from stages.common.user_error import UserError


def test_part_name_encodes_the_relative_path() -> None:
    assert part_name("a.jsonl") == "a.jsonl"
    assert part_name("-home-dev/s1/subagents/agent-x.jsonl") == (
        "-home-dev%2Fs1%2Fsubagents%2Fagent-x.jsonl"
    )
    assert part_name("50%/x y.jsonl") == "50%25%2Fx%20y.jsonl"
    assert part_name(".hidden.jsonl") == "%2Ehidden.jsonl"


def test_part_names_differ_for_paths_a_naive_encoding_would_merge() -> None:
    paths = ["a/b.jsonl", "a%2Fb.jsonl", "a_b.jsonl", "a b.jsonl", ".a.jsonl", "%2Ea.jsonl"]
    assert len({part_name(p) for p in paths}) == len(paths)


def test_long_paths_get_a_short_distinct_name() -> None:
    long_a, long_b = "d/" + "x" * 300 + "a.jsonl", "d/" + "x" * 300 + "b.jsonl"
    a, b = part_name(long_a), part_name(long_b)
    assert a != b
    assert len(a.encode()) <= MAX_NAME_BYTES and a.endswith(".jsonl")
    assert a.startswith("d%2Fxxxx")
    assert part_name(long_a) == a


class Item(msgspec.Struct):
    n: int


def test_read_records_reads_a_folder_in_sorted_part_order(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "b.jsonl").write_text('{"n": 3}\n')
    (folder / "a%2Fz.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (folder / "c.jsonl").write_text("")
    (folder / "index.json").write_text('{"n": 99}\n')
    (folder / ".b.jsonl.x.tmp").write_text('{"n": 98}\n')
    assert [p.name for p in part_files(folder)] == ["a%2Fz.jsonl", "b.jsonl", "c.jsonl"]
    assert [r.n for r in read_records(folder, Item)] == [1, 2, 3]
    assert [r.n for r in read_records(folder / "b.jsonl", Item)] == [3]


def test_read_records_stops_at_a_bad_line_in_a_part_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"n": 1}\n{"n": "x"}\n')
    with pytest.raises(UserError, match=r"a\.jsonl:2: not a Item record"):
        list(read_records(tmp_path, Item))
