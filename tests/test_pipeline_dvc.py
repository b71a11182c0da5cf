"""The pipeline under the real `dvc`, in a temporary git repository.

Slow-ish (dvc starts in about a second), so one test walks a whole user session.
"""

import hashlib
import json
from pathlib import Path

import yaml

from tests.conftest import dvc_stages
from tests.dvc_repo import REPO, DvcRepo

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())
STAGES = set(dvc_stages())
PLOTS = {name for plot in DVC_YAML["plots"] for name in plot}


def lock_outs(lock_text: str) -> dict[str, str]:
    """Every output path of a dvc.lock with its content hash."""
    lock = yaml.safe_load(lock_text)
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def test_repro_then_noop_then_experiment(tmp_path: Path) -> None:
    repo = DvcRepo.copy_of_project(tmp_path / "repo", tmp_path)
    committed_lock = (REPO / "dvc.lock").read_text()

    first = repo.stages_run(repo.dvc("repro"))
    assert set(first) == STAGES and first[-4:] == ["curate", "export", "validate", "card"]
    exported = repo.path / "data/export/formats/openai/train.jsonl"
    assert exported.stat().st_size > 0
    checked = json.loads((repo.path / "data/validate/metrics.json").read_text())
    assert checked["errors_total"] == 0  # the bundled samples pass every format's consumer checks
    warned = {(w["format"], w.get("split", "")) for w in checked["warning_list"]}
    empty = {
        (path.parent.name, path.stem)
        for path in (repo.path / "data/export/formats").glob("*/*.jsonl")
        if not path.stat().st_size
    }
    assert empty and all(pair in warned or (pair[0], "") in warned for pair in empty)
    assert lock_outs((repo.path / "dvc.lock").read_text()) == lock_outs(committed_lock), (
        "a fresh `dvc repro` gives other outputs than the committed dvc.lock: rerun it and commit"
    )
    repo.git("add", "-A")
    repo.git("commit", "-q", "--allow-empty", "-m", "dataset v1")

    shown = json.loads(repo.dvc("plots", "show", "--json"))
    assert set(shown["data"]) == PLOTS and not shown.get("errors")
    lengths = shown["data"]["token length distribution"][0]["content"]["data"]["values"]
    validate = json.loads((repo.path / "data/validate/metrics.json").read_text())
    examples = sum(int(v["dvc_inferred_y_value"]) for v in lengths if v["field"] == "train")
    assert examples == validate["tokens"]["train"]["examples"] > 0
    assert (repo.path / "data/export/README.md").read_text().startswith("# Dataset card")

    second = repo.dvc("repro")
    assert repo.stages_run(second) == ["inputs"]  # it always looks for changed input files
    assert "Stage 'ingest@toollog' didn't change, skipping" in second

    experiment = repo.dvc("exp", "run", "-S", "max_samples=2")
    assert repo.stages_run(experiment) == ["inputs", "curate", "export", "validate", "card"]
    assert (
        len(exported.read_text().splitlines())
        + len((repo.path / "data/export/formats/openai/validation.jsonl").read_text().splitlines())
        == 2
    )

    params = json.loads(repo.dvc("params", "diff", "--json"))
    assert params["params.yaml"]["max_samples"] == {"old": None, "new": 2}
    metrics = json.loads(repo.dvc("metrics", "diff", "--json"))["data/metrics.json"]
    examples = metrics["examples.train"]["new"] + metrics.get("examples.validation", {}).get(
        "new", 0
    )
    assert examples == 2 and metrics["examples.train"]["old"] > 2
    assert metrics["tokens.train"]["new"] < metrics["tokens.train"]["old"]

    plots = json.loads(repo.dvc("plots", "diff", "HEAD", "--json"))["data"]
    assert set(plots) == PLOTS
    for name, rendered in plots.items():
        values = rendered[0]["content"]["data"]["values"]
        assert {v["rev"] for v in values} == {"HEAD", "workspace"}, name
    sources = {
        (v["rev"], v["source"]): int(v["examples"])
        for v in plots["examples per source"][0]["content"]["data"]["values"]
    }
    assert sum(n for (rev, _), n in sources.items() if rev == "workspace") == 2


def output_hashes(root: Path) -> dict[str, str]:
    """Hashes of every file the pipeline wrote, not counting local parse caches."""
    data = root / "data"
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file() and "samples" not in p.parts and "cache" not in p.parts
    }


def test_two_fresh_clones_build_identical_bytes(tmp_path: Path) -> None:
    origin = DvcRepo.copy_of_project(tmp_path / "origin", tmp_path)
    clones = []
    for name in ("first", "second-clone"):
        origin.git("clone", "-q", str(origin.path), str(tmp_path / name))
        clone = DvcRepo(tmp_path / name, tmp_path)
        clone.dvc("repro", "--force")
        clones.append(output_hashes(clone.path))
    assert clones[0] == clones[1]
    assert "data/export/formats/openai/train.jsonl" in clones[0]


def test_own_data_only_from_home_folder(tmp_path: Path) -> None:
    """One switch builds a dataset of the user's logs alone; `~` never reaches dvc.lock."""
    repo = DvcRepo.copy_of_project(tmp_path / "repo", tmp_path)
    logs = tmp_path / "mylogs"  # tmp_path is HOME for dvc
    logs.mkdir()
    sample = (REPO / "data/samples/toollog/tools_2026-11-02.jsonl").read_text().splitlines()
    (logs / "tool_calls.jsonl").write_text("\n".join(sample[:4]) + "\n")

    run = repo.dvc("exp", "run", "-S", "sources=[toollog]", "-S", "ingest_toollog.input='~/mylogs'")
    assert "Traceback" not in run
    summary = json.loads((repo.path / "data/metrics.json").read_text())
    fed = {source: n for source, n in summary["sources"].items() if n}
    assert list(fed) == ["toollog"] and 0 < fed["toollog"] <= 4
    metadata = (repo.path / "data/export/records.metadata.jsonl").read_text().splitlines()
    assert metadata and all('"source":"toollog"' in line for line in metadata)
    assert all("mylogs/tool_calls.jsonl" in line for line in metadata)
    lock = (repo.path / "dvc.lock").read_text()
    assert "~/mylogs" in lock and str(tmp_path) not in lock
    for path in (repo.path / "data").rglob("*"):
        if path.is_file() and "cache" not in path.parts:
            assert str(tmp_path) not in path.read_text(errors="replace"), path
    shown = repo.dvc("metrics", "show")
    assert "WARNING" not in shown and "failed" not in shown
