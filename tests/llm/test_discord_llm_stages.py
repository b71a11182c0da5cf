"""segment's refinement and inject_tools' llm planner through CliRunner, against the local
OpenAI emulator (and offline): results from the model's replies, invalid replies counted and
not passed on, a second run with zero requests."""

import json
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import Meta
from stages import inject_tools, segment
from stages.discord.candidates import CandidateTurn, build_conversation
from stages.discord.refine import refine
from stages.llm_tasks.coherence import SegmentVerdict
from tests.conftest import REPO, read_jsonl
from tests.emulators.openai_api import Fault, last_user_text
from tests.test_discord_segment import ANN, BEN, BOT, History
from tests.test_inject_tools import conversation

from .test_enrich_moderate import llm_args

CATALOG = str(REPO / "data/samples/tools/discord_catalog.json")
CAT = ANN.__class__(id="14", name="cat", display_name="Cat")
DAN = ANN.__class__(id="15", name="dan", display_name="Dan")
EVE = ANN.__class__(id="16", name="eve", display_name="Eve")


def task_name(body) -> str:
    return (body.get("response_format") or {}).get("json_schema", {}).get("name", "")


def segment_responder(body):
    """Verdicts a model would give on the channel of `channel()`: cross-talk about a cat is
    off topic, weather talk is no exchange, "np" is not the reply to learn but the roll before
    it, "welcome" points at the link reply before it; anything else: the last reply."""
    assert task_name(body) == "segment"
    turns = json.loads(last_user_text(body))["turns"]
    last = len(turns) - 1
    texts = [t["text"] for t in turns]
    verdict = {"coherent": True, "target": last, "off_topic": [], "reason": "model"}
    if any("weather" in t for t in texts):
        verdict.update(coherent=False, target=None, reason="no exchange")
    elif texts[last] == "np":
        verdict["target"] = texts.index("You rolled a 4")
    elif texts[last] == "welcome":
        verdict["target"] = next(i for i, t in enumerate(texts) if "https://" in t)
    verdict["off_topic"] = [i for i, t in enumerate(texts) if "cat?" in t]
    return {"content": json.dumps(verdict)}


def channel(workdir: Path) -> Path:
    """Six candidates that pass the guards, each after a two-hour silence."""
    h = History()
    h.say(ANN, "hi all")
    h.say(BEN, "anyone seen my cat?")
    h.say(ANN, "price of shark?")
    h.say(BOT, "Shark sells for 900 gp")
    h.say(CAT, "lovely weather", after=120)
    h.say(BOT, "sunny here too")
    h.say(DAN, "roll a d6 for me", after=120)
    h.say(BOT, "You rolled a 4")
    h.say(DAN, "thanks")
    h.say(BOT, "np")
    h.say(EVE, "a link please", after=120)
    h.say(BOT, "see https://example.org")  # non_text: no target of its own
    h.say(EVE, "cool")
    h.say(BOT, "welcome")
    h.say(ANN, "poison pill", after=120)
    h.say(BOT, "noted")
    path = workdir / "channels/500.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(msgspec.json.encode(m) + b"\n" for m in h.messages))
    return path


def run_segment(run, *args: str):
    run(
        segment.main,
        "--input",
        "channels",
        "--out-dir",
        "out",
        "--cache-dir",
        "cache",
        "--llm-cache-dir",
        "llm_cache",
        "--allowed-users",
        BOT.id,
        # these channel files hold real ids: as collect_discord writes them with pii off
        "--scrub",
        "pii=false",
        *args,
    )
    stats = json.loads(Path("out/stats.json").read_text())
    return read_jsonl(Path("out/conversations.jsonl")), stats


@pytest.fixture
def emulator(openai_emulator, api_key):
    return openai_emulator


def pairs(record) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in record["messages"]]


