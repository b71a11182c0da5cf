"""An output written as a folder of parts, one per input file: a new file costs only its own part.

A single output file has to be rewritten whole on every run, however little
changed. Here every input file gets its own JSONL part, named after its path
relative to the input (`part_name`), so the folder's sorted order is the record
order. An index in the folder (`index.json`) keeps, for each part, the cache key
of its parse (the file's content hash and everything else that changes the
parse, as in stages/common/filecache.py) with its small `Parsed` summary
(counts, rejects). A run parses only the files whose key changed, each worker
renaming its part into place whole; parts whose file is gone are removed; every
other part is left as it is, neither read nor rewritten. The rejects and stats
come from the summaries in the index.

The index holds only what the inputs determine (no paths of this machine, no
mtimes), so the folder is the same bytes on every machine; the memo of content
hashes by size, mtime and inode stays in the local `FileCache` folder.
"""

import functools
import hashlib
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import quote

import msgspec

from schemas.reject import Reject
from stages.common.atomic import place, remove, write_bytes_atomic
from stages.common.filecache import FileCache, Stamp, file_sha256
from stages.common.hashing import content_hash
from stages.common.jsonl import PART_SUFFIX
from stages.common.parallel import ordered_map
from stages.common.progress import Progress
from stages.common.rejects import RejectsWriter
from stages.common.stats import Stats

log = logging.getLogger("logtune")

INDEX = "index.json"
MAX_NAME_BYTES = 200  # below the 255 of common filesystems, with room for temp-file affixes


class Parsed(msgspec.Struct):
    """What parsing one input file into its part tells the run, besides the part itself."""

    count: int  # conversations
    size: int  # bytes of the part
    rejects: list[Reject]
    counts: dict[str, int]


class Part(msgspec.Struct, kw_only=True):
    """What the index knows of one part: the key it was parsed under, and its summary."""

    key: str
    count: int  # conversations
    size: int  # bytes of the part
    rejects: list[Reject]
    counts: dict[str, int]


class PartsIndex(msgspec.Struct):
    parts: dict[str, Part]


