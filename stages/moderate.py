"""moderate: drop the conversations the moderation endpoint flags, and say why.

Reads:  conversation JSONL files or folders of parts (arguments, in order).
Writes: conversations.jsonl (the ones that pass), flagged.jsonl (each dropped conversation whole,
        with its flagged categories and scores, or the error that left it unjudged),
        stats.json (`flagged.<category>` counts), and the LLM response cache (`--cache-dir`).
Params: moderate.max_chars, moderate.ignore_categories, and the `llm` section.

Moderation fails closed: a conversation whose verdict could not be obtained is not passed on
(`unmoderated.<reason>`); its verdict is not cached, so the next run asks again.
"""

import functools
import json
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import click
import msgspec

from schemas.conversation import Conversation
from schemas.flagged import Flagged
from stages.common.cli import jobs_option, setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, records_size
from stages.common.llm import LLMSettings, LLMStats, ModerationResult, moderate_all
from stages.common.llm.llm_option import llm_option
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.record_chunks import Chunk, decode_chunk, line_chunks
from stages.common.stats import Stats
from stages.llm_tasks.moderation import CATEGORIES, conversation_texts, offline_moderator


class ModeratedChunk(NamedTuple):
    kept: bytes  # encoded lines of the conversations that pass
    n_kept: int
    flagged: bytes  # encoded Flagged lines
    n_flagged: int
    counts: dict[str, int]


def moderate_chunk(
    chunk: Chunk, llm: LLMSettings, max_chars: int, ignore: frozenset[str], cache_dir: str
) -> ModeratedChunk:
    """Moderate a chunk of conversations (in a worker when the provider is offline)."""
    encode = msgspec.json.Encoder().encode
    conversations = decode_chunk(chunk, Conversation)
    counts: Counter[str] = Counter(read=len(conversations))
    pieces = [conversation_texts(c, max_chars) for c in conversations]
    results, llm_stats = moderate_all(
        llm,
        [text for texts in pieces for text in texts],
        cache_dir=cache_dir,
        moderator=offline_moderator,
    )
    counts.update(llm_stats.counters())
    kept, flagged = bytearray(), bytearray()
    n_kept = n_flagged = start = 0
    for conversation, texts in zip(conversations, pieces, strict=True):
        outcome = verdict(conversation, results[start : start + len(texts)], ignore)
        start += len(texts)
        if outcome is None:
            kept += encode(conversation) + b"\n"
            n_kept += 1
            continue
        flagged += encode(outcome) + b"\n"
        n_flagged += 1
        if outcome.error is not None:
            counts[f"unmoderated.{outcome.error}"] += 1
            continue
        counts["flagged_total"] += 1
        for category in outcome.categories:
            counts[f"flagged.{category}"] += 1
    return ModeratedChunk(bytes(kept), n_kept, bytes(flagged), n_flagged, dict(counts))


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
@jobs_option
def main(
    inputs: tuple[str, ...],
    llm: LLMSettings,
    max_chars: int,
    ignore_categories: tuple[str, ...],
    chunk_size: int,
    cache_dir: str,
    out_dir: str,
    jobs: int,
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
    # Offline, moderation is CPU work for every core; a server's requests stay in this
    # process, where `llm.concurrency` bounds them.
    workers = jobs if llm.provider == "offline" else 1
    work = functools.partial(
        moderate_chunk, llm=llm, max_chars=max_chars, ignore=ignore, cache_dir=cache_dir
    )
    with (
        Progress("read", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "conversations.jsonl") as kept,
        JsonlWriter(out / "flagged.jsonl") as flagged,
    ):
        chunks = line_chunks(inputs, max_records=chunk_size, progress=progress)
        for result in ordered_map(work, chunks, jobs=workers):
            stats.merge(result.counts)
            kept.write_encoded(result.kept, result.n_kept)
            flagged.write_encoded(result.flagged, result.n_flagged)
        stats.add("kept", kept.count)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
