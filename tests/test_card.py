"""card: the dataset card is written from the run's numbers, the same bytes every time."""

import json
from pathlib import Path

from stages import card, export, validate
from stages.common.stats import json_bytes
from tests.records import conversation, lone_negative, single_turn, write_conversations

PARAMS = """\
max_samples: 25
seed: 13
curate: {min_rating: 4, drop_unrated: false, validation_fraction: 0.2}
export: {system_prompt: null}
"""


def build(run, workdir: Path) -> Path:
    cur = workdir / "cur"
    train = [conversation("a", rating=5), conversation("b"), lone_negative("x"), single_turn("y")]
    write_conversations(cur / "train.jsonl", train)
    write_conversations(cur / "validation.jsonl", [conversation("c")])
    (cur / "stats.json").write_bytes(
        json_bytes({"dropped": {"duplicate": 1, "rating_below_min": 2, "unrated": 0}})
    )
    (workdir / "ing" / "toollog").mkdir(parents=True)
    (workdir / "ing" / "toollog" / "stats.json").write_bytes(
        json_bytes({"read": 7, "conversations": 4, "rejected": {"invalid_json": 3}})
    )
    (workdir / "params.yaml").write_text(PARAMS)
    run(
        export.main,
        "--curated-dir",
        "cur",
        "--curate-stats",
        "cur/stats.json",
        "--ingested",
        "ing",
        "--out-dir",
        "exp",
    )
    run(validate.main, "--export-dir", "exp", "--out-dir", "val")
    run(card.main, "--export-dir", "exp", "--validate-dir", "val")
    return workdir / "exp" / "README.md"


def test_card_reports_sources_filters_formats_tokens_and_limits(run, workdir: Path) -> None:
    text = build(run, workdir).read_text()
    metrics = json.loads((workdir / "val" / "metrics.json").read_text())
    assert text.startswith("# Dataset card\n")
    assert "5 conversations (4 train, 1 validation); sources: toollog; formats: 9;" in text
    assert "validation errors: 0; warnings: 2." in text
    warnings = text.split("## Warnings\n\n")[1].split("\n## ")[0]
    assert warnings.startswith(
        "- `exp/formats/alpaca/validation.jsonl`: empty_split, no line: the format refused all "
        "1 validation record(s) (see rejects.jsonl).\n- `exp/formats/preference`: empty_format, "
    )
    assert "| toollog | 7 | 4 | 3 |" in text
    assert "Rejected input by reason: invalid_json 3." in text
    assert "| `curate.min_rating` | 4 |" in text and "| `max_samples` | 25 |" in text
    assert "Exact duplicates dropped: 1. Filtered out: rating_below_min 2." in text
    assert "| botlog | 2 | 0 | 2 |" in text and "| negative | 1 | 0 | 1 |" in text
    assert (
        "| `openai` | `formats/openai/{train,validation}.jsonl` | 3 | 1 "
        "| negative_without_correction 1 | 0 |" in text
    )
    train = metrics["tokens"]["train"]
    row = [train[k] for k in ("examples", "total", "min", "mean", "p50", "p90", "max")]
    assert "| train | " + " | ".join(map(str, row)) + " |" in text
    assert f"Training tokens per epoch: {train['total']}; OpenAI's default epoch count" in text
    assert "- Only 3 OpenAI training examples: OpenAI needs at least 10." in text
    assert "- 1 negative example(s) have no correction and train in no SFT format" in text
    assert "it lists each record once (alpaca: a commented-out alternative)." in text
    assert "(`_alpaca` is a subset of `_sharegpt`: never both)." in text


def test_headline_figures_are_few_flat_numbers(run, workdir: Path) -> None:
    build(run, workdir)
    tokens = json.loads((workdir / "val" / "metrics.json").read_text())["tokens"]
    summary = json.loads((workdir / "data" / "metrics.json").read_text())
    assert summary == {
        "examples": {"train": 4, "validation": 1},
        "tokens": {"train": tokens["train"]["total"], "validation": tokens["validation"]["total"]},
        "sources": {"toollog": 4},
        "rejected": 3,
        "dropped": 3,
        "errors": 0,
        "warnings": 2,
    }


def test_card_is_the_same_bytes_twice(run, workdir: Path) -> None:
    first = build(run, workdir).read_bytes()
    run(card.main, "--export-dir", "exp", "--validate-dir", "val")
    assert (workdir / "exp" / "README.md").read_bytes() == first


def test_card_without_metrics_says_which_stage_to_run(run, workdir: Path) -> None:
    (workdir / "exp").mkdir()
    (workdir / "exp" / "stats.json").write_text("{}")
    result = run(card.main, "--export-dir", "exp", "--validate-dir", "val", exit_code=1)
    assert "val/metrics.json: missing (run the export and validate stages)" in result.output


def test_a_run_without_warnings_says_so() -> None:
    assert card.warnings_section({"warning_list": []}) == (
        "## Warnings\n\nNone: every format has lines in every split.\n"
    )
