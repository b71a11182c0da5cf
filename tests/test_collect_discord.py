"""collect_discord through its CLI: the real discord.py against the local Discord emulator."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stages.collect_discord import main
from tests.conftest import REPO, read_jsonl
from tests.emulators.discord_rest_api import DiscordEmulator, MessageFactory, make_user

pytest_plugins = ["tests.emulators.discord_fixture"]

GUILD = "900000000000000001"
GENERAL = "900000000000000010"
RANDOM = "900000000000000020"
SECRET = "900000000000000030"
HISTORY = "GET /channels/{channel_id}/messages"
START = datetime(2024, 3, 1, tzinfo=UTC)
ALICE = make_user("800000000000000001", "alice", "Alice")
BOT = make_user("800000000000000009", "pip", "Pip", bot=True)
OUT = "out"


def seed(
    api: DiscordEmulator,
    channel_id: str,
    count: int,
    *,
    step=timedelta(minutes=1),
    forbidden: bool = False,
    author=ALICE,
) -> list[str]:
    if GUILD not in api.guilds:
        api.add_guild(GUILD, "Test Server")
    api.add_channel(channel_id, GUILD, f"channel-{channel_id[-2:]}", forbidden=forbidden)
    factory = MessageFactory(channel_id, START, step)
    messages = [factory.message(author, f"message {i}") for i in range(count)]
    api.add_messages(channel_id, messages)
    return [m["id"] for m in messages]


def collect(api: DiscordEmulator, *args: str, exit_code: int = 0) -> Result:
    """The stage as DVC runs it, against the emulator, in the test's working directory."""
    result = CliRunner().invoke(
        main, ["--api-base", api.base_url, "--out-dir", OUT, *args], catch_exceptions=False
    )
    assert result.exit_code == exit_code, result.output
    return result


def channel_ids(channel_id: str) -> list[str]:
    return [m["id"] for m in read_jsonl(Path(OUT, "channels", f"{channel_id}.jsonl"))]


def stats() -> dict:
    return json.loads(Path(OUT, "stats.json").read_text())


@pytest.fixture
def token(discord_api, monkeypatch) -> str:
    monkeypatch.setenv("DISCORD_API_TOKEN", discord_api.token)
    return discord_api.token


def test_pages_thousands_of_messages_into_one_file_each_once(workdir, discord_api, token):
    expected = seed(discord_api, GENERAL, 2500)
    result = collect(discord_api, "--channels", GENERAL)
    assert channel_ids(GENERAL) == expected
    assert len(discord_api.requests_to(HISTORY)) == 26  # 25 full pages, and an empty last one
    assert stats()["messages"] == {GENERAL: 2500}
    assert stats()["written"] == 2500
    assert f"channel {GENERAL}: done, 2500 messages, 100% of the window covered" in result.stderr
    first = read_jsonl(Path(OUT, "channels", f"{GENERAL}.jsonl"))[0]
    assert first["guild_id"] == GUILD and first["source"] == "rest"
    assert first["timestamp"] == "2024-03-01T00:00:00.000000+00:00"


def test_earliest_and_max_messages(workdir, discord_api, token):
    # 600 messages, one every 12 minutes from March 1: 120 a day, days 1-5.
    expected = seed(discord_api, GENERAL, 600, step=timedelta(minutes=12))
    collect(discord_api, "--channels", GENERAL, "--earliest", "2024-03-04")
    assert channel_ids(GENERAL) == expected[-240:]
    collect(discord_api, "--channels", GENERAL, "--earliest", "2024-03-04", "--max-messages", "50")
    assert channel_ids(GENERAL) == expected[-50:]


def test_rate_limited_run_returns_every_message_once(workdir, discord_api, token):
    expected = seed(discord_api, GENERAL, 450)
    discord_api.rate_limit(HISTORY, count=3, retry_after=0.05)
    collect(discord_api, "--channels", GENERAL)
    assert channel_ids(GENERAL) == expected
    assert [r.status for r in discord_api.requests_to(HISTORY)].count(429) == 3


def test_allowed_users_keep_every_speaker_and_warn_about_channels_without_them(
    workdir, discord_api, token
):
    seed(discord_api, GENERAL, 5, author=BOT)
    seed(discord_api, RANDOM, 5)
    result = collect(
        discord_api, "--channels", GENERAL, "--channels", RANDOM, "--allowed-users", BOT["id"]
    )
    assert len(channel_ids(RANDOM)) == 5  # the others' messages are context: all kept
    assert f"channel {RANDOM}: no message by any of allowed_users ['{BOT['id']}']" in result.stderr
    assert f"channel {GENERAL}: no message" not in result.stderr


