"""Running a source adapter: discovery, workers, parts, the parse cache, rejects and stats.

Everything here is the same for every source (stages/sources/__init__.py: the contract);
the adapter only turns a file, or a line, into conversations. Every source writes the
same three outputs into its folder under data/ingested/: `conversations/` (JSONL parts,
read in name order), `rejects.jsonl` and `stats.json`.

A file adapter's input files each become one part, kept while the file's content and
the params are unchanged (stages/common/parts.py). A line adapter's files are cut into
spans of whole lines (SPAN_BYTES each), parsed on all cores; each worker reads its own
span and writes its part, numbered in input order, into a folder that appears whole
when the run ends: the output is the same for any number of workers, and no
conversation crosses a pipe.
"""

import functools
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from schemas.reject import Reject
from stages.common.atomic import atomic_folder, write_bytes_atomic
from stages.common.decode import DECODE_REASONS, LineDecoder, LineError
from stages.common.filecache import FileCache, file_sha256
from stages.common.hashing import content_hash
from stages.common.input_paths import (
    SKIP_KINDS,
    found_files,
    provenance_path,
    scan_input,
    skipped_lines,
)
from stages.common.jsonl import (
    IO_BUFFER,
    PART_SUFFIX,
    Oversize,
    Span,
    iter_spans,
    open_lines,
    read_span_lines,
)
from stages.common.parallel import ordered_map
from stages.common.parts import Parsed, ingest_parts, part_name, read_index
from stages.common.progress import Progress
from stages.common.rejects import RejectsWriter
from stages.common.rejects import scrubbed as scrubbed_reject
from stages.common.scrub import Scrubber, environment_secrets, private_path
from stages.common.scrub_option import ScrubSettings
from stages.common.stats import Stats
from stages.sources import Adapter, SourceFile, load

log = logging.getLogger("logtune")

SPAN_BYTES = 8 << 20  # a worker's unit of work: big enough that handing it out costs nothing
CONVERSATIONS = "conversations"
LINE_COUNT_KEYS = ("read", "blank_lines")


class Run(NamedTuple):
    """One run of a source: what to read, how, and where the outputs go."""

    adapter: Adapter
    root: Path | None  # None: the source is not in `sources`, its outputs are empty
    patterns: tuple[str, ...]
    options: msgspec.Struct
    max_line_bytes: int
    out: Path
    cache_dir: str | None
    strict: bool
    jobs: int
    scrub: ScrubSettings


def _scrubber(settings: ScrubSettings) -> Scrubber:
    """One per worker and settings: records are scrubbed as they are made, before any part
    or cache holds them."""
    return _cached_scrubber(settings, tuple(environment_secrets(settings.env)))


@functools.cache
def _cached_scrubber(settings: ScrubSettings, _values: tuple[str, ...]) -> Scrubber:
    return settings.scrubber()


def scrubbed(settings: ScrubSettings, data: bytes) -> tuple[bytes, dict[str, int]]:
    """JSON lines with every secret replaced, and how many of each kind."""
    scrubber = _scrubber(settings)
    scrubber.counts.clear()
    lines = scrubber.lines(data)
    return lines, {f"scrubbed.{kind}": n for kind, n in scrubber.counts.items()}


def stats_for(adapter: Adapter) -> Stats:
    """Every key the run can count, so each is written zero or not."""
    reasons = {*adapter.reject_reasons, *(DECODE_REASONS if adapter.convert else ())}
    lines = LINE_COUNT_KEYS if adapter.convert else ()
    return Stats(
        [
            "files.total",
            CONVERSATIONS,
            *(f"skipped_files.{kind}" for kind in SKIP_KINDS),
            *lines,
            *adapter.count_keys,
            *(f"rejected.{reason}" for reason in sorted(reasons)),
        ]
    )


