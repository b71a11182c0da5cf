"""Shared fixtures: stages run in an empty working directory with no params.yaml."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from stages.common.jsonl import part_files

REPO = Path(__file__).resolve().parent.parent


def dvc_stages(path: Path = REPO / "dvc.yaml") -> dict[str, dict[str, Any]]:
    """The stages of a dvc.yaml in file order, each `foreach` item as DVC names it
    (`ingest@sessions`) with `${item}` filled in."""
    stages: dict[str, dict[str, Any]] = {}
    for name, spec in yaml.safe_load(path.read_text())["stages"].items():
        if "foreach" not in spec:
            stages[name] = spec
            continue
        for item in spec["foreach"]:
            text = json.dumps(spec["do"]).replace("${item}", item)
            stages[f"{name}@{item}"] = json.loads(text)
    return stages


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory: relative paths in records are relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run() -> Callable[..., Result]:
    """Invoke a stage command like the shell would; fail loudly on unexpected errors."""

    def invoke(command: click.Command, *args: str, exit_code: int = 0) -> Result:
        result = CliRunner().invoke(command, list(args), catch_exceptions=False)
        assert result.exit_code == exit_code, result.output
        return result

    return invoke


def read_jsonl(path: Path) -> list[Any]:
    """The records of a JSONL file, or of a folder of parts in order."""
    files = part_files(path) if path.is_dir() else [path]
    return [json.loads(line) for file in files for line in file.read_text().splitlines()]


def write_lines(path: Path, lines: list[str | bytes], final_newline: bool = True) -> Path:
    """Write raw lines (text or bytes), so tests control every byte, bad ones included."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\n".join(line.encode() if isinstance(line, str) else line for line in lines)
    path.write_bytes(data + (b"\n" if final_newline else b""))
    return path
