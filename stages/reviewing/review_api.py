"""What the review page asks for, as JSON-ready data: a page of the list with its counts, a
record as the trainer sees it with its labels and what changed since the build, and a save."""

import bisect
import threading
from pathlib import Path
from typing import Any

import msgspec

from schemas.conversation import Conversation, Labels
from schemas.export_lines import RecordMetadata
from schemas.flagged import Flagged
from stages.annotations import Annotation, apply
from stages.common.user_error import UserError
from stages.export import with_system_prompt
from stages.reviewing.annotation_store import (
    AnnotationForm,
    AnnotationStore,
    built_values,
)
from stages.reviewing.record_index import (
    FACETS,
    SPLITS,
    Catalog,
    DataPaths,
    DatasetIndex,
    Entry,
    Selection,
)
from stages.reviewing.trainer_view import FAMILIES, trainer_view

PAGE_SIZE = 50
EXCLUDED = "curate: excluded_by_hand"


class ListQuery(msgspec.Struct, frozen=True):
    filters: dict[str, list[str]]
    text: str = ""
    page: int = 0

    @classmethod
    def from_params(cls, params: dict[str, list[str]]) -> "ListQuery":
        filters = {name: sorted(set(params[name])) for name in FACETS if params.get(name)}
        page = (params.get("page") or ["0"])[0]
        return cls(filters, (params.get("q") or [""])[0], int(page) if page.isdigit() else 0)


class ExportLines:
    """The text of line N of an exported format file, through offsets kept per file version."""

    def __init__(self, export_dir: Path) -> None:
        self.export_dir = export_dir
        self._offsets: dict[Path, tuple[tuple[int, int], list[int]]] = {}
        self._lock = threading.Lock()

    def line(self, export_format: str, split: str, number: int) -> str | None:
        path = self.export_dir / "formats" / export_format / f"{split}.jsonl"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        with self._lock:
            known = self._offsets.get(path)
            if known is None or known[0] != (stat.st_mtime_ns, stat.st_size):
                known = ((stat.st_mtime_ns, stat.st_size), _line_starts(path))
                self._offsets[path] = known
        starts = known[1]
        if not 0 <= number < len(starts):
            return None
        with open(path, "rb") as handle:
            handle.seek(starts[number])
            return handle.readline().decode().rstrip("\n")


def _line_starts(path: Path) -> list[int]:
    starts, offset = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            starts.append(offset)
            offset += len(line)
    return starts


def _pretty(line: str) -> str:
    return msgspec.json.format(line.encode(), indent=2).decode()