def ingest(run: Run) -> Stats:
    """Bring `run.out` up to date with the source's input; the stats are written last."""
    adapter, stats = run.adapter, stats_for(run.adapter)
    files, notes = discover(run, stats) if run.root is not None else ([], {})
    stats.add("files.total", len(files))
    context = adapter.prepare(run.options) if files else None
    if adapter.parse_file is not None:
        ingest_files(run, file_tasks(run, files, notes, context), stats)
    else:
        ingest_lines(run, files, context, stats)
    unknown = stats.group("unknown_types")
    if unknown:
        named = ", ".join(f"{kind} ({n})" for kind, n in sorted(unknown.items()))
        log.warning("skipped records of types no reader knows: %s", named)
    stats.write(run.out / "stats.json")
    return stats


def discover(run: Run, stats: Stats) -> tuple[list[Path], dict[Path, str]]:
    """The input's files; what the search passed over is counted and named, one line a kind."""
    assert run.root is not None
    scan = scan_input(run.root, run.patterns)
    notes = dict(run.adapter.annotate(scan, stats)) if run.adapter.annotate else {}
    for kind, paths in scan.skipped.items():
        stats.add(f"skipped_files.{kind}", len(paths))
    for line in skipped_lines(scan):
        log.warning(line)
    section = run.adapter.section
    files = found_files(
        scan,
        run.root,
        what_to_do=f"point --input ({section}.input) at your files, or give --pattern "
        f"({section}.pattern) globs that match their names",
    )
    return files, notes


# A file adapter: one part per input file, through the parse cache.


class FileTask(NamedTuple):
    path: str
    part: str  # the name of its part in the output folder
    source: str  # the adapter's name: a worker loads it again
    file: SourceFile
    options: msgspec.Struct
    context: Any  # what the adapter's `prepare` made of the options
    scrub: ScrubSettings


def file_tasks(
    run: Run, files: list[Path], notes: dict[Path, str], context: Any = None
) -> list[FileTask]:
    """One task per input file, in part-name order: the order of the records."""
    root = run.root
    tasks = [
        FileTask(
            str(path),
            part_name(
                private_path(path.name if path == root else path.relative_to(root).as_posix())
            ),
            run.adapter.name,
            SourceFile(str(path), provenance_path(path, root), run.max_line_bytes, notes.get(path)),
            run.options,
            context,
            run.scrub,
        )
        for path in files
    ]
    return sorted(tasks, key=lambda t: t.part)


@functools.cache
def _adapter(name: str) -> Adapter:
    return load(name)


def parse_file_part(item: tuple[FileTask, Path]) -> Parsed:
    """Parse one file into its part (in a worker: only the small summary crosses a pipe)."""
    task, part = item
    adapter = _adapter(task.source)
    assert adapter.parse_file is not None
    parsed = adapter.parse_file(task.file, task.context)
    lines, scrub_counts = scrubbed(task.scrub, parsed.lines)
    write_bytes_atomic(part, lines)
    counts = {**parsed.counts, **scrub_counts, CONVERSATIONS: parsed.conversations}
    rejects = [scrubbed_reject(reject) for reject in parsed.rejects]  # the index keeps them
    return Parsed(parsed.conversations, len(lines), rejects, counts)


def file_key_parts(task: FileTask) -> tuple[object, ...]:
    """Everything besides the file's content that changes its parse (the values of the
    secret variables only as a hash, which cannot be turned back into them)."""
    file = task.file
    version = _adapter(task.source).version
    secrets = content_hash(environment_secrets(task.scrub.env))
    return (
        task.source,
        version,
        file.file,
        file.max_line_bytes,
        file.note,
        task.options,
        *(
            task.scrub,
            secrets,
        ),
    )


def ingest_files(run: Run, tasks: list[FileTask], stats: Stats) -> None:
    ingest_parts(
        tasks,
        parse_file_part,
        file_key_parts,
        folder=run.out / CONVERSATIONS,
        rejects_path=run.out / "rejects.jsonl",
        stats=stats,
        cache_dir=run.cache_dir,
        strict=run.strict,
        jobs=run.jobs,
    )


class FileStatus(NamedTuple):
    """Which input files a run would keep (parsed, unchanged) or parse (new, changed)."""

    parsed: list[str]
    new: list[str]
    changed: list[str]
    passed_over: list[str]


