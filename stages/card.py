"""card: the dataset card, README.md next to the exports, written from the run's numbers.

Reads:  <export-dir>/stats.json, <validate-dir>/metrics.json, <validate-dir>/plots/*.csv,
        params.yaml (the filters and formats that made this dataset).
Writes: <export-dir>/README.md, and the run's headline figures (--summary), the one
        DVC metrics file: `dvc exp show` and `dvc metrics diff` show these few numbers,
        each stage's stats.json holds the detail.
Params: curate, max_samples, seed, export (read, not owned: the card describes them).

Every number comes from a file of the run and every table is sorted, so the same
run gives the same bytes: no dates, no host names.
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from stages.common.atomic import write_bytes_atomic
from stages.common.cli import setup_logging, stage_command
from stages.common.params import load_params
from stages.common.stats import json_bytes
from stages.validation.openai_checks import TARGET_EPOCHS

OPENAI_MIN_EXAMPLES = 10

CONSUMERS = {
    "alpaca": "Axolotl `type: alpaca`, LLaMA-Factory `formatting: alpaca`",
    "axolotl_chat": "Axolotl `type: chat_template` (`train: false` masks a turn)",
    "chatml": "any trainer of ChatML text (`text` column)",
    "harmony": "gpt-oss, rendered by openai-harmony (`text` column)",
    "openai": "OpenAI chat fine-tuning (`weight: 0` masks a turn)",
    "preference": "TRL `DPOTrainer`, conversational prompt/chosen/rejected",
    "qwen": "Qwen2.5 tool calling, as its chat template renders (`text` column)",
    "sharegpt": "LLaMA-Factory `formatting: sharegpt` (see dataset_info.json)",
    "unified": "every label and provenance field, for analysis",
}

FORMAT_LIMITS = {
    "sharegpt": "ShareGPT drops assistant text written beside a tool call (a `function_call` "
    "value holds only the calls).",
    "chatml": "ChatML carries no tool definitions; the `qwen` format does.",
    "alpaca": "alpaca holds only single-turn conversations without tool calls.",
    "preference": "preference pairs exist only for negative and code_correction examples with "
    "a corrected turn after the bad one.",
}
UNMASKABLE = ("alpaca", "chatml", "harmony", "qwen", "sharegpt")


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def counts_text(counts: dict[str, int]) -> str:
    """`a 2, b 1` for the non-zero counts, `none` when there are none."""
    shown = [f"{k} {v}" for k, v in sorted(counts.items()) if v]
    return ", ".join(shown) or "none"


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text()))) if path.exists() else []


def sources_section(stats: dict[str, Any]) -> str:
    rows = [
        [name, s["read"], s["conversations"], s["rejected"]]
        for name, s in sorted(stats.get("sources", {}).items())
    ]
    return (
        "## Sources\n\n"
        + table(["source", "lines read", "conversations", "rejected"], rows)
        + f"\nRejected input by reason: {counts_text(stats.get('rejected', {}))}.\n"
    )


def filters_section(stats: dict[str, Any], params: dict[str, Any]) -> str:
    curate = params.get("curate", {})
    settings = [
        ["`curate.min_rating`", json.dumps(curate.get("min_rating"))],
        ["`curate.drop_unrated`", json.dumps(curate.get("drop_unrated"))],
        ["`max_samples`", json.dumps(params.get("max_samples"))],
        ["`seed`", json.dumps(params.get("seed"))],
        ["`curate.validation_fraction`", json.dumps(curate.get("validation_fraction"))],
        ["`export.system_prompt`", json.dumps(params.get("export", {}).get("system_prompt"))],
    ]
    return (
        "## Filters applied\n\n"
        + table(["parameter", "value"], settings)
        + f"\nExact duplicates dropped: {stats.get('deduplicated', 0)}. "
        + f"Filtered out: {counts_text(stats.get('filtered', {}))}.\n"
    )


def examples_section(sources: list[dict[str, str]], types: list[dict[str, str]]) -> str:
    parts = ["## Examples\n"]
    for key, rows in (("source", sources), ("example_type", types)):
        body = [[r[key], r["train"], r["validation"], r["examples"]] for r in rows]
        parts.append(table([key, "train", "validation", "total"], body))
    return "\n".join(parts)


def formats_section(stats: dict[str, Any], metrics: dict[str, Any]) -> str:
    rows = []
    for name, f in sorted(stats.get("formats", {}).items()):
        errors = metrics.get("formats", {}).get(name, {}).get("errors", 0)
        rows.append(
            [
                f"`{name}`",
                f"`formats/{name}/{{train,validation}}.jsonl`",
                f["lines"]["train"],
                f["lines"]["validation"],
                counts_text(f["refused"]),
                errors,
                CONSUMERS.get(name, ""),
            ]
        )
    header = ["format", "files", "train", "validation", "refused", "errors", "for"]
    return (
        "## Formats\n\n"
        + table(header, rows)
        + "\nRefused records are listed with their reason in `rejects.jsonl`; "
        + "`records.metadata.jsonl` gives each record's line in every format (`lines`).\n"
    )


def warnings_section(metrics: dict[str, Any]) -> str:
    """Empty splits and formats, which validate counts as warnings: no trainer loads them."""
    warnings = metrics.get("warning_list", [])
    if not warnings:
        return "## Warnings\n\nNone: every format has lines in every split.\n"
    lines = [f"- `{w['file']}`: {w['reason']}, {w['message']}.\n" for w in warnings]
    return (
        "## Warnings\n\n"
        + "".join(lines)
        + "\nAn empty file has no entry in `axolotl.yaml` or `dataset_info.json`; "
        + "`validate.fail_on_empty` turns these into a failed run.\n"
    )


def tokens_section(metrics: dict[str, Any]) -> str:
    if "tokens" not in metrics:
        return "## Token statistics\n\nNot counted: the `openai` format was not exported.\n"
    keys = ["examples", "total", "min", "mean", "p50", "p90", "max"]
    rows = [[split, *(t[k] for k in keys)] for split, t in sorted(metrics["tokens"].items())]
    cost = metrics["openai"]
    return (
        "## Token statistics\n\nExact o200k_base counts of the `openai` lines, framed as "
        "OpenAI counts them (per message overhead, tool definitions included).\n\n"
        + table(["split", *keys], rows)
        + f"\nTraining tokens per epoch: {cost['training_tokens_per_epoch']}; OpenAI's default "
        + f"epoch count for this file: {cost['epochs']}; training tokens in all: "
        + f"{cost['training_tokens_total']}. Examples over {cost['max_tokens_per_example']} "
        + f"tokens: {cost['too_long']}.\n"
    )


def limits_section(stats: dict[str, Any], metrics: dict[str, Any]) -> str:
    formats = stats.get("formats", {})
    limits = []
    train = formats.get("openai", {}).get("lines", {}).get("train")
    if train is not None and train < OPENAI_MIN_EXAMPLES:
        limits.append(f"Only {train} OpenAI training examples: OpenAI needs at least 10.")
    epochs = metrics.get("openai", {}).get("epochs", 0)
    if epochs > TARGET_EPOCHS:
        limits.append(
            f"A small training set: OpenAI's default of {epochs} epochs repeats each example "
            f"{epochs} times; watch the validation loss for overfitting."
        )
    if metrics.get("errors_total"):
        limits.append(
            f"{metrics['errors_total']} validation errors: see `data/validate/errors.jsonl`."
        )
    uncorrected = formats.get("openai", {}).get("refused", {}).get("negative_without_correction")
    if uncorrected:
        limits.append(
            f"{uncorrected} negative example(s) have no correction and train in no SFT format: "
            "add a `correction` in data/annotations.yaml (docs/contract.md)."
        )
    unmaskable = [
        n
        for n in UNMASKABLE
        if {"context_turn_unmaskable", "wrong_turn_unmaskable"}
        & set(formats.get(n, {}).get("refused", {}))
    ]
    if unmaskable:
        limits.append(
            "Conversations with an assistant turn that must not train (context, or a wrong "
            "turn nothing fixed) are left out of "
            + ", ".join(f"`{n}`" for n in unmaskable)
            + ", which cannot mask a turn; `openai` and `axolotl_chat` keep them, masked."
        )
    limits += [text for name, text in sorted(FORMAT_LIMITS.items()) if name in formats]
    limits.append("Token counts are for o200k_base (GPT-4o and later); other tokenizers differ.")
    return "## Known limits\n\n" + "".join(f"- {line}\n" for line in limits)


def usage_section(stats: dict[str, Any]) -> str:
    formats = stats.get("formats", {})
    lines = []
    if "openai" in formats:
        lines.append("OpenAI: upload `formats/openai/train.jsonl` (and `validation.jsonl`).")
    alpaca = "alpaca" in formats
    if "axolotl_chat" in formats or alpaca:
        note = (
            " (alpaca: a commented-out alternative)" if alpaca and "axolotl_chat" in formats else ""
        )
        lines.append(
            "Axolotl: paste `axolotl.yaml` (`datasets:` and `test_datasets:`) into your config; "
            f"it lists each record once{note}."
        )
    if "sharegpt" in formats or alpaca:
        note = (
            " (`_alpaca` is a subset of `_sharegpt`: never both)"
            if alpaca and "sharegpt" in formats
            else ""
        )
        lines.append(
            "LLaMA-Factory: `dataset_dir` = this folder, `dataset` = one name from "
            f"`dataset_info.json`{note}."
        )
    if "preference" in formats:
        lines.append('TRL: `load_dataset("json", data_files="formats/preference/train.jsonl")`.')
    return "## Use\n\n" + "".join(f"- {line}\n" for line in lines)


def render_card(
    stats: dict[str, Any],
    metrics: dict[str, Any],
    params: dict[str, Any],
    sources: list[dict[str, str]],
    types: list[dict[str, str]],
) -> str:
    exported = stats.get("exported", {})
    head = (
        "# Dataset card\n\n"
        "Written by `python -m stages.card` from this run's stats; `dvc repro` rewrites it.\n\n"
        f"{exported.get('total', 0)} conversations ({exported.get('train', 0)} train, "
        f"{exported.get('validation', 0)} validation); sources: "
        f"{', '.join(sorted(stats.get('sources', {}))) or 'none'}; formats: "
        f"{len(stats.get('formats', {}))}; validation errors: {metrics.get('errors_total', 0)}; "
        f"warnings: {metrics.get('warnings_total', 0)}.\n"
    )
    sections = [
        head,
        sources_section(stats),
        filters_section(stats, params),
        examples_section(sources, types),
        formats_section(stats, metrics),
        warnings_section(metrics),
        tokens_section(metrics),
        usage_section(stats),
        limits_section(stats, metrics),
    ]
    return "\n".join(sections)


def headline(stats: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures a person compares between dataset versions, all of them numbers."""
    exported = stats.get("exported", {})
    tokens = metrics.get("tokens", {})
    split_names = ("train", "validation")
    return {
        "examples": {split: exported.get(split, 0) for split in split_names},
        "tokens": {split: tokens.get(split, {}).get("total", 0) for split in split_names},
        "sources": {
            source: counts.get("conversations", 0)
            for source, counts in sorted(stats.get("sources", {}).items())
        },
        "rejected": stats.get("rejected_total", 0),
        "dropped": stats.get("deduplicated", 0) + sum(stats.get("filtered", {}).values()),
        "errors": metrics.get("errors_total", 0),
        "warnings": metrics.get("warnings_total", 0),
    }


