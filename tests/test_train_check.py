"""The trainer check: TRL's SFT and DPO trainers really run on export files, and the tokens
that receive loss are exactly the export's targets (assistant turns without `weight: 0`)."""

import itertools
import json
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas.conversation import Labels, Meta
from schemas.export_lines import RecordMetadata
from stages import train_check
from stages.common.tool_results import failure_message
from stages.training.tiny_model import END
from stages.training.trainers import run_dpo, run_sft
from tests.conftest import dvc_stages, read_jsonl
from tests.dvc_repo import environment, project_files

REPO = Path(__file__).resolve().parent.parent
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "ge_sell",
            "description": "Sell items on the Grand Exchange.",
            "parameters": {"type": "object", "properties": {"item": {"type": "string"}}},
        },
    }
]


def call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


SELL = {
    "messages": [
        {"role": "system", "content": "You are Pip, a RuneScape helper."},
        {"role": "user", "content": "hi Pip"},
        {"role": "assistant", "content": "Hello, context only.", "weight": 0},
        {"role": "user", "content": "sell 100 lobsters"},
        {"role": "assistant", "tool_calls": [call("ge_sell", '{"item":"Raw lobster"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status":"ok","sold":100}'},
        {"role": "assistant", "content": "Sold 100 lobsters."},
    ],
    "tools": TOOLS,
}
PREAMBLE = {
    "messages": [
        {"role": "user", "content": "and the rest?"},
        {"role": "assistant", "content": "Wrong guess.", "weight": 0},
        {"role": "user", "content": "check first"},
        {
            "role": "assistant",
            "content": "Selling the rest.",
            "tool_calls": [call("ge_sell", '{"item":"Raw shark"}')],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sold"},
        {"role": "assistant", "content": "Done.", "weight": 1},
    ],
    "tools": TOOLS,
}
SELL_TARGETS = [
    '<tool_call>\n{"name": "ge_sell", "arguments": {"item":"Raw lobster"}}\n</tool_call>' + END,
    "Sold 100 lobsters." + END,
]
PREAMBLE_TARGETS = [
    'Selling the rest.\n<tool_call>\n{"name": "ge_sell", "arguments": {"item":"Raw shark"}}'
    "\n</tool_call>" + END,
    "Done." + END,
]
PAIR = {
    "id": "pair0",
    "prompt": [{"role": "user", "content": "sell 100 lobsters on the GE"}],
    "chosen": [{"role": "assistant", "content": "You have only 27 lobsters; sell those?"}],
    "rejected": [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "ge_sell", "arguments": {"item": "Raw lobster", "n": 100}},
                }
            ],
        }
    ],
}


def write_export(root: Path, openai: list[dict], preference: list[dict]) -> Path:
    """An export folder as the export stage lays it out: format files and parallel metadata."""
    files = {"openai": openai, "preference": preference}
    for name, rows in files.items():
        path = root / "formats" / name / "train.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    records = [
        RecordMetadata(
            id=f"{name}-{i}",
            split="train",
            index=i,
            source="toollog",
            labels=Labels(),
            meta=Meta(),
            lines={name: i},
        )
        for name, rows in files.items()
        for i in range(len(rows))
    ]
    (root / "records.metadata.jsonl").write_bytes(
        b"".join(msgspec.json.encode(r) + b"\n" for r in records)
    )
    return root


