"""inject_tools: the offline planner on hand-made conversations, and the stage."""

import json
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import Conversation, Message, Meta, Tool
from stages.collect_discord import main as collect
from stages.common.hashing import messages_id
from stages.common.pseudonyms import Pseudonyms
from stages.curate import main as curate
from stages.discord.tool_injection import (
    Injection,
    apply_injections,
    fill_arguments,
    heuristic_plan,
    keywords,
)
from stages.export import main as export
from stages.inject_tools import main
from stages.segment import main as segment
from tests.conftest import REPO, read_jsonl

CATALOG = msgspec.json.decode(
    (REPO / "data/samples/tools/discord_catalog.json").read_bytes(), type=list[Tool]
)
TOOLS = {tool.function.name: tool for tool in CATALOG}


def conversation(user: str, reply: str, **meta) -> Conversation:
    messages = [Message(role="user", content=user), Message(role="assistant", content=reply)]
    return Conversation(
        id=messages_id(messages), source="discord", messages=messages, meta=Meta(**meta)
    )


def test_keywords_leave_out_generic_verbs():
    assert keywords(TOOLS["ge_price"]) == {"ge", "price"}
    assert keywords(TOOLS["roll_dice"]) == {"roll", "dice"}
    camel = msgspec.convert({"function": {"name": "getWeatherForecast"}}, Tool)
    assert keywords(camel) == {"weather", "forecast"}


@pytest.mark.parametrize(
    ("text", "tool", "expected"),
    [
        ("what's the price of dragon bones?", "ge_price", {"item": "dragon bones"}),
        ("price of a shark?", "ge_price", {"item": "shark"}),
        (
            "can you check the fishing stats for Zezima?",
            "player_stats",
            {"player": "Zezima", "skill": "fishing"},
        ),
        ("roll a d20 please", "roll_dice", {"sides": 20}),
        ("anything on the schedule for Saturday?", "event_schedule", {"day": "saturday"}),
        ("anything on the schedule?", "event_schedule", {}),
        ("what's the price?", "ge_price", None),  # the required item is not there
        ("stats for Zezima please", "player_stats", None),  # no skill from the enum
    ],
)
def test_arguments_are_read_from_the_user_turn(text, tool, expected):
    assert fill_arguments(TOOLS[tool], text) == expected


def test_a_reply_with_a_number_after_a_tool_keyword_gets_a_call_and_result():
    conv = conversation(
        "Erin said:\nwhat's the price of a shark?",
        "Sharks sell for 1,020 gp each. Cheap! :pipthumbs:",
        channel_id="5",
        message_ids=["1", "2"],
        assistant_user_id="9",
        target_message_id="2",
    )
    [injection] = heuristic_plan(conv, CATALOG)
    assert injection == Injection(
        1, "ge_price", {"item": "shark"}, '{"result":"Sharks sell for 1,020 gp each."}'
    )
    done = apply_injections(conv, [injection], CATALOG)
    assert [(m.role, m.content) for m in done.messages] == [
        ("user", "Erin said:\nwhat's the price of a shark?"),
        ("assistant", None),
        ("tool", '{"result":"Sharks sell for 1,020 gp each."}'),
        ("assistant", "Sharks sell for 1,020 gp each. Cheap! :pipthumbs:"),
    ]
    call = done.messages[1].tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "ge_price",
        '{"item":"shark"}',
    )
    assert done.messages[2].tool_call_id == "call_1"
    assert done.tools == [TOOLS["ge_price"]]
    assert done.id == messages_id(done.messages) != conv.id
    assert done.meta == Meta(
        channel_id="5",
        message_ids=["1", "2"],
        assistant_user_id="9",
        target_message_id="2",
        synthetic_tool_calls=1,
    )


@pytest.mark.parametrize(
    ("user", "reply"),
    [
        ("pip do you like cats", "I'm more of a shrimp person, 100%"),  # no tool keyword
        ("what's the price of dragon bones?", "No idea, sorry"),  # no number: no fact
        ("what's the price?", "About 2,000 gp"),  # the required item is missing
    ],
)
def test_no_call_without_keyword_fact_or_arguments(user, reply):
    assert heuristic_plan(conversation(user, reply), CATALOG) == []