@stage_command
@click.option("--export-dir", default="data/export", show_default=True)
@click.option("--validate-dir", default="data/validate", show_default=True)
@click.option(
    "--params",
    "params_file",
    default="params.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The parameters the card reports (curate filters, max_samples, seed, export).",
)
@click.option(
    "--summary",
    default="data/metrics.json",
    show_default=True,
    help="Where the headline figures go (the DVC metrics file).",
)
def main(export_dir: str, validate_dir: str, params_file: str, summary: str) -> None:
    """Write the dataset card, README.md next to the exports, from the run's stats.

    Example: python -m stages.card --export-dir data/export --validate-dir data/validate
    """
    setup_logging("card")
    export = Path(export_dir)
    validate = Path(validate_dir)
    for path in (export / "stats.json", validate / "metrics.json"):
        if not path.exists():
            raise click.ClickException(f"{path}: missing (run the export and validate stages)")
    params = load_params(params_file) if Path(params_file).exists() else {}
    stats = json.loads((export / "stats.json").read_text())
    metrics = json.loads((validate / "metrics.json").read_text())
    card = render_card(
        stats,
        metrics,
        params,
        read_csv(validate / "plots" / "sources.csv"),
        read_csv(validate / "plots" / "example_types.csv"),
    )
    write_bytes_atomic(export / "README.md", card.encode())
    write_bytes_atomic(summary, json_bytes(headline(stats, metrics)))


if __name__ == "__main__":
    main()