class ReviewApp:
    def __init__(
        self, paths: DataPaths, annotations: Path, system_prompt: str | None, export_format: str
    ) -> None:
        self.paths = paths
        self.index = DatasetIndex(paths)
        self.store = AnnotationStore(annotations)
        self.exports = ExportLines(paths.export)
        self.system_prompt = system_prompt
        self.default_format = export_format
        self._last: tuple[tuple[Any, ...], Selection] | None = None

    def formats(self) -> list[str]:
        folder = self.paths.export / "formats"
        made = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        return [name for name in made if name in FAMILIES] or sorted(FAMILIES)

    def _select(self, catalog: Catalog, query: ListQuery) -> Selection:
        annotations = self.store.all()
        key = (catalog.index.key, id(annotations), query.text, sorted(query.filters.items()))
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        hand = catalog.hand_labelled(annotations.keys())
        selection = catalog.select(query.filters, query.text, hand)
        self._last = (key, selection)
        return selection

    def page(self, query: ListQuery) -> dict[str, Any]:
        catalog = self.index.current()
        selection = self._select(catalog, query)
        annotations = self.store.all()
        start = query.page * PAGE_SIZE
        shown = [(n, catalog.entry(n)) for n in selection.matches[start : start + PAGE_SIZE]]
        rows = [_row(n, entry, entry.key in annotations) for n, entry in shown]
        return {
            "total": len(selection.matches),
            "records": catalog.size,
            "page": query.page,
            "page_size": PAGE_SIZE,
            "rows": rows,
            "facets": selection.counts,
        }

    def _conversation(self, catalog: Catalog, entry: Entry) -> Conversation | None:
        if entry.file < 0:
            return None
        with open(catalog.index.files[entry.file], "rb") as handle:
            handle.seek(entry.offset)
            data = handle.read(entry.length)
        if entry.split == "flagged":
            return msgspec.json.decode(data, type=Flagged).conversation
        return msgspec.json.decode(data, type=Conversation)

    def _entry(self, catalog: Catalog, n: int) -> Entry:
        if not 0 <= n < catalog.size:
            raise UserError(f"no record number {n}: the data has {catalog.size} records")
        return catalog.entry(n)

    def record(self, n: int, export_format: str | None, query: ListQuery) -> dict[str, Any]:
        catalog = self.index.current()
        entry = self._entry(catalog, n)
        chosen = export_format if export_format in FAMILIES else self.default_format
        conv = self._conversation(catalog, entry)
        annotation, version = self.store.get(entry.key)
        matches = self._select(catalog, query).matches
        view: dict[str, Any] = {
            "n": n,
            "id": entry.id,
            "key": entry.key,
            "split": entry.split,
            "source": entry.source,
            "dropped": entry.dropped,
            "moderation": entry.moderation,
            "refused": entry.refused,
            "excerpt": entry.title,
            "format": chosen,
            "formats": self.formats(),
            "annotation": annotation,
            "version": version,
            "neighbours": _neighbours(matches, n),
            "pending": _pending(entry, conv.labels if conv else Labels(), annotation),
        }
        if conv is None:
            return view
        shown = with_system_prompt(conv, self.system_prompt)
        view.update(
            labels=built_values(conv.labels),
            meta=msgspec.to_builtins(conv.meta),
            tools=[
                {
                    "name": t.function.name,
                    "description": t.function.description,
                    "parameters": msgspec.json.format(
                        msgspec.json.encode(t.function.parameters), indent=2
                    ).decode(),
                }
                for t in conv.tools
            ],
            trainer=msgspec.to_builtins(trainer_view(shown, chosen)),
            exported=self._exported(entry, chosen),
        )
        return view

    def _exported(self, entry: Entry, export_format: str) -> dict[str, Any] | None:
        """The record's line in the format's file, as written by the last export."""
        if entry.metadata < 0 or entry.split not in SPLITS:
            return None
        with open(self.paths.export / "records.metadata.jsonl", "rb") as handle:
            handle.seek(entry.metadata)
            metadata = msgspec.json.decode(handle.readline(), type=RecordMetadata)
        number = metadata.lines.get(export_format)
        where = f"formats/{export_format}/{entry.split}.jsonl"
        if number is None:
            return {"file": where, "line": None, "text": None}
        text = self.exports.line(export_format, entry.split, number)
        return {"file": where, "line": number + 1, "text": _pretty(text) if text else None}

    def save(self, n: int, body: bytes) -> dict[str, Any]:
        catalog = self.index.current()
        entry = self._entry(catalog, n)
        try:
            form = msgspec.json.decode(body, type=AnnotationForm)
        except msgspec.DecodeError as error:
            raise UserError(f"not saved: {error}") from None
        conv = self._conversation(catalog, entry)
        annotation, version = self.store.save(entry.key, form, conv.labels if conv else Labels())
        return {
            "annotation": annotation or None,
            "version": version,
            "pending": _pending(entry, conv.labels if conv else Labels(), annotation or None),
        }


def _row(n: int, entry: Entry, hand: bool) -> dict[str, Any]:
    return {
        "n": n,
        "id": entry.id,
        "split": entry.split,
        "source": entry.source,
        "example_type": entry.example_type,
        "rating": entry.rating,
        "quality": entry.quality,
        "dropped": entry.dropped,
        "moderation": entry.moderation,
        "title": entry.title,
        "messages": entry.messages,
        "hand": hand,
    }


def _neighbours(matches: list[int], n: int) -> dict[str, int | None]:
    """The records before and after `n` in the list as filtered (n need not be in it)."""
    at = bisect.bisect_left(matches, n)
    after = at + 1 if at < len(matches) and matches[at] == n else at
    return {
        "previous": matches[at - 1] if at > 0 else None,
        "next": matches[after] if after < len(matches) else None,
    }


def _pending(entry: Entry, built: Labels, annotation: dict[str, Any] | None) -> list[dict]:
    """What the next build changes in this record: each label the annotation sets to another
    value than the last build gave, and an exclusion or its reversal."""
    changes: list[dict[str, Any]] = []
    if annotation:
        try:
            note = msgspec.convert(annotation, Annotation)
        except msgspec.ValidationError as error:
            return [{"field": "annotation", "built": None, "annotated": f"invalid: {error}"}]
        was, will = built_values(built), built_values(apply(built, note))
        changes = [
            {"field": field, "built": was[field], "annotated": will[field]}
            for field in was
            if was[field] != will[field]
        ]
    excluded = bool(annotation and annotation.get("exclude"))
    if excluded and entry.split in SPLITS:
        changes.append({"field": "exclude", "built": "kept", "annotated": "excluded"})
    elif not excluded and entry.dropped == EXCLUDED:
        changes.append({"field": "exclude", "built": "excluded", "annotated": "kept"})
    return changes