class PartTask(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def part(self) -> str: ...


T = TypeVar("T", bound=PartTask)
ParsePart = Callable[[tuple[T, Path]], Parsed]  # parse a task into the part at that path


def part_name(relative: str) -> str:
    """A part's file name for an input's `/`-separated relative path: one name per path.

    Percent-encoding keeps the name readable and distinct for every path (`/` is
    `%2F`, `%` itself `%25`); a leading dot is encoded too, so no part is hidden.
    A name too long for the filesystem keeps its start and ends in a hash of the path.
    """
    name = quote(relative, safe="")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if not name.endswith(PART_SUFFIX):
        name += PART_SUFFIX
    if len(name) > MAX_NAME_BYTES:
        digest = hashlib.sha256(relative.encode()).hexdigest()[:16]
        name = f"{name[: MAX_NAME_BYTES - 24]}-{digest}{PART_SUFFIX}"
    return name


def read_index(folder: Path) -> dict[str, Part]:
    try:
        return msgspec.json.decode((folder / INDEX).read_bytes(), type=PartsIndex).parts
    except (OSError, msgspec.DecodeError):
        return {}  # a first run, or a damaged index: every part is parsed again


def is_current(folder: Path, name: str, key: str, known: Part | None) -> bool:
    """The part on disk was parsed under `key` and has the size it was written with."""
    if known is None or known.key != key:
        return False
    try:
        return (folder / name).stat().st_size == known.size
    except FileNotFoundError:
        return False


def remove_stale(folder: Path, wanted: set[str]) -> int:
    """Remove parts of files no longer in the input (the temp files of a killed run are
    swept before a stage starts: stages/common/atomic.py)."""
    removed = 0
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.endswith(PART_SUFFIX) and not name.startswith(".") and name not in wanted:
            remove(path)
            removed += 1
    return removed


class _Job(NamedTuple):
    """One input whose part may be stale: its worker hashes the input if need be, then decides."""

    task: Any
    part: Path  # the part in the output folder
    staged: Path  # where a new parse of it is written
    key_parts: tuple[Any, ...]
    sha: str | None  # the content hash, when the stat memo still vouches for it
    known: Part | None  # what the index says of the part now on disk

    def key(self, sha: str) -> str:
        return content_hash([sha, *self.key_parts])

    def current(self, sha: str) -> bool:
        return is_current(self.part.parent, self.part.name, self.key(sha), self.known)


class _Updated(NamedTuple):
    sha: str
    part: Part | None  # None: the part on disk was current after all


def _update(job: _Job, parse_part: ParsePart[Any]) -> _Updated:
    """Hash (in a worker: on all cores) and parse the input if its part is stale."""
    sha = job.sha or file_sha256(Path(job.task.path))
    if job.current(sha):
        return _Updated(sha, None)
    parsed = parse_part((job.task, job.staged))
    part = Part(
        key=job.key(sha),
        count=parsed.count,
        size=parsed.size,
        rejects=parsed.rejects,
        counts=parsed.counts,
    )
    return _Updated(sha, part)


def ingest_parts(
    tasks: Sequence[T],
    parse_part: ParsePart[T],
    key_parts: Callable[[T], tuple[Any, ...]],
    *,
    folder: Path,
    rejects_path: Path,
    stats: Stats,
    cache_dir: str | None,
    strict: bool,
    jobs: int = 1,
) -> None:
    """Bring the parts in `folder` up to date with `tasks`; write the rejects; merge the counts.

    With a `cache_dir`, content hashes are remembered there against each file's
    stat and current parts are kept; without, every part is parsed again. A file
    the memo cannot vouch for is hashed by the worker that would parse it, so a
    cold run hashes on all cores, overlapped with parsing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    memo = FileCache(cache_dir) if cache_dir is not None else None
    known = read_index(folder) if memo is not None else {}
    if len({t.part for t in tasks}) != len(tasks):
        raise ValueError("two input files map to the same part name")
    parts: dict[str, Part | None] = {}
    stale: list[_Job] = []
    stamps: list[Stamp | None] = []
    for task in tasks:
        stamp, sha = memo.remembered(Path(task.path)) if memo is not None else (None, None)
        part, staged = folder / task.part, staging / task.part
        job = _Job(task, part, staged, key_parts(task), sha, known.get(task.part))
        if sha is not None and job.current(sha):
            parts[task.part] = job.known
        else:
            stale.append(job)
            stamps.append(stamp)
    update = functools.partial(_update, parse_part=parse_part)
    updates = ordered_map(update, stale, jobs=min(jobs, len(stale)))
    sizes = [Path(job.task.path).stat().st_size for job in stale]
    parsed = 0
    with Progress("parse", total=sum(sizes), unit="B", enabled=bool(stale)) as progress:
        for job, stamp, updated, size in zip(stale, stamps, updates, sizes, strict=True):
            if memo is not None and stamp is not None:
                memo.remember(Path(job.task.path), stamp, updated.sha)
            parts[job.task.part] = updated.part or job.known
            if updated.part is not None:
                parsed += 1
                place(job.staged, job.part)
            progress.update(size)
    if memo is not None:
        memo.save()
    current = {name: part for name, part in sorted(parts.items()) if part is not None}
    removed = remove_stale(folder, set(current))
    remove(staging)
    log.info("parsed %d files, kept %d parts, removed %d", parsed, len(tasks) - parsed, removed)
    write_bytes_atomic(folder / INDEX, msgspec.json.encode(PartsIndex(current)))
    with RejectsWriter(rejects_path, stats, strict=strict) as rejects:
        for part in current.values():
            stats.merge(part.counts)
            for reject in part.rejects:
                rejects.add(reject)
