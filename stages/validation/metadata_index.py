"""What validate needs of records.metadata.jsonl, in a few bytes per record.

A million curated records in nine formats would take gigabytes as decoded metadata
records and per-file dicts of line → id. The index keeps each record's id once (by
split, in order), an 8-byte position per line of each format file, and the counts the
plots show, read in one streaming pass.
"""

import math
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import msgspec

from schemas.export_lines import RecordMetadata
from schemas.format_lines import FormatError
from stages.common.input_paths import provenance_path
from stages.common.jsonl import iter_lines
from stages.validation.schema_checks import format_error
from stages.validation.summary import SPLITS

NONE = -1
# A line placed this far past the file's lines so far is kept aside (corrupt metadata):
# the positions array would otherwise grow to it.
MAX_GAP = 1 << 20


class LinePlaces(Mapping[int, str]):
    """0-based line of one format file → the id of the record the metadata places there;
    a later placement on the same line replaces an earlier one."""

    def __init__(self, ids: list[str]) -> None:
        self._ids = ids  # the split's record ids, in metadata order
        self._positions = array("q")  # line → index in `ids`, NONE where no record is placed
        self._aside: dict[int, int] = {}
        self._reach = math.inf  # the first line aside that the positions may grow to
        self._count = 0

    def place(self, line: int, position: int) -> None:
        positions = self._positions
        if line == len(positions):  # the next line, as a format writes them: most placements
            positions.append(position)
            self._count += 1
        elif 0 <= line < len(positions) + MAX_GAP:
            if line >= len(positions):
                positions.extend([NONE] * (line + 1 - len(positions)))
            self._count += positions[line] == NONE
            positions[line] = position
        else:
            self._count += line not in self._aside
            self._aside[line] = position
            if line >= 0:
                self._reach = min(self._reach, line)
            return
        if len(positions) > self._reach:
            self._take_aside(line)

    def _take_aside(self, placed: int) -> None:
        """Lines placed aside that the positions now reach move into them, so that a line is
        in one place only: the line just placed replaces its earlier placement aside. Only
        when the positions pass the first such line: a negative line stays aside for good."""
        positions = self._positions
        for line in [line for line in self._aside if 0 <= line < len(positions)]:
            position = self._aside.pop(line)
            if line == placed:
                self._count -= 1  # counted aside and again just now
            else:
                positions[line] = position  # a line the positions just grew over
        self._reach = min((line for line in self._aside if line >= 0), default=math.inf)

    def __getitem__(self, line: int) -> str:
        if 0 <= line < len(self._positions) and self._positions[line] != NONE:
            return self._ids[self._positions[line]]
        return self._ids[self._aside[line]]

    def __contains__(self, line: object) -> bool:
        if isinstance(line, int) and 0 <= line < len(self._positions):
            return self._positions[line] != NONE
        return line in self._aside

    def __iter__(self) -> Iterator[int]:
        yield from (line for line, p in enumerate(self._positions) if p != NONE)
        yield from self._aside

    def __len__(self) -> int:
        return self._count


class MetadataIndex:
    """Record ids by split, where each format put each record, and the plots' counts."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}
        self.places: dict[tuple[str, str], LinePlaces] = {}
        self.records: Counter[str] = Counter()  # records per split
        self.sources: Counter[tuple[str, str]] = Counter()  # (source, split)
        self.example_types: Counter[tuple[str, str]] = Counter()  # (example_type, split)

    def add(self, record: RecordMetadata) -> None:
        split = record.split
        ids = self.ids.setdefault(split, [])
        position = len(ids)
        for name, line in record.lines.items():
            places = self.places.get((name, split))
            if places is None:
                places = self.places[name, split] = LinePlaces(ids)
            places.place(line, position)
        ids.append(record.id)
        self.records[split] += 1
        self.sources[record.source or "unlabelled", split] += 1
        self.example_types[record.labels.example_type or "unlabelled", split] += 1

    def record_counts(self) -> dict[str, int]:
        return {split: self.records[split] for split in SPLITS}


def index_metadata(path: Path, errors: list[FormatError]) -> MetadataIndex:
    """The export's metadata, indexed; a line that does not decode is an error, not a crash."""
    decoder = msgspec.json.Decoder(RecordMetadata)
    file = provenance_path(path)
    index = MetadataIndex()
    if not path.exists():
        errors.append(format_error(file, 0, "", "$", "missing_file", "no metadata file"))
        return index
    for line in iter_lines(path, max_line_bytes=None):
        try:
            index.add(decoder.decode(line.data))
        except msgspec.DecodeError as exc:
            errors.append(format_error(file, line.number, "", "$", "invalid_metadata", str(exc)))
    return index
