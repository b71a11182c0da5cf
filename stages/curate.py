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

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import click
import msgspec
from rensa import RMinHash

from schemas.conversation import Conversation
from schemas.reject import Dropped
from stages.annotations import load_annotations
from stages.common.cli import jobs_option, setup_logging, stage_command
from stages.common.envname import EnvName
from stages.common.jsonl import JsonlWriter, records_size
from stages.common.parallel import ordered_map
from stages.common.params import PARAMS_META, stage_params
from stages.common.progress import Progress
from stages.common.record_chunks import Chunk, decode_chunk, line_chunks
from stages.common.scrub import KINDS, Scrubber, environment_secrets
from stages.common.stats import Stats
from stages.curation.filters import FILTER_REASONS, Filters, drop_reason
from stages.curation.near_dup import NearDuplicates, label_rank, minhash, signature_text
from stages.curation.sampling import Stratum, in_validation, ranking
from stages.curation.tokens import conversation_tokens
from stages.curation.windows import Unfittable, window_id, windows
from stages.dedupe import dedupe_key
from stages.formats.vocab import o200k
from stages.validation.openai_checks import MAX_TOKENS_PER_EXAMPLE

DROP_REASONS = (*FILTER_REASONS, "duplicate", "near_duplicate", "unfittable", "over_max_samples")
# Left below validate's limit for what the exports add: a chat template's framing, a system
# prompt (export.system_prompt).
TEMPLATE_HEADROOM = 4096
EXCERPT_CHARS = 160
CHUNK_RECORDS = 500  # records per worker task (fewer when they are long: record_chunks)
DEFAULT_ANNOTATIONS = "data/annotations.yaml"
_space = re.compile(r"\s+")


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
    text = scrubber.text((users or texts or [""])[0]) or ""
    return _space.sub(" ", text).strip()[:EXCERPT_CHARS]


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
@click.option(
    "--scrub-secrets/--keep-secrets",
    default=True,
    show_default=True,
    help="Replace credentials (API keys, tokens, private keys, passwords) with [REDACTED:kind].",
)
@click.option(
    "--scrub-pii/--keep-pii",
    default=True,
    show_default=True,
    help="Replace e-mail addresses and IP addresses with [REDACTED:kind].",
)
@click.option(
    "--secret-env",
    multiple=True,
    type=EnvName("curate.secret_env", "OPENAI_API_KEY"),
    default=["DISCORD_API_TOKEN", "OPENAI_API_KEY"],
    show_default=True,
    help="Environment variables whose values are replaced wherever they appear (repeatable).",
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
    scrub_secrets: bool,
    scrub_pii: bool,
    secret_env: tuple[str, ...],
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
    hand_labelled = set(
        load_annotations(annotations or default_annotations(ctx), required=annotations is not None)
    )
    budget = max_tokens or default_max_tokens(ctx)
    stats = Stats(
        [
            "read",
            "windowed",
            "windows",
            *(f"dropped.{r}" for r in DROP_REASONS),
            *(f"scrubbed.{k}" for k in KINDS),
        ]
    )
    o200k()  # loaded before the workers fork: they share its tables instead of building their own
    decisions, samples_of = first_pass(
        inputs, stats, filters, budget, near_dup_threshold, hand_labelled, jobs
    )
    ranked = ranking(((i, stratum) for ids, stratum in samples_of.values() for i in ids), seed)
    kept = set(ranked if max_samples is None else ranked[:max_samples])
    del ranked
    scrubbing = Scrubbing(scrub_secrets, scrub_pii, tuple(environment_secrets(secret_env)))
    work = functools.partial(
        second_look, budget=budget, seed=seed, fraction=validation_fraction, scrubbing=scrubbing
    )

    def tasks(chunks: Iterable[Chunk]) -> Iterator[SecondTask]:
        read = 0
        for chunk in chunks:
            plans: list[str | tuple[bool, list[bool]]] = []
            for index in range(read, read + len(chunk.lines)):
                decision = decisions[index]
                if isinstance(decision, str):
                    plans.append(decision)
                else:
                    plans.append((decision, [i in kept for i in samples_of[index][0]]))
            read += len(chunk.lines)
            yield SecondTask(chunk, plans)

    scrubbed: Counter[str] = Counter()
    with (
        Progress("pass 2 of 2", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "dropped.jsonl") as dropped,
        JsonlWriter(out / "train.jsonl") as train_out,
        JsonlWriter(out / "validation.jsonl") as validation_out,
    ):
        chunks = line_chunks(inputs, max_records=CHUNK_RECORDS, progress=progress)
        for written in ordered_map(work, tasks(chunks), jobs=jobs):
            dropped.write_encoded(written.dropped, written.n_dropped)
            train_out.write_encoded(written.train, written.n_train)
            validation_out.write_encoded(written.validation, written.n_validation)
            stats.merge(written.drops)
            scrubbed.update(written.scrubbed)
        stats.add("train", train_out.count)
        stats.add("validation", validation_out.count)
    stats.merge({f"scrubbed.{kind}": n for kind, n in scrubbed.items()})
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


class FirstLook(NamedTuple):
    """What the first pass needs of one record, worked out in a worker."""

    reason: str | None  # why it is dropped (a filter, unfittable); None when it goes on
    windowed: bool  # cut into windows
    ids: list[str]  # the samples it gives: itself, or its windows
    key: str  # exact-duplicate key
    signature: RMinHash | None
    rank: tuple[int, float, int]
    stratum: Stratum


def first_look(
    chunk: Chunk,
    filters: Filters,
    budget: int,
    threshold: float | None,
    hand_labelled: frozenset[str],
) -> list[FirstLook]:
    """Filters, token count, windows, keys and signature of a chunk's records."""
    looks = []
    for conversation in decode_chunk(chunk, Conversation):
        tokens = conversation_tokens(conversation)
        reason = drop_reason(conversation, tokens, filters)
        ids = [conversation.id]
        if reason is None and tokens > budget:
            try:
                original = conversation.meta.original or conversation.id
                ids = [window_id(original, k) for k in range(len(windows(conversation, budget)))]
            except Unfittable:
                reason = "unfittable"
        if reason is not None:
            looks.append(FirstLook(reason, False, [], "", None, (0, 0.0, 0), ("", "")))
            continue
        looks.append(
            FirstLook(
                None,
                tokens > budget,
                ids,
                dedupe_key(conversation),
                minhash(signature_text(conversation), threshold),
                label_rank(conversation, conversation.id in hand_labelled),
                stratum(conversation),
            )
        )
    return looks


def first_pass(
    inputs: tuple[str, ...],
    stats: Stats,
    filters: Filters,
    budget: int,
    threshold: float | None,
    hand_labelled: set[str],
    jobs: int,
) -> tuple[list[str | bool], dict[int, tuple[list[str], Stratum]]]:
    """Per record read: a drop reason, or whether it is cut into windows; and, by read
    index, the samples (ids, stratum) of the records kept."""
    decisions: list[str | bool] = []
    candidates: dict[int, tuple[int, list[str], Stratum]] = {}  # copies index → read index, …
    copies = NearDuplicates(threshold)
    work = functools.partial(
        first_look,
        filters=filters,
        budget=budget,
        threshold=threshold,
        hand_labelled=frozenset(hand_labelled),
    )
    with Progress("pass 1 of 2", total=records_size(inputs), unit="B") as progress:
        chunks = line_chunks(inputs, max_records=CHUNK_RECORDS, progress=progress)
        for looks in ordered_map(work, chunks, jobs=jobs):
            for look in looks:
                stats.add("read")
                if look.reason is not None:
                    decisions.append(look.reason)
                    continue
                index = copies.add_signed(look.key, look.signature, look.rank)
                candidates[index] = (len(decisions), look.ids, look.stratum)
                decisions.append(look.windowed)
    for index, reason in copies.losers().items():
        decisions[candidates.pop(index)[0]] = reason
    samples_of = {read: (ids, s) for read, ids, s in candidates.values()}
    for read, (ids, _) in samples_of.items():
        if decisions[read] is True:
            stats.add("windowed")
            stats.add("windows", len(ids))
    return decisions, samples_of


class Scrubbing(NamedTuple):
    secrets: bool
    pii: bool
    known_values: tuple[str, ...]

    def scrubber(self) -> Scrubber:
        return Scrubber(secrets=self.secrets, pii=self.pii, known_values=self.known_values)


class SecondTask(NamedTuple):
    chunk: Chunk
    # per record: a drop reason, or whether it is cut into windows and whether each sample is kept
    plans: list[str | tuple[bool, list[bool]]]


class Written(NamedTuple):
    train: bytes
    n_train: int
    validation: bytes
    n_validation: int
    dropped: bytes
    n_dropped: int
    drops: dict[str, int]  # dropped.<reason> counts
    scrubbed: dict[str, int]  # matches replaced in what was written, by kind


def second_look(
    task: SecondTask, budget: int, seed: int, fraction: float, scrubbing: Scrubbing
) -> Written:
    """A chunk's kept samples scrubbed and split, its drops listed, encoded."""
    encode = msgspec.json.Encoder().encode
    # Excerpts of dropped records get their own scrubber: `scrubbed.*` counts what was written.
    scrubber, excerpts = scrubbing.scrubber(), scrubbing.scrubber()
    out = {"train": bytearray(), "validation": bytearray(), "dropped": bytearray()}
    counts: Counter[str] = Counter()
    drops: Counter[str] = Counter()

    def drop(record: Conversation, reason: str) -> None:
        drops[f"dropped.{reason}"] += 1
        counts["dropped"] += 1
        line = Dropped(
            id=record.id,
            reason=reason,
            file=record.meta.file,
            line=record.meta.line,
            source=record.source,
            stage="curate",
            excerpt=excerpt(record, excerpts),
        )
        out["dropped"] += encode(line) + b"\n"

    conversations = decode_chunk(task.chunk, Conversation)
    for conversation, plan in zip(conversations, task.plans, strict=True):
        if isinstance(plan, str):
            drop(conversation, plan)
            continue
        windowed, keeps = plan
        split_key = conversation.meta.original or conversation.id
        split = "validation" if in_validation(split_key, seed, fraction) else "train"
        samples = windows(conversation, budget) if windowed else [conversation]
        for sample, keep in zip(samples, keeps, strict=True):
            if not keep:
                drop(sample, "over_max_samples")
            else:
                out[split] += encode(scrubber.conversation(sample)) + b"\n"
                counts[split] += 1
    return Written(
        bytes(out["train"]),
        counts["train"],
        bytes(out["validation"]),
        counts["validation"],
        bytes(out["dropped"]),
        counts["dropped"],
        dict(drops),
        dict(scrubber.counts),
    )


if __name__ == "__main__":
    main()
