"""The source contract: what an adapter module provides, and the registry that finds it.

A source is one package `stages/sources/<name>/` whose `__init__.py` is its adapter:
it turns raw files or lines into `Conversation` records, rejects and counts, and
knows nothing of workers, parts, caches or rejects files (stages/common/ingestion.py
runs those for every source). Its params are the section `ingest_<name>` of
params.yaml; `python -m stages.ingest <name>` runs it; its outputs go to
`data/ingested/<name>/`, where enrich, export and the card find every source without
naming any. docs/sources.md walks through the contract with the Codex adapter.

An adapter module defines:
    VERSION         an int (or a tuple of them), bumped when the same input would give
                    other records: it keys the per-file parse cache
    PATTERNS        file-name globs a folder input is searched for (`ingest_<name>.pattern`)
    COUNT_KEYS      the counts it reports, written to stats.json zero or not; a record
                    type it does not know is counted as `unknown_types.<type>` (named on
                    stderr by the stage)
    REJECT_REASONS  the reasons its rejects carry
and one of two ways in:
    parse_file(file: SourceFile, context) -> FileParse
                    a whole file at a time (a session transcript, a journal): one part
                    per input file, kept while the file and the params are unchanged;
    LINE_TYPE and convert(record, file, line, context, counts) -> bytes
                    one independent record a line (a tool log): files are cut into spans
                    of whole lines parsed on all cores; `convert` gets the line decoded
                    as LINE_TYPE and returns one encoded conversation line, raising
                    `LineError` to reject it.
Optionally:
    Options         a frozen msgspec Struct of its own params; each field is a command-line
                    option and a key of its params section, its `Meta` description the
                    option's help
    INPUT_OPTIONS   Options fields naming files it reads besides `input` (a catalog):
                    fingerprinted for DVC with the input
    prepare(options) -> context
                    once a process, before any parsing (load a catalog); without it the
                    context is the options
    annotate(scan, stats) -> {path: note}
                    what discovery finds beside a file (a sub-agent's `.meta.json`),
                    handed to parse_file as `SourceFile.note` and part of its cache key
"""

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import msgspec

from schemas.reject import Reject
from stages.common.input_paths import InputScan
from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES, Line, iter_lines
from stages.common.stats import Stats
from stages.common.user_error import UserError

# Sources fed by stages of their own rather than by an adapter, with the params naming
# the files those stages read: Discord is collected over REST or from exports, segmented
# and given tool calls before it lands in data/ingested/discord/; synthesize reads no file
# and generates its sessions from its params into data/ingested/synthesize/.
STAGED_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "discord": {"collect_discord": ("exports",), "inject_tools": ("catalog",)},
    "synthesize": {"synthesize": ()},
}


class NoOptions(msgspec.Struct, frozen=True):
    """The params of an adapter that has none of its own."""


class UnknownSource(UserError):
    """A source name no adapter answers to."""


class BrokenAdapter(UserError):
    """An adapter module that does not keep the contract."""


class SourceFile(NamedTuple):
    """One input file as an adapter sees it."""

    path: str
    file: str  # the path as written into records (stages/common/cli.py: provenance_path)
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    note: str | None = None  # what `annotate` found beside the file

    def lines(self) -> Iterator[Line]:
        return iter_lines(self.path, max_line_bytes=self.max_line_bytes)

    def read_bytes(self) -> bytes:
        return Path(self.path).read_bytes()


class FileParse(msgspec.Struct, kw_only=True):
    """What an adapter makes of one file."""

    lines: bytes  # the conversations, encoded one a line
    conversations: int
    rejects: list[Reject]
    counts: dict[str, int]


class Adapter(NamedTuple):
    """An adapter module, checked against the contract once when it is loaded."""

    name: str
    module: ModuleType
    version: int | tuple[int, ...]
    patterns: tuple[str, ...]
    options: type[msgspec.Struct]
    count_keys: tuple[str, ...]
    reject_reasons: tuple[str, ...]
    input_options: tuple[str, ...]
    parse_file: Callable[[SourceFile, Any], FileParse] | None
    line_type: type | None
    convert: Callable[..., bytes] | None
    prepare: Callable[[Any], Any]
    annotate: Callable[[InputScan, Stats], Mapping[Path, str]] | None

    @property
    def section(self) -> str:
        return f"ingest_{self.name}"


def adapter_names() -> list[str]:
    """Every source with an adapter, by package name, in sorted order."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def source_names() -> list[str]:
    """Every source: those with an adapter and those with stages of their own."""
    return sorted({*adapter_names(), *STAGED_SOURCES})


def _options_as_context(options: Any) -> Any:
    return options


def load(name: str) -> Adapter:
    """The adapter of source `name`."""
    if name not in adapter_names():
        known = ", ".join(adapter_names())
        raise UnknownSource(f"no source named {name!r} (stages/sources/{name}/); known: {known}")
    module = importlib.import_module(f"{__name__}.{name}")
    parse_file = getattr(module, "parse_file", None)
    convert = getattr(module, "convert", None)
    line_type = getattr(module, "LINE_TYPE", None)
    if (parse_file is None) == (convert is None) or (convert is None) != (line_type is None):
        raise BrokenAdapter(
            f"stages/sources/{name}: define either parse_file, or LINE_TYPE and convert"
        )
    options = getattr(module, "Options", NoOptions)
    if not options.__struct_config__.frozen:
        raise BrokenAdapter(f"stages/sources/{name}: Options must be a frozen msgspec Struct")
    try:
        adapter = Adapter(
            name=name,
            module=module,
            version=module.VERSION,
            patterns=tuple(module.PATTERNS),
            options=options,
            count_keys=tuple(module.COUNT_KEYS),
            reject_reasons=tuple(module.REJECT_REASONS),
            input_options=tuple(getattr(module, "INPUT_OPTIONS", ())),
            parse_file=parse_file,
            line_type=line_type,
            convert=convert,
            prepare=getattr(module, "prepare", _options_as_context),
            annotate=getattr(module, "annotate", None),
        )
    except AttributeError as error:
        raise BrokenAdapter(f"stages/sources/{name}: {error.name} is missing") from None
    fields = {field.name for field in msgspec.structs.fields(options)}
    missing = sorted(set(adapter.input_options) - fields)
    if missing:
        raise BrokenAdapter(f"stages/sources/{name}: INPUT_OPTIONS names no option {missing}")
    return adapter
