"""moderate: drop the conversations the moderation endpoint flags, and say why.

Reads:  conversation JSONL files or folders of parts (arguments, in order).
Writes: conversations.jsonl (the ones that pass), flagged.jsonl (each dropped conversation whole,
        with its flagged categories and scores, or the error that left it unjudged),
        stats.json (`flagged.<category>` counts), and the LLM response cache (`--cache-dir`).
Params: moderate.max_chars, moderate.ignore_categories, and the `llm` section.

Moderation fails closed: a conversation whose verdict could not be obtained is not passed on
(`unmoderated.<reason>`); its verdict is not cached, so the next run asks again.
"""

import json
from pathlib import Path

import click

from schemas.conversation import Conversation
from schemas.flagged import Flagged
from stages.common.cli import setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, batches, read_all, records_size
from stages.common.llm import LLMSettings, LLMStats, ModerationResult, moderate_all
from stages.common.llm.llm_option import llm_option
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.stats import Stats
from stages.llm_tasks.moderation import CATEGORIES, conversation_texts, offline_moderator


def verdict(
    conversation: Conversation, results: list[ModerationResult], ignore: frozenset[str]
) -> Flagged | None:
    """None to keep; else why the conversation is set aside."""
    error = next((r.error for r in results if not r.ok), None)
    if error is not None:
        return Flagged(id=conversation.id, categories=[], error=error, conversation=conversation)
    scores: dict[str, float] = {}
    for result in results:
        for category, score in result.scores.items():
            scores[category] = max(score, scores.get(category, 0.0))
    flagged = sorted({c for r in results if r.flagged for c in r.categories} - ignore)
    if not flagged:
        return None
    kept = {c: scores[c] for c in flagged if c in scores}
    return Flagged(id=conversation.id, categories=flagged, scores=kept, conversation=conversation)


@stage_command
@stage_params("moderate")
@llm_option
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--max-chars",
    type=click.IntRange(min=100),
    default=8000,
    show_default=True,
    help="Longest piece of text per moderation input; longer conversations are cut in pieces.",
)
@click.option(
    "--ignore-categories",
    multiple=True,
    help="Flagged categories that do not drop a conversation, e.g. violence for a combat game.",
)
@click.option("--chunk-size", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--cache-dir", default="data/llm_cache/moderate", show_default=True)
@click.option("--out-dir", default="data/moderated", show_default=True)
def main(
    inputs: tuple[str, ...],
    llm: LLMSettings,
    max_chars: int,
    ignore_categories: tuple[str, ...],
    chunk_size: int,
    cache_dir: str,
    out_dir: str,
) -> None:
    """Moderate every conversation; pass on the clean ones, set aside the flagged ones.

    Example: python -m stages.moderate data/enriched/conversations.jsonl --max-chars 4000
    """
    setup_logging("moderate")
    out = Path(out_dir)
    ignore = frozenset(ignore_categories)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    stats = Stats(
        [
            "read",
            "kept",
            "flagged_total",
            *(f"flagged.{c}" for c in CATEGORIES),
            *LLMStats().counters(),
        ]
    )
    with (
        Progress("read", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "conversations.jsonl") as kept,
        JsonlWriter(out / "flagged.jsonl") as flagged,
    ):
        for chunk in batches(read_all(inputs, Conversation, progress), chunk_size):
            stats.add("read", len(chunk))
            pieces = [conversation_texts(c, max_chars) for c in chunk]
            results, llm_stats = moderate_all(
                llm,
                [text for texts in pieces for text in texts],
                cache_dir=cache_dir,
                moderator=offline_moderator,
            )
            stats.merge(llm_stats.counters())
            start = 0
            for conversation, texts in zip(chunk, pieces, strict=True):
                outcome = verdict(conversation, results[start : start + len(texts)], ignore)
                start += len(texts)
                if outcome is None:
                    kept.write(conversation)
                    continue
                flagged.write(outcome)
                if outcome.error is not None:
                    stats.add(f"unmoderated.{outcome.error}")
                    continue
                stats.add("flagged_total")
                for category in outcome.categories:
                    stats.add(f"flagged.{category}")
        stats.add("kept", kept.count)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
