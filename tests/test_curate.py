"""curate: filters, exact and near de-duplication, stratified caps, a split that never moves,
and readable drops."""

import hashlib
import json
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import Conversation, FunctionCall, Labels, Message, Meta, ToolCall
from schemas.reject import Dropped
from stages.common.hashing import messages_id
from stages.curate import main
from tests.conftest import read_jsonl
from tests.records import conversation, write_conversations


def curate(run, workdir: Path, inputs: list[str], *args: str) -> dict:
    run(main, *inputs, "--out-dir", "cur", *args)
    return json.loads((workdir / "cur" / "stats.json").read_text())


def kept(workdir: Path, split: str | None = None) -> list[dict]:
    splits = [split] if split else ["train", "validation"]
    return [c for s in splits for c in read_jsonl(workdir / "cur" / f"{s}.jsonl")]


def kept_queries(workdir: Path) -> list[str]:
    return [c["messages"][0]["content"] for c in kept(workdir)]


def words(i: int, n: int = 12) -> str:
    """A text unlike any other `words(j)`: no two records of a test are near-duplicates."""
    digest = hashlib.sha256(str(i).encode()).hexdigest() * 4
    return " ".join(digest[k : k + 5] for k in range(0, 5 * n, 5))


def distinct(i: int, **labels: object) -> Conversation:
    record = conversation(words(i), reply=words(-i - 1))
    return msgspec.structs.replace(record, labels=Labels(**labels))  # type: ignore[arg-type]


def relabel(record: Conversation, **changes: object) -> Conversation:
    return msgspec.structs.replace(record, **changes)  # type: ignore[arg-type]


def test_exact_duplicates_differ_only_in_case_and_spacing(run, workdir: Path) -> None:
    write_conversations(
        workdir / "a.jsonl",
        [
            conversation("Fish lobsters", line=1),
            conversation("fish   lobsters ", line=2),
            conversation("fish lobsters", reply="Other reply entirely, about sharks.", line=3),
            conversation("Fish lobsters", line=4),
        ],
    )
    stats = curate(run, workdir, ["a.jsonl"], "--validation-fraction", "0")
    assert kept_queries(workdir) == ["Fish lobsters", "fish lobsters"]
    assert stats["dropped"]["duplicate"] == 2
    dropped = read_jsonl(workdir / "cur" / "dropped.jsonl")
    assert [(d["reason"], d["line"]) for d in dropped] == [("duplicate", 2), ("duplicate", 4)]


def test_the_best_labelled_copy_is_kept(run, workdir: Path) -> None:
    write_conversations(workdir / "a.jsonl", [conversation("same", rating=1)])
    write_conversations(workdir / "b.jsonl", [conversation("Same", rating=5)])
    curate(run, workdir, ["a.jsonl", "b.jsonl"], "--validation-fraction", "0")
    [copy] = kept(workdir)
    assert copy["labels"]["rating"] == 5


def test_near_duplicates_keep_the_hand_labelled_copy(run, workdir: Path) -> None:
    base = "Deposit all the raw lobsters and the cage into the Catherby bank"
    records = [
        relabel(conversation(base + " please"), labels=Labels(quality_score=0.9)),
        relabel(conversation(base + ", thanks"), labels=Labels(quality_score=0.4)),
        relabel(conversation(base), labels=Labels(quality_score=0.2)),
        conversation("Cast a fire spell at the goblin by the river crossing"),
    ]
    write_conversations(workdir / "a.jsonl", records)
    (workdir / "notes.yaml").write_text(f'"{records[2].id}":\n  example_type: negative\n')
    stats = curate(
        run, workdir, ["a.jsonl"], "--validation-fraction", "0", "--annotations", "notes.yaml"
    )
    assert sorted(kept_queries(workdir)) == sorted([base, records[3].messages[0].content])
    assert stats["dropped"]["near_duplicate"] == 2
    curate(run, workdir, ["a.jsonl"], "--validation-fraction", "0", "--near-dup-threshold", "0.99")
    assert len(kept_queries(workdir)) == 4


