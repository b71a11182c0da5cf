"""A few steps of TRL's SFT and DPO trainers on the export, on CPU, from a fixed seed.

The SFT report is read back from the dataset the trainer prepared (its `labels`
column, built by TRL from the chat template's assistant mask), so it shows what
the trainer really trained on, not what we expect it to. Each run trains its own
tokenizer on the file it reads.
"""

import math
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import datasets
import msgspec
import transformers
from datasets import Dataset
from transformers import PreTrainedTokenizerFast
from transformers.trainer_callback import PrinterCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from stages.training.export_data import TrainerRow, dpo_rows, sft_rows
from stages.training.loss_spans import LossSpans, loss_spans
from stages.training.tiny_model import tiny_model, train_tokenizer

LEARNING_RATE = 3e-3
SFT_BATCH = 4
DPO_BATCH = 2
DPO_BETA = 0.1


class SftRun(msgspec.Struct, kw_only=True):
    losses: list[float]  # the training loss at each step
    records: list[LossSpans]  # per line of the openai file, what received loss

    def by_id(self) -> dict[str, LossSpans]:
        return {record.id: record for record in self.records}


class PreferenceCompletion(msgspec.Struct, kw_only=True):
    """One preference line: the completion tokens DPO raises (chosen) and lowers (rejected)."""

    line: int
    id: str
    chosen: str
    rejected: str


class DpoRun(msgspec.Struct, kw_only=True):
    losses: list[float]
    pairs: list[PreferenceCompletion]


def finite(losses: list[float]) -> bool:
    return bool(losses) and all(math.isfinite(loss) for loss in losses)


@contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars, per-step prints or deprecation notes from the libraries (transformers
    deprecates names that TRL still uses): the command prints its own summary."""
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _tokenizer(rows: list[TrainerRow]) -> PreTrainedTokenizerFast:
    """A tokenizer learnt from the rows' own text: every row as JSON (contents, calls, tools)."""
    return train_tokenizer(msgspec.json.encode(row.columns).decode() for row in rows)


def _arguments(steps: int, seed: int, batch_size: int, output_dir: str) -> dict[str, Any]:
    return {
        "output_dir": output_dir,
        "max_steps": steps,
        "per_device_train_batch_size": batch_size,
        "learning_rate": LEARNING_RATE,
        "lr_scheduler_type": "constant",
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "seed": seed,
        "data_seed": seed,
        "max_length": None,  # no truncation: the report covers every token of every record
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }


def _train(trainer: transformers.Trainer) -> list[float]:
    """Train; the loss logged at each step."""
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def run_sft(export_dir: Path, *, steps: int, seed: int = 0) -> SftRun:
    """SFT with assistant-only loss on the openai export's train lines (messages + tools)."""
    rows = sft_rows(export_dir)
    tokenizer = _tokenizer(rows)
    with _quiet(), tempfile.TemporaryDirectory(prefix="logtune-sft-") as output_dir:
        trainer = SFTTrainer(
            model=tiny_model(tokenizer, seed),
            args=SFTConfig(
                assistant_only_loss=True, **_arguments(steps, seed, SFT_BATCH, output_dir)
            ),
            train_dataset=Dataset.from_list([row.columns for row in rows]),
            processing_class=tokenizer,
        )
        losses = _train(trainer)
    records = [
        loss_spans(row.line, row.id, tokenized["input_ids"], tokenized["labels"], tokenizer)
        for row, tokenized in zip(rows, trainer.train_dataset, strict=True)
    ]
    return SftRun(losses=losses, records=records)


def run_dpo(export_dir: Path, *, steps: int, seed: int = 0) -> DpoRun | None:
    """DPO on the preference export's train lines; None when the file has none.

    The reference model is a second copy of the same random initialisation.
    """
    rows = dpo_rows(export_dir)
    if not rows:
        return None
    tokenizer = _tokenizer(rows)
    with _quiet(), tempfile.TemporaryDirectory(prefix="logtune-dpo-") as output_dir:
        trainer = DPOTrainer(
            model=tiny_model(tokenizer, seed),
            ref_model=tiny_model(tokenizer, seed),
            args=DPOConfig(beta=DPO_BETA, **_arguments(steps, seed, DPO_BATCH, output_dir)),
            train_dataset=Dataset.from_list([row.columns for row in rows]),
            processing_class=tokenizer,
        )
        losses = _train(trainer)
    pairs = [
        PreferenceCompletion(
            line=row.line,
            id=row.id,
            chosen=tokenizer.decode(tokenized["chosen_ids"]),
            rejected=tokenizer.decode(tokenized["rejected_ids"]),
        )
        for row, tokenized in zip(rows, trainer.train_dataset, strict=True)
    ]
    return DpoRun(losses=losses, pairs=pairs)
