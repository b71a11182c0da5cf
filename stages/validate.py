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

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
import msgspec

from schemas.export_lines import RecordMetadata
from schemas.format_lines import FormatError, FormatWarning, OpenAIFileReport
from stages.common.atomic import write_bytes_atomic
from stages.common.cli import setup_logging, stage_command
from stages.common.input_paths import provenance_path
from stages.common.jsonl import JsonlWriter, Line, iter_lines
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.stats import json_bytes
from stages.formats import LINE_SCHEMAS
from stages.validation.consumers import CONSUMER_CHECKS
from stages.validation.empty import empty_warnings
from stages.validation.openai_checks import MAX_TOKENS_PER_EXAMPLE, check_openai_file
from stages.validation.schema_checks import check_lines, format_error
from stages.validation.summary import (
    SPLITS,
    csv_bytes,
    examples_by,
    length_histogram,
    token_summary,
)

LOG_LIMIT = 20

log = logging.getLogger("logtune")

LineIds = dict[tuple[str, str], dict[int, str]]


def read_metadata(path: Path, errors: list[FormatError]) -> list[RecordMetadata]:
    """The export's metadata; a line that does not decode is an error, not a crash."""
    decoder = msgspec.json.Decoder(RecordMetadata)
    file = provenance_path(path)
    if not path.exists():
        errors.append(format_error(file, 0, "", "$", "missing_file", "no metadata file"))
        return []
    records = []
    for line in iter_lines(path, max_line_bytes=None):
        try:
            records.append(decoder.decode(line.data))
        except msgspec.DecodeError as exc:
            errors.append(format_error(file, line.number, "", "$", "invalid_metadata", str(exc)))
    return records


def line_ids(records: list[RecordMetadata]) -> LineIds:
    """(format, split) → {0-based line: record id}, from the metadata's `lines` column."""
    ids: LineIds = {}
    for record in records:
        for name, line in record.lines.items():
            ids.setdefault((name, record.split), {})[line] = record.id
    return ids


def check_parallel(file: str, n_lines: int, ids: dict[int, str]) -> list[FormatError]:
    """The metadata places exactly one record on every line of the file."""
    if set(ids) == set(range(n_lines)):
        return []
    message = f"the metadata places {len(ids)} records on lines of a {n_lines}-line file"
    return [format_error(file, 0, "", "lines", "metadata_mismatch", message)]


class Counted:
    """Lines passed through, counted, so the schema pass also gives the file's length."""

    def __init__(self, lines: Iterable[Line]) -> None:
        self.lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[Line]:
        for line in self.lines:
            self.count += 1
            yield line


def check_file(
    path: Path, name: str, ids: dict[int, str], max_tokens: int
) -> tuple[int, list[FormatError], OpenAIFileReport | None]:
    """Lines, errors and (for the OpenAI format) the OpenAI report of one export file;
    every error names the format."""
    file = provenance_path(path)
    # Exports are our own output: no line is too long (a conversation can outgrow any input limit).
    lines = Counted(iter_lines(path, max_line_bytes=None))
    consumer = CONSUMER_CHECKS.get(name)
    errors = list(
        check_lines(lines, file=file, schema_name=LINE_SCHEMAS[name], ids=ids, consumer=consumer)
    )
    n_lines = lines.count
    errors.extend(check_parallel(file, n_lines, ids))
    report = None
    if name == "openai":
        known = [ids[i] for i in range(n_lines) if i in ids]
        in_order = known if len(known) == n_lines else None
        lines = ((line.number, line.data) for line in iter_lines(path, max_line_bytes=None))
        report = check_openai_file(lines, file=file, ids=in_order, max_tokens=max_tokens)
        errors.extend(report.errors)
    return n_lines, [msgspec.structs.replace(e, format=name) for e in errors], report


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
        self.records: list[RecordMetadata] = []

    def check_format(self, folder: Path, ids: LineIds, max_tokens: int, progress: Progress) -> None:
        name = folder.name
        if name not in LINE_SCHEMAS:
            message = f"no line schema for a format named {name!r}"
            error = format_error(provenance_path(folder), 0, "", "$", "unknown_format", message)
            self.errors.append(msgspec.structs.replace(error, format=name))
            return
        lines: dict[str, int] = {}
        n_errors = 0
        for split in SPLITS:
            path = folder / f"{split}.jsonl"
            if not path.exists():
                missing = format_error(provenance_path(path), 0, "", "$", "missing_file", "")
                found = [msgspec.structs.replace(missing, format=name)]
            else:
                lines[split], found, report = check_file(
                    path, name, ids.get((name, split), {}), max_tokens
                )
                if report is not None:
                    self.openai[split] = report
                progress.update(path.stat().st_size)
            self.errors.extend(found)
            n_errors += len(found)
        self.formats[name] = {"lines": lines, "errors": n_errors}

    def record_counts(self) -> dict[str, int]:
        return {s: sum(r.split == s for r in self.records) for s in SPLITS}

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


def validate_exports(export_dir: Path, max_tokens: int) -> Findings:
    findings = Findings()
    findings.records = read_metadata(export_dir / "records.metadata.jsonl", findings.errors)
    ids = line_ids(findings.records)
    formats_dir = export_dir / "formats"
    if not formats_dir.is_dir():
        raise click.ClickException(f"{formats_dir}: no exports to validate (run the export stage)")
    folders = sorted(p for p in formats_dir.iterdir() if p.is_dir())
    files = [folder / f"{split}.jsonl" for folder in folders for split in SPLITS]
    total = sum(file.stat().st_size for file in files if file.exists())
    with Progress("check", total=total, unit="B") as progress:
        for folder in folders:
            findings.check_format(folder, ids, max_tokens, progress)
    findings.find_empty(formats_dir)
    return findings


def write_plots(plots: Path, findings: Findings) -> None:
    lengths = {split: r.tokens_per_example for split, r in findings.openai.items()}
    write_bytes_atomic(
        plots / "token_lengths.csv", csv_bytes(length_histogram(lengths), ("tokens", *SPLITS))
    )
    for key, name in (("source", "sources"), ("example_type", "example_types")):
        rows = examples_by(findings.records, key)
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
def main(
    export_dir: str,
    max_tokens_per_example: int,
    fail_on_error: bool,
    fail_on_empty: bool,
    out_dir: str,
) -> None:
    """Check every exported line, count tokens, and write DVC metrics, plots and errors.

    Example: python -m stages.validate --export-dir data/export --no-fail-on-error
    """
    setup_logging("validate")
    out = Path(out_dir)
    findings = validate_exports(Path(export_dir), max_tokens_per_example)
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