def file_status(run: Run) -> FileStatus:
    """Compare the input with the parts the last run left, without parsing anything."""
    assert run.root is not None
    scan = scan_input(run.root, run.patterns)
    notes = dict(run.adapter.annotate(scan, Stats())) if run.adapter.annotate else {}
    known = read_index(run.out / CONVERSATIONS)
    # The parse cache remembers each file's hash by its stat: an unchanged file is not reread.
    digest = FileCache(run.cache_dir).digest if run.cache_dir else file_sha256
    parsed, new, changed = [], [], []
    for task in file_tasks(run, scan.files, notes):
        part = known.get(task.part)
        key = content_hash([digest(Path(task.path)), *file_key_parts(task)])
        name = task.file.file
        (new if part is None else parsed if part.key == key else changed).append(name)
    passed = sorted(str(p) for paths in scan.skipped.values() for p in paths)
    return FileStatus(parsed, new, changed, passed)


# A line adapter: spans of whole lines on all cores, into numbered parts.


class SpanTask(NamedTuple):
    path: str
    file: str  # the path as written into records
    item: Span | Oversize
    part: Path  # where the worker writes the span's conversations, if it has any


class SpanResult(NamedTuple):
    count: int
    rejects: list[Reject]
    counts: dict[str, int]
    size: int  # bytes of input the span covered, for the progress bar


def parse_span(
    task: SpanTask, *, source: str, context: Any, max_line_bytes: int, scrub: ScrubSettings
) -> SpanResult:
    """Parse a span's lines into its part file of conversations; bad lines become rejects."""
    adapter = _adapter(source)
    assert adapter.convert is not None and adapter.line_type is not None
    convert, file = adapter.convert, task.file
    decode = LineDecoder(adapter.line_type, max_line_bytes).decode
    scrubber = _scrubber(scrub)
    scrubber.counts.clear()
    rejects: list[Reject] = []
    counts: Counter[str] = Counter()
    read = blank = 0
    with open_lines(task.path) as handle, open(task.part, "wb", buffering=IO_BUFFER) as part:
        write = part.write
        for line in read_span_lines(handle, task.item, max_line_bytes):
            read += 1
            try:
                write(scrubber.line(convert(decode(line), file, line.number, context, counts)))
            except LineError as error:  # a blank line fails to decode too: the rare path tells
                if line.blank:
                    blank += 1
                else:
                    rejects.append(error.reject(file, line))
    written = read - blank - len(rejects)
    if not written:
        os.unlink(task.part)  # a span of nothing but bad or blank lines leaves no part
    item = task.item
    size = item.size if isinstance(item, Oversize) else item.end - item.start
    counts.update({f"scrubbed.{kind}": n for kind, n in scrubber.counts.items()})
    return SpanResult(written, rejects, {"read": read, "blank_lines": blank, **counts}, size)


def file_spans(
    files: list[Path], root: Path | None, max_line_bytes: int
) -> Iterator[tuple[Path, str, Span | Oversize]]:
    """Every span of every file in input order, with the file's path as records give it."""
    for path in files:
        file = provenance_path(path, root)
        for item in iter_spans(path, max_line_bytes=max_line_bytes, span_bytes=SPAN_BYTES):
            yield path, file, item


def ingest_lines(run: Run, files: list[Path], context: Any, stats: Stats) -> None:
    spans = file_spans(files, run.root, run.max_line_bytes)
    parse = functools.partial(
        parse_span,
        source=run.adapter.name,
        context=context,
        max_line_bytes=run.max_line_bytes,
        scrub=run.scrub,
    )
    with (
        Progress("parse", total=sum(path.stat().st_size for path in files), unit="B") as progress,
        atomic_folder(run.out / CONVERSATIONS) as parts,
        RejectsWriter(run.out / "rejects.jsonl", stats, strict=run.strict) as rejects,
    ):
        tasks = (
            SpanTask(str(path), file, item, parts / f"{n:09d}{PART_SUFFIX}")
            for n, (path, file, item) in enumerate(spans)
        )
        for result in ordered_map(parse, tasks, jobs=run.jobs):
            stats.add(CONVERSATIONS, result.count)
            stats.merge(result.counts)
            progress.update(result.size)
            for reject in result.rejects:
                rejects.add(reject)
