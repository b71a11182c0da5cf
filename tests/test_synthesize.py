"""synthesize: every family's sessions are valid, varied, and their reports cite only what the
transcript shows; one seed gives one set of bytes; Harmony carries them as gpt-oss reads them.

The check reads each transcript back as a person would: prompts, commands, output, and the
exit status the next prompt shows. It knows nothing of how the families built it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import msgspec
import openai_harmony as oh
import pytest

from schemas.conversation import Conversation
from stages import synthesize
from stages.common.scrub import Scrubber
from stages.curation.near_dup import NearDuplicates, signature_text
from stages.dedupe import dedupe_key
from stages.formats.axolotl import to_alpaca
from stages.formats.harmony import encoding, to_harmony
from stages.synthesis.families import FAMILIES
from stages.synthesis.session_builder import Settings, example
from tests.conftest import read_jsonl

SCHEMA = jsonschema.Draft202012Validator(
    json.loads(Path("schemas/session_report.schema.json").read_text())
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# user@host:dir (branch) $ command, after the status of the command before when it failed
PROMPT = re.compile(
    r"^(?:(?:✘ (\d+)|\[(\d+)\]|\[exit (\d+)\]) )?"
    r"[\w-]+@[\w-]+:\S+(?: \(\S+\))? [$\u276f%](?: (.*))?$"
)
SPAN = re.compile(r"`([^`]+)`")
FIGURE = re.compile(r"[\w.:/%+=-]*\d[\w.:/%+=-]*")  # a word holding a digit: 1.4.2, 3m12s, web-2
SAMPLES_PER_FAMILY = 300


class Block(NamedTuple):
    command: str
    text: str  # the command and its output
    status: int


def read_transcript(text: str) -> list[Block]:
    """The commands of a transcript with their output and exit status (from the next prompt)."""
    blocks: list[list[Any]] = []
    lines = text.splitlines()
    assert PROMPT.match(lines[0]), f"a transcript starts at a prompt: {lines[0]!r}"
    for line in lines:
        match = PROMPT.match(line)
        if match is None:
            blocks[-1][1].append(line)
            continue
        status = int(next((g for g in match.groups()[:3] if g), 0))
        if blocks:
            blocks[-1][2] = status
        if match[4] is not None:
            blocks.append([match[4], [match[4]], None])
    assert blocks and blocks[-1][2] is not None, "the transcript ends at a prompt"
    return [Block(command, "\n".join(text), status) for command, text, status in blocks]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [text for item in items for text in strings(item)]


def problems(conversation: Conversation) -> list[str]:
    """What a careful reader finds wrong with an example; nothing for a good one."""
    system, user, assistant = conversation.messages
    found = []
    transcript = ANSI.sub("", user.content.removeprefix("Terminal transcript:\n"))
    blocks = read_transcript(transcript)
    last = {b.command: b.status for b in blocks}  # each command's last run
    report = json.loads(assistant.content)
    errors = [f"schema: {e.message}" for e in SCHEMA.iter_errors(report)]
    if errors:
        return errors
    (entry,) = report
    for success in entry["key_successes"]:
        cited = SPAN.findall(success["specifics"])
        if not cited:
            found.append(f"success cites no command: {success['desc']}")
        for command in cited:
            if last.get(command) != 0:
                found.append(f"success cites {command!r}, last run status {last.get(command)}")
        for field in ("desc", "adjacent_context"):
            found += [
                f"success cites {s!r}, not in transcript"
                for s in SPAN.findall(success[field])
                if s not in transcript
            ]
    for blocker in entry["blockers"]:
        cited = SPAN.findall(blocker["desc"])
        if not cited:
            found.append(f"blocker names nothing in backticks: {blocker['desc']}")
        for span in cited:
            if not any(span in b.text for b in blocks if b.status != 0):
                found.append(f"blocker cites {span!r}, in no failed command's block")
            if span in last and last[span] == 0:
                found.append(f"blocker cites {span!r}, which passed on its last run")
    # Every command failing at the end is a blocker, or a failure the session got past that a
    # success names beside it.
    named = " ".join(b["desc"] for b in entry["blockers"])
    named += " ".join(s["adjacent_context"] for s in entry["key_successes"])
    for command, status in last.items():
        if status != 0 and f"`{command}`" not in named:
            found.append(f"{command!r} still fails at the end and the report does not say so")
    found += [
        f"summary cites {s!r}, not in transcript"
        for s in SPAN.findall(entry["summary"])
        if s not in transcript
    ]
    for text in strings(entry):
        for figure in (f.rstrip(".:/=-") for f in FIGURE.findall(text)):
            if not re.search(rf"(?<!\w)(?<!\d\.){re.escape(figure)}(?!\w)", transcript):
                found.append(f"the report gives {figure}, which the transcript does not show")
    if "reasoning language: English" not in system.content:
        found.append("no reasoning language in the instructions")
    return found


def examples(family: str | None, n: int, seed: int = 1, max_chain: int = 1) -> list[Conversation]:
    families = (family,) if family else tuple(FAMILIES)
    settings = Settings(seed, families, "keep", "English", max_chain)
    return [example(i, settings).conversation for i in range(n)]


def test_at_least_25_families() -> None:
    assert len(FAMILIES) >= 25


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_gives_valid_varied_grounded_examples(family: str) -> None:
    made = examples(family, SAMPLES_PER_FAMILY)
    for conversation in made:
        assert problems(conversation) == [], conversation.messages[1].content
    transcripts = {c.messages[1].content for c in made}
    reports = {c.messages[2].content for c in made}
    assert len(transcripts) == len(made) and len(reports) >= 0.95 * len(made)
    assert all(c.labels.tags == ["scenario:" + family, "session_report"] for c in made)


def test_chained_sessions_are_grounded_too() -> None:
    made = examples(None, 600, seed=5, max_chain=3)
    chains = [len([t for t in c.labels.tags if t.startswith("scenario:")]) for c in made]
    assert {1, 2, 3} <= set(chains)
    scrubber = Scrubber()
    for conversation in made:
        assert problems(conversation) == [], conversation.messages[1].content
        # nothing looks like a secret, an e-mail or an IP address: curate changes no byte
        line = msgspec.json.encode(conversation)
        assert scrubber.line(line) == line
    assert not scrubber.counts


def test_the_check_finds_false_reports() -> None:
    """A success for a failed command, a blocker for a passed one, an invented figure: each is
    found, so the grounded examples above are grounded for a reason."""
    settings = Settings(3, ("npm_audit",), "keep", "English", 1)
    conversation = next(
        c
        for c in (example(i, settings).conversation for i in range(50))
        if '"blockers": []' not in c.messages[2].content
    )
    report = json.loads(conversation.messages[2].content)

    def with_report(entry: dict[str, Any]) -> Conversation:
        answer = msgspec.structs.replace(conversation.messages[2], content=json.dumps([entry]))
        return msgspec.structs.replace(conversation, messages=[*conversation.messages[:2], answer])

    entry = report[0]
    failed_success = {"desc": "Audit clean", "specifics": "`npm audit`", "adjacent_context": "ok"}
    passed_blocker = {**entry["blockers"][0], "desc": "`npm ci` failed"}
    invented = {**entry, "summary": entry["summary"] + " It took 987654 seconds."}
    assert problems(with_report(entry)) == []
    assert (
        "last run status 1"
        in problems(with_report({**entry, "key_successes": [failed_success]}))[0]
    )
    assert (
        "in no failed command's block"
        in problems(with_report({**entry, "blockers": [passed_blocker]}))[0]
    )
    assert problems(with_report(invented)) == [
        "the report gives 987654, which the transcript does not show"
    ]


def near_duplicates(made: list[Conversation]) -> int:
    """How many of `made` curate's default near-duplicate rule would drop."""
    copies = NearDuplicates(0.8)
    for conversation in made:
        copies.add(dedupe_key(conversation), signature_text(conversation), 0)
    return len(copies.losers())