def test_loss_falls_on_exactly_the_weighted_assistant_turns(tmp_path: Path, run) -> None:
    export = write_export(tmp_path / "export", [SELL, PREAMBLE], [])
    out = tmp_path / "check"
    result = run(
        train_check.main, "--export-dir", str(export), "--out-dir", str(out), "--sft-steps", "3"
    )
    assert "SFT on" in result.output and "2 records" in result.output
    assert "DPO skipped:" in result.output and "preference/train.jsonl is empty" in result.output

    report = read_jsonl(out / "sft_loss_spans.jsonl")
    assert [(r["line"], r["id"]) for r in report] == [(1, "openai-0"), (2, "openai-1")]
    assert report[0]["spans"] == SELL_TARGETS
    assert report[1]["spans"] == PREAMBLE_TARGETS
    assert all(r["loss_tokens"] >= len(r["spans"]) for r in report)
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["sft"]["losses"]) == 3
    assert all(math.isfinite(loss) for loss in summary["sft"]["losses"])
    assert summary["dpo"]["pairs"] == 0
    assert not (out / "dpo_completions.jsonl").exists()


def test_same_seed_same_losses(tmp_path: Path) -> None:
    export = write_export(tmp_path, [SELL, PREAMBLE], [])
    first, second = (run_sft(export, steps=2, seed=7) for _ in range(2))
    assert first.losses == second.losses
    assert first.by_id()["openai-0"].spans == SELL_TARGETS


def test_dpo_runs_on_a_hand_made_preference_file(tmp_path: Path, run) -> None:
    pairs = [PAIR, {**PAIR, "id": "pair1", "chosen": [{"role": "assistant", "content": "27?"}]}]
    export = write_export(tmp_path / "export", [SELL], pairs)
    out = tmp_path / "check"
    result = run(
        train_check.main,
        *("--export-dir", str(export), "--out-dir", str(out)),
        *("--sft-steps", "1", "--dpo-steps", "3"),
    )
    assert "DPO on" in result.output and "2 pairs" in result.output
    completions = read_jsonl(out / "dpo_completions.jsonl")
    assert [(c["line"], c["id"]) for c in completions] == [(1, "preference-0"), (2, "preference-1")]
    assert completions[0]["chosen"].startswith("You have only 27 lobsters; sell those?" + END)
    assert completions[0]["rejected"].startswith(
        '<tool_call>\n{"name": "ge_sell", "arguments": {"item":"Raw lobster","n":100}}'
    )
    losses = json.loads((out / "summary.json").read_text())["dpo"]["losses"]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)


def test_a_line_with_nothing_to_learn_is_named(tmp_path: Path, run) -> None:
    muted = {"messages": [{"role": "user", "content": "hi"}, {**SELL["messages"][2]}]}
    export = write_export(tmp_path, [SELL, muted], [])
    result = run(train_check.main, "--export-dir", str(export), exit_code=1)
    assert "formats/openai/train.jsonl:2: no assistant turn without weight 0" in result.output
    assert "Traceback" not in result.output


def test_a_missing_export_says_what_to_run(tmp_path: Path, run) -> None:
    result = run(train_check.main, "--export-dir", str(tmp_path / "nowhere"), exit_code=1)
    assert "openai/train.jsonl: no such file; run the export stage" in result.output


