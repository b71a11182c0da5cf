"""The team flow under the real `dvc`: one pipeline run, fed by the Discord emulator and the
OpenAI-compatible emulator, shared by every test here (a module fixture; `xdist_group` keeps
the module on one worker so the run happens once). A teammate pulls from a folder remote or
from an S3-compatible server (moto, on 127.0.0.1) and pays for nothing again; queued
experiments compare in `dvc exp show`; the record diff reads revisions never checked out.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from stages.diff import main as diff_main
from tests.dvc_repo import DvcRepo
from tests.emulators.discord_rest_api import DiscordEmulator, MessageFactory, make_user
from tests.emulators.openai_api import OpenAIEmulator, serve
from tests.llm.conftest import KEY_ENV, KEY_VALUE
from tests.llm.test_cache_dvc import use_emulator
from tests.test_pipeline_dvc import output_hashes

pytestmark = pytest.mark.xdist_group("team_flow")

GUILD = "1180000000000000100"
CHANNEL = "1180000000000000900"
PIP = make_user("1180000000000000001", "pip", "Pip", bot=True)  # an allowed user in params
ASKER = make_user("1180000000000000050", "sam", "Sam")
TOKEN_ENV = "LOGTUNE_TEST_DISCORD_TOKEN"
HISTORY = "GET /channels/{channel_id}/messages"
BUCKET = "logtune-team"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Team:
    root: Path
    origin: DvcRepo
    discord: DiscordEmulator
    llm: OpenAIEmulator
    s3_endpoint: str
    hashes: dict[str, str]  # every output of the origin's run

    def teammate(self, name: str, *, token: bool = False) -> DvcRepo:
        """A fresh clone of the origin's commits, with no key unless `token`."""
        self.origin.git("clone", "-q", str(self.origin.path), str(self.root / name))
        clone = DvcRepo(self.root / name, self.root)
        if token:
            clone.env[TOKEN_ENV] = self.discord.token
            clone.env[KEY_ENV] = KEY_VALUE
        return clone


def seed_channel(api: DiscordEmulator, start: datetime, pairs: int) -> None:
    """Questions by a member, each answered by Pip a minute later."""
    factory = MessageFactory(CHANNEL, start)
    messages = []
    for i in range(pairs):
        messages.append(factory.message(ASKER, f"pip, can you look up order {1000 + i}?"))
        messages.append(factory.message(PIP, f"Order {1000 + i} shipped on day {i % 28 + 1}."))
    api.add_messages(CHANNEL, messages)


def use_discord(repo: DvcRepo, api: DiscordEmulator) -> None:
    params_file = repo.path / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["collect_discord"].update(channels=[CHANNEL], api_base=api.base_url, token_env=TOKEN_ENV)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    repo.env[TOKEN_ENV] = api.token


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, **aws_args()).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def aws_args() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, moto_s3: str) -> Iterator[Team]:
    root = tmp_path_factory.mktemp("team")
    discord = DiscordEmulator()
    discord.start()
    discord.add_guild(GUILD, "Team Server")
    discord.add_channel(CHANNEL, GUILD, "support")
    seed_channel(discord, datetime(2024, 5, 1, tzinfo=UTC), 60)
    with serve(OpenAIEmulator()) as llm:
        origin = DvcRepo.copy_of_project(root / "origin", root)
        use_discord(origin, discord)
        use_emulator(origin, llm.base_url)
        origin.dvc("remote", "add", "-d", "shared", str(root / "remote"))
        origin.dvc("remote", "add", "s3", f"s3://{BUCKET}/logtune")
        origin.dvc("remote", "modify", "s3", "endpointurl", moto_s3)
        origin.dvc("repro")
        origin.git("add", "-A")
        origin.git("commit", "-qm", "dataset v1: Discord and the model")
        origin.dvc("push")
        yield Team(root, origin, discord, llm, moto_s3, output_hashes(origin.path))
    discord.stop()


def test_the_run_used_both_services(team: Team) -> None:
    pages = team.discord.requests_to(HISTORY)
    assert len(pages) == 2  # 120 messages: a full page and a short one
    assert team.llm.counts["chat"] > 0 and team.llm.counts["moderations"] > 0
    history = team.origin.path / "data/discord/history" / f"{CHANNEL}.jsonl"
    assert len(history.read_text().splitlines()) == 1 + 120
    segmented = team.origin.path / "data/discord/segmented/conversations.jsonl"
    assert CHANNEL in segmented.read_text()


def test_a_teammate_pulls_and_reruns_nothing_nor_asks_anyone(team: Team) -> None:
    discord_before, llm_before = len(team.discord.requests), team.llm.counts.total()
    mate = team.teammate("mate")  # no Discord token, no API key
    mate.dvc("pull")
    assert mate.stages_run(mate.dvc("repro")) == ["inputs"]  # it always looks at input files
    assert mate.git("status", "--porcelain") == ""
    assert output_hashes(mate.path) == team.hashes
    assert (len(team.discord.requests), team.llm.counts.total()) == (discord_before, llm_before)


