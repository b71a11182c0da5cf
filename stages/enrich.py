"""enrich: label every conversation, and draw new examples from failed tool calls.

Reads:  every source's conversations under data/ingested/ (<source>/conversations, sources
        in name order), or the conversation JSONL files or folders of parts given as
        arguments (in order; a folder's parts in sorted order), the annotations file, the prompts
        prompts/label.md, prompts/explain_failure.md and prompts/augment.md.
Writes: conversations.jsonl (each input conversation labelled, followed by the examples drawn
        from it and its variants), failures.jsonl (id, reason of every LLM reply that could
        not be used), stats.json, and the LLM response cache (`--cache-dir`, a persistent DVC
        output).
Params: enrich.annotations, enrich.derive, enrich.chunk_size, synthesize.augment, and the
        `llm` section.

Examples drawn from a record (from its failed calls) and its variants (`synthesize.augment`:
its request paraphrased, or an argument of its successful calls given another value) name it
in `meta.original`, so they go to its split.

Labels: what the source set is kept, the model fills what the source left empty (tags are
the union), and the annotations file overrides both. A conversation whose label reply is
unusable is passed on with its source labels and listed in failures.jsonl; the reply is not
cached, so the next run asks again.
"""

import functools
import json
from pathlib import Path
from typing import NamedTuple

import click
import msgspec
from click.core import ParameterSource

from schemas.conversation import Conversation, Labels
from schemas.reject import Dropped
from stages.annotations import Annotation, apply, load_annotations
from stages.common.cli import jobs_option, setup_logging, stage_command
from stages.common.jsonl import JsonlWriter, records_size
from stages.common.llm import ChatRequest, ChatResult, LLMSettings, LLMStats, complete_all
from stages.common.llm.llm_option import llm_option
from stages.common.llm.offline import Heuristic
from stages.common.parallel import ordered_map
from stages.common.params import PARAMS_META, stage_params
from stages.common.progress import Progress
from stages.common.record_chunks import Chunk, decode_chunk, line_chunks
from stages.common.source_folders import INGESTED
from stages.common.source_folders import ingested as ingested_folders
from stages.common.stats import Stats
from stages.common.user_error import UserError
from stages.llm_tasks import augment, explain_failure, label
from stages.llm_tasks.task_io import TaskError, usable
from stages.llm_tasks.tool_failures import find_failures

# failure reasons written to stats even at zero, so `dvc metrics diff` compares like with like
REASONS = (
    "empty_reply",
    "invalid_json",
    "schema_violation",
    "refusal",
    "timeout",
    "rate_limited",
    "server_error",
    "connection",
)


class Enriched(NamedTuple):
    records: list[Conversation]  # labelled conversations, each followed by its derived ones
    failures: list[Dropped]
    counts: dict[str, int]


class EnrichedLines(NamedTuple):
    """A worker's chunk, encoded: what the main process writes and counts."""

    read: int
    records: bytes
    n_records: int
    failures: bytes
    n_failures: int
    counts: dict[str, int]
    llm_stats: LLMStats
    annotated: list[str]  # ids of the records the annotations labelled


def merge_labels(source: Labels, model: label.LabelReply) -> Labels:
    """The source's labels, with the gaps filled by the model's and the tags of both."""
    return Labels(
        example_type=source.example_type or model.example_type,
        quality_score=(
            source.quality_score if source.quality_score is not None else model.quality_score
        ),
        rating=source.rating,
        tags=sorted({*source.tags, *model.tags}),
        reasoning=source.reasoning or model.reasoning,
        problem=source.problem or model.problem,
        root_cause=source.root_cause or model.root_cause,
    )


def _dropped(conversation: Conversation, reason: str) -> Dropped:
    return Dropped(
        id=conversation.id, reason=reason, file=conversation.meta.file, line=conversation.meta.line
    )


