"""One synthetic example: a chain of episodes rendered as one terminal session, and its report.

Example `index` of seed `seed` is drawn from its own `random.Random`, seeded with both, so
an example does not depend on how many others are made: 30 examples are the first 30 of
500. The first family of example `index` is `families[index % len(families)]`, so a run of
at least as many examples as families shows every family; the others in its chain are
drawn.
"""

import json
from functools import cache
from pathlib import Path
from random import Random
from typing import Literal, NamedTuple

import jsonschema
import msgspec

from schemas.conversation import Conversation, Labels, Message, Meta
from schemas.session_report import SessionReport
from stages.common.hashing import messages_id
from stages.synthesis.episode import Episode
from stages.synthesis.families import FAMILIES, LAST_IN_CHAIN
from stages.synthesis.idle_commands import idle_steps
from stages.synthesis.scenario_details import new_world
from stages.synthesis.terminal import PROMPT_STYLES, Step, render, strip_ansi

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "session_report.schema.json"
INSTRUCTIONS_FILE = REPO / "prompts" / "session_report.md"
CHAIN_WEIGHTS = (6, 3, 1)  # how often a session holds one, two or three episodes
USER_LEAD = "Terminal transcript:\n"
Ansi = Literal["keep", "strip"]


class Settings(NamedTuple):
    seed: int
    families: tuple[str, ...]
    ansi: Ansi
    reasoning_language: str
    max_chain: int


class Example(NamedTuple):
    conversation: Conversation
    chain: list[str]
    episodes: list[Episode]


class InvalidReport(Exception):
    """A report the schema refuses: a bug of a family, reported as a reject."""


@cache
def task_instructions() -> str:
    return INSTRUCTIONS_FILE.read_text(encoding="utf-8").strip()


@cache
def report_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def instructions(reasoning_language: str) -> str:
    """The developer message: the reasoning language gpt-oss reads, then the task."""
    return f"reasoning language: {reasoning_language}\n\n{task_instructions()}"


def chain_for(index: int, rng: Random, settings: Settings) -> list[str]:
    families = settings.families
    first = families[index % len(families)]
    size = rng.choices((1, 2, 3), weights=CHAIN_WEIGHTS)[0]
    size = min(size, settings.max_chain, len(families))
    others = rng.sample([f for f in families if f != first], size - 1)
    return sorted([first, *others], key=lambda name: name in LAST_IN_CHAIN)


def report_of(episodes: list[Episode]) -> SessionReport:
    resources = list(dict.fromkeys(r for e in episodes for r in e.resources))
    return SessionReport(
        summary=" ".join(e.summary for e in episodes),
        key_successes=[s for e in episodes for s in e.successes],
        blockers=[b for e in episodes for b in e.blockers],
        resources=resources,
    )


def report_json(report: SessionReport) -> str:
    value = [msgspec.to_builtins(report)]
    error = next(iter(report_validator().iter_errors(value)), None)
    if error is not None:
        raise InvalidReport(f"{'/'.join(map(str, error.absolute_path))}: {error.message}")
    return json.dumps(value, indent=2, ensure_ascii=False)


def example(index: int, settings: Settings) -> Example:
    """Example `index`: its session, its report, and the record that carries both."""
    rng = Random(f"logtune-synthesize:{settings.seed}:{index}")
    world = new_world(rng)
    chain = chain_for(index, rng, settings)
    episodes = [FAMILIES[name](rng, world) for name in chain]
    steps: list[Step] = []
    used: set[str] = set()
    for episode in episodes:
        first = episode.steps[0]
        steps += [*idle_steps(rng, world, first.cwd, first.branch, used), *episode.steps]
    style = rng.choice(PROMPT_STYLES)
    transcript = render(steps, style, world.user, world.host)
    if settings.ansi == "strip":
        transcript = strip_ansi(transcript)
    messages = [
        Message(role="system", content=instructions(settings.reasoning_language)),
        Message(role="user", content=USER_LEAD + transcript),
        Message(role="assistant", content=report_json(report_of(episodes))),
    ]
    conversation = Conversation(
        id=messages_id(messages),
        source="synthesize",
        messages=messages,
        labels=Labels(
            example_type="direct_execution",
            tags=sorted({"session_report", *(f"scenario:{name}" for name in chain)}),
        ),
        meta=Meta(synthetic="scenario", session_id=f"synthesize:{settings.seed}:{index}"),
    )
    return Example(conversation, chain, episodes)
