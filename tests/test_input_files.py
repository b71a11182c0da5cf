"""`input_files`: one rule for every stage's input, and what each caller does with no file."""

from pathlib import Path

import click
import pytest

from stages import collect_discord, ingest_journals, ingest_sessions, segment
from stages.common.cli import input_files
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
    with pytest.raises(click.ClickException) as error:
        input_files(tmp_path, ["*.jsonl", "*.log"])
    assert error.value.message == (
        f"{tmp_path}: no file in this folder or below it matches *.jsonl or *.log; "
        "point the input at a file, or at a folder that holds such files"
    )
    assert input_files(tmp_path, "*.jsonl", allow_empty=True) == []


@pytest.mark.parametrize(
    ("command", "option", "pattern"),
    [
        (ingest_sessions.main, "--input", "*.jsonl"),
        (ingest_journals.main, "--input", "*.md"),
        (collect_discord.main, "--exports", "*.json"),
    ],
)
def test_a_source_given_an_empty_folder_says_so(
    run, workdir: Path, command: click.Command, option: str, pattern: str
) -> None:
    (workdir / "mine").mkdir()
    result = run(command, option, "mine", "--out-dir", "out", exit_code=1)
    assert result.output == (
        f"Error: mine: no file in this folder or below it matches {pattern}; "
        "point the input at a file, or at a folder that holds such files\n"
    )


def test_segment_takes_an_empty_collection_as_no_discord_data(run, workdir: Path) -> None:
    """collect_discord with no channel and no export writes an empty folder: not an error."""
    run(collect_discord.main, "--out-dir", "collected")
    run(segment.main, "--input", "collected/channels", "--out-dir", "out", "--no-cache")
    assert Path("out/conversations.jsonl").read_bytes() == b""