def test_sessions_differ_beyond_the_near_duplicate_threshold() -> None:
    """curate keeps nearly every session of a mixed run, and most of a run of one family,
    though all share one long system prompt."""
    assert near_duplicates(examples(None, 300, max_chain=3)) <= 6
    for family in sorted(FAMILIES):
        assert near_duplicates(examples(family, 60)) <= 12, family


def test_same_seed_same_bytes_other_seed_other_sessions(run, workdir: Path) -> None:
    def generate(out: str, *args: str) -> bytes:
        run(synthesize.main, "--n-examples", "40", "--out-dir", out, *args)
        return (workdir / out / "conversations/000000000.jsonl").read_bytes()

    first, again = generate("a", "--seed", "4"), generate("b", "--seed", "4")
    other = generate("c", "--seed", "5")
    assert first == again and first != other
    assert (workdir / "a/stats.json").read_bytes() == (workdir / "b/stats.json").read_bytes()
    shorter = generate("d", "--seed", "4", "--n-examples", "10")
    assert first.startswith(shorter)  # example i does not depend on how many are made
    stats = json.loads((workdir / "a/stats.json").read_text())
    assert stats["conversations"] == 40 and stats["rejected"] == {"invalid_report": 0}
    assert sum(stats["families"].values()) == stats["episodes"] > 40 and stats["chained"] > 0