def test_without_the_train_extra_it_says_how_to_install(
    tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trl", None)
    monkeypatch.delitem(sys.modules, "stages.training.trainers", raising=False)
    result = run(train_check.main, "--export-dir", str(tmp_path), exit_code=1)
    assert "needs the train extra (trl is not installed)" in result.output
    assert "pip install --require-hashes -r requirements.txt" in result.output


@pytest.fixture(scope="module")
def sample_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled samples through every stage up to `export`, as dvc.yaml runs them."""
    root = tmp_path_factory.mktemp("samples")
    for name in project_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    env = environment(tmp_path_factory.mktemp("home"))
    for stage, spec in dvc_stages().items():
        command = shlex.split(spec["cmd"])
        done = subprocess.run(
            [sys.executable, *command[1:]], cwd=root, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{stage} failed:\n{done.stderr}"
        if stage == "export":
            return root / "data" / "export"
    raise AssertionError("dvc.yaml has no export stage")


def learned_outputs(line: dict) -> list[str]:
    """What each assistant turn without `weight: 0` renders to, as the template writes it."""
    outputs = []
    for message in line["messages"]:
        if message["role"] != "assistant" or message.get("weight") == 0:
            continue
        parts = [message["content"]] if message.get("content") else []
        for c in message.get("tool_calls") or []:
            name, arguments = c["function"]["name"], c["function"]["arguments"]
            body = f'{{"name": {json.dumps(name)}, "arguments": {arguments}}}'
            parts.append(f"<tool_call>\n{body}\n</tool_call>")
        outputs.append("\n".join(parts) + END)
    return outputs


def test_sft_on_the_bundled_samples_learns_only_their_targets(sample_export: Path) -> None:
    sft = run_sft(sample_export, steps=12)
    assert all(math.isfinite(loss) for loss in sft.losses) and len(sft.losses) == 12
    assert sum(sft.losses[-3:]) < sum(sft.losses[:3])
    lines = read_jsonl(sample_export / "formats" / "openai" / "train.jsonl")
    assert len(sft.records) == len(lines) > 0
    metadata = read_jsonl(sample_export / "records.metadata.jsonl")
    ids = {
        r["lines"]["openai"]: r["id"]
        for r in metadata
        if r["split"] == "train" and "openai" in r["lines"]
    }
    for record, line in zip(sft.records, lines, strict=True):
        assert record.id == ids[record.line - 1]
        assert record.spans == learned_outputs(line), record.id


def test_dpo_on_the_bundled_samples_has_a_finite_loss(sample_export: Path) -> None:
    dpo = run_dpo(sample_export, steps=4)
    assert dpo is not None and len(dpo.losses) == 4
    assert all(math.isfinite(loss) for loss in dpo.losses)
    rows = read_jsonl(sample_export / "formats" / "preference" / "train.jsonl")
    assert [pair.id for pair in dpo.pairs] == [row["id"] for row in rows]


FALSE_CLAIM = (
    "75ef88706cb05bf1"  # "sell 100 lobsters": the tool failed, the reply says "Sold them all!"
)


def test_the_trainer_never_learns_the_false_claim_and_learns_its_correction(
    sample_export: Path,
) -> None:
    spans = run_sft(sample_export, steps=2).by_id()[FALSE_CLAIM].spans
    learned = "".join(spans)
    assert "Sold them all!" not in learned
    assert "only have 27 raw lobsters" in learned
    assert any("ge_sell" in span for span in spans)  # the call itself was right


def test_journal_lessons_are_trained_in_the_openai_export(sample_export: Path) -> None:
    metadata = read_jsonl(sample_export / "records.metadata.jsonl")
    journal = [r for r in metadata if r["source"] == "journals" and r["split"] == "train"]
    assert journal and all("openai" in r["lines"] for r in journal)
    by_id = run_sft(sample_export, steps=1).by_id()
    kinds = {r["labels"].get("example_type") for r in journal}
    assert {"negative", "code_correction", "reasoning_chain"} <= kinds
    assert all(by_id[r["id"]].loss_tokens > 0 for r in journal)


def test_no_sample_pair_prefers_what_followed_a_failed_tool_result(sample_export: Path) -> None:
    curated = {
        record["id"]: record
        for split in ("train", "validation")
        for record in read_jsonl(sample_export.parent / "curated" / f"{split}.jsonl")
    }
    rows = [
        row
        for split in ("train", "validation")
        for row in read_jsonl(sample_export / "formats" / "preference" / f"{split}.jsonl")
    ]
    assert rows
    for row in rows:
        messages = curated[row["id"]]["messages"]
        after_failure = [
            m.get("content")
            for before, m in itertools.pairwise(messages)
            if before["role"] == "tool" and failure_message(before["content"]) is not None
        ]
        assert row["chosen"][0].get("content") not in after_failure, row["id"]
    false_claim = next(row for row in rows if row["id"] == FALSE_CLAIM)
    assert false_claim["rejected"][0]["content"] == "Sold them all!"
