"""The sessions source: agent session transcripts (Claude Code, Codex CLI) → conversations.

Claude Code transcripts (~/.claude/projects), sub-agent files included
(`<session>/subagents/agent-<id>.jsonl` with the `agent-<id>.meta.json` beside it, which
names the agent's type), and Codex CLI rollouts (~/.codex/sessions) may lie side by side:
each file goes to the format that recognises it (detect.py), and a file none recognises
is one `unrecognised_format` reject. A file is parsed whole: a conversation spans it.
"""

import logging
from pathlib import Path

from stages.common.input_paths import EXAMPLES, InputScan
from stages.common.stats import Stats
from stages.sources import FileParse, SourceFile
from stages.sources.sessions import claude_code, codex, detect
from stages.sources.sessions.threads import SessionParams

VERSION = tuple(adapter.version for adapter in detect.ADAPTERS)
PATTERNS = ("*.jsonl",)
Options = SessionParams
log = logging.getLogger("logtune")

META_KEYS = ("subagent_meta.read", "subagent_meta.invalid")
COUNT_KEYS = (*detect.COUNT_KEYS, *META_KEYS, *claude_code.COUNT_KEYS, *codex.COUNT_KEYS)
REJECT_REASONS = (*detect.REJECT_REASONS, *claude_code.REJECT_REASONS, *codex.REJECT_REASONS)


def annotate(scan: InputScan, stats: Stats) -> dict[Path, str]:
    """Each sub-agent transcript's agent type, from the `.meta.json` beside it; each one read
    is taken off the scan's files passed over, and one that cannot be read is counted and named."""
    beside = {m: p for p in scan.files if (m := claude_code.meta_file(p)) is not None}
    found = [m for m in scan.skipped["not_matching"] if m in beside]
    scan.skipped["not_matching"][:] = [m for m in scan.skipped["not_matching"] if m not in beside]
    metas = {beside[m]: claude_code.read_meta_file(m) for m in found}
    invalid = [m for m in found if metas[beside[m]] is None]
    stats.add("subagent_meta.read", len(found) - len(invalid))
    stats.add("subagent_meta.invalid", len(invalid))
    if invalid:
        log.warning(
            "could not read sub-agent .meta.json files (their agent type is not tagged): %d (%s)",
            len(invalid),
            ", ".join(str(m) for m in invalid[:EXAMPLES]),
        )
    return {path: meta.agentType for path, meta in metas.items() if meta and meta.agentType}


def parse_file(file: SourceFile, options: SessionParams) -> FileParse:
    result = detect.parse_file(file.lines(), file.file, options, file.max_line_bytes, file.note)
    return FileParse(
        lines=result.lines,
        conversations=result.counts.get("conversations", 0),
        rejects=result.rejects,
        counts=result.counts,
    )
