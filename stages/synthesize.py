"""synthesize: generated terminal sessions, each with the session report a model should write.

Reads:  nothing but its params and the prompt prompts/session_report.md (the instructions).
Writes: data/ingested/synthesize/, where every source's output lies: conversations/ (one
        JSONL part), rejects.jsonl (an example whose report the schema refuses) and
        stats.json (examples, episodes per family, chained sessions, commands, failures).
Params: sources, synthesize.n_examples, seed, families, ansi, reasoning_language, max_chain.

Each example is a conversation: the instructions with the reasoning language as the system
(Harmony: developer) message, the transcript as the user turn, and the report, a JSON array
of one object valid against schemas/session_report.schema.json, as the assistant's answer.
The same params give the same bytes (docs/synthesize.md).
"""

import json
from pathlib import Path

import click

from schemas.reject import Reject
from stages.common.atomic import atomic_folder
from stages.common.cli import setup_logging, stage_command
from stages.common.jsonl import PART_SUFFIX, JsonlWriter
from stages.common.params import stage_params
from stages.common.rejects import RejectsWriter
from stages.common.source_folders import enabled, sources_option
from stages.common.stats import Stats
from stages.common.user_error import UserError
from stages.synthesis.families import FAMILIES
from stages.synthesis.session_builder import InvalidReport, Settings, example

SOURCE = "synthesize"


def chosen_families(names: tuple[str, ...]) -> tuple[str, ...]:
    """The families asked for, in the order given, each once; none given: every family."""
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise UserError(
            f"synthesize.families names {', '.join(unknown)}; known: {', '.join(FAMILIES)}"
        )
    return tuple(dict.fromkeys(names)) or tuple(FAMILIES)


@stage_command
@stage_params(SOURCE, top_level=("sources",), read_elsewhere=("augment",))
@click.option(
    "--n-examples",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="How many sessions to generate.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of every random choice: the same seed gives the same bytes.",
)
@click.option(
    "--families",
    multiple=True,
    help="Scenario families to draw from (repeatable); none given: all of them.",
)
@click.option(
    "--ansi",
    type=click.Choice(["keep", "strip"]),
    default="keep",
    show_default=True,
    help="keep: transcripts carry ANSI colour codes as a terminal shows them; strip: plain text.",
)
@click.option(
    "--reasoning-language",
    default="English",
    show_default=True,
    help="Written into the instructions as `reasoning language: …` (gpt-oss).",
)
@click.option(
    "--max-chain",
    type=click.IntRange(1, 3),
    default=3,
    show_default=True,
    help="Most scenario families chained in one session (1: one family a session).",
)
@click.option(
    "--out-dir",
    default=f"data/ingested/{SOURCE}",
    show_default=True,
    help="Where the conversations/ part, rejects.jsonl and stats.json go.",
)
@sources_option
def main(
    n_examples: int,
    seed: int,
    families: tuple[str, ...],
    ansi: str,
    reasoning_language: str,
    max_chain: int,
    out_dir: str,
    sources: tuple[str, ...],
) -> None:
    """Generate terminal sessions (ANSI colours, 25 scenario families) and their reports.

    Example: python -m stages.synthesize --n-examples 500 --seed 7 --ansi strip
    """
    setup_logging(SOURCE)
    out = Path(out_dir)
    names = chosen_families(families)
    settings = Settings(seed, names, ansi, reasoning_language, max_chain)  # type: ignore[arg-type]
    count = n_examples if enabled(SOURCE, sources) else 0
    stats = Stats(
        [
            "conversations",
            "episodes",
            "chained",
            "commands",
            "failed_commands",
            "key_successes",
            "blockers",
            "rejected.invalid_report",
            *(f"families.{name}" for name in names),
        ]
    )
    with (
        atomic_folder(out / "conversations") as parts,
        JsonlWriter(parts / f"{0:09d}{PART_SUFFIX}") as writer,
        RejectsWriter(out / "rejects.jsonl", stats) as rejects,
    ):
        for index in range(count):
            try:
                made = example(index, settings)
            except InvalidReport as error:
                rejects.add(
                    Reject(file=SOURCE, line=index, reason="invalid_report", message=str(error))
                )
                continue
            writer.write(made.conversation)
            steps = [step for episode in made.episodes for step in episode.steps]
            stats.add("episodes", len(made.chain))
            stats.add("chained", len(made.chain) > 1)
            stats.add("commands", len(steps))
            stats.add("failed_commands", sum(step.exit_code != 0 for step in steps))
            stats.add("key_successes", sum(len(e.successes) for e in made.episodes))
            stats.add("blockers", sum(len(e.blockers) for e in made.episodes))
            for name in made.chain:
                stats.add(f"families.{name}")
        stats.add("conversations", writer.count)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
