"""The export stage's files, fed to the real consumers: openai-harmony, Hugging Face
`datasets`, the ChatML/Qwen parsers and jsonschema. One export serves every test."""

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from schemas.conversation import Conversation, Message
from stages import export, validate
from stages.formats.chatml import parse_chatml, renumber_calls
from stages.formats.contract import clean_conversation, plan
from stages.formats.exporters import LINE_SCHEMAS
from stages.formats.qwen import DEFAULT_SYSTEM, parse_qwen
from stages.validation.schema_checks import SCHEMA_DIR
from tests.formats import conversations as c
from tests.records import write_conversations

TRAIN = [*c.ALL, c.LONE_NEGATIVE]
VALIDATION = [c.PARALLEL, c.TOOL_ERROR]
# What the formats without a per-turn mask carry: the records with a clean view.
UNMASKED = [conv for conv in [*TRAIN, *VALIDATION] if plan(conv).clean is not None]


def invoke(command, *args: str) -> None:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("consumers")
    write_conversations(root / "cur" / "train.jsonl", TRAIN)
    write_conversations(root / "cur" / "validation.jsonl", VALIDATION)
    (root / "cur" / "stats.json").write_text("{}")
    (root / "params.yaml").write_text("{}\n")
    params = ["--params", str(root / "params.yaml")]
    invoke(
        export.main,
        *params,
        "--curated-dir",
        str(root / "cur"),
        "--curate-stats",
        str(root / "cur" / "stats.json"),
        "--out-dir",
        str(root / "exp"),
    )
    invoke(
        validate.main, *params, "--export-dir", str(root / "exp"), "--out-dir", str(root / "val")
    )
    return root / "exp"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def placed(out: Path, name: str) -> list[tuple[Conversation, dict]]:
    """(curated conversation, its line) for every line of a format, through the metadata."""
    by_id = {conv.id: conv for conv in [*TRAIN, *VALIDATION]}
    pairs = []
    for record in lines(out / "records.metadata.jsonl"):
        if name in record["lines"]:
            row = lines(out / "formats" / name / f"{record['split']}.jsonl")[record["lines"][name]]
            pairs.append((by_id[record["id"]], row))
    return pairs


def test_validate_finds_no_error_in_any_export(out: Path) -> None:
    metrics = json.loads((out.parent / "val" / "metrics.json").read_text())
    assert metrics["errors_total"] == 0
    assert all(f["lines"]["train"] > 0 for f in metrics["formats"].values())


def test_jsonschema_passes_on_every_line(out: Path) -> None:
    checked = 0
    for name, schema_name in LINE_SCHEMAS.items():
        schema = json.loads((SCHEMA_DIR / f"{schema_name}.schema.json").read_text())
        check = jsonschema.validators.validator_for(schema)(schema)
        for path in sorted((out / "formats" / name).glob("*.jsonl")):
            for row in lines(path):
                check.validate(row)
                checked += 1
    metadata = lines(out / "records.metadata.jsonl")
    assert checked == sum(len(record["lines"]) for record in metadata)


def test_openai_harmony_renders_and_parses_every_harmony_line(out: Path) -> None:
    pairs = placed(out, "harmony")
    assert len(pairs) == len(UNMASKED)
    for conv, row in pairs:
        got = c.parse_harmony(row["text"], conv.tools)
        assert got == [{k: m.get(k) for k in c.HARMONY_KEYS} for m in row["messages"]]
        shown = clean_conversation(conv).messages
        assert sum(m["role"] == "user" for m in got) == sum(m.role == "user" for m in shown)


def test_chatml_and_qwen_text_round_trip_to_the_curated_messages(out: Path) -> None:
    chatml = placed(out, "chatml")
    assert len(chatml) == len(UNMASKED)
    for conv, row in chatml:
        assert parse_chatml(row["text"]) == renumber_calls(clean_conversation(conv).messages)
    for conv, row in placed(out, "qwen"):
        messages, tools = parse_qwen(row["text"])
        expected = renumber_calls(clean_conversation(conv).messages)
        if conv.messages[0].role != "system":
            expected = [Message(role="system", content=DEFAULT_SYSTEM), *expected]
        assert messages == expected
        assert tools == conv.tools


def test_hugging_face_datasets_loads_every_jsonl_export(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
    loaded = 0
    empty = sorted(
        p.relative_to(out / "formats").as_posix()
        for p in (out / "formats").rglob("*.jsonl")
        if not p.stat().st_size
    )
    # No validation conversation is single-turn: alpaca has nothing there, and trainers
    # cannot load an empty file (the configs skip it).
    assert empty == ["alpaca/validation.jsonl"]
    for folder in sorted((out / "formats").iterdir()):
        files = {p.stem: str(p) for p in sorted(folder.glob("*.jsonl")) if p.stat().st_size}
        splits = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "c"))
        for split, path in files.items():
            rows = lines(Path(path))
            assert splits[split].num_rows == len(rows), path
            assert set(splits[split].column_names) == set().union(*(r.keys() for r in rows))
            loaded += 1
    assert loaded == 2 * len(LINE_SCHEMAS) - len(empty)


def test_preference_rows_keep_the_bad_and_the_corrected_turn(out: Path) -> None:
    rows = {row["id"]: row for row in lines(out / "formats" / "preference" / "train.jsonl")}
    assert sorted(rows) == sorted([c.NEGATIVE.id, c.CODE_CORRECTION.id, c.TOOL_ERROR.id])
    retry = rows[c.TOOL_ERROR.id]
    assert retry["rejected"][0]["tool_calls"][0]["function"]["arguments"]["limit"] == "ten"
    assert retry["chosen"][0]["tool_calls"][0]["function"]["arguments"]["limit"] == 10
    assert retry["prompt"] == [{"role": "user", "content": "Search for timeouts, ten of them"}]
    pushed_back = rows[c.NEGATIVE.id]
    assert "rm -rf /" in pushed_back["rejected"][0]["tool_calls"][0]["function"]["arguments"]["cmd"]
    assert pushed_back["chosen"][0]["tool_calls"][0]["function"]["arguments"]["cmd"] == (
        "rm -rf ./build"
    )
    fix = rows[c.CODE_CORRECTION.id]
    assert fix["rejected"][0]["content"] == "def add(a, b): return a - b"
    assert fix["chosen"][0]["content"] == "def add(a, b): return a + b"
    assert fix["prompt"][-1] == {"role": "user", "content": "Write add(a, b)"}
