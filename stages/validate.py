"""validate: every export line checked by schema and by its consumer; token metrics and plots.

Reads:  <export-dir>/formats/<format>/{train,validation}.jsonl, <export-dir>/records.metadata.jsonl
Writes: metrics.json (error and warning counts, the warnings themselves, tokens, cost),
        errors.jsonl (one FormatError per problem),
        plots/{token_lengths,sources,example_types}.csv (DVC plots).
Params: validate.max_tokens_per_example, validate.fail_on_error, validate.fail_on_empty.

Every line of every format is checked against `schemas/<line schema>.schema.json`,
then by its consumer's rules (`stages/validation/consumers.py`: ChatML and Qwen turns
read back, Harmony parsed by openai-harmony, ShareGPT as LLaMA-Factory reads it,
alpaca, preference pairs); the OpenAI files go through the fine-tuning checks with
exact o200k token counts, which give the per-split token statistics and the training
cost estimate. Every error names format, file, line, record id (from the metadata) and
field. An empty file or format is a warning. A bad line never stops the checking: all
files are read and every output is written, then, with `fail_on_error`, the stage exits
1 with the first error and the count, so `dvc repro` stops before the dataset card is
written; `fail_on_empty` does the same for warnings. `--no-fail-on-error` keeps the
pipeline going and leaves the verdict to the `errors_total` metric.
"""

import functools
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import click
import msgspec

from schemas.format_lines import FormatError, FormatWarning, OpenAIFileReport
from stages.common.atomic import write_bytes_atomic
from stages.common.cli import jobs_option, setup_logging, stage_command
from stages.common.input_paths import provenance_path
from stages.common.json_value import decode_lines
from stages.common.jsonl import JsonlWriter, lines_starting_in
from stages.common.parallel import ordered_map
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.stats import json_bytes
from stages.formats.exporters import LINE_SCHEMAS
from stages.formats.harmony import encoding
from stages.formats.vocab import count_o200k
from stages.validation.consumers import CONSUMER_CHECKS
from stages.validation.empty import empty_warnings
from stages.validation.metadata_index import MetadataIndex, index_metadata
from stages.validation.openai_checks import (
    MAX_TOKENS_PER_EXAMPLE,
    check_openai_values,
    combined_report,
)
from stages.validation.schema_checks import check_values, format_error
from stages.validation.summary import (
    SPLITS,
    csv_bytes,
    examples_by,
    length_histogram,
    token_summary,
)

LOG_LIMIT = 20
SPAN_BYTES = 4 << 20  # a worker's share of a file: enough work that handing it out costs little

log = logging.getLogger("logtune")


def check_parallel(file: str, n_lines: int, ids: Mapping[int, str]) -> list[FormatError]:
    """The metadata places exactly one record on every line of the file."""
    if set(ids) == set(range(n_lines)):
        return []
    message = f"the metadata places {len(ids)} records on lines of a {n_lines}-line file"
    return [format_error(file, 0, "", "lines", "metadata_mismatch", message)]


class SpanCheck(NamedTuple):
    """A worker's share of one export file: the lines that start in bytes `start` to `end`."""

    path: str
    name: str
    start: int
    end: int


class SpanFindings(NamedTuple):
    lines: int
    errors: list[FormatError]  # by schema and consumer, lines numbered from the span's first
    report: OpenAIFileReport | None  # its errors numbered the same way


def file_spans(path: Path, name: str) -> list[SpanCheck]:
    """A file cut by byte offsets alone: each worker finds its own lines' ends as it reads
    them, so no process reads the file for its newlines first (two fifths of the main
    process's time on 12 GB of exports)."""
    size = path.stat().st_size
    return [
        SpanCheck(str(path), name, start, min(start + SPAN_BYTES, size))
        for start in range(0, size, SPAN_BYTES)
    ] or [SpanCheck(str(path), name, 0, 0)]