def test_refinement_applies_the_models_verdicts(run, workdir, emulator):
    emulator.chat_responder = segment_responder
    emulator.add_fault(Fault("invalid_json", times=99, match="poison"))
    channel(workdir)
    records, stats = run_segment(run, "--refine", *llm_args(emulator, "max_attempts=2"))
    assert [pairs(r) for r in records] == [
        [
            ("user", "Ann said:\nhi all\n\nAnn said:\nprice of shark?"),  # Ben's cat left out
            ("assistant", "Shark sells for 900 gp"),
        ],
        # "sunny here too" is gone: not an exchange
        [("user", "Dan said:\nroll a d6 for me"), ("assistant", "You rolled a 4")],
        # "np" retargeted to the roll: the same conversation as the roll's own
        [("user", "Dan said:\nroll a d6 for me"), ("assistant", "You rolled a 4")],
        # "welcome" pointed at the link reply, which fails the guards: dropped
        [("user", "Ann said:\npoison pill"), ("assistant", "noted")],  # unusable reply: as cut
    ]
    assert records[0]["meta"]["message_ids"] == ["1000", "1002", "1003"]
    assert records[2]["meta"]["target_message_id"] == "1007"
    assert records[2]["meta"]["message_ids"] == ["1006", "1007"]
    assert stats["candidates"] == 7 and stats["guard_rejected"]["non_text"] == 1
    assert stats["conversations"] == 4
    assert stats["refine"] == {
        "unchanged": 1,
        "trimmed": 1,
        "retargeted": 1,
        "turns_left_out": 3,
    }  # Ben's cat; "thanks" and "np"
    assert stats["refine_dropped"] == {"incoherent": 1, "target_guarded": 1, "no_context": 0}
    assert {k: n for k, n in stats["refine_failed"].items() if n} == {"invalid_json": 1}
    assert stats["llm"]["requests"] == 7 and stats["llm"]["failed"] == 1
    assert read_jsonl(Path("out/refine_failures.jsonl")) == [
        {"id": records[3]["id"], "reason": "segment:invalid_json", "file": "channels/500.jsonl"}
    ]
    assert sorted(d["reason"] for d in read_jsonl(Path("out/dropped.jsonl"))) == [
        "guard_rejected:non_text",
        "refine_dropped:incoherent",
        "refine_dropped:target_guarded",
    ]
    # the unusable reply was not cached: the next run asks for it alone, then nothing
    emulator.faults.clear()
    before = emulator.counts["chat"]
    again, stats = run_segment(run, "--refine", *llm_args(emulator))
    assert emulator.counts["chat"] - before == 1 and stats["llm"]["cache_hits"] == 5
    assert stats["refine"]["unchanged"] == 2 and len(again) == 4
    written = Path("out/conversations.jsonl").read_bytes()
    before = emulator.counts["chat"]
    third, stats = run_segment(run, "--refine", *llm_args(emulator))
    assert emulator.counts["chat"] == before and stats["llm"]["requests"] == 0
    assert Path("out/conversations.jsonl").read_bytes() == written and third == again


def test_offline_refinement_needs_no_key_and_keeps_the_cut(run, workdir):
    channel(workdir)
    plain, _ = run_segment(run)
    plain_bytes = Path("out/conversations.jsonl").read_bytes()
    refined, stats = run_segment(run, "--refine")  # llm.provider defaults to offline
    assert Path("out/conversations.jsonl").read_bytes() == plain_bytes and refined == plain
    assert stats["refine"]["unchanged"] == len(plain) == 6
    assert stats["llm"]["requests"] == 0 and Path("llm_cache").is_dir()


def planner_responder(body):
    """The tool trigger model: a roll needs roll_dice with the sides the user asked for; a
    price reply names a tool with arguments that break its parameters; else no call."""
    assert task_name(body) == "injection"
    data = json.loads(last_user_text(body))
    none = {"needed": False, "tool": None, "arguments": None, "result": None, "reason": "chat"}
    if "rolled" in data["reply"]:
        return {
            "content": json.dumps(
                {
                    "needed": True,
                    "tool": "roll_dice",
                    "arguments": '{"sides": 20}',
                    "result": '{"rolls": [17]}',
                    "reason": "a roll needs dice",
                }
            )
        }
    if "gp" in data["reply"]:
        return {
            "content": json.dumps(
                {
                    "needed": True,
                    "tool": "ge_price",
                    "arguments": '{"name": "shark"}',
                    "result": "900",
                    "reason": "a price",
                }
            )
        }
    return {"content": json.dumps(none)}


def run_inject(run, *args: str):
    run(
        inject_tools.main,
        "--input",
        "in.jsonl",
        "--catalog",
        CATALOG,
        "--out-dir",
        "out",
        "--cache-dir",
        "llm_cache",
        "--planner",
        "llm",
        *args,
    )
    stats = json.loads(Path("out/stats.json").read_text())
    return read_jsonl(Path("out/conversations/000000000.jsonl")), stats