def test_missing_token_names_the_channels_and_the_variable(workdir, discord_api, monkeypatch):
    monkeypatch.delenv("MY_BOT_TOKEN", raising=False)
    seed(discord_api, GENERAL, 3)
    result = collect(discord_api, "--channels", GENERAL, "--token-env", "MY_BOT_TOKEN", exit_code=1)
    assert result.stderr == (
        f"Error: no Discord bot token to read channel(s) {GENERAL}: set the environment variable "
        "MY_BOT_TOKEN (collect_discord.token_env), or use exports\n"
    )
    assert discord_api.requests == []


def test_a_rejected_token_names_the_variable(workdir, discord_api, monkeypatch):
    monkeypatch.setenv("MY_BOT_TOKEN", "wrong")
    seed(discord_api, GENERAL, 3)
    result = collect(discord_api, "--channels", GENERAL, "--token-env", "MY_BOT_TOKEN", exit_code=1)
    assert "Discord rejected the token (401 Unauthorized); check MY_BOT_TOKEN" in result.stderr


def test_forbidden_channel_is_named_and_the_others_stay_written(workdir, discord_api, token):
    general = seed(discord_api, GENERAL, 120)
    seed(discord_api, SECRET, 10, forbidden=True)
    random = seed(discord_api, RANDOM, 30)
    result = collect(
        discord_api, "--channels", GENERAL, "--channels", SECRET, "--channels", RANDOM, exit_code=1
    )
    assert f"channel {SECRET}: forbidden (403): the bot may not read this channel" in result.stderr
    assert channel_ids(GENERAL) == general and channel_ids(RANDOM) == random
    assert not Path(OUT, "channels", f"{SECRET}.jsonl").exists()
    assert stats()["failed_channels"] == {"forbidden": 1}


def test_the_token_is_written_nowhere(workdir, discord_api, monkeypatch):
    discord_api.token = "tok-3f9c-very-secret-9a1e"
    monkeypatch.setenv("DISCORD_API_TOKEN", discord_api.token)
    seed(discord_api, GENERAL, 150)
    seed(discord_api, SECRET, 1, forbidden=True)
    result = collect(discord_api, "--channels", GENERAL, "--channels", SECRET, exit_code=1)
    collect(discord_api, "--channels", GENERAL)
    written = b"".join(p.read_bytes() for p in workdir.rglob("*") if p.is_file())
    assert channel_ids(GENERAL) and b"very-secret" not in written
    assert "very-secret" not in result.output + result.stderr


def test_bad_payloads_are_rejected_and_the_rest_kept(workdir, discord_api, token):
    ids = seed(discord_api, GENERAL, 4)
    factory = MessageFactory(GENERAL, START + timedelta(hours=1))
    broken = factory.message(ALICE, "float id")
    broken["id"] = float(broken["id"])
    bad_time = factory.message(ALICE, "no offset", timestamp="2024-03-01T01:00:00")
    discord_api.add_messages(GENERAL, [bad_time, broken])
    collect(discord_api, "--channels", GENERAL)
    assert channel_ids(GENERAL) == ids
    rejects = read_jsonl(Path(OUT, "rejects.jsonl"))
    assert sorted(r["reason"] for r in rejects) == ["bad_timestamp", "invalid_message"]
    assert {r["file"] for r in rejects} == {f"discord-api:channel/{GENERAL}"}


def test_exports_need_no_token(workdir, discord_api, token, monkeypatch):
    samples = REPO / "data/samples/discord"
    monkeypatch.delenv("DISCORD_API_TOKEN")
    result = collect(discord_api, "--exports", str(samples))
    assert discord_api.requests == []
    assert stats()["messages"] == {"1180000000000000200": 30, "1180000000000000300": 8}
    assert "allowed_users is empty: segment will take nobody as the assistant" in result.stderr


def test_an_export_and_rest_history_of_one_channel_are_merged_once(workdir, discord_api, token):
    ids = seed(discord_api, GENERAL, 3)
    export = {
        "guild": {"id": GUILD, "name": "Test Server"},
        "channel": {"id": GENERAL, "name": "channel-10"},
        "messages": [
            {
                "id": ids[0],
                "type": "Default",
                "timestamp": "2024-03-01T01:00:00+01:00",
                "content": "message 0",
                "author": {"id": ALICE["id"], "name": "alice"},
            },
            {
                "id": "1000",
                "type": "Default",
                "timestamp": "2015-01-01T00:00:00+00:00",
                "content": "older than the API history",
                "author": {"id": "5", "name": "old"},
            },
        ],
    }
    Path("exports").mkdir()
    Path("exports/part.json").write_text(json.dumps(export))
    collect(discord_api, "--channels", GENERAL, "--exports", "exports")
    assert channel_ids(GENERAL) == ["1000", *ids]
    assert stats()["duplicates"] == 1
    assert read_jsonl(Path(OUT, "channels", f"{GENERAL}.jsonl"))[1]["source"] == "rest"


