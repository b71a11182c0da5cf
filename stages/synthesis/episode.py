"""What one scenario family returns: the commands it ran and what the report says of them.

The report's rules hold per episode: a success names in backticks only commands whose last
run passed, a blocker only what a failed command printed, and every figure it gives is in
the transcript.
"""

from collections.abc import Callable
from random import Random
from typing import NamedTuple

from schemas.session_report import Blocker, KeySuccess
from stages.synthesis.scenario_details import World
from stages.synthesis.terminal import Step


class Episode(NamedTuple):
    steps: list[Step]
    summary: str  # one or two sentences; the session's summary joins its episodes'
    successes: list[KeySuccess]
    blockers: list[Blocker]
    resources: list[str]


Family = Callable[[Random, World], Episode]


def code(text: str) -> str:
    return f"`{text}`"


def success(desc: str, commands: list[str], context: str, evidence: str = "") -> KeySuccess:
    """A success proven by `commands` (each passed on its last run) and the output it cites."""
    cited = ", ".join(code(c) for c in commands)
    return KeySuccess(
        desc=desc,
        specifics=f"{cited}: {evidence}" if evidence else cited,
        adjacent_context=context,
    )


def blocker(desc: str, impact: str, owner: str, resolution: str) -> Blocker:
    return Blocker(desc=desc, impact=impact, owner_hint=owner, resolution_hint=resolution)
