"""Discord users behind stable pseudonyms, markup rendered, secrets scrubbed at collect."""

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from stages.collect_discord import main as collect
from stages.common.pseudonyms import Pseudonyms
from stages.discord.markup import render_markup
from stages.inject_tools import main as inject_tools
from stages.segment import main as segment
from tests.conftest import REPO, read_jsonl
from tests.emulators.discord_rest_api import MessageFactory, make_user
from tests.secret_corpus import ALL
from tests.test_collect_discord import GENERAL, GUILD, OUT, START
from tests.test_collect_discord import collect as collect_rest

pytest_plugins = ["tests.emulators.discord_fixture"]

SAMPLE_USERS = {  # the bundled sample server's people: id → names they go by
    "1180000000000000001": ["Pip"],
    "1180000000000000002": ["Rin", "rin.mod"],
    "1180000000000000011": ["Alice", "alice_fish"],
    "1180000000000000012": ["Bob the Builder"],
    "1180000000000000014": ["Dave", "dave99"],
    "1180000000000000015": ["Erin"],
}


def test_pseudonyms_are_the_same_in_another_process_and_change_with_the_salt() -> None:
    ids = ["1180000000000000011", "42", "999999999999999999"]
    code = (
        "import json, sys; from stages.common.pseudonyms import Pseudonyms; "
        "p = Pseudonyms(sys.argv[1]); ids = sys.argv[2:]; "
        "print(json.dumps([[p.name(i), p.user_id(i)] for i in ids]))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, "team-a", *ids], capture_output=True, text=True, check=True
    )
    here = Pseudonyms("team-a")
    assert json.loads(other.stdout) == [[here.name(i), here.user_id(i)] for i in ids]
    salted = Pseudonyms("team-b")
    assert [salted.user_id(i) for i in ids] != [here.user_id(i) for i in ids]
    assert all(here.user_id(i) != i and len(here.user_id(i)) == 17 for i in ids)
    names = {Pseudonyms("").name(str(n)) for n in range(200)}
    assert len(names) > 150  # friendly names, spread over the word lists


def test_markup_renders_as_a_reader_sees_it() -> None:
    text = "ping <@&818907925450777051> in <#818908495875602878> at <t:1750269600:R>, run </roll:1>"
    assert render_markup(text) == "ping @role in #channel at 2025-06-18 18:00 UTC, run /roll"
    assert render_markup("<t:1750269600:d> <t:1750269600:t>") == "2025-06-18 18:00 UTC"[:10] + (
        " 18:00 UTC"
    )


def test_no_real_user_id_or_name_reaches_a_record(workdir) -> None:
    """collect → segment → inject_tools on the sample server: only pseudonyms remain."""
    runner = CliRunner()
    exports = str(REPO / "data/samples/discord")
    steps = [
        (
            collect,
            [
                "--exports",
                exports,
                "--out-dir",
                "collected",
                "--allowed-users",
                "1180000000000000001",
            ],
        ),
        (
            segment,
            [
                "--input",
                "collected/channels",
                "--out-dir",
                "seg",
                "--cache-dir",
                "c",
                "--llm-cache-dir",
                "l",
                "--allowed-users",
                "1180000000000000001",
                "--allowed-users",
                "1180000000000000002",
            ],
        ),
        (
            inject_tools,
            [
                "--input",
                "seg/conversations.jsonl",
                "--out-dir",
                "ing",
                "--cache-dir",
                "c2",
                "--catalog",
                str(REPO / "data/samples/tools/catalog.json"),
            ],
        ),
    ]
    for command, args in steps:
        result = runner.invoke(command, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    records = read_jsonl(Path("ing/conversations"))
    assert len(records) >= 5
    written = "".join(p.read_text() for p in Path().rglob("*.json*") if p.is_file())
    for user_id, names in SAMPLE_USERS.items():
        assert user_id not in written
        for name in names:
            assert f'"{name}' not in written and f"{name} said" not in written, name
    pip = Pseudonyms("")
    aliases = {r["meta"]["assistant_alias"] for r in records}
    assert aliases <= {pip.name("1180000000000000001"), pip.name("1180000000000000002")}
    assert all(r["meta"]["assistant_user_id"] in r["meta"]["alias_map"].values() for r in records)
    said = [m["content"] for r in records for m in r["messages"] if m["role"] == "user"]
    assert any(f"{pip.name('1180000000000000011')} said:" in text for text in said)


def test_collect_scrubs_history_and_channels(workdir, discord_api, monkeypatch) -> None:
    monkeypatch.setenv("DISCORD_API_TOKEN", discord_api.token)
    discord_api.add_guild(GUILD, "Test Server")
    discord_api.add_channel(GENERAL, GUILD, "general")
    zoe = make_user("800000000000000007", "zoe.q", "Zoe Q. Public")
    factory = MessageFactory(GENERAL, START)
    messages = [factory.message(zoe, f"here you go: {text}") for _, text, _ in ALL]
    messages.append(factory.message(zoe, "hi <@800000000000000007>, Zoe Q. Public here"))
    discord_api.add_messages(GENERAL, messages)
    collect_rest(discord_api, "--channels", GENERAL, "--history-dir", "history")
    for folder in ("history", OUT):
        written = "".join(p.read_text() for p in Path(folder).rglob("*") if p.is_file())
        for name, _, value in ALL:
            assert value not in written, (folder, name)
    channel = Path(OUT, "channels", f"{GENERAL}.jsonl").read_text()
    assert "800000000000000007" not in channel and "Zoe Q. Public" not in channel
    stats = json.loads(Path(OUT, "stats.json").read_text())
    assert stats["scrubbed"]["email"] >= 1 and stats["scrubbed"]["github_pat"] == 1
