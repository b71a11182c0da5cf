"""Trainer configuration that points at the exported files, each record listed once.

`axolotl_datasets` gives the `datasets:` (and `test_datasets:`) blocks of an Axolotl
config; `llamafactory_dataset_info` gives the `dataset_info.json` mapping
LLaMA-Factory reads from its `dataset_dir`. Both are pure: paths in, text or dict out.

Every alpaca record (one user turn, one text answer) is also an axolotl_chat and a
sharegpt record, so a config that listed both files would train those records twice,
in two prompt formats. An Axolotl user expects one dataset in the model's own chat
template: the axolotl_chat file carries every record, the tools and the per-turn mask,
so `axolotl.yaml` lists it alone and keeps the alpaca file as a commented-out
alternative for a model without a chat template (instead of, never beside). alpaca is
listed only when axolotl_chat was not exported. `dataset_info.json` is a catalogue, not
a run: LLaMA-Factory trains only the names given to `dataset:`, so it keeps both
entries, and the docs (docs/export.md) say to give it one of them.
"""

from typing import Any

import yaml

from stages.formats.sharegpt import dataset_info_entry

ALTERNATIVE = (
    "# Alternative for a model without a chat template: the alpaca file holds a subset of\n"
    "# the records above (single-turn, no tools). Use it instead of them, never beside.\n"
)


def _chat_entry(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_field_training": "train",
        "roles_to_train": ["assistant"],
    }


def _alpaca_entry(path: str) -> dict[str, Any]:
    return {"path": path, "ds_type": "json", "type": "alpaca"}


def _blocks(train: dict[str, Any] | None, evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """`datasets:` and, when there is a validation file, `test_datasets:` with `split: train`,
    the one split that Hugging Face gives a plain JSON file."""
    config: dict[str, Any] = {"datasets": [train] if train else []}
    if evaluation:
        config["test_datasets"] = [{**evaluation, "split": "train"}]
    return config


def axolotl_datasets(
    chat_path: str | None = None,
    alpaca_path: str | None = None,
    *,
    eval_chat_path: str | None = None,
    eval_alpaca_path: str | None = None,
) -> str:
    """YAML for Axolotl's `datasets:` over the chat_template files, or the alpaca ones
    when there are none; the alpaca files beside chat files become a comment."""
    chat = _blocks(
        _chat_entry(chat_path) if chat_path else None,
        _chat_entry(eval_chat_path) if eval_chat_path else None,
    )
    alpaca = _blocks(
        _alpaca_entry(alpaca_path) if alpaca_path else None,
        _alpaca_entry(eval_alpaca_path) if eval_alpaca_path else None,
    )
    if not (chat_path or eval_chat_path):
        return yaml.safe_dump(alpaca, sort_keys=False)
    text = yaml.safe_dump(chat, sort_keys=False)
    if alpaca_path or eval_alpaca_path:
        commented = yaml.safe_dump(alpaca, sort_keys=False).splitlines()
        text += ALTERNATIVE + "".join(f"# {line}\n" for line in commented)
    return text


def llamafactory_dataset_info(
    sharegpt_file: str | None = None,
    alpaca_file: str | None = None,
    prefix: str = "logtune",
    *,
    eval_sharegpt_file: str | None = None,
    eval_alpaca_file: str | None = None,
) -> dict[str, Any]:
    """`dataset_info.json` entries `<prefix>_sharegpt`, `<prefix>_alpaca`, and the same
    names with `_validation` for the held-out files (LLaMA-Factory's `eval_dataset`).
    Give `dataset:` one of `_sharegpt` (every record) or `_alpaca` (a subset), not both."""
    files = {
        f"{prefix}_sharegpt": (sharegpt_file, "sharegpt"),
        f"{prefix}_sharegpt_validation": (eval_sharegpt_file, "sharegpt"),
        f"{prefix}_alpaca": (alpaca_file, "alpaca"),
        f"{prefix}_alpaca_validation": (eval_alpaca_file, "alpaca"),
    }
    return {
        name: dataset_info_entry(path, formatting=formatting)
        for name, (path, formatting) in files.items()
        if path
    }
