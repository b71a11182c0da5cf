"""The index the review list is drawn from: one small entry per record, built once per version
of the data and reused while no input file changes.

Building reads every record once (curated, dropped, flagged); a page then costs a few set
operations. The index and a lower-cased text file for the free-text search live in the cache
folder under a key made of every input file's path, size and modification time, so a new
`dvc repro` output is indexed again on the next request and nothing stale is ever shown.
"""

import bisect
import hashlib
import mmap
import threading
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import msgspec

from schemas.conversation import Conversation
from schemas.export_lines import ExportReject
from schemas.flagged import Flagged
from schemas.reject import Dropped
from stages.common.atomic import write_bytes_atomic
from stages.common.jsonl import record_files
from stages.common.user_error import UserError

INDEX_VERSION = 2
SPLITS = ("train", "validation")
NONE = "(none)"
TITLE_CHARS = 160
FACETS = (
    "split",
    "source",
    "example_type",
    "rating",
    "tag",
    "dropped",
    "moderation",
    "refused",
    "hand_label",
)


class DataPaths(msgspec.Struct, frozen=True, kw_only=True):
    """Where the pipeline's outputs are, and where the index is kept."""

    curated: Path
    moderated: Path
    export: Path
    cache: Path

    def curated_split(self, split: str) -> Path:
        return self.curated / f"{split}.jsonl"

    def moderated_records(self) -> list[Path]:
        path = self.moderated / "conversations.jsonl"
        return record_files(path) if path.exists() else []

    def inputs(self) -> list[Path]:
        return [
            *(self.curated_split(split) for split in SPLITS),
            self.curated / "dropped.jsonl",
            *self.moderated_records(),
            self.moderated / "flagged.jsonl",
            self.export / "records.metadata.jsonl",
            self.export / "rejects.jsonl",
        ]


