"""The hand-kept annotations file: label overrides keyed by record id.

Ids are content hashes of the messages, so an annotation keeps applying to the same
conversation however often the sources are parsed again. A field given in an annotation
replaces that label whatever the source or the model said; `null` clears it; a field left out
is untouched. A typo in a field name, a wrong type or an unquoted id that YAML read as a number
is an error naming the id, never a silently ignored annotation.
"""

import logging
from pathlib import Path
from typing import Any

import click
import msgspec

from schemas.conversation import ExampleType, FunctionCall, Labels, Message, ToolCall
from stages.common.params import read_yaml

log = logging.getLogger("logtune")

UNSET = msgspec.UNSET


class CorrectionCall(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)


class CorrectionSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A correction written as a message: text, calls, or both (arguments as an object)."""

    content: str | None = None
    tool_calls: list[CorrectionCall] | None = None

    def message(self) -> Message:
        calls = [
            ToolCall(
                id=f"call_{n}",
                function=FunctionCall(name=call.name, arguments=_compact(call.arguments)),
            )
            for n, call in enumerate(self.tool_calls or (), start=1)
        ]
        return Message(role="assistant", content=self.content, tool_calls=calls or None)


def _compact(value: Any) -> str:
    return msgspec.json.encode(value).decode()


class Annotation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    example_type: ExampleType | msgspec.UnsetType | None = UNSET
    quality_score: float | msgspec.UnsetType | None = UNSET
    rating: int | msgspec.UnsetType | None = UNSET
    tags: list[str] | msgspec.UnsetType = UNSET
    reasoning: str | msgspec.UnsetType | None = UNSET
    problem: str | msgspec.UnsetType | None = UNSET
    root_cause: str | msgspec.UnsetType | None = UNSET
    # The reply (text) or the message (content and/or tool_calls) the problem turn should
    # have been; see docs/contract.md.
    correction: str | CorrectionSpec | msgspec.UnsetType | None = UNSET
    note: str | None = None  # why, for the people who keep the file; not a label
    # Leave the record out of the dataset: curate drops it (`excluded_by_hand`).
    exclude: bool = False


def load_annotations(path: str | Path, *, required: bool) -> dict[str, Annotation]:
    """Annotations by id from a YAML mapping `id: {field: value}`.

    A missing file is an error when the user named it (`required`): a typo in its path would
    otherwise drop every manual label without a word. The built-in default missing (a run
    outside the repository, where it is git-tracked) is a warning and no annotations.
    """
    if not Path(path).exists():
        start = f"start an empty one with `echo '{{}}' > {path}`"
        if required:
            raise click.ClickException(
                f"{path}: no such annotations file: fix the path (--annotations, "
                f"enrich.annotations in params.yaml) or {start}"
            )
        log.warning("%s: no annotations file, so no manual labels apply; %s", path, start)
        return {}
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: expected a mapping of record id → labels")
    annotations = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise click.ClickException(
                f'{path}: id {key!r} was read as a {type(key).__name__}: quote it, e.g. "{key}"'
            )
        try:
            annotations[key] = msgspec.convert(value or {}, Annotation)
        except msgspec.ValidationError as error:
            raise click.ClickException(f"{path}: {key}: {error}") from error
    return annotations


def apply(labels: Labels, annotation: Annotation) -> Labels:
    """The labels with every field the annotation sets replaced."""
    changes: dict[str, Any] = {
        field: getattr(annotation, field)
        for field in Labels.__struct_fields__
        if getattr(annotation, field) is not UNSET
    }
    correction = changes.get("correction")
    if isinstance(correction, str):
        changes["correction"] = Message(role="assistant", content=correction)
    elif isinstance(correction, CorrectionSpec):
        changes["correction"] = correction.message()
    return msgspec.structs.replace(labels, **changes)
