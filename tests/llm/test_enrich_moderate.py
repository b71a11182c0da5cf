"""The enrich and moderate stages through CliRunner, against the local OpenAI emulator (and
offline): labels from replies, invalid replies, a killed run, annotations, moderation, batch."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemas.conversation import Labels
from stages import enrich, moderate
from stages.common.llm.cache import ResponseCache
from stages.ingest import command
from tests.conftest import REPO, read_jsonl, write_lines
from tests.emulators.openai_api import Fault, last_user_text
from tests.records import conversation, write_conversations

from .conftest import KEY_ENV

FAST = ("timeout=5", "backoff_base=0.01", "backoff_max=0.05", "progress=false")


def llm_args(emulator, *extra: str) -> list[str]:
    settings = ("provider=openai", f"base_url={emulator.base_url}", f"api_key_env={KEY_ENV}")
    return [arg for item in (*settings, *FAST, *extra) for arg in ("--llm", item)]


def labels_responder(body):
    """Labels a model would give: negative for anything about lobsters, else direct."""
    if (body.get("response_format") or {}).get("json_schema", {}).get("name") != "labels":
        return {"content": json.dumps({"problem": "p", "root_cause": "c", "fix": "f"})}
    text = last_user_text(body)
    lobsters = "lobster" in text
    return {
        "content": json.dumps(
            {
                "example_type": "negative" if lobsters else "direct_execution",
                "quality_score": 0.1 if lobsters else 0.9,
                "tags": ["tool_use"],
                "reasoning": "from the model",
                "problem": "no lobsters" if lobsters else None,
                "root_cause": None,
            }
        )
    }


def run_enrich(run, workdir: Path, inputs: list[Path], *args: str):
    annotations = workdir / "annotations.yaml"
    if not annotations.exists():
        annotations.write_text("{}\n")
    run(
        enrich.main,
        *map(str, inputs),
        "--out-dir",
        str(workdir / "out"),
        "--cache-dir",
        str(workdir / "cache"),
        "--annotations",
        str(workdir / "annotations.yaml"),
        *args,
    )
    records = read_jsonl(workdir / "out/conversations.jsonl")
    return records, json.loads((workdir / "out/stats.json").read_text())


@pytest.fixture
def emulator(openai_emulator, api_key):
    openai_emulator.chat_responder = labels_responder
    return openai_emulator


def test_labels_come_from_the_replies_and_source_labels_are_kept(run, workdir, emulator):
    source = conversation("sell lobsters", rating=2)
    journal = conversation("fish shrimp")
    journal.labels = Labels(example_type="reasoning_chain", tags=["task:command"])
    path = write_conversations(workdir / "in.jsonl", [source, journal])
    records, stats = run_enrich(run, workdir, [path], *llm_args(emulator))
    assert [r["labels"] for r in records] == [
        {
            "example_type": "negative",
            "quality_score": 0.1,
            "rating": 2,
            "tags": ["tool_use"],
            "reasoning": "from the model",
            "problem": "no lobsters",
        },
        {
            "example_type": "reasoning_chain",  # the source's, not the model's direct_execution
            "quality_score": 0.9,
            "tags": ["task:command", "tool_use"],
            "reasoning": "from the model",
        },
    ]
    assert (stats["labelled"], stats["llm"]["requests"], emulator.counts["chat"]) == (2, 2, 2)
    assert (workdir / "out/failures.jsonl").read_text() == ""


def test_invalid_replies_are_counted_and_not_passed_on(run, workdir, emulator):
    emulator.add_fault(Fault("invalid_json", times=99, match="poisoned"))
    emulator.add_fault(Fault("schema_violation", times=99, match="violating"))
    good, poisoned, violating = (
        conversation("fish shrimp"),
        conversation("poisoned request", line=2),
        conversation("violating request", line=3),
    )
    path = write_conversations(workdir / "in.jsonl", [good, poisoned, violating])
    records, stats = run_enrich(run, workdir, [path], *llm_args(emulator, "max_attempts=2"))
    # every conversation goes on; only the good one carries the model's labels
    assert [r["id"] for r in records] == [good.id, poisoned.id, violating.id]
    assert records[0]["labels"]["reasoning"] == "from the model"
    assert records[1]["labels"] == records[2]["labels"] == {}  # rating None, no tags
    failed = {reason: n for reason, n in stats["label_failed"].items() if n}
    assert failed == {"invalid_json": 1, "schema_violation": 1}
    assert stats["label_failed"]["timeout"] == 0  # known reasons are written at zero
    assert stats["llm"]["retries"] == 2 and stats["llm"]["failed"] == 2
    assert read_jsonl(workdir / "out/failures.jsonl") == [
        {"id": poisoned.id, "reason": "label:invalid_json", "file": "logs/a.jsonl", "line": 2},
        {"id": violating.id, "reason": "label:schema_violation", "file": "logs/a.jsonl", "line": 3},
    ]
    # the failures were not cached: a second run asks again for them only
    records, stats = run_enrich(run, workdir, [path], *llm_args(emulator, "max_attempts=1"))
    assert (stats["llm"]["cache_hits"], stats["llm"]["requests"]) == (1, 2)


def test_a_killed_run_resumes_with_only_the_missing_requests(workdir, emulator, run):
    emulator.latency = 0.05
    conversations = [conversation(f"fish {i} shrimp", line=i) for i in range(40)]
    path = write_conversations(workdir / "in.jsonl", conversations)
    command = [sys.executable, "-m", "stages.enrich", str(path), "--no-derive"]
    (workdir / "none.yaml").write_text("{}\n")
    command += ["--out-dir", "out", "--cache-dir", "cache", "--annotations", "none.yaml"]
    command += llm_args(emulator, "concurrency=2")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=workdir, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(ResponseCache(workdir / "cache")) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    cached = len(ResponseCache(workdir / "cache"))
    assert 10 <= cached < 40 and not (workdir / "out/conversations.jsonl").exists()
    before = emulator.counts["chat"]
    first, stats = run_enrich(run, workdir, [path], "--no-derive", *llm_args(emulator))
    assert emulator.counts["chat"] - before == 40 - cached
    assert (stats["llm"]["requests"], stats["llm"]["cache_hits"]) == (40 - cached, cached)
    assert [r["id"] for r in first] == [c.id for c in conversations]
    assert all(r["labels"]["reasoning"] == "from the model" for r in first)
    # a second run makes none, and writes the same bytes
    before = emulator.counts["chat"]
    written = (workdir / "out/conversations.jsonl").read_bytes()
    second, stats = run_enrich(run, workdir, [path], "--no-derive", *llm_args(emulator))
    assert emulator.counts["chat"] == before and stats["llm"]["requests"] == 0
    assert stats["llm"]["cache_hits"] == 40 and second == first
    assert (workdir / "out/conversations.jsonl").read_bytes() == written


def test_batch_mode_through_the_stage(run, workdir, emulator):
    path = write_conversations(
        workdir / "in.jsonl", [conversation("sell lobsters"), conversation("fish shrimp")]
    )
    batch = llm_args(emulator, "mode=batch", "batch_poll_interval=0.01")
    records, stats = run_enrich(run, workdir, [path], *batch)
    assert [r["labels"]["example_type"] for r in records] == ["negative", "direct_execution"]
    assert (emulator.counts["batches.create"], emulator.counts["chat"]) == (1, 0)
    assert (stats["llm"]["batches"], stats["llm"]["batched"]) == (1, 2)
    # the batch replies are in the same cache: an online run asks nothing
    records, stats = run_enrich(run, workdir, [path], *llm_args(emulator))
    assert stats["llm"]["cache_hits"] == 2 and emulator.counts["chat"] == 0


TOOLLOG_LINE = {
    "user_query": "sell 100 lobsters",
    "tool_name": "ge_sell",
    "arguments": {"item": "lobster", "quantity": 100},
    "status": "error",
    "message": "Not enough items",
    "final_response": "Sold them all!",
}


def test_annotations_override_every_label_and_survive_a_reparse(run, workdir):
    log = write_lines(workdir / "logs/tools.jsonl", [json.dumps(TOOLLOG_LINE)])
    run(command("toollog"), "--input", str(log), "--out-dir", "ingested", "--jobs", "1")
    [parsed] = read_jsonl(workdir / "ingested/conversations")
    (workdir / "annotations.yaml").write_text(
        f'"{parsed["id"]}":\n  example_type: reasoning_chain\n  quality_score: null\n'
        "  tags: [checked]\n  note: by hand\n"
        '"0000000000000000":\n  rating: 5\n'
    )
    # the log grows and is parsed again: the conversation keeps its id and its annotation
    other = {**TOOLLOG_LINE, "user_query": "fish", "tool_name": "fish", "status": "success"}
    write_lines(log, [json.dumps(other), json.dumps(TOOLLOG_LINE)])
    run(command("toollog"), "--input", str(log), "--out-dir", "ingested", "--jobs", "1")
    inputs = [workdir / "ingested/conversations"]
    records, stats = run_enrich(run, workdir, inputs)
    annotated = next(r for r in records if r["id"] == parsed["id"])
    assert annotated["labels"]["example_type"] == "reasoning_chain"  # offline said negative
    assert "quality_score" not in annotated["labels"]  # null clears it
    assert annotated["labels"]["tags"] == ["checked"]
    assert annotated["labels"]["problem"] == "Not enough items"  # not annotated: kept
    assert (stats["annotated"], stats["annotations_unmatched"]) == (1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"abc":\n  example_typ: negative\n', "abc: Object contains unknown field `example_typ`"),
        ('"abc":\n  quality_score: high\n', "abc: Expected `float | null`, got `str`"),
        ("1234:\n  rating: 5\n", "id 1234 was read as a int: quote it"),
        ("- abc\n", "expected a mapping of record id"),
    ],
)
def test_bad_annotations_are_errors_naming_the_id(run, workdir, text, message):
    (workdir / "annotations.yaml").write_text(text)
    path = write_conversations(workdir / "in.jsonl", [conversation("fish")])
    result = run(enrich.main, str(path), "--annotations", "annotations.yaml", exit_code=1)
    assert message in result.output


def test_offline_enrich_derives_examples_from_failures(run, workdir):
    log = write_lines(workdir / "logs/tools.jsonl", [json.dumps(TOOLLOG_LINE)])
    run(command("toollog"), "--input", str(log), "--out-dir", "ingested", "--jobs", "1")
    records, stats = run_enrich(run, workdir, [workdir / "ingested/conversations"])
    parent, derived = records
    assert parent["labels"]["example_type"] == "negative"
    assert "unsupported_claim" in parent["labels"]["tags"]
    assert derived["labels"]["example_type"] == "reasoning_chain"
    assert derived["meta"] == {**parent["meta"], "original": parent["id"]}
    assert derived["source"] == "toollog"
    assert derived["messages"][0]["content"].startswith("sell 100 lobsters\n\nThis tool call")
    assert stats["derived"] == {"code_correction": 0, "reasoning_chain": 1}
    assert stats["llm"]["requests"] == 0 and not any((workdir / "cache").iterdir())


def moderation_responder(text):
    hateful = "hateful" in text
    violent = "violent" in text
    categories = {"hate": hateful, "violence": violent}
    return {
        "flagged": hateful or violent,
        "categories": categories,
        "category_scores": {"hate": 0.8 if hateful else 0.01, "violence": 0.9 if violent else 0.0},
    }


def test_moderation_drops_flagged_and_counts_by_category(run, workdir, openai_emulator, api_key):
    openai_emulator.moderation_responder = moderation_responder
    clean, violent, both = (
        conversation("fish shrimp"),
        conversation("a violent threat", line=2),
        conversation("a hateful and violent rant", line=3),
    )
    path = write_conversations(workdir / "in.jsonl", [clean, violent, both])
    args = [str(path), "--out-dir", "out", "--cache-dir", "cache", *llm_args(openai_emulator)]
    run(moderate.main, *args)
    assert [r["id"] for r in read_jsonl(workdir / "out/conversations.jsonl")] == [clean.id]
    flagged = read_jsonl(workdir / "out/flagged.jsonl")
    assert [(f["id"], f["categories"], f["scores"]) for f in flagged] == [
        (violent.id, ["violence"], {"violence": 0.9}),
        (both.id, ["hate", "violence"], {"hate": 0.8, "violence": 0.9}),
    ]
    assert flagged[0]["conversation"]["messages"][0]["content"] == "a violent threat"
    stats = json.loads((workdir / "out/stats.json").read_text())
    assert (stats["kept"], stats["flagged_total"]) == (1, 2)
    assert stats["flagged"]["violence"] == 2 and stats["flagged"]["hate"] == 1
    assert stats["flagged"]["sexual"] == 0 and stats["llm"]["requests"] == 1
    # ignoring a category keeps what only it flagged; verdicts come from the cache
    run(moderate.main, *args, "--ignore-categories", "violence")
    kept = [r["id"] for r in read_jsonl(workdir / "out/conversations.jsonl")]
    assert kept == [clean.id, violent.id]
    stats = json.loads((workdir / "out/stats.json").read_text())
    assert (stats["llm"]["requests"], stats["llm"]["cache_hits"]) == (0, 3)


def test_moderation_fails_closed(run, workdir, openai_emulator, api_key):
    def broken(text):
        raise RuntimeError("the moderation backend is down")  # the server answers 500

    openai_emulator.moderation_responder = broken
    path = write_conversations(workdir / "in.jsonl", [conversation("fish shrimp")])
    args = [str(path), "--out-dir", "out", "--cache-dir", "cache"]
    run(moderate.main, *args, *llm_args(openai_emulator, "max_attempts=1"))
    assert read_jsonl(workdir / "out/conversations.jsonl") == []
    [unjudged] = read_jsonl(workdir / "out/flagged.jsonl")
    assert (unjudged["error"], unjudged["categories"]) == ("server_error", [])
    stats = json.loads((workdir / "out/stats.json").read_text())
    assert (stats["kept"], stats["unmoderated"]) == (0, {"server_error": 1})
    assert not any((workdir / "cache").iterdir())


def test_offline_moderation_drops_threats(run, workdir):
    threat = conversation("fish", reply="I will kill you if you log out")
    game = conversation("attack the goblin and kill the cow", line=2)
    path = write_conversations(workdir / "in.jsonl", [threat, game])
    run(moderate.main, str(path), "--out-dir", "out", "--cache-dir", "cache")
    assert [r["id"] for r in read_jsonl(workdir / "out/conversations.jsonl")] == [game.id]
    stats = json.loads((workdir / "out/stats.json").read_text())
    assert stats["flagged"]["harassment/threatening"] == 1


def test_bad_llm_settings_are_a_clear_error(run, workdir):
    path = write_conversations(workdir / "in.jsonl", [conversation("fish")])
    result = run(enrich.main, str(path), "--llm", "mode=turbo", exit_code=2)
    assert "llm: Invalid enum value 'turbo' - at `$.mode`" in result.output
    result = run(enrich.main, str(path), "--llm", "provider", exit_code=2)
    assert "expected KEY=VALUE" in result.output


def test_offline_moderation_is_the_same_on_any_number_of_workers(run, workdir):
    texts = ["fish", "I WILL KILL YOU, noob", "café: i will hurt you", "kill the cow", "bank"]
    records = [conversation(t, reply=f"ok {i}", line=i + 1) for i, t in enumerate(texts)]
    path = write_conversations(workdir / "in.jsonl", records)
    outputs = []
    for jobs, chunk in (("1", "2000"), ("2", "1")):
        out = f"out{jobs}"
        run(
            moderate.main,
            str(path),
            "--out-dir",
            out,
            "--cache-dir",
            "cache",
            "--jobs",
            jobs,
            "--chunk-size",
            chunk,
        )
        outputs.append(
            [
                (workdir / out / name).read_bytes()
                for name in sorted(p.name for p in (workdir / out).iterdir())
            ]
        )
    assert outputs[0] == outputs[1]
    kept = [r["id"] for r in read_jsonl(workdir / "out1/conversations.jsonl")]
    assert kept == [records[0].id, records[3].id, records[4].id]


def test_offline_enrich_is_the_same_on_any_number_of_workers(run, workdir):
    lines = [
        TOOLLOG_LINE,
        {**TOOLLOG_LINE, "user_query": "fish", "tool_name": "fish", "status": "success"},
        {**TOOLLOG_LINE, "user_query": "bank the fish", "message": "Bank is closed"},
    ]
    log = write_lines(workdir / "logs/tools.jsonl", [json.dumps(line) for line in lines])
    run(command("toollog"), "--input", str(log), "--out-dir", "ingested", "--jobs", "1")
    first = read_jsonl(workdir / "ingested/conversations")[1]
    (workdir / "annotations.yaml").write_text(f'"{first["id"]}":\n  rating: 5\n')
    outputs = []
    for jobs, chunk in (("1", "2000"), ("2", "1")):
        records, stats = run_enrich(
            run,
            workdir,
            [workdir / "ingested/conversations"],
            "--jobs",
            jobs,
            "--chunk-size",
            chunk,
        )
        outputs.append(
            [(workdir / "out" / name).read_bytes() for name in sorted(os.listdir(workdir / "out"))]
        )
    assert outputs[0] == outputs[1]
    assert stats["read"] == 3 and stats["derived"]["reasoning_chain"] == 2
    assert (stats["annotated"], stats["annotations_unmatched"]) == (1, 0)
    assert [r["labels"].get("rating") for r in records if r["id"] == first["id"]] == [5]
