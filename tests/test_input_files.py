"""`input_files`: one rule for every stage's input, and what each caller does with no file."""

from pathlib import Path

import click
import pytest

from stages import collect_discord, segment
from stages.common.input_paths import input_files, scan_input, skipped_lines
from stages.common.user_error import UserError
from stages.ingest import command
from tests.conftest import write_lines


def test_several_patterns_find_each_file_once_sorted_by_path(tmp_path: Path) -> None:
    for name in ("b/tool_calls.log", "a.jsonl", "c.txt", "b/a.log.jsonl"):
        write_lines(tmp_path / name, ["{}"])
    found = input_files(tmp_path, ["*.jsonl", "*.log", "*.log.jsonl"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.jsonl",
        "b/a.log.jsonl",
        "b/tool_calls.log",
    ]
    assert input_files(tmp_path, "*.txt") == [tmp_path / "c.txt"]
    assert input_files(tmp_path / "c.txt", "*.jsonl") == [tmp_path / "c.txt"]


def test_a_folder_with_no_match_is_an_error_unless_allowed(tmp_path: Path) -> None:
    write_lines(tmp_path / "notes.md", ["x"])
    with pytest.raises(UserError) as error:
        input_files(tmp_path, ["*.jsonl", "*.log"])
    assert str(error.value) == (
        f"{tmp_path}: no file in this folder or below it matches *.jsonl or *.log; "
        "point the input at a file, or at a folder that holds such files"
    )
    assert input_files(tmp_path, "*.jsonl", allow_empty=True) == []


@pytest.mark.parametrize(
    ("command", "option", "pattern"),
    [
        (command("sessions"), "--input", "*.jsonl"),
        (command("journals"), "--input", "*.md"),
        (collect_discord.main, "--exports", "*.json"),
    ],
)
def test_a_source_given_an_empty_folder_says_so(
    run, workdir: Path, command: click.Command, option: str, pattern: str
) -> None:
    (workdir / "mine").mkdir()
    result = run(command, option, "mine", "--out-dir", "out", exit_code=1)
    assert result.output.startswith(
        f"Error: mine: no file in this folder or below it matches {pattern}; point "
    )
    assert result.output.count("\n") == 1


def test_segment_takes_an_empty_collection_as_no_discord_data(run, workdir: Path) -> None:
    """collect_discord with no channel and no export writes an empty folder: not an error."""
    run(collect_discord.main, "--out-dir", "collected")
    run(segment.main, "--input", "collected/channels", "--out-dir", "out", "--no-cache")
    assert Path("out/conversations.jsonl").read_bytes() == b""


def test_linked_folders_are_read_once_under_their_real_path(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_lines(root / "real" / "a.jsonl", ["{}"])
    write_lines(tmp_path / "disk2" / "b.jsonl", ["{}"])
    (root / "0-link").symlink_to(root / "real")  # sorts before the folder it leads to
    (root / "elsewhere").symlink_to(tmp_path / "disk2")
    (root / "real" / "up").symlink_to(root)
    (root / "x.jsonl").symlink_to("y.jsonl")
    (root / "y.jsonl").symlink_to("x.jsonl")
    write_lines(root / "notes.md", ["x"])
    scan = scan_input(root)
    assert [p.relative_to(root).as_posix() for p in scan.files] == [
        "elsewhere/b.jsonl",
        "real/a.jsonl",
    ]
    assert {
        kind: [p.relative_to(root).as_posix() for p in paths]
        for kind, paths in scan.skipped.items()
    } == {
        "symlink_loop": ["0-link", "real/up", "x.jsonl", "y.jsonl"],
        "not_matching": ["notes.md"],
        "unreadable": [],
    }


def test_every_stage_names_links_that_loop_and_paths_it_cannot_read(run, workdir: Path) -> None:
    write_lines(workdir / "notes" / "day.md", ["# Monday", "", "Fixed the build."])
    (workdir / "notes" / "again").symlink_to(".")
    (workdir / "notes" / "lost.md").symlink_to("nowhere.md")
    write_lines(workdir / "notes" / "photo.png", ["not markdown"])
    result = run(command("journals"), "--input", "notes", "--out-dir", "out")
    assert [line for line in result.stderr.splitlines() if "passed over" in line] == [
        "ingest_journals: passed over links that loop or lead to a folder already read: 1 "
        "(notes/again)",
        "ingest_journals: passed over files whose names do not match *.md: 1 (notes/photo.png)",
        "ingest_journals: passed over files or folders that cannot be read (no permission, or a "
        "broken link): 1 (notes/lost.md)",
    ]
    assert skipped_lines(scan_input("notes", "*.md"), ["not_matching"]) == [
        "passed over files whose names do not match *.md: 1 (notes/photo.png)"
    ]


def test_a_kind_with_many_paths_names_the_first_three(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt", "d.txt", "e.jsonl"):
        write_lines(tmp_path / name, ["x"])
    folder = tmp_path.as_posix()
    assert skipped_lines(scan_input(tmp_path, ["*.jsonl", "*.log"])) == [
        "passed over files whose names do not match *.jsonl or *.log: 4 "
        f"({folder}/a.txt, {folder}/b.txt, {folder}/c.txt and 1 more)"
    ]