def test_ansi_strip_gives_the_same_session_in_plain_text(run, workdir: Path) -> None:
    run(synthesize.main, "--n-examples", "25", "--out-dir", "keep")
    run(synthesize.main, "--n-examples", "25", "--out-dir", "strip", "--ansi", "strip")
    kept = read_jsonl(workdir / "keep/conversations")
    plain = read_jsonl(workdir / "strip/conversations")
    assert all("\x1b[" in k["messages"][1]["content"] for k in kept)
    for k, p in zip(kept, plain, strict=True):
        assert "\x1b" not in p["messages"][1]["content"]
        assert ANSI.sub("", k["messages"][1]["content"]) == p["messages"][1]["content"]
        assert k["messages"][2] == p["messages"][2]


def test_families_param_and_unknown_family(run, workdir: Path) -> None:
    run(
        synthesize.main,
        "--n-examples",
        "6",
        "--families",
        "npm_audit",
        "--families",
        "terraform_plan",
        "--max-chain",
        "1",
    )
    records = read_jsonl(workdir / "data/ingested/synthesize/conversations")
    assert [r["labels"]["tags"][0] for r in records] == [
        "scenario:npm_audit",
        "scenario:terraform_plan",
    ] * 3
    result = run(synthesize.main, "--families", "pytest", exit_code=1)
    assert "synthesize.families names pytest; known: pytest_failures," in result.output


def test_left_out_of_sources_writes_empty_outputs(run, workdir: Path) -> None:
    run(synthesize.main, "--sources", "toollog")
    out = workdir / "data/ingested/synthesize"
    assert read_jsonl(out / "conversations") == []
    assert json.loads((out / "stats.json").read_text())["conversations"] == 0


def test_harmony_carries_instructions_transcript_and_report() -> None:
    conversation = examples("docker_build_failure", 1)[0]
    system, user, assistant = conversation.messages
    (line,) = to_harmony(conversation)
    tokens = encoding().encode(line.text, allowed_special="all")
    parsed = encoding().parse_messages_from_completion_tokens(tokens)
    assert [m.author.role for m in parsed] == [
        oh.Role.SYSTEM,
        oh.Role.DEVELOPER,
        oh.Role.USER,
        oh.Role.ASSISTANT,
    ]
    developer = parsed[1].content[0].text
    assert developer.startswith(
        "# Instructions\n\nreasoning language: English\n\nYou read a developer's terminal"
    )
    assert parsed[2].content[0].text == user.content and "\x1b[" in user.content
    assert parsed[3].channel == "final"
    report = json.loads(parsed[3].content[0].text)
    SCHEMA.validate(report)
    assert report == json.loads(assistant.content)
    (row,) = to_alpaca(conversation)
    assert (row.system, row.instruction, row.output) == (
        system.content,
        user.content,
        assistant.content,
    )


def test_a_report_the_schema_refuses_is_a_reject(run, workdir: Path, monkeypatch) -> None:
    family = FAMILIES["cicd_success"]

    def unsummarised(rng: Any, world: Any) -> Any:
        return family(rng, world)._replace(summary="")

    monkeypatch.setitem(FAMILIES, "cicd_success", unsummarised)
    args = ("--families", "cicd_success", "--families", "npm_audit", "--max-chain", "1")
    run(synthesize.main, "--n-examples", "3", *args)
    out = workdir / "data/ingested/synthesize"
    rejects = read_jsonl(out / "rejects.jsonl")
    assert [(r["reason"], r["line"]) for r in rejects] == [
        ("invalid_report", 0),
        ("invalid_report", 2),
    ]
    assert rejects[0]["message"] == "0/summary: '' should be non-empty"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["conversations"] == 1 and stats["rejected"]["invalid_report"] == 2


def test_same_bytes_whatever_the_hash_seed_of_the_process(tmp_path: Path) -> None:
    """No set or dict order leaks into the output: two processes with other string hashes."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        command = [sys.executable, "-m", "stages.synthesize", "--n-examples", "60"]
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([*command, "--out-dir", str(out)], check=True, env=env, capture_output=True)
        outputs.append((out / "conversations/000000000.jsonl").read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 60
