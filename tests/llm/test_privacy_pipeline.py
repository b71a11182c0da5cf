"""Every planted secret and piece of personal data, in every source and field, through a full
`dvc repro` with a real LLM provider: no file the pipeline wrote (outputs, caches, rejects,
the DVC cache, file names) and no request the provider received holds any of them."""

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.dvc_repo import REPO, DvcRepo
from tests.secret_corpus import ALL

from .conftest import KEY_ENV, KEY_VALUE

ENV_NAME, ENV_VALUE = "GAME_SERVER_SECRET", "plain-looking-value-7f3a9c"
BLOCK = "\n".join([*(text for _, text, _ in ALL), f"server secret {ENV_VALUE}"])
NO_LINKS = "\n".join(line for line in BLOCK.splitlines() if "://" not in line)
ASSISTANTS = {"1180000000000000001", "1180000000000000002"}  # the sample's allowed_users
DISCORD_PEOPLE = [  # the sample server's users: ids and names that must not reach a record
    ("discord_user_id", f"11800000000000000{n:02d}") for n in (1, 2, 11, 12, 13, 14, 15)
] + [("discord_name", name) for name in ("alice_fish", "Bob the Builder", "dave99", "rin.mod")]
PLANTED = [
    *((name, value) for name, _, value in ALL),
    ("env", ENV_VALUE),
    ("home", "dana"),
    *DISCORD_PEOPLE,
]
TEXT_KEYS = {"content", "text", "message", "response", "user_query", "model_response", "output"}


def planted(value: Any, key: str = "") -> Any:
    """The JSON value with the corpus appended to every text field and added to every
    argument object (a Codex call's arguments are JSON in a string)."""
    if isinstance(value, dict):
        out = {k: planted(v, k) for k, v in value.items()}
        if key in {"arguments", "input"}:
            out["note"] = BLOCK
        if key == "" and isinstance(out.get("arguments"), str):
            try:
                arguments = json.loads(out["arguments"])
            except json.JSONDecodeError:  # a sample's deliberately broken call stays broken
                return out
            out["arguments"] = json.dumps({**arguments, "note": BLOCK})
        return out
    if isinstance(value, list):
        return [planted(v, key) for v in value]
    if isinstance(value, str) and key in TEXT_KEYS:
        return f"{value}\n{BLOCK}"
    return value


def plant_line(line: bytes) -> bytes:
    try:
        return json.dumps(planted(json.loads(line))).encode()
    except ValueError:  # the samples' deliberately bad lines (JSON, UTF-8) stay as they are
        return line


def plant_jsonl(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [plant_line(line) for line in source.read_bytes().splitlines()]
    target.write_bytes(b"\n".join(lines) + b"\n")


def plant_inputs(root: Path) -> dict[str, str]:
    """Each bundled sample with the corpus in every field, under a user's home folder name."""
    samples = REPO / "data/samples"
    for path in sorted((samples / "toollog").glob("*.jsonl")):
        plant_jsonl(path, root / "toollog" / path.name)
    for path in sorted((samples / "botlog").glob("*.jsonl")):
        plant_jsonl(path, root / "botlog" / path.name)
    for path in sorted((samples / "sessions").rglob("*.jsonl")):
        relative = path.relative_to(samples / "sessions").as_posix().replace("-ann-", "-dana-")
        plant_jsonl(path, root / "sessions" / relative)
    for path in sorted((samples / "discord").glob("*.json")):
        export = json.loads(path.read_text())
        for message in export["messages"]:
            # a reply holding a link is no training target (segment's guard): no URLs there
            block = NO_LINKS if message["author"]["id"] in ASSISTANTS else BLOCK
            message["content"] = f"{message['content']}\n{block}"
        (root / "discord").mkdir(parents=True, exist_ok=True)
        (root / "discord" / path.name).write_text(json.dumps(export))
    (root / "journals").mkdir()
    one_line = BLOCK.replace("\n", " ")
    for path in sorted((samples / "journals").glob("*.md")):
        text = path.read_text().replace("\n**Problem:**", f"\n**Problem:** {BLOCK}\n", 1)
        text = text.replace("\n- **Issue:**", f"\n- **Issue:** {one_line}", 1)
        (root / "journals" / path.name).write_text(text)
    return {
        "ingest_toollog": str(root / "toollog"),
        "ingest_botlog": str(root / "botlog"),
        "ingest_sessions": str(root / "sessions"),
        "ingest_journals": str(root / "journals"),
    }


def written_by_the_pipeline(repo: Path) -> dict[str, bytes]:
    """Every file under the repository but the project's own sources, by path."""
    own = {"stages", "schemas", "tests", "docs", "prompts", ".venv", ".git"}
    found = {}
    for path in repo.rglob("*"):
        relative = path.relative_to(repo)
        if relative.parts[0] in own or "samples" in relative.parts:
            continue
        found[relative.as_posix()] = path.read_bytes() if path.is_file() else b""
    return found


def test_no_planted_value_survives_a_full_repro(tmp_path: Path, openai_emulator) -> None:
    repo = DvcRepo.copy_of_project(tmp_path / "repo", tmp_path)
    inputs = plant_inputs(tmp_path / "home")
    params_file = repo.path / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    for section, path in inputs.items():
        params[section]["input"] = path
    # the planted sources; synthesize has no input to plant (its made-up users may be "dana")
    params["sources"] = ["toollog", "sessions", "journals", "botlog", "discord"]
    params["ingest_toollog"]["catalog"] = "data/samples/tools/none.json"
    params["collect_discord"]["exports"] = str(tmp_path / "home" / "discord")
    params["scrub"]["env"] = [*params["scrub"]["env"], ENV_NAME]
    params["llm"].update(
        provider="openai", base_url=openai_emulator.base_url, api_key_env=KEY_ENV, timeout=5
    )
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    repo.env.update({KEY_ENV: KEY_VALUE, ENV_NAME: ENV_VALUE})
    repo.dvc("repro")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "dataset with planted secrets")

    files = written_by_the_pipeline(repo.path)
    exported = files["data/export/formats/openai/train.jsonl"].decode()
    assert exported.count("[REDACTED:") > 100  # the planted records reached the export
    for source in ("toollog", "sessions", "journals", "botlog", "discord"):
        stats = json.loads(files[f"data/ingested/{source}/stats.json"] or b"{}")
        assert stats.get("conversations", 0) > 0, source
    uploads = [data for _, _, data in openai_emulator.files.values()]
    bodies = b"\n".join([*openai_emulator.bodies, *uploads])
    assert openai_emulator.counts["chat"] > 10 and b"[REDACTED:" in bodies
    # allowed_users names people in params.yaml, and so in dvc.lock: the user's own config
    config = {"params.yaml", "dvc.lock"}
    leaks = [
        (name, where)
        for name, value in PLANTED
        for where, data in [*files.items(), ("requests to the provider", bodies)]
        if (value.encode() in data or value in where)
        and not (name == "discord_user_id" and where in config)
    ]
    assert leaks == []
    shutil.rmtree(tmp_path / "home")
