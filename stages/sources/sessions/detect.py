"""Which agent wrote a transcript file: each file goes to the adapter that recognises it.

A folder of transcripts may hold Claude Code sessions and Codex rollouts side by side
(and, by mistake, anything else ending in `.jsonl`). The first few records of a file
decide: each adapter answers from a record's `type` and whether it is a Codex envelope
(`{"timestamp", "type", "payload"}`). A file no adapter recognises is not parsed into
nothing in silence: it becomes one `unrecognised_format` reject naming the file and what
the sessions source reads, and counts as `files.unrecognised`.
"""

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import NamedTuple

import msgspec

from schemas.reject import Reject
from stages.common.jsonl import Line
from stages.common.rejects import excerpt
from stages.sources.sessions import claude_code, codex
from stages.sources.sessions.threads import ParseResult, SessionParams

PROBE_LINES = 20  # records looked at before a file is called unrecognised
UNRECOGNISED = "unrecognised_format"
READS = "Claude Code transcripts (~/.claude/projects) and Codex CLI rollouts (~/.codex/sessions)"


class Adapter(NamedTuple):
    name: str  # also the tag of its conversations and its `files.<name>` count
    version: int  # the adapter's PARSER_VERSION: part of every file's cache key
    recognises: Callable[[str, bool], bool]  # (record type, is an envelope with a payload)
    # (lines, file, params, max_line_bytes, the sub-agent type found beside the file)
    parse: Callable[[Iterable[Line], str, SessionParams, int, str | None], ParseResult]


ADAPTERS = (
    Adapter(
        claude_code.AGENT,
        claude_code.PARSER_VERSION,
        claude_code.recognises,
        claude_code.parse_transcript,
    ),
    Adapter(codex.AGENT, codex.PARSER_VERSION, codex.recognises, codex.parse_rollout),
)
COUNT_KEYS = tuple(f"files.{n}" for n in (*(a.name for a in ADAPTERS), "unrecognised", "empty"))
REJECT_REASONS = (UNRECOGNISED,)


class _Probe(msgspec.Struct):
    type: str | None = None
    payload: msgspec.Raw = msgspec.Raw(b"")  # empty: no payload (a Raw cannot be in a union)


_probe = msgspec.json.Decoder(_Probe)


def _adapter(line: Line) -> Adapter | None:
    if line.oversize or line.blank:
        return None
    try:
        record = _probe.decode(line.data)
    except msgspec.DecodeError:
        return None
    if record.type is None:
        return None
    envelope = len(record.payload) > 0
    return next((a for a in ADAPTERS if a.recognises(record.type, envelope)), None)


def parse_file(
    lines: Iterable[Line],
    file: str,
    params: SessionParams,
    max_line_bytes: int,
    agent_type: str | None = None,
) -> ParseResult:
    """The file parsed by the adapter that recognises it, or one reject saying none does.

    `agent_type` is a sub-agent's type that discovery found beside the file (Claude Code's
    `agent-<id>.meta.json`): the adapter tags the sub-agent's conversations with it.
    """
    iterator: Iterator[Line] = iter(lines)
    seen: list[Line] = []
    probed = 0
    for line in iterator:
        seen.append(line)
        adapter = _adapter(line)
        if adapter is not None:
            result = adapter.parse(chain(seen, iterator), file, params, max_line_bytes, agent_type)
            result.counts[f"files.{adapter.name}"] = 1
            return result
        probed += not line.blank
        if probed >= PROBE_LINES:
            break
    first = next((s for s in seen if not s.blank), None)
    if first is None:
        return ParseResult(lines=b"", rejects=[], counts={"files.empty": 1})
    reject = Reject(
        file=file,
        line=first.number,
        reason=UNRECOGNISED,
        message=f"{file}: no sessions adapter recognises this file; the sessions source reads "
        f"{READS}: move it out of ingest_sessions.input",
        excerpt=excerpt(first.data),
    )
    return ParseResult(lines=b"", rejects=[reject], counts={"files.unrecognised": 1})
