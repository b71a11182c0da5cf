"""synthesize.augment: variants of real records (request paraphrased, an argument given another
value) made by enrich, offline and through the real openai client against the local emulator;
curate keeps each variant, and each derived example, in its original's split, and never keeps
a variant in place of its original."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.conversation import Conversation, FunctionCall, Message, Meta, ToolCall
from stages import curate, enrich
from stages.llm_tasks import augment
from tests.conftest import read_jsonl
from tests.emulators.openai_api import last_user_text
from tests.emulators.openai_api import openai_emulator as openai_emulator
from tests.records import write_conversations

KEY_ENV = "LOGTUNE_TEST_AUGMENT_KEY"


def weather(
    city: str, *, line: int = 1, failed: bool = False, extra: str = "", dictated: bool = False
) -> Conversation:
    call = ToolCall(
        id="call_1", function=FunctionCall(name="get_weather", arguments=json.dumps({"city": city}))
    )
    result = (
        json.dumps({"error": "unknown city", "status": "error"})
        if failed
        else json.dumps({"city": city, "temp_c": 18, "sky": "sunny"})
    )
    reply = "I could not find that city." if failed else f"It is 18°C and sunny in {city}."
    messages = [
        Message(
            role="user",
            content=f'Call get_weather with city="{city}".'
            if dictated
            else f"What's the weather in {city} today?{extra}",
        ),
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="call_1", content=result),
        Message(role="assistant", content=reply),
    ]
    return Conversation(
        id=f"{line:016x}",
        source="toollog",
        messages=messages,
        meta=Meta(file="logs/tool_calls.jsonl", line=line),
    )


def run_enrich(run, workdir: Path, records: list[Conversation], *args: str) -> tuple[list, dict]:
    path = write_conversations(workdir / "in.jsonl", records)
    (workdir / "annotations.yaml").write_text("{}\n")
    run(
        enrich.main,
        str(path),
        "--out-dir",
        "out",
        "--cache-dir",
        "cache",
        "--annotations",
        "annotations.yaml",
        *args,
    )
    stats = json.loads((workdir / "out/stats.json").read_text())
    return read_jsonl(workdir / "out/conversations.jsonl"), stats


def texts(record: dict[str, Any]) -> str:
    return json.dumps(record["messages"], ensure_ascii=False)


def test_offline_variants_keep_the_request_and_swap_a_value_seen_elsewhere(run, workdir) -> None:
    paris, lyon = weather("Paris", line=1, dictated=True), weather("Lyon", line=2, dictated=True)
    failing, plain = weather("Atlantis", line=3, failed=True), weather("Oslo", line=4)
    plain.messages = [plain.messages[0], Message(role="assistant", content="Sunny.")]
    records, stats = run_enrich(run, workdir, [paris, lyon, failing, plain], "--augment", "2")

    by_original: dict[str, list[dict]] = {}
    for record in records:
        by_original.setdefault(record["meta"].get("original", record["id"]), []).append(record)
    assert [r["meta"].get("synthetic") for r in by_original[paris.id]] == [
        None,
        "paraphrase",
        "arguments",
    ]
    original, paraphrase, swapped = by_original[paris.id]
    request = 'Call get_weather with city="Paris".'
    assert request in paraphrase["messages"][0]["content"] != request
    assert paraphrase["messages"][1:] == original["messages"][1:]
    assert paraphrase["labels"] == original["labels"]
    assert paraphrase["meta"] == {
        **original["meta"],
        "synthetic": "paraphrase",
        "original": paris.id,
    }
    # Lyon, the value the other record gave the same argument, in the request and the call;
    # the variant ends at the call: the weather that came back was Paris's
    assert swapped["messages"] == [
        {"role": "user", "content": 'Call get_weather with city="Lyon".'},
        {
            **original["messages"][1],
            "tool_calls": [
                {
                    **original["messages"][1]["tool_calls"][0],
                    "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'},
                }
            ],
        },
    ]
    assert (
        "incomplete" in swapped["labels"]["tags"] and "incomplete" not in original["labels"]["tags"]
    )
    assert swapped["meta"]["synthetic"] == "arguments" and swapped["meta"]["original"] == paris.id
    # a failed call, a record without calls and a derived example get no variant
    assert all(r["meta"].get("synthetic") is None for r in by_original[failing.id])
    derived = [r for r in by_original[failing.id] if r["id"] != failing.id]
    assert derived and all("derived" in r["labels"]["tags"] for r in derived)
    assert by_original[plain.id] == [by_original[plain.id][0]]
    assert (stats["augmented"], stats["read"], stats["written"]) == (
        {"arguments": 2, "paraphrase": 2},
        4,
        4 + 4 + len(derived),
    )


def test_no_augment_by_default_and_the_params_value_is_read(run, workdir) -> None:
    records, stats = run_enrich(run, workdir, [weather("Paris"), weather("Lyon", line=2)])
    assert len(records) == 2 and stats["augmented"] == {"arguments": 0, "paraphrase": 0}
    (workdir / "params.yaml").write_text("synthesize:\n  augment: 1\nenrich: {}\n")
    records, stats = run_enrich(run, workdir, [weather("Paris"), weather("Lyon", line=2)])
    assert stats["augmented"] == {"arguments": 0, "paraphrase": 2}


@pytest.fixture
def api_key() -> Iterator[None]:
    os.environ[KEY_ENV] = "sk-test-augment-0123456789abcdef"
    yield
    del os.environ[KEY_ENV]


def model_replies(body: dict[str, Any]) -> dict[str, Any]:
    """A model that paraphrases, moves Paris to Marseille, and once names a value its own
    request does not contain."""
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    data = json.loads(last_user_text(body))
    if schema == "labels":
        reply = {"example_type": "direct_execution", "quality_score": 0.9, "tags": ["tool_use"]}
        return {
            "content": json.dumps({**reply, "reasoning": "r", "problem": None, "root_cause": None})
        }
    if data["kind"] == "paraphrase":
        city = "Paris" if "Paris" in data["request"] else "Lyon"
        return {
            "content": json.dumps(
                {
                    "request": f"How is it outside in {city} right now?",
                    "replace": None,
                    "value": None,
                }
            )
        }
    if "Paris" in data["request"]:
        new = {"request": "And in Marseille today?", "replace": "Paris", "value": "Marseille"}
    else:
        new = {"request": "Weather for Nice, please", "replace": "Lyon", "value": "Toulouse"}
    return {"content": json.dumps(new)}


def test_variants_from_a_model_are_checked(run, workdir, openai_emulator, api_key) -> None:
    openai_emulator.chat_responder = model_replies
    llm = ("provider=openai", f"base_url={openai_emulator.base_url}", f"api_key_env={KEY_ENV}")
    fast = (
        "timeout=5",
        "backoff_base=0.01",
        "backoff_max=0.05",
        "progress=false",
        "max_attempts=2",
    )
    args = [a for item in (*llm, *fast) for a in ("--llm", item)]
    records, stats = run_enrich(
        run, workdir, [weather("Paris"), weather("Lyon", line=2)], "--augment", "2", *args
    )
    variants = {
        (r["meta"]["original"], r["meta"]["synthetic"]): r
        for r in records
        if "synthetic" in r["meta"]
    }
    paris_id = f"{1:016x}"
    assert (
        variants[(paris_id, "paraphrase")]["messages"][0]["content"]
        == "How is it outside in Paris right now?"
    )
    marseille = variants[(paris_id, "arguments")]
    assert marseille["messages"][0]["content"] == "And in Marseille today?"
    assert "Paris" not in texts(marseille) and len(marseille["messages"]) == 2
    assert (
        marseille["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Marseille"}'
    )
    assert (f"{2:016x}", "arguments") not in variants  # Toulouse is not in its own request
    assert stats["augment_failed"]["bad_value"] == 1 and stats["augmented"] == {
        "arguments": 1,
        "paraphrase": 2,
    }
    failures = read_jsonl(workdir / "out/failures.jsonl")
    assert [(f["id"], f["reason"]) for f in failures] == [(f"{2:016x}", "augment:bad_value")]


def run_curate(run, workdir: Path, records: list[dict], *args: str) -> dict[str, list[dict]]:
    path = workdir / "enriched.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    run(curate.main, str(path), "--out-dir", "curated", "--annotations", "annotations.yaml", *args)
    return {
        name: read_jsonl(workdir / f"curated/{name}.jsonl")
        for name in ("train", "validation", "dropped")
    }


CITIES = (
    "Paris", "Lyon", "Oslo", "Lima", "Cairo", "Quito", "Dakar", "Perth", "Turin", "Porto",
    "Seville", "Krakow", "Ghent", "Bergen", "Tartu", "Split", "Graz", "Bilbao", "Riga", "Malmo",
)  # fmt: skip


def test_variants_and_derived_examples_share_their_originals_split(run, workdir) -> None:
    originals = [
        weather(city, line=i + 1, failed=i % 5 == 0, extra=f" Asking for trip number {i}.")
        for i, city in enumerate(CITIES)
    ]
    records, _ = run_enrich(run, workdir, originals, "--augment", "2")
    made = [r["meta"].get("synthetic") for r in records if "original" in r["meta"]]
    assert made.count("paraphrase") == 16 and made.count(None) == 4  # 4 derived from failures
    split = run_curate(
        run, workdir, records, "--validation-fraction", "0.5", "--near-dup-threshold", "1"
    )
    where = {r["id"]: name for name in ("train", "validation") for r in split[name]}
    assert set(where.values()) == {"train", "validation"}
    made = [r for name in ("train", "validation") for r in split[name] if "original" in r["meta"]]
    assert made and all(where[r["id"]] == where[r["meta"]["original"]] for r in made)
    derived = [
        r
        for name in ("train", "validation")
        for r in split[name]
        if "derived" in r["labels"]["tags"]
    ]
    assert len(derived) == 4 and all(r in made for r in derived)


def test_near_duplicates_keep_the_original_over_a_better_labelled_variant(run, workdir) -> None:
    records, _ = run_enrich(
        run, workdir, [weather("Paris"), weather("Lyon", line=2)], "--augment", "1"
    )
    original, variant = records[0], records[1]
    assert variant["meta"]["synthetic"] == "paraphrase"
    variant["labels"]["quality_score"], original["labels"]["quality_score"] = 1.0, 0.1
    split = run_curate(run, workdir, [variant, original])
    kept = {r["id"] for name in ("train", "validation") for r in split[name]}
    assert original["id"] in kept and variant["id"] not in kept
    assert [(d["id"], d["reason"]) for d in split["dropped"]] == [(variant["id"], "near_duplicate")]


def test_windows_of_a_variant_and_its_original_differ_and_share_a_split(run, workdir) -> None:
    long = weather("Paris", extra=" " + "Please also list every museum open late. " * 10)
    turns = [
        m
        for k in range(12)
        for m in (
            Message(role="user", content=f"Day {k}: " + "plan the route again. " * 60),
            Message(role="assistant", content="Done. " * 80),
        )
    ]
    long.messages = [*long.messages, *turns]
    records, _ = run_enrich(run, workdir, [long, weather("Lyon", line=2)], "--augment", "1")
    split = run_curate(
        run,
        workdir,
        records[:2],
        "--max-tokens",
        "1024",
        "--near-dup-threshold",
        "1",
        "--validation-fraction",
        "0.5",
    )
    windows = [r for name in ("train", "validation") for r in split[name]]
    assert len(windows) == len({r["id"] for r in windows}) > 2
    assert {r["meta"]["original"] for r in windows} == {long.id}
    assert len({name for name in ("train", "validation") if split[name]}) == 1
    assert {r["meta"].get("synthetic") for r in windows} == {None, "paraphrase"}


def trip(place: str, *, line: int, note: str | None = None) -> Conversation:
    """Walk to a place (with an optional note for the guide), then fish there."""
    walk = {"place": place, **({"note": note} if note else {})}
    calls = [
        ToolCall(id="call_1", function=FunctionCall(name="walk_to", arguments=json.dumps(walk))),
        ToolCall(
            id="call_2", function=FunctionCall(name="fish", arguments=json.dumps({"spot": place}))
        ),
    ]
    messages = [Message(role="user", content=f'walk_to place="{place}", then fish')]
    for call, result in zip(calls, (f"arrived at {place}", "caught 3 trout"), strict=True):
        messages += [
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id=call.id, content=result),
        ]
    messages.append(Message(role="assistant", content="Done."))
    return Conversation(id=f"{line:016x}", source="botlog", messages=messages)


def test_a_new_value_fits_every_argument_that_held_the_old_one_in_the_changed_call() -> None:
    """The variant ends at the first call holding the value (walk_to), so any place someone
    walked to will do; a value that stands inside a longer argument text is never swapped."""
    river, bank, lake = trip("river", line=1), trip("bank", line=2), trip("lake", line=3)
    dock = trip("dock", line=4, note="meet at the dock gate")
    plans = augment.plan_variants([river, bank, lake, dock], 2, dictated_only=True)
    candidates = {
        p.record.id: [(c["value"], c["alternatives"]) for c in p.payload["candidates"]]
        for p in plans
        if p.kind == "arguments"
    }
    assert candidates == {
        river.id: [("river", ["bank", "dock", "lake"])],
        bank.id: [("bank", ["dock", "lake", "river"])],
        lake.id: [("lake", ["bank", "dock", "river"])],
    }


def test_offline_changes_only_a_value_the_request_dictates(run, workdir) -> None:
    """In "What's the weather in Paris" Paris could stand for more than the argument; offline,
    only a literal (`city="Paris"`) is swapped word for word. A model may rewrite either."""
    _, stats = run_enrich(
        run, workdir, [weather("Paris"), weather("Lyon", line=2)], "--augment", "2"
    )
    assert stats["augmented"] == {"arguments": 0, "paraphrase": 2}
    assert augment.dictated("harpoon", 'Use fish with method="harpoon".')
    assert augment.dictated("Paris", "weather for city=Paris please")
    assert not augment.dictated("bank", "bank everything and log out")
    assert not augment.dictated("clear", "clear the screen")


def test_a_bad_augment_value_names_the_key(run, workdir) -> None:
    (workdir / "params.yaml").write_text("synthesize:\n  augment: many\n")
    (workdir / "in.jsonl").write_text("")
    result = run(enrich.main, "in.jsonl", "--out-dir", "out", exit_code=1)
    assert (
        "params.yaml: synthesize.augment must be a count of variants, not 'many'" in result.output
    )