@pytest.mark.parametrize(
    ("args", "reason", "dropped_index"),
    [
        (["--min-turns", "3"], "turns_below_min", 1),
        (["--max-turns", "2"], "turns_above_max", 0),
        (["--min-tokens", "60"], "tokens_below_min", 1),
        (["--max-total-tokens", "60"], "tokens_above_max", 0),
        (["--example-types", "negative"], "example_type_not_kept", 1),
        (["--min-quality", "0.5"], "quality_below_min", 1),
        (["--min-rating", "3"], "rating_below_min", 1),
        (["--drop-unrated"], "unrated", 0),
    ],
)
def test_each_filter_drops_with_its_reason(
    run, workdir: Path, args: list[str], reason: str, dropped_index: int
) -> None:
    long = distinct(1, example_type="negative", quality_score=0.9)
    short_messages = [Message(role="user", content=words(2, 3))]
    short = Conversation(
        id=messages_id(short_messages),
        source="botlog",
        messages=short_messages,
        labels=Labels(example_type="direct_execution", quality_score=0.1, rating=1),
    )
    records = [long, short]
    write_conversations(workdir / "a.jsonl", records)
    stats = curate(run, workdir, ["a.jsonl"], "--validation-fraction", "0", *args)
    assert stats["dropped"][reason] == 1
    [dropped] = read_jsonl(workdir / "cur" / "dropped.jsonl")
    assert (dropped["id"], dropped["reason"]) == (records[dropped_index].id, reason)
    assert [c["id"] for c in kept(workdir)] == [records[1 - dropped_index].id]


def test_a_call_left_unanswered_mid_conversation_drops_it(run, workdir: Path) -> None:
    record = distinct(3)
    unanswered = relabel(record, messages=[m for m in record.messages if m.role != "tool"])
    trailing = relabel(record, messages=record.messages[:2])  # ends on the call: a lesson
    write_conversations(workdir / "a.jsonl", [unanswered, trailing])
    stats = curate(run, workdir, ["a.jsonl"], "--validation-fraction", "0")
    assert stats["dropped"]["unanswered_tool_call"] == 1
    assert len(kept(workdir)) == 1
    curate(run, workdir, ["a.jsonl"], "--validation-fraction", "0", "--keep-unanswered-calls")
    assert len(kept(workdir)) == 2


def test_dropped_records_are_readable_and_scrubbed(run, workdir: Path) -> None:
    record = conversation("mail ann@example.com about " + words(4) + " " + words(5, 40))
    write_conversations(workdir / "a.jsonl", [record, record])
    curate(run, workdir, ["a.jsonl"])
    [dropped] = read_jsonl(workdir / "cur" / "dropped.jsonl")
    assert dropped["source"] == "toollog" and dropped["stage"] == "curate"
    assert dropped["excerpt"].startswith("mail [REDACTED:email] about ")
    assert len(dropped["excerpt"]) == 160


def strata_records() -> list[Conversation]:
    """60 toollog direct_execution, 20 session negative, 3 discord, 1 journal code_correction."""
    plan = [("toollog", "direct_execution", 60), ("session", "negative", 20)]
    plan += [("discord", "direct_execution", 3), ("journal", "code_correction", 1)]
    records, i = [], 0
    for source, example_type, n in plan:
        for _ in range(n):
            i += 1
            records.append(relabel(distinct(i, example_type=example_type), source=source))
    return records


def test_caps_are_nested_proportional_and_keep_every_stratum(run, workdir: Path) -> None:
    write_conversations(workdir / "a.jsonl", strata_records())
    chosen = {}
    for cap in (4, 10, 30, 84):
        curate(run, workdir, ["a.jsonl"], "--max-samples", str(cap))
        chosen[cap] = {c["id"]: (c["source"], c["labels"]["example_type"]) for c in kept(workdir)}
        assert len(chosen[cap]) == cap
        assert len(set(chosen[cap].values())) == 4  # every stratum survives
    assert set(chosen[4]) < set(chosen[10]) < set(chosen[30]) < set(chosen[84])
    shares = [s for s, _ in chosen[30].values()]
    assert (shares.count("toollog"), shares.count("session")) == (21, 7)  # 30 * 60/84, 30 * 20/84


def test_a_cap_does_not_depend_on_input_order(run, workdir: Path) -> None:
    records = strata_records()
    write_conversations(workdir / "fwd.jsonl", records)
    write_conversations(workdir / "rev.jsonl", records[::-1])
    curate(run, workdir, ["fwd.jsonl"], "--max-samples", "10")
    forward = {c["id"] for c in kept(workdir)}
    stats = curate(run, workdir, ["rev.jsonl"], "--max-samples", "10")
    assert {c["id"] for c in kept(workdir)} == forward
    assert stats["dropped"]["over_max_samples"] == 74
    curate(run, workdir, ["fwd.jsonl"], "--max-samples", "10", "--seed", "99")
    assert {c["id"] for c in kept(workdir)} != forward


def splits(workdir: Path) -> dict[str, str]:
    return {c["id"]: split for split in ("train", "validation") for c in kept(workdir, split)}


