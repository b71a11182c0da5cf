"""curate: filter, de-duplicate, cut into windows that fit, cap and split every source's records.

Reads:  conversation JSONL files or folders of parts (arguments), in the order given; the
        annotations file (which records carry a hand label).
Writes: train.jsonl, validation.jsonl, dropped.jsonl (id, source, stage, reason, provenance,
        excerpt), stats.json.
Params: curate.* (filters, near_dup_threshold, max_tokens, validation_fraction, scrubbing),
        max_samples, seed, validate.max_tokens_per_example, enrich.annotations.

Two streaming passes over chunks of records, each on all cores (`--jobs`). In the first,
workers judge each record (filters, token count, windows, MinHash signature: see
stages/curation/judging.py) and the main process feeds the candidates to `NearDuplicates`
in input order, which decides which are copies of a better-labelled record (exact or
near); then the cap is chosen from the kept samples' ids. In the second, workers cut the
same windows, scrub and encode what was kept and every drop (stages/curation/writing.py);
the main process writes them in input order. The main process holds a plan per record,
the signature of each near-duplicate group's first record, and, under a cap, sample ids.
"""

import functools
import json
import logging
import sys
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from schemas.reject import Dropped
from stages.annotations import load_annotations
from stages.common.cli import jobs_option, setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, read_all, records_size
from stages.common.parallel import ordered_map
from stages.common.params import PARAMS_META, stage_params
from stages.common.progress import Progress
from stages.common.record_chunks import Chunk, line_chunks
from stages.common.scrub_option import ScrubSettings, scrub_option
from stages.common.stats import Stats
from stages.curation.filters import FILTER_REASONS, Filters
from stages.curation.judging import Judging, judge_chunk
from stages.curation.kernel_cache import load_kernels
from stages.curation.near_dup import NearDuplicates
from stages.curation.sampling import Stratum, ranking
from stages.curation.windows import window_id
from stages.curation.writing import KEEP_WHOLE, Keep, Writing, write_chunk
from stages.formats.vocab import count_o200k
from stages.validation.openai_checks import MAX_TOKENS_PER_EXAMPLE

DROP_REASONS = (
    "excluded_by_hand",
    *FILTER_REASONS,
    "duplicate",
    "near_duplicate",
    "unfittable",
    "over_max_samples",
)
# Left below validate's limit for what the exports add: a chat template's framing, a system
# prompt (export.system_prompt).
TEMPLATE_HEADROOM = 4096
DEFAULT_ANNOTATIONS = "data/annotations.yaml"
CHUNK_RECORDS = 500  # records per worker task (fewer when they are long: record_chunks)
CHUNK_BYTES = 1 << 20  # input bytes per task: a worker holds its chunk decoded, and its output

log = logging.getLogger("logtune")


def default_max_tokens(ctx: click.Context) -> int:
    """validate.max_tokens_per_example, less the headroom, when curate.max_tokens is null."""
    limit = ((ctx.meta.get(PARAMS_META) or {}).get("validate") or {}).get("max_tokens_per_example")
    return (limit if isinstance(limit, int) else MAX_TOKENS_PER_EXAMPLE) - TEMPLATE_HEADROOM


def default_annotations(ctx: click.Context) -> str:
    path = ((ctx.meta.get(PARAMS_META) or {}).get("enrich") or {}).get("annotations")
    return path if isinstance(path, str) else DEFAULT_ANNOTATIONS