def test_a_teammate_who_pulled_the_history_fetches_only_new_messages(team: Team) -> None:
    mate = team.teammate("mate-fetch", token=True)
    mate.dvc("pull")
    seed_channel(team.discord, datetime(2024, 6, 1, tzinfo=UTC), 5)
    before = len(team.discord.requests_to(HISTORY))
    ran = mate.dvc("repro", "--force", "--single-item", "collect_discord")
    assert mate.stages_run(ran) == ["collect_discord"]
    pages = team.discord.requests_to(HISTORY)[before:]
    assert len(pages) == 1 and "after" in pages[0].query
    stats = json.loads((mate.path / "data/discord/collected/stats.json").read_text())
    assert (stats["fetched"], stats["held"], stats["pages"]) == (10, 120, {CHANNEL: 1})
    channel = mate.path / "data/discord/collected/channels" / f"{CHANNEL}.jsonl"
    assert len(channel.read_text().splitlines()) == 130


def test_push_to_and_pull_from_an_s3_compatible_remote(team: Team) -> None:
    team.origin.env.update(AWS_ENV)
    team.origin.dvc("push", "-r", "s3")
    listed = boto3.client("s3", endpoint_url=team.s3_endpoint, **aws_args()).list_objects_v2(
        Bucket=BUCKET, Prefix="logtune/files/md5/"
    )
    assert listed["KeyCount"] > 20

    mate = team.teammate("mate-s3")
    config = (mate.path / ".dvc/config").read_text()
    assert team.s3_endpoint in config
    assert all(value not in config for value in AWS_ENV.values())
    mate.env.update(AWS_ENV)
    mate.dvc("pull", "-r", "s3")
    assert output_hashes(mate.path) == team.hashes


def queue_done(repo: DvcRepo, timeout: float = 300) -> str:
    """`dvc queue status` once nothing is queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = repo.dvc("queue", "status")
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(1)
    raise AssertionError(f"the queue did not finish:\n{status}")


def test_queued_experiments_compare_and_diff_by_record(team: Team) -> None:
    origin = team.origin
    llm_before = team.llm.counts.total()
    origin.dvc("exp", "run", "--queue", "-n", "capped", "-S", "max_samples=4")
    origin.dvc("exp", "run", "--queue", "-n", "reshuffled", "-S", "seed=7")
    started = time.monotonic()
    origin.dvc("queue", "start", "-j", "2")
    status = queue_done(origin)
    assert status.count("Success") == 2 and "Failed" not in status, status
    print(f"two queued experiments, two workers: {time.monotonic() - started:.1f} s")
    assert team.llm.counts.total() == llm_before  # the LLM caches came from DVC's cache

    shown = json.loads(origin.dvc("exp", "show", "--json"))
    experiments = {
        exp["name"]: exp["data"]
        for row in shown
        for exp in (row.get("experiments") or [])
        for exp in exp["revs"]
    }
    assert set(experiments) == {"capped", "reshuffled"}
    capped = experiments["capped"]
    summary = capped["metrics"]["data/metrics.json"]["data"]
    assert summary["examples"]["train"] + summary["examples"].get("validation", 0) == 4
    assert capped["params"]["params.yaml"]["data"]["max_samples"] == 4
    assert experiments["reshuffled"]["params"]["params.yaml"]["data"]["seed"] == 7
    # Neither experiment was checked out: the workspace still holds v1.
    assert output_hashes(origin.path) == team.hashes

    diff = record_diff(origin, "HEAD", "capped")
    assert diff["b"]["records"] == 4 and diff["a"]["records"] == diff["unchanged"] + len(
        diff["removed"]
    )
    assert diff["added"] == [] and len(diff["removed"]) == diff["a"]["records"] - 4
    by_source = diff["counts"]["source"]
    assert sum(count["b"] for count in by_source.values()) == 4

    moved = record_diff(origin, "HEAD", "reshuffled")
    assert moved["added"] == moved["removed"] == [] and moved["changed"]
    first = moved["changed"][0]
    assert first["fields"] == ["split"]
    assert {line for line in first["diff"] if line.startswith(("-split", "+split"))} in (
        {"-split: train", "+split: validation"},
        {"-split: validation", "+split: train"},
    )
    text = CliRunner().invoke(diff_main, ["HEAD", "reshuffled", "--repo", str(origin.path)])
    assert text.exit_code == 0, text.output
    assert text.output.startswith(f"records HEAD → reshuffled: {moved['a']['records']} → ")
    assert f"changed {first['id']}: split" in text.output


def record_diff(repo: DvcRepo, rev_a: str, rev_b: str) -> dict:
    result = CliRunner().invoke(
        diff_main, [rev_a, rev_b, "--repo", str(repo.path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_diff_names_a_revision_it_cannot_read(team: Team) -> None:
    result = CliRunner().invoke(diff_main, ["HEAD", "no-such-exp", "--repo", str(team.origin.path)])
    assert result.exit_code == 1
    where = "data/curated/train.jsonl at no-such-exp"
    assert result.output.startswith(f"Error: {where}: cannot be read")
    assert result.output.endswith("and `dvc pull` or `dvc exp pull` what the cache lacks\n")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
