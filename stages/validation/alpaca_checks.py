"""Alpaca rows as Axolotl and LLaMA-Factory read them: an instruction and an answer.

The schema already makes all four fields strings; what it cannot say is that an empty
instruction gives the trainer no prompt and an empty output nothing to learn.
"""

from collections.abc import Iterator
from typing import Any

from stages.validation.finding import Finding

REQUIRED_TEXT = ("instruction", "output")


def check_alpaca(row: dict[str, Any]) -> Iterator[Finding]:
    for key in REQUIRED_TEXT:
        if not row[key].strip():
            yield Finding(key, f"empty_{key}", f"{key} is empty: the row teaches nothing")