def test_channels_of_an_earlier_run_are_removed(workdir, discord_api, token):
    seed(discord_api, GENERAL, 2)
    seed(discord_api, RANDOM, 2)
    collect(discord_api, "--channels", GENERAL, "--channels", RANDOM)
    collect(discord_api, "--channels", RANDOM)
    assert sorted(p.name for p in Path(OUT, "channels").iterdir()) == [f"{RANDOM}.jsonl"]


def test_a_date_that_is_not_a_date(workdir, discord_api, token):
    result = collect(discord_api, "--earliest", "last week", exit_code=2)
    assert "'last week' is not a date like 2024-01-31" in result.stderr


def history_ids(channel_id: str) -> list[str]:
    """The message ids a channel's kept history holds (the header line aside)."""
    lines = Path("data/discord/history", f"{channel_id}.jsonl").read_text().splitlines()
    return [json.loads(line)["id"] for line in lines[1:]]


def add_newer(api: DiscordEmulator, channel_id: str, count: int, after: datetime) -> list[str]:
    factory = MessageFactory(channel_id, after)
    messages = [factory.message(ALICE, f"new {i}") for i in range(count)]
    api.add_messages(channel_id, messages)
    return [m["id"] for m in messages]


def pages_since(api: DiscordEmulator, start: int) -> list[dict[str, str]]:
    return [r.query for r in api.requests_to(HISTORY)[start:]]


def test_a_second_run_fetches_only_the_newer_messages(workdir, discord_api, token):
    old = seed(discord_api, GENERAL, 250)
    collect(discord_api, "--channels", GENERAL)
    assert stats()["pages"] == {GENERAL: 3} and stats()["fetched"] == 250
    assert history_ids(GENERAL) == old

    new = add_newer(discord_api, GENERAL, 130, START + timedelta(days=1))
    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL)
    assert pages_since(discord_api, before) == [
        {"limit": "100", "after": old[-1]},
        {"limit": "100", "after": new[99]},
    ]
    assert channel_ids(GENERAL) == history_ids(GENERAL) == old + new
    assert (stats()["pages"], stats()["fetched"], stats()["held"]) == ({GENERAL: 2}, 130, 250)

    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL)  # nothing new: one page says so
    assert pages_since(discord_api, before) == [{"limit": "100", "after": new[-1]}]
    assert stats()["fetched"] == 0 and channel_ids(GENERAL) == old + new


def test_a_wider_window_fetches_only_the_missing_older_messages(workdir, discord_api, token):
    ids = seed(discord_api, GENERAL, 720, step=timedelta(minutes=12))  # 120 a day from March 1
    collect(discord_api, "--channels", GENERAL, "--max-messages", "600")
    assert stats()["pages"] == {GENERAL: 6} and channel_ids(GENERAL) == ids[-600:]

    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL, "--max-messages", "700")
    assert pages_since(discord_api, before) == [
        {"limit": "100", "after": ids[-1]},
        {"limit": "100", "before": ids[-600]},
    ]
    assert channel_ids(GENERAL) == ids[-700:]

    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL, "--max-messages", "600")  # narrower: no paging back
    assert pages_since(discord_api, before) == [{"limit": "100", "after": ids[-1]}]
    assert channel_ids(GENERAL) == ids[-600:] and history_ids(GENERAL) == ids[-700:]

    # March 2 onwards is 600 messages, all held: only the newer page is asked for.
    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL, "--earliest", "2024-03-02")
    assert pages_since(discord_api, before) == [{"limit": "100", "after": ids[-1]}]
    assert channel_ids(GENERAL) == ids[120:]
    # March 1 lies beyond the history: the 20 older messages, and one page finds the start.
    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL)
    assert pages_since(discord_api, before)[1:] == [{"limit": "100", "before": ids[20]}]
    assert channel_ids(GENERAL) == ids
    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL)  # the channel's start is held: never again
    assert len(pages_since(discord_api, before)) == 1