@stage_command
@stage_params("curate", top_level=("max_samples", "seed"))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--min-turns",
    type=click.IntRange(min=0),
    default=None,
    help="Drop conversations with fewer user and assistant messages.",
)
@click.option(
    "--max-turns",
    type=click.IntRange(min=0),
    default=None,
    help="Drop conversations with more user and assistant messages.",
)
@click.option(
    "--min-tokens",
    type=click.IntRange(min=0),
    default=None,
    help="Drop conversations shorter than this many tokens.",
)
@click.option(
    "--max-total-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Drop conversations longer than this many tokens instead of cutting them.",
)
@click.option(
    "--example-types",
    multiple=True,
    type=click.Choice(["direct_execution", "reasoning_chain", "negative", "code_correction"]),
    help="Keep only these example types (repeatable); none given keeps all.",
)
@click.option(
    "--min-rating",
    type=click.IntRange(1, 5),
    default=None,
    help="Drop rated conversations below this rating (1-5).",
)
@click.option(
    "--drop-unrated/--keep-unrated",
    default=False,
    show_default=True,
    help="Whether conversations with no rating are dropped.",
)
@click.option(
    "--min-quality",
    type=click.FloatRange(0, 1),
    default=None,
    help="Drop conversations whose quality_score is below this (0-1).",
)
@click.option(
    "--drop-unanswered-calls/--keep-unanswered-calls",
    default=True,
    show_default=True,
    help="Whether a tool call with no result drops its record.",
)
@click.option(
    "--near-dup-threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Shingle similarity (Jaccard) at which two records are one; null: exact only.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1024),
    default=None,
    help="Longest example in tokens; longer records are cut into windows "
    f"(default: validate.max_tokens_per_example - {TEMPLATE_HEADROOM}).",
)
@click.option(
    "--annotations",
    type=click.Path(dir_okay=False),
    default=None,
    help="Hand labels by id; their records win among duplicates (default: enrich.annotations).",
)
@click.option(
    "--validation-fraction",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of records (by original) held out for validation.",
)
@click.option(
    "--max-samples",
    type=click.IntRange(min=0),
    default=None,
    help="Keep at most this many samples, stratified (all when unset).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the deterministic choice of kept and held-out samples.",
)
@scrub_option
@click.option(
    "--dropped-upstream",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A dropped.jsonl of an earlier stage (segment's guards), listed first in this one's "
    "(repeatable).",
)
@click.option("--out-dir", default="data/curated", show_default=True)
@jobs_option
@click.pass_context
def main(
    ctx: click.Context,
    inputs: tuple[str, ...],
    min_turns: int | None,
    max_turns: int | None,
    min_tokens: int | None,
    max_total_tokens: int | None,
    example_types: tuple[str, ...],
    min_rating: int | None,
    drop_unrated: bool,
    min_quality: float | None,
    drop_unanswered_calls: bool,
    near_dup_threshold: float | None,
    max_tokens: int | None,
    annotations: str | None,
    validation_fraction: float,
    max_samples: int | None,
    seed: int,
    scrub: ScrubSettings,
    dropped_upstream: tuple[str, ...],
    out_dir: str,
    jobs: int,
) -> None:
    """Filter, drop exact and near duplicates, cut long records into windows, cap, scrub, split.

    Example: python -m stages.curate data/ingested/toollog/conversations --max-samples 25
    """
    setup_logging("curate")
    out = Path(out_dir)
    filters = Filters(
        min_turns=min_turns,
        max_turns=max_turns,
        min_tokens=min_tokens,
        max_total_tokens=max_total_tokens,
        example_types=frozenset(example_types) or None,  # type: ignore[arg-type]
        min_rating=min_rating,
        drop_unrated=drop_unrated,
        min_quality=min_quality,
        drop_unanswered_calls=drop_unanswered_calls,
    )
    notes = load_annotations(
        annotations or default_annotations(ctx), required=annotations is not None
    )
    excluded = {key for key, note in notes.items() if note.exclude}
    budget = max_tokens or default_max_tokens(ctx)
    stats = Stats(
        [
            "read",
            "windowed",
            "windows",
            *(f"dropped.{r}" for r in DROP_REASONS),
        ]
    )
    judging = Judging(filters, budget, near_dup_threshold, frozenset(notes), frozenset(excluded))
    # Loaded before the workers fork, which share them instead of each loading its own: the
    # tokenizer, and the compiled kernels (stages/curation/kernel_cache.py).
    count_o200k("")
    load_kernels()
    plans = first_pass(inputs, stats, judging, max_samples, seed, jobs)
    scrub.scrubber()  # its rules compiled before the workers fork, for the same reason
    work = functools.partial(write_chunk, writing=Writing(budget, seed, validation_fraction, scrub))
    with (
        Progress("pass 2 of 2", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "dropped.jsonl") as dropped,
        JsonlWriter(out / "train.jsonl") as train_out,
        JsonlWriter(out / "validation.jsonl") as validation_out,
    ):
        for upstream in read_all(dropped_upstream, Dropped):
            stats.add(f"dropped_upstream.{upstream.stage or 'unknown'}")
            dropped.write(upstream)
        chunks = line_chunks(
            inputs, max_records=CHUNK_RECORDS, max_bytes=CHUNK_BYTES, progress=progress
        )
        for written in ordered_map(work, with_plans(chunks, plans), jobs=jobs):
            train_out.write_encoded(*written.train)
            validation_out.write_encoded(*written.validation)
            dropped.write_encoded(*written.dropped)
            stats.merge(written.counts)
        stats.add("train", train_out.count)
        stats.add("validation", validation_out.count)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


def sample_ids(record_id: str, windows: int) -> list[str]:
    """The samples a kept record gives: itself, or its windows."""
    return [window_id(record_id, k) for k in range(windows)] if windows else [record_id]


def first_pass(
    inputs: tuple[str, ...],
    stats: Stats,
    judging: Judging,
    max_samples: int | None,
    seed: int,
    jobs: int,
) -> list[str | Keep]:
    """Per record read, its plan: a drop reason, or what of it is kept."""
    # The workers keep every core busy: more threads of lookups would spin against them.
    copies = NearDuplicates(judging.threshold, threads=1 if jobs > 1 else None)
    plans: list[str | Keep] = []
    reads = array("q")  # copies index → read index
    windows = array("q")  # copies index → windows it is cut into (0: none)
    offered: list[tuple[str, Stratum]] = []  # copies index → (id, stratum), under a cap
    strata: dict[Stratum, Stratum] = {}  # one tuple per stratum, not one per record
    work = functools.partial(judge_chunk, judging=judging)
    with Progress("pass 1 of 2", total=records_size(inputs), unit="B") as progress:
        chunks = line_chunks(
            inputs, max_records=CHUNK_RECORDS, max_bytes=CHUNK_BYTES, progress=progress
        )
        for judged in ordered_map(work, chunks, jobs=jobs):
            stats.add("read", len(judged.verdicts))
            copies.add_fingerprints(
                judged.fingerprints,
                [verdict.rank for verdict in judged.verdicts if not isinstance(verdict, str)],
            )
            for verdict in judged.verdicts:
                if isinstance(verdict, str):
                    plans.append(sys.intern(verdict))
                    continue
                reads.append(len(plans))
                windows.append(verdict.windows)
                if max_samples is not None:
                    offered.append(
                        (verdict.id, strata.setdefault(verdict.stratum, verdict.stratum))
                    )
                plans.append(Keep(verdict.costs) if verdict.costs is not None else KEEP_WHOLE)
    log.info(
        "near-duplicates: %d records looked up among %d groups' first records, %d candidates",
        len(reads),
        copies.signatures_kept,
        copies.candidates,
    )
    for index, reason in copies.losers().items():
        plans[reads[index]] = reason
    kept = array("q", (i for i, read in enumerate(reads) if not isinstance(plans[read], str)))
    for index in kept:
        if windows[index]:
            stats.add("windowed")
            stats.add("windows", windows[index])
    if max_samples is not None:
        cap(plans, [(reads[i], windows[i], *offered[i]) for i in kept], max_samples, seed)
    return plans


def cap(
    plans: list[str | Keep],
    kept: list[tuple[int, int, str, Stratum]],
    max_samples: int,
    seed: int,
) -> None:
    """Mark the samples past the first `max_samples` of the ranking in the plans of the
    records (read index, windows, id, stratum) that give them."""
    ranked = ranking(((i, s) for _, n, rid, s in kept for i in sample_ids(rid, n)), seed)
    within = set(ranked[:max_samples])
    for read, n, record_id, _ in kept:
        over = frozenset(k for k, i in enumerate(sample_ids(record_id, n)) if i not in within)
        plan = plans[read]
        if over and isinstance(plan, Keep):
            plans[read] = plan._replace(over_cap=over)


def with_plans(
    chunks: Iterable[Chunk], plans: list[str | Keep]
) -> Iterator[tuple[Chunk, list[str | Keep]]]:
    """Each chunk with the plans of its records (the chunks of the first pass, cut again)."""
    start = 0
    for chunk in chunks:
        yield chunk, plans[start : start + chunk.records]
        start += chunk.records


if __name__ == "__main__":
    main()