def check_span(task: SpanCheck, max_tokens: int) -> SpanFindings:
    """Schema and consumer checks of a span's lines; OpenAI checks and tokens for `openai`."""
    file = provenance_path(task.path)
    with open(task.path, "rb") as handle:
        lines = lines_starting_in(handle, task.start, task.end)
    values = decode_lines(enumerate(lines, start=1))
    consumer = CONSUMER_CHECKS.get(task.name)
    schema = LINE_SCHEMAS[task.name]
    if task.name != "openai":
        errors = list(check_values(values, file=file, schema_name=schema, consumer=consumer))
        return SpanFindings(len(lines), errors, None)
    errors = []

    def schema_checked(values: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        # Each line through both checks while its value is fresh: holding a span's values
        # for a second pass made validate slower than decoding every line twice.
        for item in values:
            errors.extend(check_values([item], file=file, schema_name=schema))
            yield item

    report = check_openai_values(schema_checked(values), file=file, max_tokens=max_tokens)
    return SpanFindings(len(lines), errors, report)


def placed(errors: list[FormatError], before: int, ids: Mapping[int, str]) -> list[FormatError]:
    """A span's errors numbered in its file (`before` lines precede the span), each naming
    the record the metadata places on its line, where it places one."""
    return [
        msgspec.structs.replace(
            error,
            line=error.line + before,
            record_id=ids.get(error.line + before - 1, error.record_id),
        )
        for error in errors
    ]


def file_findings(
    path: Path, name: str, ids: Mapping[int, str], found: list[SpanFindings], max_tokens: int
) -> tuple[int, list[FormatError], OpenAIFileReport | None]:
    """Lines, errors and (for the OpenAI format) the OpenAI report of one export file, from
    its spans' findings in order; every error names the format."""
    file = provenance_path(path)
    errors: list[FormatError] = []
    reports: list[OpenAIFileReport] = []
    n_lines = 0
    for span in found:
        errors.extend(placed(span.errors, n_lines, ids))
        if span.report is not None:
            report_errors = placed(span.report.errors, n_lines, ids)
            reports.append(msgspec.structs.replace(span.report, errors=report_errors))
        n_lines += span.lines
    errors.extend(check_parallel(file, n_lines, ids))
    report = None
    if name == "openai":
        report = combined_report(file, reports, max_tokens)
        errors.extend(report.errors)
    return n_lines, [msgspec.structs.replace(e, format=name) for e in errors], report


def check_file(
    path: Path, name: str, ids: Mapping[int, str], max_tokens: int
) -> tuple[int, list[FormatError], OpenAIFileReport | None]:
    """One export file checked in this process."""
    found = [check_span(task, max_tokens) for task in file_spans(path, name)]
    return file_findings(path, name, ids, found, max_tokens)


def openai_metrics(reports: dict[str, OpenAIFileReport]) -> dict[str, Any]:
    """Tokens per split and what one training run costs: train tokens times default epochs."""
    train = reports.get("train")
    return {
        "tokens": {
            split: token_summary(reports[split].tokens_per_example if split in reports else [])
            for split in SPLITS
        },
        "openai": {
            "max_tokens_per_example": train.max_tokens_per_example if train else 0,
            "too_long": sum(r.too_long for r in reports.values()),
            "training_tokens_per_epoch": train.billing_tokens_per_epoch if train else 0,
            "epochs": train.epochs if train else 0,
            "training_tokens_total": train.billing_tokens_total if train else 0,
        },
    }


class Findings:
    """What checking the exports found: errors, warnings, lines per format, OpenAI reports,
    metadata."""

    def __init__(self) -> None:
        self.errors: list[FormatError] = []
        self.warnings: list[FormatWarning] = []
        self.formats: dict[str, dict[str, Any]] = {}
        self.openai: dict[str, OpenAIFileReport] = {}
        self.metadata = MetadataIndex()

    def check_formats(
        self, folders: list[Path], max_tokens: int, progress: Progress, jobs: int
    ) -> None:
        """Every file of every format, its spans checked on `jobs` processes, in order."""
        places = self.metadata.places
        spans = {
            path: file_spans(path, folder.name)
            for folder in folders
            if folder.name in LINE_SCHEMAS
            for path in (folder / f"{split}.jsonl" for split in SPLITS)
            if path.exists()
        }
        tasks = (task for file in spans.values() for task in file)
        results = ordered_map(
            functools.partial(check_span, max_tokens=max_tokens), tasks, jobs=jobs
        )
        for folder in folders:
            name = folder.name
            if name not in LINE_SCHEMAS:
                message = f"no line schema for a format named {name!r}"
                error = format_error(provenance_path(folder), 0, "", "$", "unknown_format", message)
                self.errors.append(msgspec.structs.replace(error, format=name))
                continue
            lines: dict[str, int] = {}
            n_errors = 0
            for split in SPLITS:
                path = folder / f"{split}.jsonl"
                if not path.exists():
                    missing = format_error(provenance_path(path), 0, "", "$", "missing_file", "")
                    found = [msgspec.structs.replace(missing, format=name)]
                else:
                    found_spans = [next(results) for _ in spans[path]]
                    progress.update(spans[path][-1].end)
                    file_ids = places.get((name, split), {})
                    lines[split], found, report = file_findings(
                        path, name, file_ids, found_spans, max_tokens
                    )
                    if report is not None:
                        self.openai[split] = report
                self.errors.extend(found)
                n_errors += len(found)
            self.formats[name] = {"lines": lines, "errors": n_errors}

    def record_counts(self) -> dict[str, int]:
        return self.metadata.record_counts()

    def find_empty(self, formats_dir: Path) -> None:
        def place(name: str, split: str) -> str:
            folder = formats_dir / name
            return provenance_path(folder / f"{split}.jsonl" if split else folder)

        lines = {name: f["lines"] for name, f in self.formats.items()}
        self.warnings = empty_warnings(lines, self.record_counts(), place)

    def metrics(self) -> dict[str, Any]:
        reasons = Counter(e.reason for e in self.errors)
        warned = Counter(w.reason for w in self.warnings)
        metrics: dict[str, Any] = {
            "errors": dict(sorted(reasons.items())),
            "errors_total": len(self.errors),
            "warnings": dict(sorted(warned.items())),
            "warnings_total": len(self.warnings),
            "warning_list": msgspec.to_builtins(self.warnings),
            "formats": self.formats,
            "records": self.record_counts(),
        }
        if self.openai:
            metrics.update(openai_metrics(self.openai))
        return metrics


def validate_exports(export_dir: Path, max_tokens: int, jobs: int = 1) -> Findings:
    findings = Findings()
    findings.metadata = index_metadata(export_dir / "records.metadata.jsonl", findings.errors)
    formats_dir = export_dir / "formats"
    if not formats_dir.is_dir():
        raise click.ClickException(f"{formats_dir}: no exports to validate (run the export stage)")
    folders = sorted(p for p in formats_dir.iterdir() if p.is_dir())
    files = [folder / f"{split}.jsonl" for folder in folders for split in SPLITS]
    total = sum(file.stat().st_size for file in files if file.exists())
    # Loaded before the workers fork: they share the tables instead of building their own.
    count_o200k("")
    encoding()
    with Progress("check", total=total, unit="B") as progress:
        findings.check_formats(folders, max_tokens, progress, jobs)
    findings.find_empty(formats_dir)
    return findings


def write_plots(plots: Path, findings: Findings) -> None:
    lengths = {split: r.tokens_per_example for split, r in findings.openai.items()}
    write_bytes_atomic(
        plots / "token_lengths.csv", csv_bytes(length_histogram(lengths), ("tokens", *SPLITS))
    )
    metadata = findings.metadata
    for key, name, counts in (
        ("source", "sources", metadata.sources),
        ("example_type", "example_types", metadata.example_types),
    ):
        rows = examples_by(counts, key)
        write_bytes_atomic(plots / f"{name}.csv", csv_bytes(rows, (key, *SPLITS, "examples")))


def describe(error: FormatError) -> str:
    return (
        f"{error.format or 'metadata'}: {error.file}:{error.line}: "
        f"record {error.record_id or '?'}: {error.field}: {error.reason}: {error.message}"
    )


def describe_warning(warning: FormatWarning) -> str:
    return f"{warning.format}: {warning.file}: {warning.reason}: {warning.message}"


@stage_command
@stage_params("validate")
@click.option("--export-dir", default="data/export", show_default=True)
@click.option(
    "--max-tokens-per-example",
    type=click.IntRange(min=1),
    default=MAX_TOKENS_PER_EXAMPLE,
    show_default=True,
    help="OpenAI's limit on one training example; longer ones are errors.",
)
@click.option(
    "--fail-on-error/--no-fail-on-error",
    default=True,
    show_default=True,
    help="Exit 1 when any line has an error (after writing every report).",
)
@click.option(
    "--fail-on-empty/--no-fail-on-empty",
    default=False,
    show_default=True,
    help="Exit 1 when a split or a whole format has no line (after writing every report).",
)
@click.option("--out-dir", default="data/validate", show_default=True)
@jobs_option
def main(
    export_dir: str,
    max_tokens_per_example: int,
    fail_on_error: bool,
    fail_on_empty: bool,
    out_dir: str,
    jobs: int,
) -> None:
    """Check every exported line, count tokens, and write DVC metrics, plots and errors.

    Example: python -m stages.validate --export-dir data/export --no-fail-on-error
    """
    setup_logging("validate")
    out = Path(out_dir)
    findings = validate_exports(Path(export_dir), max_tokens_per_example, jobs)
    with JsonlWriter(out / "errors.jsonl") as errors:
        errors.write_all(findings.errors)
    write_plots(out / "plots", findings)
    metrics = findings.metrics()
    write_bytes_atomic(out / "metrics.json", json_bytes(metrics))
    for error in findings.errors[:LOG_LIMIT]:
        log.warning("%s", describe(error))
    for warning in findings.warnings:
        log.warning("%s", describe_warning(warning))
    if findings.errors and fail_on_error:
        raise click.ClickException(
            f"{len(findings.errors)} error(s) in the exports, all in {errors.path}; "
            f"first: {describe(findings.errors[0])}"
        )
    if findings.warnings and fail_on_empty:
        raise click.ClickException(
            f"{len(findings.warnings)} empty split(s) or format(s), listed in "
            f"{out / 'metrics.json'} (warning_list); "
            f"first: {describe_warning(findings.warnings[0])} (--no-fail-on-empty accepts them)"
        )
    log.info(
        "%d errors, %d warnings; tokens: %s",
        len(findings.errors),
        len(findings.warnings),
        metrics.get("tokens"),
    )


if __name__ == "__main__":
    main()