def test_llm_planner_injects_the_models_call(run, workdir, emulator):
    emulator.chat_responder = planner_responder
    convs = [
        conversation("Ann said:\nroll for loot", "You rolled 17!", channel_id="5"),
        conversation("Ben said:\nshark?", "Shark sells for 900 gp"),
        conversation("Cat said:\nhi", "hello"),
    ]
    Path("in.jsonl").write_bytes(b"".join(msgspec.json.encode(c) + b"\n" for c in convs))
    records, stats = run_inject(run, *llm_args(emulator, "max_attempts=2"))
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "roll_dice", "arguments": '{"sides":20}'},
    }
    assert records[0]["messages"] == [
        {"role": "user", "content": "Ann said:\nroll for loot"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"rolls": [17]}'},
        {"role": "assistant", "content": "You rolled 17!"},
    ]
    assert [t["function"]["name"] for t in records[0]["tools"]] == ["roll_dice"]
    assert records[0]["meta"] == {"channel_id": "5", "synthetic_tool_calls": 1}
    # the price reply's arguments break ge_price's parameters: no call, counted
    assert [r["messages"] for r in records[1:]] == [
        msgspec.to_builtins(c.messages) for c in convs[1:]
    ]
    assert [r["meta"]["synthetic_tool_calls"] for r in records] == [1, 0, 0]
    assert stats["calls"]["roll_dice"] == 1 and stats["synthetic_tool_calls"] == 1
    failed = {k: n for k, n in stats["planner_failed"].items() if n}
    assert failed == {"arguments_schema_violation": 1}
    assert stats["llm"]["retries"] == 1  # the layer retried the bad reply once
    assert read_jsonl(Path("out/planner_failures.jsonl")) == [
        {"id": convs[1].id, "reason": "inject_tools:arguments_schema_violation"}
    ]
    # a second run: the failed one is asked again, the good ones come from the cache
    before = emulator.counts["chat"]
    _, stats = run_inject(run, *llm_args(emulator, "max_attempts=1"))
    assert emulator.counts["chat"] - before == 1 and stats["llm"]["cache_hits"] == 2
    emulator.chat_responder = lambda body: {
        "content": json.dumps(
            {"needed": False, "tool": None, "arguments": None, "result": None, "reason": "fixed"}
        )
    }
    run_inject(run, *llm_args(emulator))
    written = Path("out/conversations/000000000.jsonl").read_bytes()
    before = emulator.counts["chat"]
    _, stats = run_inject(run, *llm_args(emulator))
    assert emulator.counts["chat"] == before and stats["llm"]["requests"] == 0
    assert stats["llm"]["cache_hits"] == 3
    assert Path("out/conversations/000000000.jsonl").read_bytes() == written


def test_llm_planner_offline_is_deterministic(run, workdir):
    convs = [
        conversation("Ann said:\nroll dice for me", "You rolled 5"),
        conversation("Ben said:\nhello", "hi there"),
    ]
    Path("in.jsonl").write_bytes(b"".join(msgspec.json.encode(c) + b"\n" for c in convs))
    first, stats = run_inject(run)
    written = Path("out/conversations/000000000.jsonl").read_bytes()
    second, _ = run_inject(run)
    assert Path("out/conversations/000000000.jsonl").read_bytes() == written and first == second
    assert stats["llm"]["requests"] == 0 and stats["llm"]["succeeded"] == 2
    assert [r["meta"]["synthetic_tool_calls"] for r in first] == [1, 0]
    assert first[0]["messages"][1]["tool_calls"][0]["function"]["name"] == "roll_dice"


def test_a_verdict_that_leaves_no_user_turn_drops_the_candidate():
    turns = [
        CandidateTurn("1", "t1", "Ann", "hi", False),
        CandidateTurn("2", "t2", "Pip", "hello", True, True),
    ]
    original = build_conversation(turns, Meta(channel_id="5"))
    all_off = SegmentVerdict(coherent=True, target=1, off_topic=[0], reason="")
    assert refine(original, turns, all_off) == (None, "no_context")
    keep = SegmentVerdict(coherent=True, target=1, off_topic=[], reason="")
    assert refine(original, turns, keep) == (original, "unchanged")
