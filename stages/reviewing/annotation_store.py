"""data/annotations.yaml as the review tool reads and edits it.

Reading uses the fast YAML loader; a save re-reads the file and edits it with ruamel.yaml's
round trip, so comments, key order and quoting stay as the people who keep the file wrote
them, and replaces it atomically. Each annotation has a version, the hash of its content: a
save names the version its form was drawn from, and is refused when the annotation changed
since (another tab, an editor), so no edit is ever overwritten unseen. Edits of other records
in between are kept: only the one annotation is rewritten.
"""

import io
import threading
from pathlib import Path
from typing import Any

import msgspec
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from schemas.conversation import ExampleType, Labels, Message
from stages.annotations import Annotation, CorrectionSpec
from stages.common.atomic import write_bytes_atomic
from stages.common.hashing import content_hash
from stages.common.params import read_yaml
from stages.common.user_error import UserError

LABEL_FIELDS = (
    "example_type",
    "quality_score",
    "rating",
    "tags",
    "reasoning",
    "problem",
    "root_cause",
    "correction",
)


class StaleAnnotation(Exception):
    """The annotation changed on disk after the form being saved was drawn from it."""


class AnnotationForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the record view's form sends: every editable field, and the version it saw."""

    version: str
    example_type: ExampleType | None = None
    quality_score: float | None = None
    rating: int | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    reasoning: str | None = None
    problem: str | None = None
    root_cause: str | None = None
    correction: CorrectionSpec | None = None
    exclude: bool = False
    note: str | None = None


def version(annotation: dict[str, Any] | None) -> str:
    return "none" if annotation is None else content_hash(annotation)[:16]


def correction_value(correction: CorrectionSpec | Message | None) -> Any:
    """A correction as the file writes it: the reply text, or {content, tool_calls}."""
    if correction is None:
        return None
    if isinstance(correction, Message):
        calls = [
            {"name": c.function.name, "arguments": msgspec.json.decode(c.function.arguments)}
            for c in correction.tool_calls or ()
        ]
    else:
        calls = [{"name": c.name, "arguments": c.arguments} for c in correction.tool_calls or ()]
    content = correction.content or None
    if not calls:
        return content
    return {"content": content, "tool_calls": calls} if content else {"tool_calls": calls}


def _text(value: str | None) -> str | None:
    return value if value and value.strip() else None


def form_values(form: AnnotationForm) -> dict[str, Any]:
    """The form's label values as the file writes them (blank text is no value)."""
    return {
        "example_type": form.example_type,
        "quality_score": form.quality_score,
        "rating": form.rating,
        "tags": sorted({t.strip() for t in form.tags if t.strip()}),
        "reasoning": _text(form.reasoning),
        "problem": _text(form.problem),
        "root_cause": _text(form.root_cause),
        "correction": correction_value(form.correction),
    }


def built_values(labels: Labels) -> dict[str, Any]:
    values = msgspec.to_builtins(labels)
    values["correction"] = correction_value(labels.correction)
    values.setdefault("tags", [])
    return {field: values.get(field) for field in LABEL_FIELDS}


def updated(current: dict[str, Any] | None, form: AnnotationForm, built: Labels) -> dict[str, Any]:
    """The annotation after a save: a field it already sets takes the form's value; another
    field is written only when the form differs from the label the last build gave."""
    new = dict(current or {})
    was = built_values(built)
    for field, value in form_values(form).items():
        if field in new or value != was[field]:
            new[field] = value
    note = _text(form.note)
    for field, value in (("note", note), ("exclude", form.exclude or None)):
        if value is None:
            new.pop(field, None)
        else:
            new[field] = value
    try:
        msgspec.convert(new, Annotation)
    except msgspec.ValidationError as error:
        raise UserError(f"not saved: {error}") from None
    return new


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # a long label stays on one line instead of being folded
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _node(value: Any) -> Any:
    """A value as ruamel should write it: multi-line text as a block, tags in one line."""
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    if isinstance(value, dict):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = _node(item)
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_node(item) for item in value)
        if all(isinstance(item, str | int | float) for item in value):
            seq.fa.set_flow_style()
        return seq
    return value


class AnnotationStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None

    def _stat(self) -> tuple[int, int, int]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def all(self) -> dict[str, dict[str, Any]]:
        """Every annotation by id, read again only when the file changed."""
        stat = self._stat()
        if self._cached is None or self._cached[0] != stat:
            data = read_yaml(self.path) if stat != (0, 0, 0) else None
            if data is not None and not isinstance(data, dict):
                raise UserError(f"{self.path}: expected a mapping of record id → labels")
            self._cached = (stat, {str(k): dict(v or {}) for k, v in (data or {}).items()})
        return self._cached[1]

    def get(self, key: str) -> tuple[dict[str, Any] | None, str]:
        annotation = self.all().get(key)
        return annotation, version(annotation)

    def save(self, key: str, form: AnnotationForm, built: Labels) -> tuple[dict[str, Any], str]:
        """Write the annotation the form gives; StaleAnnotation when it changed meanwhile."""
        with self._lock:
            self._cached = None
            current, seen = self.get(key)
            if seen != form.version:
                raise StaleAnnotation(key)
            new = updated(current, form, built)
            if new != (current or {}):
                self._write(key, new)
            return new, version(new or None)

    def _write(self, key: str, new: dict[str, Any]) -> None:
        yaml = _yaml()
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        data = yaml.load(text)
        prefix = ""
        if data is None:  # only comments so far: they stay at the top
            data, prefix = CommentedMap(), text.rstrip("\n") + "\n\n" if text.strip() else ""
        if not data:
            data.fa.set_block_style()
        if not new:
            data.pop(key, None)
        elif key in data and isinstance(data[key], CommentedMap):
            entry = data[key]
            for field in [f for f in entry if f not in new]:
                del entry[field]
            for field, value in new.items():
                if entry.get(field) != value:
                    entry[field] = _node(value)
        else:
            data.pop(key, None)
            data[DoubleQuotedScalarString(key)] = _node(new)
        out = io.StringIO()
        yaml.dump(data, out)
        write_bytes_atomic(self.path, (prefix + out.getvalue()).encode())
        self._cached = None
