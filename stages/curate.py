"""curate: filter, de-duplicate, cut into windows that fit, cap and split every source's records.

Reads:  conversation JSONL files or folders of parts (arguments), in the order given; the
        annotations file (which records carry a hand label).
Writes: train.jsonl, validation.jsonl, dropped.jsonl (id, source, stage, reason, provenance,
        excerpt), stats.json.
Params: curate.* (filters, near_dup_threshold, max_tokens, validation_fraction, scrubbing),
        max_samples, seed, validate.max_tokens_per_example, enrich.annotations.

Two streaming passes: the first decides, per record read, whether it passes the filters,
whether it is a copy of a better-labelled record (exact or near), and which samples
(itself, or its windows) it gives; then the cap is chosen from those samples' ids. The
second re-reads the records, cuts the same windows, scrubs and writes what was kept, and
lists every drop. Memory holds a MinHash signature per record, and ids.
"""

import json
from pathlib import Path

import click

from schemas.conversation import Conversation
from schemas.reject import Dropped
from stages.annotations import load_annotations
from stages.common.cli import setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, read_all, records_size
from stages.common.params import PARAMS_META, stage_params
from stages.common.progress import Progress
from stages.common.rejects import opening
from stages.common.scrub import Scrubber
from stages.common.scrub_option import ScrubSettings, scrub_option
from stages.common.stats import Stats
from stages.curation.filters import FILTER_REASONS, Filters, drop_reason
from stages.curation.near_dup import NearDuplicates, label_rank, signature_text
from stages.curation.sampling import Stratum, in_validation, ranking
from stages.curation.tokens import conversation_tokens
from stages.curation.windows import Unfittable, window_id, windows
from stages.dedupe import dedupe_key
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


def stratum(conversation: Conversation) -> Stratum:
    return (conversation.source, conversation.labels.example_type or "unlabelled")


def default_max_tokens(ctx: click.Context) -> int:
    """validate.max_tokens_per_example, less the headroom, when curate.max_tokens is null."""
    limit = ((ctx.meta.get(PARAMS_META) or {}).get("validate") or {}).get("max_tokens_per_example")
    return (limit if isinstance(limit, int) else MAX_TOKENS_PER_EXAMPLE) - TEMPLATE_HEADROOM


def default_annotations(ctx: click.Context) -> str:
    path = ((ctx.meta.get(PARAMS_META) or {}).get("enrich") or {}).get("annotations")
    return path if isinstance(path, str) else DEFAULT_ANNOTATIONS


def excerpt(conversation: Conversation, scrubber: Scrubber) -> str:
    """The opening of the first user text (else of the first text), scrubbed before it is cut
    so that no cut secret escapes its pattern."""
    texts = [m.content for m in conversation.messages if m.content]
    users = [m.content for m in conversation.messages if m.role == "user" and m.content]
    return opening(scrubber.text((users or texts or [""])[0]) or "")


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
    decisions, samples = first_pass(
        inputs, stats, filters, budget, NearDuplicates(near_dup_threshold), set(notes), excluded
    )
    ranked = ranking(samples, seed)
    kept = set(ranked if max_samples is None else ranked[:max_samples])
    # Excerpts of dropped records get their own scrubber: `scrubbed.*` counts what was written.
    scrubber, excerpts = scrub.scrubber(), scrub.scrubber()
    with (
        Progress("pass 2 of 2", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "dropped.jsonl") as dropped,
        JsonlWriter(out / "train.jsonl") as train_out,
        JsonlWriter(out / "validation.jsonl") as validation_out,
    ):
        for upstream in read_all(dropped_upstream, Dropped):
            stats.add(f"dropped_upstream.{upstream.stage or 'unknown'}")
            dropped.write(upstream)

        def drop(record: Conversation, reason: str) -> None:
            stats.add(f"dropped.{reason}")
            dropped.write(
                Dropped(
                    id=record.id,
                    reason=reason,
                    file=record.meta.file,
                    line=record.meta.line,
                    source=record.source,
                    stage="curate",
                    excerpt=excerpt(record, excerpts),
                )
            )

        for conversation, decision in zip(
            read_all(inputs, Conversation, progress), decisions, strict=True
        ):
            if isinstance(decision, str):
                drop(conversation, decision)
                continue
            split_key = conversation.meta.original or conversation.id
            held_out = in_validation(split_key, seed, validation_fraction)
            for sample in windows(conversation, budget) if decision else [conversation]:
                if sample.id not in kept:
                    drop(sample, "over_max_samples")
                else:
                    (validation_out if held_out else train_out).write(scrubber.conversation(sample))
        stats.add("train", train_out.count)
        stats.add("validation", validation_out.count)
    stats.merge({f"scrubbed.{kind}": n for kind, n in scrubber.counts.items()})
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


def first_pass(
    inputs: tuple[str, ...],
    stats: Stats,
    filters: Filters,
    budget: int,
    copies: NearDuplicates,
    hand_labelled: set[str],
    excluded: set[str],
) -> tuple[list[str | bool], list[tuple[str, Stratum]]]:
    """Per record read: a drop reason, or whether it is cut into windows; and the samples
    (id, stratum) that the records kept give. A record the annotations exclude is dropped
    before any filter looks at it."""
    decisions: list[str | bool] = []
    candidates: dict[int, tuple[int, list[str], Stratum]] = {}  # copies index → read index, …
    with Progress("pass 1 of 2", total=records_size(inputs), unit="B") as progress:
        for conversation in read_all(inputs, Conversation, progress):
            stats.add("read")
            tokens = conversation_tokens(conversation)
            reason = (
                "excluded_by_hand"
                if conversation.id in excluded
                else drop_reason(conversation, tokens, filters)
            )
            ids = [conversation.id]
            if reason is None and tokens > budget:
                try:
                    count = len(windows(conversation, budget))
                    ids = [window_id(conversation.id, k) for k in range(count)]
                except Unfittable:
                    reason = "unfittable"
            if reason is not None:
                decisions.append(reason)
                continue
            index = copies.add(
                dedupe_key(conversation),
                signature_text(conversation),
                label_rank(conversation, conversation.id in hand_labelled),
            )
            candidates[index] = (len(decisions), ids, stratum(conversation))
            decisions.append(tokens > budget)
    for index, reason in copies.losers().items():
        decisions[candidates.pop(index)[0]] = reason
    samples = [(i, s) for _, ids, s in candidates.values() for i in ids]
    for read, ids, _ in candidates.values():
        if decisions[read] is True:
            stats.add("windowed")
            stats.add("windows", len(ids))
    return decisions, samples


if __name__ == "__main__":
    main()
