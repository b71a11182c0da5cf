"""train_check: a real trainer (TRL) runs a few steps on the export and reports what got loss.

Reads:  <export-dir>/formats/openai/train.jsonl, <export-dir>/formats/preference/train.jsonl,
        <export-dir>/records.metadata.jsonl (line → record id).
Writes: <out-dir>/sft_loss_spans.jsonl (per openai line: record id, loss token count, the text
        of each run of tokens that received loss), <out-dir>/dpo_completions.jsonl (per
        preference line: the chosen and rejected completion tokens), <out-dir>/summary.json.

A tool, not a pipeline stage: it needs the `train` extra, downloads nothing, and its
model is a tiny random one, so its loss says only that training runs and falls; the
report says which tokens the export asks a trainer to learn. See docs/training.md.
"""

from pathlib import Path

import click

from stages.common.atomic import write_bytes_atomic
from stages.common.cli import setup_logging, stage_command
from stages.common.jsonl import JsonlWriter
from stages.common.stats import json_bytes

INSTALL = "pip install --require-hashes -r requirements.txt (the lock holds every extra)"


def _losses(losses: list[float]) -> str:
    return f"loss {losses[0]:.3f} at step 1 → {losses[-1]:.3f} at step {len(losses)}"


@stage_command
@click.option("--export-dir", default="data/export", show_default=True, type=click.Path())
@click.option("--out-dir", default="data/train_check", show_default=True, type=click.Path())
@click.option("--sft-steps", default=12, show_default=True, type=click.IntRange(min=1))
@click.option("--dpo-steps", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
def main(export_dir: str, out_dir: str, sft_steps: int, dpo_steps: int, seed: int) -> None:
    """Train a tiny random chat model on the export with TRL (SFT, then DPO) and report, per
    record, which tokens received loss.

    Example: python -m stages.train_check --export-dir data/export --out-dir data/train_check
    """
    setup_logging("train_check")
    try:
        from stages.training.export_data import format_file
        from stages.training.trainers import finite, run_dpo, run_sft
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"the trainer check needs the train extra ({exc.name} is not installed): {INSTALL}"
        ) from None
    export, out = Path(export_dir), Path(out_dir)
    sft_file = str(format_file(export, "openai"))
    dpo_file = str(format_file(export, "preference"))

    sft = run_sft(export, steps=sft_steps, seed=seed)
    if not finite(sft.losses):
        raise click.ClickException(f"SFT on {sft_file}: the loss is not finite: {sft.losses}")
    with JsonlWriter(out / "sft_loss_spans.jsonl") as writer:
        for record in sft.records:
            writer.write(record)
    loss_tokens = sum(r.loss_tokens for r in sft.records)
    click.echo(
        f"SFT on {sft_file}: {len(sft.records)} records, {loss_tokens} loss tokens; "
        f"{_losses(sft.losses)}"
    )
    summary = {"sft": {"file": sft_file, "records": len(sft.records), "losses": sft.losses}}

    dpo = run_dpo(export, steps=dpo_steps, seed=seed)
    if dpo is None:
        (out / "dpo_completions.jsonl").unlink(missing_ok=True)
        click.echo(f"DPO skipped: {dpo_file} is empty (no record has a wrong and a right turn)")
        summary["dpo"] = {"file": dpo_file, "pairs": 0, "losses": []}
    else:
        if not finite(dpo.losses):
            raise click.ClickException(f"DPO on {dpo_file}: the loss is not finite: {dpo.losses}")
        with JsonlWriter(out / "dpo_completions.jsonl") as writer:
            for pair in dpo.pairs:
                writer.write(pair)
        click.echo(f"DPO on {dpo_file}: {len(dpo.pairs)} pairs; {_losses(dpo.losses)}")
        summary["dpo"] = {"file": dpo_file, "pairs": len(dpo.pairs), "losses": dpo.losses}

    write_bytes_atomic(out / "summary.json", json_bytes(summary))
    click.echo(f"report: {out / 'sft_loss_spans.jsonl'}")


if __name__ == "__main__":
    main()
