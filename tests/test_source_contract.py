"""Adding a source is an adapter, a params section and a dvc.yaml entry: nothing downstream
is edited, and the toy source's records reach the export and its counts the card."""

import json
from pathlib import Path

import pytest

from stages.sources import BrokenAdapter, UnknownSource, load
from tests.dvc_repo import DvcRepo

TOY_ADAPTER = '''"""The toy source: one note a line, `{"ask": ..., "answer": ...}`."""

from collections import Counter

import msgspec

from schemas.conversation import Labels, Message, Meta
from stages.common.conversation_line import conversation_line

VERSION = 1
PATTERNS = ("*.toy",)
COUNT_KEYS = ("answered",)
REJECT_REASONS = ()


class Note(msgspec.Struct):
    ask: str
    answer: str


LINE_TYPE = Note


def convert(note: Note, file: str, line: int, _context: object, counts: Counter) -> bytes:
    counts["answered"] += 1
    ask, answer = note.ask, note.answer
    messages = [Message(role="user", content=ask), Message(role="assistant", content=answer)]
    return conversation_line("toy", messages, None, Labels(), Meta(file=file, line=line))
'''


def add_toy_source(root: Path) -> None:
    (root / "stages/sources/toy").mkdir()
    (root / "stages/sources/toy/__init__.py").write_text(TOY_ADAPTER)
    (root / "notes").mkdir()
    notes = [
        {"ask": "What is the capital of Peru?", "answer": "Lima."},
        {"ask": "How many legs has a spider?", "answer": "Eight."},
        {"ask": "Which planet is the largest?", "answer": "Jupiter."},
    ]
    lines = [json.dumps(n) for n in notes] + ['{"ask": "cut off']
    (root / "notes/day.toy").write_text("\n".join(lines) + "\n")
    params = (root / "params.yaml").read_text()
    params = params.replace("sources: [", "sources: [toy, ", 1)
    (root / "params.yaml").write_text(params + "\ningest_toy:\n  input: notes\n")
    dvc_yaml = (root / "dvc.yaml").read_text()
    (root / "dvc.yaml").write_text(dvc_yaml.replace("foreach: [", "foreach: [toy, ", 1))


def test_a_toy_source_reaches_the_export_and_the_card(tmp_path: Path) -> None:
    repo = DvcRepo.copy_of_project(tmp_path / "repo", tmp_path)
    add_toy_source(repo.path)
    repo.dvc("repro")
    stats = json.loads((repo.path / "data/ingested/toy/stats.json").read_text())
    assert (stats["conversations"], stats["answered"], stats["rejected"]["invalid_json"]) == (
        3,
        3,
        1,
    )
    metadata = (repo.path / "data/export/records.metadata.jsonl").read_text().splitlines()
    toy = [json.loads(line) for line in metadata if json.loads(line)["source"] == "toy"]
    assert len(toy) == 3
    openai = {
        line
        for split in ("train", "validation")
        for line in (repo.path / f"data/export/formats/openai/{split}.jsonl")
        .read_text()
        .split("\n")
    }
    assert any("Jupiter." in line for line in openai)
    card = (repo.path / "data/export/README.md").read_text()
    assert "| toy |" in card
    assert json.loads((repo.path / "data/metrics.json").read_text())["sources"]["toy"] == 3


def test_the_registry_names_what_is_wrong() -> None:
    with pytest.raises(UnknownSource, match=r"no source named 'nosuch'.*known: botlog"):
        load("nosuch")
    assert load("toollog").line_type is not None and load("sessions").parse_file is not None


def test_an_adapter_that_breaks_the_contract_is_named(tmp_path: Path, monkeypatch) -> None:
    import stages.sources

    package = tmp_path / "broken"
    package.mkdir()
    (package / "__init__.py").write_text("VERSION = 1\nPATTERNS = ()\n")
    monkeypatch.setattr(stages.sources, "__path__", [*stages.sources.__path__, str(tmp_path)])
    with pytest.raises(BrokenAdapter, match="define either parse_file, or LINE_TYPE and convert"):
        load("broken")
