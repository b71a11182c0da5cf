"""segment: raw Discord channel history → conversations ending in an allowed assistant's reply.

Reads:  every *.jsonl under `segment.input` (RawDiscordMessage, one file per channel);
        with `refine`, the prompt prompts/segment.md.
Writes: conversations JSONL (source "discord"), a rejects JSONL (bad raw lines),
        refine_failures.jsonl (id, reason of every refinement reply that could not be used),
        dropped.jsonl (every candidate a guard or a refinement verdict left out: curate lists
        them beside its own drops), stats (candidates, how many each guard rejected,
        refinement outcomes), and the LLM response cache (`--llm-cache-dir`, a persistent DVC
        output).
Params: segment.input, assistant_custom_emojis, max_gap_minutes, context_messages, refine;
        allowed_users (top level, as stand-ins with scrub.pii); the `llm` section.

Each channel file's segmentation is cached under the hash of its content and of the
params, so an unchanged channel is not segmented again (stages/common/filecache.py).

With `refine`, every candidate that passed the guards also goes to the `segment` LLM task
(is it one coherent exchange, which reply is the target, which turns are cross-talk) and the
verdict is applied (stages/discord/refine.py), one round of requests per channel file. A
candidate whose reply is unusable is kept as the segmenter cut it and listed in
refine_failures.jsonl; the reply is not cached, so the next run asks again.
"""

import json
import logging
from pathlib import Path

import click

from stages.common.cli import setup_logging, stage_command, strict_option
from stages.common.filecache import FileCache
from stages.common.input_paths import input_files, provenance_path
from stages.common.jsonl import JsonlWriter
from stages.common.llm import LLMSettings, LLMStats
from stages.common.llm.llm_option import llm_option
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.rejects import RejectsWriter
from stages.common.scrub_option import ScrubSettings, scrub_option
from stages.common.stats import Stats
from stages.discord import refine as refinement
from stages.discord.candidates import GUARDS, SegmentParams
from stages.discord.channel_segments import (
    COUNT_KEYS,
    REFINE_FAILURES,
    REJECT_REASONS,
    Task,
    cached_result,
    refine_file,
)

log = logging.getLogger("logtune")


@stage_command
@stage_params("segment", top_level=("allowed_users",))
@llm_option
@click.option(
    "--input",
    default="data/discord/collected/channels",
    show_default=True,
    help="A raw channel JSONL file, or a folder of them (collect_discord's output).",
)
@click.option(
    "--allowed-users",
    multiple=True,
    help="A user id that may be the assistant (repeatable); nobody else is.",
)
@click.option(
    "--assistant-custom-emojis",
    multiple=True,
    help="A custom emoji the assistant may use, as name:id, name or id (repeatable).",
)
@click.option(
    "--max-gap-minutes",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Context before a reply stops at a silence longer than this.",
)
@click.option(
    "--context-messages",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="At most this many messages of context before each target reply.",
)
@click.option(
    "--refine/--no-refine",
    default=False,
    show_default=True,
    help="Ask the LLM (the `llm` params) whether each candidate is one coherent "
    "exchange, which reply is its target and which turns are cross-talk.",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Reuse the segmentation of channel files already seen with the same params.",
)
@click.option(
    "--cache-dir",
    default="data/cache/segment",
    show_default=True,
    help="Where per-channel results are kept (not a DVC output).",
)
@click.option(
    "--llm-cache-dir",
    default="data/llm_cache/segment",
    show_default=True,
    help="The LLM response cache of refinement (a persistent DVC output).",
)
@click.option(
    "--out-dir",
    default="data/discord/segmented",
    show_default=True,
    help="Where conversations.jsonl, rejects.jsonl, refine_failures.jsonl, dropped.jsonl and "
    "stats.json go.",
)
@strict_option
@scrub_option
def main(
    input: str,
    llm: LLMSettings,
    allowed_users: tuple[str, ...],
    assistant_custom_emojis: tuple[str, ...],
    max_gap_minutes: float,
    context_messages: int,
    refine: bool,
    cache: bool,
    cache_dir: str,
    llm_cache_dir: str,
    out_dir: str,
    strict: bool,
    scrub: ScrubSettings,
) -> None:
    """Split Discord channel history into conversations that end in an allowed user's reply.

    Example: python -m stages.segment --allowed-users 1100000000000000001
    --assistant-custom-emojis blobwave:1200000000000000001 --max-gap-minutes 20 --refine
    --llm provider=openai
    """
    setup_logging("segment")
    out = Path(out_dir)
    params = SegmentParams(
        allowed_users=scrub.user_ids(allowed_users),  # as collect_discord wrote them
        assistant_custom_emojis=tuple(sorted({str(e) for e in assistant_custom_emojis})),
        max_gap_minutes=max_gap_minutes,
        context_messages=context_messages,
    )
    if not params.allowed_users:
        log.warning("allowed_users is empty: no message can be a target reply")
    files = input_files(input, allow_empty=True)  # no channel and no export: nothing to do
    Path(llm_cache_dir).mkdir(parents=True, exist_ok=True)
    stats = Stats(
        [
            *COUNT_KEYS,
            *(f"guard_rejected.{g}" for g in GUARDS),
            *(f"rejected.{r}" for r in REJECT_REASONS),
            *(f"refine.{o}" for o in (*refinement.OUTCOMES, "turns_left_out")),
            *(f"refine_dropped.{r}" for r in refinement.DROP_REASONS),
            *(f"refine_failed.{r}" for r in REFINE_FAILURES),
            *LLMStats().counters(),
        ]
    )
    store = FileCache(cache_dir) if cache else None
    from_cache = 0
    llm_stats = LLMStats()
    with (
        JsonlWriter(out / "conversations.jsonl") as writer,
        JsonlWriter(out / "refine_failures.jsonl") as failures,
        JsonlWriter(out / "dropped.jsonl") as dropped,
        RejectsWriter(out / "rejects.jsonl", stats, strict=strict) as rejects,
        Progress("channels", total=len(files), unit="channels") as progress,
    ):
        for path in files:
            progress.update()
            result, hit = cached_result(Task(path, provenance_path(path, input), params), store)
            from_cache += hit
            stats.merge({k: n for k, n in result.counts.items() if k != "conversations"})
            for reject in result.rejects:
                rejects.add(reject)
            dropped.write_all(result.dropped)
            if not refine:
                writer.write_encoded(result.lines, result.count)
                continue
            refined = refine_file(result, llm, llm_cache_dir, llm_stats)
            writer.write_all(refined.conversations)
            failures.write_all(refined.failures)
            dropped.write_all(refined.dropped)
            stats.merge(refined.counts)
        stats.add("conversations", writer.count)
    if store is not None:
        store.save()
    stats.add("channels", len(files))
    stats.merge(llm_stats.counters())
    log.info("segmented %d channel files, %d from cache", len(files) - from_cache, from_cache)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
