"""Every stage's --help shows the defaults a run would use and examples that can be copied."""

import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from stages import curate
from tests.test_docs import stage_commands


def test_help_shows_the_params_file_defaults(workdir: Path) -> None:
    (workdir / "params.yaml").write_text("seed: 13\ncurate:\n  validation_fraction: 0.25\n")
    (workdir / "other.yaml").write_text("seed: 7\n")
    shown = " ".join(CliRunner().invoke(curate.main, ["--help"]).output.split())
    assert "[default: 13]" in shown and "[default: 0.25;" in shown
    other = CliRunner().invoke(curate.main, ["--help", "--params", "other.yaml"]).output
    assert "[default: 7]" in " ".join(other.split())


@pytest.mark.parametrize("module", stage_commands())
def test_help_example_is_one_command_to_copy(module: str) -> None:
    command: click.Command = importlib.import_module(module).main
    shown = CliRunner().invoke(command, ["--help"], terminal_width=60).output.splitlines()
    start = shown.index("  Example:") + 1
    end = next((i for i in range(start, len(shown)) if not shown[i].strip()), len(shown))
    lines = [line.strip() for line in shown[start:end]]
    assert lines[0].startswith(f"python -m {module}")
    assert all(line.endswith(" \\") for line in lines[:-1]) and not lines[-1].endswith("\\")