def test_adding_or_removing_records_moves_no_other_record(run, workdir: Path) -> None:
    records = [distinct(i) for i in range(200)]
    write_conversations(workdir / "all.jsonl", records)
    curate(run, workdir, ["all.jsonl"], "--validation-fraction", "0.2")
    before = splits(workdir)
    assert 20 < list(before.values()).count("validation") < 60
    write_conversations(workdir / "more.jsonl", [distinct(i) for i in range(200, 260)])
    curate(run, workdir, ["all.jsonl", "more.jsonl"], "--validation-fraction", "0.2")
    after = splits(workdir)
    assert {i: after[i] for i in before} == before
    write_conversations(workdir / "fewer.jsonl", records[::3])
    curate(run, workdir, ["fewer.jsonl"], "--validation-fraction", "0.2")
    assert splits(workdir) == {r.id: before[r.id] for r in records[::3]}


def test_a_record_naming_an_original_goes_to_its_split(run, workdir: Path) -> None:
    originals = [distinct(i) for i in range(40)]
    variants = [
        relabel(distinct(100 + i), meta=msgspec.structs.replace(o.meta, original=o.id))
        for i, o in enumerate(originals)
    ]
    write_conversations(workdir / "a.jsonl", originals + variants)
    curate(run, workdir, ["a.jsonl"], "--validation-fraction", "0.5")
    where = splits(workdir)
    assert {where[o.id] for o in originals} == {"train", "validation"}
    assert all(where[v.id] == where[o.id] for o, v in zip(originals, variants, strict=True))


def test_params_yaml_top_level_keys_drive_the_cap(run, workdir: Path) -> None:
    write_conversations(workdir / "a.jsonl", [distinct(i) for i in range(10)])
    (workdir / "params.yaml").write_text(
        "max_samples: 3\nseed: 5\ncurate:\n  validation_fraction: 0\n"
    )
    stats = curate(run, workdir, ["a.jsonl"])
    assert stats["train"] == 3


def long_record() -> Conversation:
    """A tool session of about 5,000 tokens: cut into windows under `--max-tokens 1024`."""
    messages = [Message(role="user", content="Count every fish in the pond. " + words(900))]
    for k in range(30):
        call = ToolCall(id=f"c{k}", function=FunctionCall(name="count", arguments="{}"))
        output = " ".join(words(1000 + 5 * k + j) for j in range(5))
        messages += [
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id=call.id, content=output),
        ]
    messages.append(Message(role="assistant", content="Done: " + words(901)))
    return Conversation(id=messages_id(messages), source="session", messages=messages)


def test_output_bytes_do_not_depend_on_workers_or_chunks(run, workdir: Path, monkeypatch) -> None:
    """Every kind of drop, windows, a cap, scrubbing and a variant, with one worker and whole
    chunks, then two workers and one record a chunk."""
    base = "Deposit all the raw lobsters and the cage into the Catherby bank"
    original = distinct(500, quality_score=0.5)
    variant = relabel(
        original,
        labels=Labels(quality_score=0.9),
        meta=Meta(original=original.id, synthetic="paraphrase"),
    )
    excluded = distinct(501)
    records = [
        *strata_records(),
        conversation(base, rating=2),
        conversation(base.lower(), rating=4),
        relabel(conversation(base + " please"), labels=Labels(quality_score=0.9)),
        long_record(),
        relabel(long_record(), id="copy of the long record"),
        conversation("mail ann@example.com about " + words(502)),
        conversation(words(503), rating=1),
        original,
        variant,
        excluded,
    ]
    write_conversations(workdir / "a.jsonl", records)
    (workdir / "notes.yaml").write_text(f'"{excluded.id}":\n  exclude: true\n')
    upstream = Dropped(id="u1", reason="no_reply", stage="segment", excerpt="hello")
    (workdir / "up.jsonl").write_bytes(msgspec.json.encode(upstream) + b"\n")
    args = ["--annotations", "notes.yaml", "--dropped-upstream", "up.jsonl", "--min-rating", "2"]
    args += ["--max-tokens", "1024", "--max-samples", "80"]

    def outputs(jobs: str) -> dict[str, bytes]:
        curate(run, workdir, ["a.jsonl"], "--jobs", jobs, *args)
        return {p.name: p.read_bytes() for p in sorted((workdir / "cur").iterdir())}

    whole = outputs("1")
    stats = json.loads(whole["stats.json"])
    assert stats["dropped_upstream"] == {"segment": 1}
    assert {k: n for k, n in stats["dropped"].items() if n} == {
        "excluded_by_hand": 1,
        "rating_below_min": 1,
        "duplicate": 2,  # the lower-cased lobsters and the long record's copy
        "near_duplicate": 2,  # the lobsters said with "please", and the variant
        "over_max_samples": 84 + 3 + stats["windows"] - 80,
    }
    assert stats["windowed"] == 1 and stats["windows"] >= 3
    assert stats["scrubbed"] == {"email": 1}
    monkeypatch.setattr("stages.curate.CHUNK_RECORDS", 1)
    assert outputs("2") == whole
