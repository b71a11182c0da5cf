"""synthesize through the real pipeline under `dvc`: its sessions reach every export, and
Harmony and alpaca consumers read them back."""

import json
from pathlib import Path

import openai_harmony as oh

from stages.formats.harmony import encoding
from tests.dvc_repo import DvcRepo


def test_synthesized_sessions_reach_the_exports(tmp_path: Path) -> None:
    repo = DvcRepo.copy_of_project(tmp_path / "repo", tmp_path)
    run = repo.dvc("exp", "run", "-S", "sources=[synthesize]", "-S", "synthesize.n_examples=40")
    assert "Running stage 'synthesize'" in run and "Traceback" not in run
    summary = json.loads((repo.path / "data/metrics.json").read_text())
    assert {s: n for s, n in summary["sources"].items() if n} == {"synthesize": 40}
    curated = json.loads((repo.path / "data/curated/stats.json").read_text())
    # nothing generated looks like a secret or personal data: curate's check replaces nothing
    assert curated["dropped"]["near_duplicate"] == 0 and "scrubbed" not in curated

    formats = repo.path / "data/export/formats"
    harmony = [
        json.loads(line)
        for split in ("train", "validation")
        for line in (formats / f"harmony/{split}.jsonl").read_text().splitlines()
    ]
    assert len(harmony) == 40
    for line in harmony:
        tokens = encoding().encode(line["text"], allowed_special="all")
        parsed = encoding().parse_messages_from_completion_tokens(tokens)
        roles = [m.author.role for m in parsed]
        assert roles == [oh.Role.SYSTEM, oh.Role.DEVELOPER, oh.Role.USER, oh.Role.ASSISTANT]
        assert "reasoning language: English" in parsed[1].content[0].text
        assert parsed[2].content[0].text.startswith("Terminal transcript:\n")
        assert parsed[3].channel == "final"
        assert json.loads(parsed[3].content[0].text)[0]["summary"]
    alpaca = (formats / "alpaca/train.jsonl").read_text().splitlines()
    row = json.loads(alpaca[0])
    assert row["instruction"].startswith("Terminal transcript:\n") and row["input"] == ""
    assert json.loads(row["output"])[0]["key_successes"] is not None

    again = repo.dvc("exp", "run", "-S", "sources=[synthesize]", "-S", "synthesize.seed=9")
    ran = repo.stages_run(again)
    assert ran[:2] == ["inputs", "synthesize"] and not any(s.startswith("ingest@") for s in ran)