def test_refresh_fetches_the_window_again_with_edits_and_deletions(workdir, discord_api, token):
    ids = seed(discord_api, GENERAL, 150)
    collect(discord_api, "--channels", GENERAL)
    discord_api.edit_message(GENERAL, ids[10], "edited")
    discord_api.delete_message(GENERAL, ids[20])

    collect(discord_api, "--channels", GENERAL)
    kept = read_jsonl(Path(OUT, "channels", f"{GENERAL}.jsonl"))
    assert kept[10]["content"] == "message 10" and len(kept) == 150

    collect(discord_api, "--channels", GENERAL, "--refresh")
    kept = read_jsonl(Path(OUT, "channels", f"{GENERAL}.jsonl"))
    assert kept[10]["content"] == "edited" and kept[10]["edited_timestamp"]
    assert [m["id"] for m in kept] == ids[:20] + ids[21:] == history_ids(GENERAL)
    assert stats()["pages"] == {GENERAL: 2} and stats()["held"] == 0


def test_a_failed_channel_keeps_its_pages_for_the_next_run(workdir, discord_api, token):
    ids = seed(discord_api, GENERAL, 250)
    discord_api.fail(HISTORY, 403, after=2)
    result = collect(discord_api, "--channels", GENERAL, exit_code=1)
    assert "their pages fetched so far are kept for the next run" in result.stderr
    assert history_ids(GENERAL) == ids[-200:]
    assert not Path(OUT, "channels", f"{GENERAL}.jsonl").exists()

    before = len(discord_api.requests_to(HISTORY))
    collect(discord_api, "--channels", GENERAL)
    assert pages_since(discord_api, before) == [
        {"limit": "100", "after": ids[-1]},
        {"limit": "100", "before": ids[50]},
    ]
    assert channel_ids(GENERAL) == ids


def test_a_damaged_history_names_its_file_and_line(workdir, discord_api, token):
    seed(discord_api, GENERAL, 3)
    collect(discord_api, "--channels", GENERAL)
    path = Path("data/discord/history", f"{GENERAL}.jsonl")
    path.write_text(path.read_text() + "{cut off\n")
    result = collect(discord_api, "--channels", GENERAL, exit_code=1)
    assert result.stderr.startswith(f"Error: {path}:5: not a message payload (")
    assert result.stderr.endswith(
        "delete that file, or set collect_discord.refresh: true (--refresh) to fetch the "
        "channel again\n"
    )
    collect(discord_api, "--channels", GENERAL, "--refresh")
    assert len(history_ids(GENERAL)) == 3


def export_file(channel_id: str, *message_ids: str) -> dict:
    return {
        "guild": {"id": GUILD, "name": "Test Server"},
        "channel": {"id": channel_id, "name": "general"},
        "messages": [
            {
                "id": message_id,
                "type": "Default",
                "timestamp": "2024-03-01T01:00:00+01:00",
                "content": f"message {message_id}",
                "author": {"id": ALICE["id"], "name": "alice"},
            }
            for message_id in message_ids
        ],
    }


def test_bad_ids_and_files_that_are_not_exports_are_rejects(workdir, discord_api, token):
    exports = Path("exports")
    exports.mkdir()
    (exports / "a.json").write_text(json.dumps(export_file(GENERAL, "1001", "12²", "1002")))
    (exports / "b.json").write_text(json.dumps(export_file("general", "1003")))
    (exports / "c.json").write_text('{"settings": {"theme": "dark"}}')
    (exports / "d.json").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(export_file(RANDOM, "1004")).encode()
    )
    (exports / "e.json").write_text(f'{{"channel": {"[" * 2000 + "]" * 2000}}}')
    collect(discord_api, "--exports", "exports")
    assert channel_ids(GENERAL) == ["1001", "1002"]
    assert channel_ids(RANDOM) == ["1004"]  # a byte order mark is skipped
    rejects = read_jsonl(Path(OUT, "rejects.jsonl"))
    assert [(r["file"], r["line"], r["reason"]) for r in rejects] == [
        ("exports/a.json", 2, "bad_id"),
        ("exports/b.json", 0, "not_an_export"),
        ("exports/c.json", 0, "not_an_export"),
        ("exports/e.json", 0, "not_an_export"),
    ]
    assert rejects[0]["message"] == "message 12²: message id '12²' is not a Discord id"
    assert rejects[1]["message"] == "channel id 'general' is not a Discord id"
    assert stats()["rejected"]["not_an_export"] == 3


def test_a_channel_id_that_is_not_an_id_is_a_clear_error(workdir, discord_api, token):
    result = collect(discord_api, "--channels", "general", exit_code=1)
    assert result.output == (
        "Error: channel id 'general' is not a Discord id (digits only, as Discord's "
        "'Copy Channel ID' gives it): check --channels (collect_discord.channels)\n"
    )
