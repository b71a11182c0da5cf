"""export: every format through the registry, refusals, parallel metadata, configs, stats."""

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from schemas.__main__ import HERE
from schemas.conversation import FunctionDef, Tool
from stages.common.stats import json_bytes
from stages.export import export_record, main
from stages.formats.exporters import FORMATS
from tests.conftest import read_jsonl
from tests.records import conversation, lone_negative, single_turn, write_conversations

TRAIN = [
    conversation("a", rating=5),
    conversation("b", calls=2),
    lone_negative("delete prod"),
    single_turn("answer?"),
]
VALIDATION = [conversation("c")]


def export(run, workdir: Path, *args: str) -> Path:
    cur = workdir / "cur"
    write_conversations(cur / "train.jsonl", TRAIN)
    write_conversations(cur / "validation.jsonl", VALIDATION)
    (cur / "stats.json").write_bytes(
        json_bytes({"read": 4, "dropped": {"duplicate": 1, "unrated": 0}, "train": 2})
    )
    (workdir / "ing" / "toollog").mkdir(parents=True)
    (workdir / "ing" / "toollog" / "stats.json").write_bytes(
        json_bytes(
            {"read": 7, "conversations": 4, "rejected": {"invalid_json": 2, "wrong_type": 1}}
        )
    )
    run(
        main,
        "--curated-dir",
        "cur",
        "--curate-stats",
        "cur/stats.json",
        "--ingested",
        "ing",
        "--out-dir",
        "exp",
        *args,
    )
    return workdir / "exp"