class Entry(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One listed record: what the list shows and filters on, and where the whole record is."""

    id: str
    key: str  # the id its annotation is kept under: a window's original
    split: str  # train, validation, dropped (by curate) or flagged (by moderate)
    source: str
    example_type: str | None
    rating: int | None
    quality: float | None
    tags: list[str]
    dropped: str | None  # "stage: reason"
    moderation: list[str]
    refused: list[str]  # "format: reason" for each format that left it out
    file: int  # the file holding the whole record (Index.files), -1 when none does
    offset: int
    length: int
    metadata: int  # offset of its line in records.metadata.jsonl, -1 when it has none
    title: str
    messages: int


class Index(msgspec.Struct, frozen=True, gc=False):
    """Entries stay encoded until a page shows them: decoding 100,000 of them would cost more
    than the whole first page may take."""

    key: str
    files: list[str]
    entries: list[msgspec.Raw]
    keys: list[str]  # each entry's annotation key, for the hand-label filter
    postings: dict[str, dict[str, list[int]]]  # per facet, per value: its entries, in order
    text_starts: list[int]  # offset of each entry's line in the text file, and the end


_entry_decoder = msgspec.msgpack.Decoder(Entry)


class _Id(msgspec.Struct):
    id: str


class _Place(msgspec.Struct):
    split: str
    index: int


def data_key(paths: DataPaths) -> str:
    """A key that changes whenever any input file is written, replaced or removed."""
    state = []
    for path in paths.inputs():
        try:
            stat = path.stat()
            state.append([str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino])
        except FileNotFoundError:
            state.append([str(path), None])
    blob = msgspec.json.encode([INDEX_VERSION, state])
    return hashlib.sha256(blob).hexdigest()[:20]


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset, line without its newline) of every non-blank line of a file, if it exists."""
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as handle:
        for line in handle:
            data = line.rstrip(b"\r\n")
            if data.strip():
                yield offset, data
            offset += len(line)


def search_text(conv: Conversation) -> str:
    """What the free-text search looks in: every message text, call and label text."""
    parts = [conv.id, conv.meta.file or ""]
    for message in conv.messages:
        parts.append(message.content or "")
        for call in message.tool_calls or ():
            parts += [call.function.name, call.function.arguments]
    labels = conv.labels
    parts += [labels.reasoning or "", labels.problem or "", labels.root_cause or "", *labels.tags]
    return " ".join(parts).lower().replace("\n", " ").replace("\r", " ")


def title(conv: Conversation) -> str:
    first = next((m for m in conv.messages if m.role == "user" and m.content), None)
    first = first or next((m for m in conv.messages if m.content), None)
    return " ".join((first.content or "").split())[:TITLE_CHARS] if first else ""


def annotation_key(conv: Conversation) -> str:
    """A window is annotated through the record it was cut from (curate reads annotations
    under that id); any other record under its own id."""
    return conv.meta.original if conv.meta.window is not None and conv.meta.original else conv.id


class _Builder:
    def __init__(self) -> None:
        self.files: list[str] = []
        self.entries: list[Entry] = []
        self.texts: list[bytes] = []

    def file(self, path: Path) -> int:
        self.files.append(str(path))
        return len(self.files) - 1

    def add(
        self,
        conv: Conversation,
        split: str,
        where: tuple[int, int, int],
        *,
        dropped: str | None = None,
        moderation: list[str] | None = None,
        refused: list[str] | None = None,
        metadata: int = -1,
    ) -> None:
        file, offset, length = where
        labels = conv.labels
        self.entries.append(
            Entry(
                id=conv.id,
                key=annotation_key(conv),
                split=split,
                source=conv.source,
                example_type=labels.example_type,
                rating=labels.rating,
                quality=labels.quality_score,
                tags=labels.tags,
                dropped=dropped,
                moderation=moderation or [],
                refused=refused or [],
                file=file,
                offset=offset,
                length=length,
                metadata=metadata,
                title=title(conv),
                messages=len(conv.messages),
            )
        )
        self.texts.append(search_text(conv).encode())

    def add_dropped_only(self, dropped: Dropped) -> None:
        """A drop whose whole record no input keeps (a window over the cap): its excerpt."""
        self.entries.append(
            Entry(
                id=dropped.id,
                key=dropped.id,
                split="dropped",
                source=dropped.source or NONE,
                example_type=None,
                rating=None,
                quality=None,
                tags=[],
                dropped=_drop_label(dropped),
                moderation=[],
                refused=[],
                file=-1,
                offset=0,
                length=0,
                metadata=-1,
                title=dropped.excerpt or "",
                messages=0,
            )
        )
        self.texts.append(f"{dropped.id} {dropped.excerpt or ''}".lower().encode())

    def finish(self, key: str) -> tuple[Index, bytes]:
        starts = [0]
        for text in self.texts:
            starts.append(starts[-1] + len(text) + 1)
        text = b"\n".join(self.texts) + b"\n"
        postings: dict[str, dict[str, list[int]]] = {name: {} for name in FACETS}
        for n, entry in enumerate(self.entries):
            for facet, value in _facet_values(entry):
                postings[facet].setdefault(value, []).append(n)
        encode = msgspec.msgpack.Encoder().encode
        entries = [msgspec.Raw(encode(entry)) for entry in self.entries]
        keys = [entry.key for entry in self.entries]
        return Index(key, self.files, entries, keys, postings, starts), text


def _drop_label(dropped: Dropped) -> str:
    return f"{dropped.stage or 'unknown'}: {dropped.reason}"


def build(paths: DataPaths, key: str) -> tuple[Index, bytes]:
    """Read every record once and make the index and its search text."""
    if not paths.curated_split("train").exists():
        raise UserError(
            f"{paths.curated_split('train')}: no curated dataset: run `dvc repro` first"
        )
    places: dict[tuple[str, int], int] = {}
    place_decoder = msgspec.json.Decoder(_Place)
    for offset, data in _lines(paths.export / "records.metadata.jsonl"):
        place = place_decoder.decode(data)
        places[(place.split, place.index)] = offset
    refusals: dict[tuple[str, int], list[str]] = {}
    reject_decoder = msgspec.json.Decoder(ExportReject)
    for _, data in _lines(paths.export / "rejects.jsonl"):
        reject = reject_decoder.decode(data)
        refusals.setdefault((reject.split, reject.index), []).append(
            f"{reject.format}: {reject.reason}"
        )
    builder = _Builder()
    decoder = msgspec.json.Decoder(Conversation)
    for split in SPLITS:
        path = paths.curated_split(split)
        file = builder.file(path)
        for index, (offset, data) in enumerate(_lines(path)):
            builder.add(
                decoder.decode(data),
                split,
                (file, offset, len(data)),
                metadata=places.get((split, index), -1),
                refused=refusals.get((split, index), []),
            )
    _add_dropped(builder, paths, decoder)
    flagged_path = paths.moderated / "flagged.jsonl"
    file = builder.file(flagged_path)
    flagged_decoder = msgspec.json.Decoder(Flagged)
    for offset, data in _lines(flagged_path):
        flagged = flagged_decoder.decode(data)
        categories = flagged.categories or (["unjudged"] if flagged.error else [])
        where = (file, offset, len(data))
        builder.add(flagged.conversation, "flagged", where, moderation=categories)
    return builder.finish(key)


def _add_dropped(builder: _Builder, paths: DataPaths, decoder: msgspec.json.Decoder) -> None:
    """Curate's drops, each with its whole record from curate's input where it is there."""
    by_id: dict[str, list[Dropped]] = {}
    dropped_decoder = msgspec.json.Decoder(Dropped)
    for _, data in _lines(paths.curated / "dropped.jsonl"):
        dropped = dropped_decoder.decode(data)
        by_id.setdefault(dropped.id, []).append(dropped)
    id_decoder = msgspec.json.Decoder(_Id)
    for path in paths.moderated_records():
        if not by_id:
            break
        file = builder.file(path)
        for offset, data in _lines(path):
            drops = by_id.pop(id_decoder.decode(data).id, None)
            if drops is None:
                continue
            conv = decoder.decode(data)
            for dropped in drops:
                builder.add(
                    conv, "dropped", (file, offset, len(data)), dropped=_drop_label(dropped)
                )
    for drops in by_id.values():
        for dropped in drops:
            builder.add_dropped_only(dropped)


class Selection(msgspec.Struct, frozen=True):
    matches: list[int]  # entry numbers, in index order
    counts: dict[str, dict[str, int]]  # per facet, per value: matches with the other facets


class Catalog:
    """A loaded index: entries, a set of entry numbers per facet value, and the search text."""

    def __init__(self, index: Index, text_path: Path) -> None:
        self.index = index
        self.size = len(index.entries)
        self.text_path = text_path
        self.starts = index.text_starts
        self.everything = set(range(self.size))
        self.postings = {
            facet: {value: set(members) for value, members in values.items()}
            for facet, values in index.postings.items()
        }

    def entry(self, n: int) -> Entry:
        return _entry_decoder.decode(self.index.entries[n])

    def hand_labelled(self, keys: Collection[str]) -> set[int]:
        if not keys:
            return set()
        return {n for n, key in enumerate(self.index.keys) if key in keys}

    def text_matches(self, needle: str) -> set[int]:
        """Entries whose search text holds `needle`, case-insensitively."""
        wanted = " ".join(needle.lower().split()).encode()
        found: set[int] = set()
        if not wanted or not self.size:
            return found
        with open(self.text_path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=1) as text:
            at = text.find(wanted)
            while at != -1:
                n = bisect.bisect_right(self.starts, at) - 1
                found.add(n)
                at = text.find(wanted, self.starts[n + 1])
        return found

    def select(
        self, filters: Mapping[str, Collection[str]], text: str, hand: set[int]
    ) -> Selection:
        """The entries every filter lets through (values of one facet are alternatives), and
        each facet value's count with the other facets' filters applied."""
        postings = {**self.postings, "hand_label": {"yes": hand, "no": self.everything - hand}}
        chosen: dict[str, set[int]] = {}
        for facet, values in filters.items():
            if facet in postings and values:
                chosen[facet] = set().union(*(postings[facet].get(v, set()) for v in values))
        if text.strip():
            chosen["text"] = self.text_matches(text)
        counts = {}
        for facet in FACETS:
            others = [s for name, s in chosen.items() if name != facet]
            base = set.intersection(*others) if others else None
            counts[facet] = {
                value: len(members) if base is None else len(members & base)
                for value, members in sorted(postings[facet].items())
            }
        matches = set.intersection(*chosen.values()) if chosen else self.everything
        return Selection(sorted(matches), counts)


def _facet_values(entry: Entry) -> Iterator[tuple[str, str]]:
    yield "split", entry.split
    yield "source", entry.source
    yield "example_type", entry.example_type or NONE
    yield "rating", NONE if entry.rating is None else str(entry.rating)
    for tag in entry.tags:
        yield "tag", tag
    yield "dropped", entry.dropped or NONE
    for category in entry.moderation:
        yield "moderation", category
    if not entry.moderation:
        yield "moderation", NONE
    for refusal in entry.refused:
        yield "refused", refusal
    if not entry.refused:
        yield "refused", NONE


class DatasetIndex:
    """The current Catalog: loaded from the cache when the data is unchanged, built and
    stored otherwise (older indexes removed), checked again on every request."""

    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None

    def current(self) -> Catalog:
        key = data_key(self.paths)
        with self._lock:
            if self._catalog is None or self._catalog.index.key != key:
                self._catalog = self._load(key)
            return self._catalog

    def _load(self, key: str) -> Catalog:
        cache = self.paths.cache
        index_path, text_path = cache / f"{key}.index", cache / f"{key}.text"
        if index_path.exists() and text_path.exists():
            return Catalog(msgspec.msgpack.decode(index_path.read_bytes(), type=Index), text_path)
        index, text = build(self.paths, key)
        for old in cache.glob("*.index"):
            old.unlink(missing_ok=True)
            old.with_suffix(".text").unlink(missing_ok=True)
        write_bytes_atomic(text_path, text)
        write_bytes_atomic(index_path, msgspec.msgpack.encode(index))
        return Catalog(index, text_path)