def enrich_chunk(
    conversations: list[Conversation],
    settings: LLMSettings,
    cache_dir: str | Path,
    *,
    derive: bool,
    llm_stats: LLMStats,
    variants: int = 0,
) -> Enriched:
    """Label a chunk, draw its derived examples and its variants: three rounds of requests."""
    counts: dict[str, int] = {}

    def count(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    def ask(requests: list[ChatRequest], heuristic: Heuristic) -> list[ChatResult]:
        results, stats = complete_all(settings, requests, cache_dir=cache_dir, heuristic=heuristic)
        llm_stats.add(stats)
        return results

    failures: list[Dropped] = []
    results = ask([label.build_request(c) for c in conversations], label.offline)
    labelled = []
    for conversation, result in zip(conversations, results, strict=True):
        reply = usable(result, label.parse_reply)
        if isinstance(reply, TaskError):
            count(f"label_failed.{reply.reason}")
            failures.append(_dropped(conversation, f"label:{reply.reason}"))
            labelled.append(conversation)
            continue
        count("labelled")
        labels = merge_labels(conversation.labels, reply)
        labelled.append(msgspec.structs.replace(conversation, labels=labels))
    tool_failures = [(c, f) for c in labelled if derive for f in find_failures(c)]
    results = ask(
        [explain_failure.build_request(f) for _, f in tool_failures], explain_failure.offline
    )
    derived: dict[str, list[Conversation]] = {}
    for (parent, failure), result in zip(tool_failures, results, strict=True):
        why = usable(result, explain_failure.parse_reply)
        if isinstance(why, TaskError):
            count(f"derive_failed.{why.reason}")
            failures.append(_dropped(parent, f"explain_failure:{why.reason}"))
            continue
        example = explain_failure.derived_example(parent, failure, why)
        count(f"derived.{example.labels.example_type}")
        derived.setdefault(parent.id, []).append(example)
    plans = augment.plan_variants(labelled, variants, dictated_only=settings.provider == "offline")
    results = ask([augment.build_request(plan) for plan in plans], augment.offline)
    for plan, result in zip(plans, results, strict=True):
        variant = usable(result, functools.partial(augment.parse_reply, plan))
        if isinstance(variant, TaskError):
            count(f"augment_failed.{variant.reason}")
            failures.append(_dropped(plan.record, f"augment:{variant.reason}"))
            continue
        count(f"augmented.{plan.kind}")
        derived.setdefault(plan.record.id, []).append(augment.variant_record(plan, variant))
    records = []
    for conversation in labelled:
        records.append(conversation)
        records.extend(derived.pop(conversation.id, ()))
    return Enriched(records, failures, counts)


def enrich_lines(
    chunk: Chunk,
    *,
    settings: LLMSettings,
    cache_dir: str,
    derive: bool,
    variants: int,
    notes: dict[str, Annotation],
) -> EnrichedLines:
    """A chunk of input lines enriched, annotated and encoded (in a worker, offline)."""
    llm_stats = LLMStats()
    conversations = decode_chunk(chunk, Conversation)
    enriched = enrich_chunk(
        conversations, settings, cache_dir, derive=derive, llm_stats=llm_stats, variants=variants
    )
    encode = msgspec.json.Encoder().encode
    records = b"".join(encode(annotate(r, notes)) + b"\n" for r in enriched.records)
    failures = b"".join(encode(f) + b"\n" for f in enriched.failures)
    return EnrichedLines(
        read=len(conversations),
        records=records,
        n_records=len(enriched.records),
        failures=failures,
        n_failures=len(enriched.failures),
        counts=enriched.counts,
        llm_stats=llm_stats,
        annotated=[r.id for r in enriched.records if r.id in notes],
    )


def default_variants(ctx: click.Context) -> int:
    """synthesize.augment, the number of variants of each eligible record (0 when unset)."""
    value = ((ctx.meta.get(PARAMS_META) or {}).get("synthesize") or {}).get("augment", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UserError(
            f"params.yaml: synthesize.augment must be a count of variants, not {value!r}"
        )
    return value


def annotate(record: Conversation, annotations: dict[str, Annotation]) -> Conversation:
    annotation = annotations.get(record.id)
    if annotation is None:
        return record
    return msgspec.structs.replace(record, labels=apply(record.labels, annotation))


@stage_command
@stage_params("enrich")
@llm_option
@click.argument("inputs", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--ingested",
    default=INGESTED,
    show_default=True,
    help="The folder of every source's output (<source>/conversations), read when no "
    "INPUTS are given, source by source in name order.",
)
@click.option(
    "--annotations",
    default="data/annotations.yaml",
    show_default=True,
    help="YAML mapping of record id → labels that override any other label. A file named "
    "here or in params.yaml must exist; only this built-in default may be missing (a warning).",
)
@click.option(
    "--derive/--no-derive",
    default=True,
    show_default=True,
    help="Draw reasoning_chain and code_correction examples from failed tool calls.",
)
@click.option(
    "--augment",
    "variants",
    type=click.IntRange(min=0),
    default=None,
    help="Variants of each real record whose tool calls succeeded: request paraphrased, "
    "or an argument given another value (default: synthesize.augment; 0: none).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Conversations per round of requests (in batch mode, one batch per round).",
)
@click.option("--cache-dir", default="data/llm_cache/enrich", show_default=True)
@click.option("--out-dir", default="data/enriched", show_default=True)
@jobs_option
def main(
    inputs: tuple[str, ...],
    ingested: str,
    llm: LLMSettings,
    annotations: str,
    derive: bool,
    variants: int | None,
    chunk_size: int,
    cache_dir: str,
    out_dir: str,
    jobs: int,
) -> None:
    """Label conversations (type, quality, tags, reasoning) and derive examples from failures.

    Example: python -m stages.enrich --llm provider=openai
    """
    setup_logging("enrich")
    out = Path(out_dir)
    if variants is None:
        variants = default_variants(click.get_current_context())
    if not inputs:
        inputs = tuple(str(p / "conversations") for p in ingested_folders(ingested).values())
    source = click.get_current_context().get_parameter_source("annotations")
    notes = load_annotations(annotations, required=source is not ParameterSource.DEFAULT)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    stats = Stats(
        [
            "read",
            "labelled",
            "annotated",
            "annotations_unmatched",
            "written",
            *(f"derived.{t}" for t in ("code_correction", "reasoning_chain")),
            *(f"augmented.{kind}" for kind in augment.KINDS),
            *(f"{task}_failed.{r}" for task in ("label", "derive", "augment") for r in REASONS),
            *LLMStats().counters(),
        ]
    )
    llm_stats = LLMStats()
    matched: set[str] = set()
    # Offline, labelling is CPU work for every core; a server's requests stay in this
    # process, where `llm.concurrency` bounds them.
    workers = jobs if llm.provider == "offline" else 1
    work = functools.partial(
        enrich_lines,
        settings=llm,
        cache_dir=cache_dir,
        derive=derive,
        variants=variants,
        notes=notes,
    )
    with (
        Progress("read", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "conversations.jsonl") as writer,
        JsonlWriter(out / "failures.jsonl") as failures,
    ):
        chunks = line_chunks(inputs, max_records=chunk_size, progress=progress)
        for enriched in ordered_map(work, chunks, jobs=workers):
            stats.add("read", enriched.read)
            stats.merge(enriched.counts)
            llm_stats.add(enriched.llm_stats)
            failures.write_encoded(enriched.failures, enriched.n_failures)
            writer.write_encoded(enriched.records, enriched.n_records)
            stats.add("annotated", len(enriched.annotated))
            matched.update(enriched.annotated)
        stats.add("written", writer.count)
    stats.add("annotations_unmatched", len(set(notes) - matched))
    stats.merge(llm_stats.counters())
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