def test_openai_lines_validate_and_keep_the_conversation(run, workdir: Path) -> None:
    out = export(run, workdir)
    schema = json.loads((HERE / "openai_chat_example.schema.json").read_text())
    train = read_jsonl(out / "formats" / "openai" / "train.jsonl")
    for line in train:
        jsonschema.validate(line, schema)
    assert set(train[0]) == {"messages"}
    assert [m["role"] for m in train[1]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert isinstance(train[1]["messages"][1]["tool_calls"][0]["function"]["arguments"], str)
    assert len(train) == 3  # the lone negative has nothing to learn
    assert len(read_jsonl(out / "formats" / "openai" / "validation.jsonl")) == 1


def test_every_format_gets_a_file_per_split(run, workdir: Path) -> None:
    out = export(run, workdir)
    formats = out / "formats"
    written = sorted(p.relative_to(formats).as_posix() for p in formats.rglob("*.jsonl"))
    names = [
        "alpaca",
        "axolotl_chat",
        "chatml",
        "harmony",
        "openai",
        "preference",
        "qwen",
        "sharegpt",
        "unified",
    ]
    assert written == [f"{n}/{s}.jsonl" for n in names for s in ("train", "validation")]
    alpaca = read_jsonl(out / "formats" / "alpaca" / "train.jsonl")
    assert alpaca == [{"instruction": "answer?", "input": "", "output": "42", "system": ""}]


def test_tools_and_parallel_flag(run, workdir: Path) -> None:
    cur = workdir / "cur"
    with_tools = conversation("b", calls=2)
    with_tools.tools = [Tool(function=FunctionDef(name="fish"))]
    single = conversation("a")
    single.tools = with_tools.tools
    write_conversations(cur / "train.jsonl", [with_tools, single])
    write_conversations(cur / "validation.jsonl", [])
    (cur / "stats.json").write_text("{}")
    run(main, "--curated-dir", "cur", "--curate-stats", "cur/stats.json", "--out-dir", "exp")
    lines = read_jsonl(workdir / "exp" / "formats" / "openai" / "train.jsonl")
    assert [line["parallel_tool_calls"] for line in lines] == [True, False]
    assert lines[0]["tools"][0]["function"]["name"] == "fish"


def test_metadata_says_where_each_format_put_each_record(run, workdir: Path) -> None:
    out = export(run, workdir)
    metadata = read_jsonl(out / "records.metadata.jsonl")
    assert [(m["split"], m["index"]) for m in metadata] == [
        ("train", 0),
        ("train", 1),
        ("train", 2),
        ("train", 3),
        ("validation", 0),
    ]
    assert [m["id"] for m in metadata] == [c.id for c in [*TRAIN, *VALIDATION]]
    assert metadata[0]["meta"] == {"file": "logs/a.jsonl", "line": 1}
    assert metadata[0]["labels"] == {"rating": 5}
    # The lone negative is only in unified (line 2); the record after it moves up a line.
    assert metadata[2]["lines"] == {"unified": 2}
    assert metadata[3]["lines"]["openai"] == 2 and metadata[3]["lines"]["unified"] == 3
    assert metadata[3]["lines"]["alpaca"] == 0
    for record in metadata:
        curated = next(c for c in [*TRAIN, *VALIDATION] if c.id == record["id"])
        for name, line in record["lines"].items():
            row = read_jsonl(out / "formats" / name / f"{record['split']}.jsonl")[line]
            if name == "unified":
                assert row["id"] == record["id"]
            if name == "openai":
                assert row["messages"][0]["content"] == curated.messages[0].content


def test_refusals_go_to_rejects_with_id_and_reason(run, workdir: Path) -> None:
    out = export(run, workdir)
    rejects = read_jsonl(out / "rejects.jsonl")
    negative = TRAIN[2].id
    by_format = {r["format"]: r["reason"] for r in rejects if r["id"] == negative}
    sft = dict.fromkeys(
        ("alpaca", "axolotl_chat", "chatml", "harmony", "openai", "qwen", "sharegpt"),
        "negative_without_correction",
    )
    assert by_format == {**sft, "preference": "no_correction"}
    assert {(r["split"], r["index"]) for r in rejects if r["id"] == negative} == {("train", 2)}
    stats = json.loads((out / "stats.json").read_text())["formats"]
    refused = sum(1 for r in rejects if r["format"] == "preference")
    assert stats["preference"]["refused_total"] == refused == 5


@pytest.fixture
def garbage_kept() -> Iterator[list]:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_refused_record_leaves_nothing_for_the_collector(garbage_kept: list) -> None:
    """A stage collects cycles rarely (stages/common/cli.py): a refusal that kept its
    traceback held the record in a cycle, and a 1.9 GB export grew to 6 GB."""
    negative = TRAIN[2]
    for _ in range(20):
        lines, refused = export_record(negative, list(FORMATS))
        assert "preference" in refused and refused["preference"].reason == "no_correction"
    del lines, refused
    assert gc.collect() == 0 and garbage_kept == []


def test_stats_sum_up_the_run(run, workdir: Path) -> None:
    out = export(run, workdir, "--formats", "openai", "--formats", "unified")
    assert json.loads((out / "stats.json").read_text()) == {
        "sources": {"toollog": {"read": 7, "conversations": 4, "rejected": 3}},
        "read": 7,
        "rejected": {"invalid_json": 2, "wrong_type": 1},
        "rejected_total": 3,
        "deduplicated": 1,
        "filtered": {"unrated": 0},
        "exported": {"train": 4, "validation": 1, "total": 5},
        "formats": {
            "openai": {
                "lines": {"train": 3, "validation": 1},
                "refused": {"negative_without_correction": 1},
                "refused_total": 1,
            },
            "unified": {
                "lines": {"train": 4, "validation": 1},
                "refused": {},
                "refused_total": 0,
            },
        },
    }
    assert sorted(p.name for p in (out / "formats").iterdir()) == ["openai", "unified"]


def test_trainer_configs_point_at_the_written_files(run, workdir: Path) -> None:
    out = export(run, workdir)
    axolotl = yaml.safe_load((out / "axolotl.yaml").read_text())
    assert [(d["path"], d["type"]) for d in axolotl["datasets"]] == [
        ("exp/formats/axolotl_chat/train.jsonl", "chat_template"),
    ]
    assert [(d["path"], d["split"]) for d in axolotl["test_datasets"]] == [
        ("exp/formats/axolotl_chat/validation.jsonl", "train")
    ]
    assert "# - path: exp/formats/alpaca/train.jsonl" in (out / "axolotl.yaml").read_text()
    for entry in [*axolotl["datasets"], *axolotl["test_datasets"]]:
        assert (workdir / entry["path"]).stat().st_size > 0
    info = json.loads((out / "dataset_info.json").read_text())
    assert sorted(info) == ["logtune_alpaca", "logtune_sharegpt", "logtune_sharegpt_validation"]
    for entry in info.values():
        assert (out / entry["file_name"]).stat().st_size > 0
    assert info["logtune_sharegpt_validation"]["file_name"] == "formats/sharegpt/validation.jsonl"


def record_ids(out: Path, path: str) -> list[str]:
    """The record ids on the lines of `<out>/formats/<format>/<split>.jsonl`, in line order."""
    fmt, file = Path(path).parts[-2:]
    split = Path(file).stem
    placed = {
        r["lines"][fmt]: r["id"]
        for r in read_jsonl(out / "records.metadata.jsonl")
        if r["split"] == split and fmt in r["lines"]
    }
    return [placed[i] for i in range(len(placed))]


def test_trainer_configs_list_every_record_once(run, workdir: Path) -> None:
    """alpaca's single-turn records are in axolotl_chat and sharegpt too: a config that
    listed both would train them twice. Every file a config lists, train and eval alike."""
    out = export(run, workdir)
    alpaca = set(record_ids(out, "formats/alpaca/train.jsonl"))
    assert alpaca and alpaca <= set(record_ids(out, "formats/axolotl_chat/train.jsonl"))
    axolotl = yaml.safe_load((out / "axolotl.yaml").read_text())
    listed = [d["path"] for d in [*axolotl["datasets"], *axolotl.get("test_datasets", [])]]
    ids = [i for path in listed for i in record_ids(out, path)]
    held = [r for r in read_jsonl(out / "records.metadata.jsonl") if "axolotl_chat" in r["lines"]]
    assert len(ids) == len(set(ids)) == len(held)
    info = json.loads((out / "dataset_info.json").read_text())
    for chosen in ("logtune_sharegpt", "logtune_alpaca"):
        run_files = [info[name]["file_name"] for name in info if name.startswith(chosen)]
        ids = [i for path in run_files for i in record_ids(out, path)]
        assert len(ids) == len(set(ids)) > 0


def test_dataset_name_prefixes_the_llamafactory_entries(run, workdir: Path) -> None:
    out = export(run, workdir, "--formats", "sharegpt", "--dataset-name", "bot")
    info = json.loads((out / "dataset_info.json").read_text())
    assert sorted(info) == ["bot_sharegpt", "bot_sharegpt_validation"]
    assert yaml.safe_load((out / "axolotl.yaml").read_text()) == {"datasets": []}


def test_system_prompt_goes_first(run, workdir: Path) -> None:
    out = export(run, workdir, "--system-prompt", "You play RuneScape.")
    first = read_jsonl(out / "formats" / "openai" / "train.jsonl")[0]["messages"][0]
    assert first == {"role": "system", "content": "You play RuneScape."}


def test_unknown_format_is_refused(run, workdir: Path) -> None:
    result = run(main, "--formats", "csv", exit_code=2)
    assert "Invalid value for '--formats': 'csv' is not" in result.output


def test_output_bytes_do_not_depend_on_workers_or_chunks(run, workdir: Path, monkeypatch) -> None:
    one = export(run, workdir, "--jobs", "1")
    whole = {p.relative_to(one): p.read_bytes() for p in sorted(one.rglob("*")) if p.is_file()}
    # One record per worker task: every record's lines and metadata cross a chunk boundary.
    monkeypatch.setattr("stages.export.CHUNK_RECORDS", 1)
    (workdir / "again").mkdir()
    monkeypatch.chdir(workdir / "again")
    two = export(run, workdir / "again", "--jobs", "2")
    split = {p.relative_to(two): p.read_bytes() for p in sorted(two.rglob("*")) if p.is_file()}
    assert split == whole