def test_only_the_last_speaker_of_a_merged_user_turn_counts():
    conv = conversation(
        "Dave said:\nfishing stats for Zezima?\n\nBob said:\nhow are you?", "Fine, 100 percent"
    )
    assert heuristic_plan(conv, CATALOG) == []


def test_a_planner_naming_an_unknown_tool_is_an_error():
    with pytest.raises(ValueError, match=r"missing from the catalog: \['weather'\]"):
        apply_injections(conversation("a", "b"), [Injection(1, "weather", {}, "{}")], CATALOG)


def test_stage_counts_calls_and_keeps_provenance(workdir, run):
    convs = [
        conversation("roll a d20", "You rolled 7", channel_id="5", target_message_id="2"),
        conversation("hi", "hello"),
    ]
    Path("in.jsonl").write_bytes(b"".join(msgspec.json.encode(c) + b"\n" for c in convs))
    run(
        main,
        "--input",
        "in.jsonl",
        "--catalog",
        str(REPO / "data/samples/tools/discord_catalog.json"),
        "--out-dir",
        "out",
    )
    out = read_jsonl(Path("out/conversations/000000000.jsonl"))
    assert [c["meta"].get("synthetic_tool_calls") for c in out] == [1, 0]
    assert out[0]["meta"]["channel_id"] == "5" and out[0]["meta"]["target_message_id"] == "2"
    stats = json.loads(Path("out/stats.json").read_text())
    assert stats["synthetic_tool_calls"] == 1 and stats["with_tool_calls"] == 1
    assert stats["calls"] == {"event_schedule": 0, "ge_price": 0, "player_stats": 0, "roll_dice": 1}


def test_a_catalog_with_a_tool_twice_is_refused(workdir, run):
    tool = {"type": "function", "function": {"name": "roll_dice"}}
    Path("catalog.json").write_text(json.dumps([tool, tool]))
    Path("in.jsonl").write_text("")
    result = run(main, "--input", "in.jsonl", "--catalog", "catalog.json", exit_code=1)
    assert "catalog.json: tools defined twice: roll_dice" in result.output


def test_export_metadata_keeps_discord_provenance(workdir, run):
    """The sample through collect → segment → inject_tools → curate → export."""
    samples = REPO / "data/samples"
    run(collect, "--exports", str(samples / "discord"), "--out-dir", "collected")
    run(
        segment,
        "--input",
        "collected/channels",
        "--out-dir",
        "segmented",
        "--no-cache",
        "--allowed-users",
        "1180000000000000001",
        "--assistant-custom-emojis",
        "pipthumbs",
    )
    run(
        main,
        "--input",
        "segmented/conversations.jsonl",
        "--out-dir",
        "ingested/discord",
        "--catalog",
        str(samples / "tools/discord_catalog.json"),
    )
    run(curate, "ingested/discord/conversations", "--out-dir", "curated")
    run(
        export,
        "--curated-dir",
        "curated",
        "--curate-stats",
        "curated/stats.json",
        "--ingested",
        "ingested",
        "--out-dir",
        "export",
    )
    lines = read_jsonl(Path("export/records.metadata.jsonl"))
    assert {line["source"] for line in lines} == {"discord"}
    injected = {c["id"]: c["meta"] for c in read_jsonl(Path("ingested/discord/conversations"))}
    dropped = read_jsonl(Path("curated/dropped.jsonl"))
    assert len(lines) + len(dropped) == len(injected) and lines  # every record placed or dropped
    for line in lines:
        meta = line["meta"]
        assert meta == injected[line["id"]]
        assert meta["channel_id"] in ("1180000000000000200", "1180000000000000300")
        # Pip, behind its pseudonym: the persona the dataset trains
        assert meta["assistant_user_id"] == Pseudonyms("").user_id("1180000000000000001")
        assert meta["assistant_alias"] == Pseudonyms("").name("1180000000000000001")
        assert meta["target_message_id"] == meta["message_ids"][-1]
        assert meta["synthetic_tool_calls"] in (0, 1)
    assert sum(line["meta"]["synthetic_tool_calls"] for line in lines) > 0
