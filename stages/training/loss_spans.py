"""Which tokens of a trainer row receive loss, as text a person (or a test) can read."""

from collections.abc import Sequence

import msgspec
from transformers import PreTrainedTokenizerBase

IGNORED = -100  # the label of a token that gets no loss (PyTorch's cross-entropy ignore_index)


class LossSpans(msgspec.Struct, kw_only=True):
    """One record of the SFT file: its line, its id, and the text of every run of loss tokens."""

    line: int
    id: str
    loss_tokens: int
    spans: list[str]


def runs(labels: Sequence[int]) -> list[tuple[int, int]]:
    """The [start, end) runs of consecutive positions whose label is not ignored."""
    found: list[tuple[int, int]] = []
    start = None
    for i, label in enumerate([*labels, IGNORED]):
        if label != IGNORED and start is None:
            start = i
        elif label == IGNORED and start is not None:
            found.append((start, i))
            start = None
    return found


def loss_spans(
    line: int,
    record_id: str,
    input_ids: Sequence[int],
    labels: Sequence[int],
    tokenizer: PreTrainedTokenizerBase,
) -> LossSpans:
    """The decoded loss runs of one tokenized row, exactly as the trainer labelled it."""
    spans = [tokenizer.decode(input_ids[a:b]) for a, b in runs(labels)]
    count = sum(label != IGNORED for label in labels)
    return LossSpans(line=line, id=record_id, loss_tokens=count, spans=spans)
