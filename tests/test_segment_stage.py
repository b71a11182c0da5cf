"""The segment stage: raw channel files in, conversations out, unchanged channels from cache."""

import json
from pathlib import Path

from click.testing import CliRunner

from stages.collect_discord import main as collect
from stages.common.pseudonyms import Pseudonyms
from stages.segment import main
from tests.conftest import REPO, read_jsonl

PSEUDONYMS = Pseudonyms("")  # scrub.salt's default

SAMPLE_ALLOWED = [
    "--allowed-users",
    "1180000000000000001",
    "--allowed-users",
    "1180000000000000002",
]


def collected(workdir: Path) -> Path:
    """The bundled sample export as collect_discord writes it, one file per channel."""
    result = CliRunner().invoke(
        collect, ["--exports", str(REPO / "data/samples/discord"), "--out-dir", "collected"]
    )
    assert result.exit_code == 0, result.output
    return workdir / "collected/channels"


def segment(run, *args: str):
    return run(
        main,
        "--input",
        "collected/channels",
        "--out-dir",
        "out",
        "--cache-dir",
        "cache",
        *SAMPLE_ALLOWED,
        "--assistant-custom-emojis",
        "pipthumbs",
        "--assistant-custom-emojis",
        "pipparty:1180000000000000502",
        *args,
    )


def test_sample_history_segments_with_guard_counts(workdir, run):
    collected(workdir)
    result = segment(run)
    stats = json.loads(Path("out/stats.json").read_text())
    # Counted by hand in data/samples/discord: 17 messages by Pip and Rin; Pip's split
    # "one sec" reply (2), the link and the attachment (2), :kekw: (1), Pip's unprompted
    # reminder and Rin's poll an hour after it (2) are rejected.
    assert stats["candidates"] == 17 and stats["conversations"] == 10
    assert stats["guard_rejected"] == {
        "consecutive_replies": 2,
        "non_text": 2,
        "foreign_emoji": 1,
        "empty_reply": 0,
        "no_context": 2,
    }
    assert stats["system_messages"] == 2
    assert "segmented 2 channel files, 0 from cache" in result.stderr
    first = read_jsonl(Path("out/conversations.jsonl"))[0]
    # collect_discord put everyone behind a pseudonym: Alice and Pip by their user ids
    alice, pip = PSEUDONYMS.name("1180000000000000011"), PSEUDONYMS.name("1180000000000000001")
    assert first["messages"] == [
        {"role": "user", "content": f"{alice} said:\n@{pip} what's the price of dragon bones?"},
        {
            "role": "assistant",
            "content": (
                "Dragon bones are going for about 2,350 gp each on the GE right now :pipthumbs:"
            ),
        },
    ]


def test_an_unchanged_channel_is_not_segmented_again(workdir, run):
    channels = collected(workdir)
    segment(run)
    cold = Path("out/conversations.jsonl").read_bytes()
    again = segment(run)
    assert "segmented 0 channel files, 2 from cache" in again.stderr
    assert Path("out/conversations.jsonl").read_bytes() == cold
    events = channels / "1180000000000000300.jsonl"
    lines = events.read_text().splitlines()
    events.write_text("\n".join(lines[:-1]) + "\n")  # the last reply is gone
    changed = segment(run)
    assert "segmented 1 channel files, 1 from cache" in changed.stderr
    warm = Path("out/conversations.jsonl").read_bytes()
    segment(run, "--no-cache")
    assert Path("out/conversations.jsonl").read_bytes() == warm != cold
    other_params = segment(run, "--max-gap-minutes", "5")
    assert "segmented 2 channel files, 0 from cache" in other_params.stderr


def test_a_damaged_cache_entry_is_segmented_again(workdir, run):
    collected(workdir)
    segment(run)
    cold = Path("out/conversations.jsonl").read_bytes()
    for entry in Path("cache").glob("??/*"):
        entry.write_bytes(b"\x00garbage")
    result = segment(run)
    assert "damaged cache entry, segmenting again" in result.stderr
    assert Path("out/conversations.jsonl").read_bytes() == cold


def test_bad_raw_lines_are_rejected_and_the_rest_segmented(workdir, run):
    channels = collected(workdir)
    general = channels / "1180000000000000200.jsonl"
    lines = general.read_text().splitlines()
    lines.insert(3, '{"id": "1", "truncated')
    lines.insert(5, '{"id": "2"}')
    general.write_text("\n".join(lines) + "\n")
    segment(run)
    rejects = read_jsonl(Path("out/rejects.jsonl"))
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (4, "invalid_json"),
        (6, "invalid_message"),
    ]
    assert json.loads(Path("out/stats.json").read_text())["conversations"] == 10


def test_without_allowed_users_nothing_is_a_target(workdir, run):
    collected(workdir)
    result = run(main, "--input", "collected/channels", "--out-dir", "out", "--no-cache")
    assert "allowed_users is empty: no message can be a target reply" in result.stderr
    assert Path("out/conversations.jsonl").read_bytes() == b""


def test_every_guard_rejection_is_listed_and_curate_shows_it(workdir, run):
    from stages.curate import main as curate
    from tests.records import conversation, write_conversations

    collected(workdir)
    segment(run)
    stats = json.loads(Path("out/stats.json").read_text())
    dropped = read_jsonl(Path("out/dropped.jsonl"))
    by_reason: dict[str, int] = {}
    for entry in dropped:
        guard = entry["reason"].removeprefix("guard_rejected:")
        by_reason[guard] = by_reason.get(guard, 0) + 1
        assert entry["stage"] == "segment" and entry["source"] == "discord"
        assert entry["file"].startswith("collected/channels/") and entry["excerpt"]
    assert by_reason == {k: n for k, n in stats["guard_rejected"].items() if n}
    assert {"Sure, one sec"} <= {entry["excerpt"] for entry in dropped}
    write_conversations(Path("c.jsonl"), [conversation("hi"), conversation("hi")])
    run(curate, "c.jsonl", "--out-dir", "cur", "--dropped-upstream", "out/dropped.jsonl")
    listed = read_jsonl(Path("cur/dropped.jsonl"))
    assert listed[: len(dropped)] == dropped and listed[-1]["reason"] == "duplicate"
    curated = json.loads(Path("cur/stats.json").read_text())
    assert curated["dropped_upstream"] == {"segment": len(dropped)}
