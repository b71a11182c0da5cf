"""enrich: label every conversation, and draw new examples from failed tool calls.

Reads:  every source's conversations under data/ingested/ (<source>/conversations, sources
        in name order), or the conversation JSONL files or folders of parts given as
        arguments (in order; a folder's parts in sorted order), the annotations file, the prompts
        prompts/label.md and prompts/explain_failure.md.
Writes: conversations.jsonl (each input conversation labelled, followed by the examples drawn
        from it), failures.jsonl (id, reason of every LLM reply that could not be used),
        stats.json, and the LLM response cache (`--cache-dir`, a persistent DVC output).
Params: enrich.annotations, enrich.derive, enrich.chunk_size, and the `llm` section.

Labels: what the source set is kept, the model fills what the source left empty (tags are
the union), and the annotations file overrides both. A conversation whose label reply is
unusable is passed on with its source labels and listed in failures.jsonl; the reply is not
cached, so the next run asks again.
"""

import functools
import json
from collections import Counter
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
from stages.common.llm import LLMSettings, LLMStats, complete_all
from stages.common.llm.llm_option import llm_option
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.record_chunks import Chunk, decode_chunk, line_chunks
from stages.common.source_folders import INGESTED
from stages.common.source_folders import ingested as ingested_folders
from stages.common.stats import Stats
from stages.llm_tasks import explain_failure, label
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
) -> Enriched:
    """Label a chunk and draw its derived examples: two rounds of requests, in order."""
    counts: dict[str, int] = {}

    def count(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    failures: list[Dropped] = []
    results, stats = complete_all(
        settings,
        [label.build_request(c) for c in conversations],
        cache_dir=cache_dir,
        heuristic=label.offline,
    )
    llm_stats.add(stats)
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
    tool_failures = [(i, c, f) for i, c in enumerate(labelled) if derive for f in find_failures(c)]
    results, stats = complete_all(
        settings,
        [explain_failure.build_request(f) for _, _, f in tool_failures],
        cache_dir=cache_dir,
        heuristic=explain_failure.offline,
    )
    llm_stats.add(stats)
    # By the parent's place in the chunk, not its id: copies of one conversation (same id)
    # each keep their own derived examples, wherever the chunks end.
    derived: dict[int, list[Conversation]] = {}
    for (place, parent, failure), result in zip(tool_failures, results, strict=True):
        why = usable(result, explain_failure.parse_reply)
        if isinstance(why, TaskError):
            count(f"derive_failed.{why.reason}")
            failures.append(_dropped(parent, f"explain_failure:{why.reason}"))
            continue
        example = explain_failure.derived_example(parent, failure, why)
        count(f"derived.{example.labels.example_type}")
        derived.setdefault(place, []).append(example)
    records = []
    for place, conversation in enumerate(labelled):
        records.append(conversation)
        records.extend(derived.pop(place, ()))
    return Enriched(records, failures, counts)


def annotate(record: Conversation, annotations: dict[str, Annotation]) -> Conversation:
    annotation = annotations.get(record.id)
    if annotation is None:
        return record
    return msgspec.structs.replace(record, labels=apply(record.labels, annotation))


class EnrichedChunk(NamedTuple):
    lines: bytes  # the encoded records, annotations applied
    n_lines: int
    failures: bytes
    n_failures: int
    counts: dict[str, int]
    annotated: list[str]  # ids of records an annotation matched


def enrich_lines(
    chunk: Chunk,
    llm: LLMSettings,
    cache_dir: str,
    derive: bool,
    notes: dict[str, Annotation],
) -> EnrichedChunk:
    """A chunk of conversations enriched and encoded (in a worker when offline)."""
    encode = msgspec.json.Encoder().encode
    conversations = decode_chunk(chunk, Conversation)
    llm_stats = LLMStats()
    enriched = enrich_chunk(conversations, llm, cache_dir, derive=derive, llm_stats=llm_stats)
    counts = Counter(enriched.counts)
    counts.update({"read": len(conversations), **llm_stats.counters()})
    lines = bytearray()
    annotated = []
    for record in enriched.records:
        if record.id in notes:
            annotated.append(record.id)
        lines += encode(annotate(record, notes)) + b"\n"
    counts["annotated"] += len(annotated)
    failures = b"".join(encode(f) + b"\n" for f in enriched.failures)
    return EnrichedChunk(
        bytes(lines),
        len(enriched.records),
        failures,
        len(enriched.failures),
        dict(counts),
        annotated,
    )


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
            *(f"{task}_failed.{r}" for task in ("label", "derive") for r in REASONS),
            *LLMStats().counters(),
        ]
    )
    matched: set[str] = set()
    # Offline, labelling is CPU work for every core; a server's requests stay in this
    # process, where `llm.concurrency` bounds them.
    workers = jobs if llm.provider == "offline" else 1
    work = functools.partial(enrich_lines, llm=llm, cache_dir=cache_dir, derive=derive, notes=notes)
    with (
        Progress("read", total=records_size(inputs), unit="B") as progress,
        JsonlWriter(out / "conversations.jsonl") as writer,
        JsonlWriter(out / "failures.jsonl") as failures,
    ):
        chunks = line_chunks(inputs, max_records=chunk_size, progress=progress)
        for result in ordered_map(work, chunks, jobs=workers):
            stats.merge(result.counts)
            matched.update(result.annotated)
            writer.write_encoded(result.lines, result.n_lines)
            failures.write_encoded(result.failures, result.n_failures)
        stats.add("written", writer.count)
    stats.add("annotations_unmatched", len(set(notes) - matched))
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
