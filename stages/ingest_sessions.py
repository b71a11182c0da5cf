"""ingest_sessions: agent session transcripts (Claude Code, Codex CLI) → conversations.

Reads:  every *.jsonl under `ingest_sessions.input`: Claude Code transcripts, sub-agent
        files included (`agent-<id>.jsonl`, `<session>/subagents/agent-<id>.jsonl` with the
        `agent-<id>.meta.json` beside it, which names the agent's type), and
        Codex CLI rollouts (`rollout-*.jsonl`), side by side; each file goes to the
        adapter that recognises it (stages/sessions/detect.py), and a file none
        recognises is one `unrecognised_format` reject. Links that loop, unreadable
        paths and files that are not *.jsonl are counted (`skipped_files.<kind>`) and
        named on stderr.
Writes: a folder `conversations/` of JSONL parts, one per transcript (with its
        `index.json`), a rejects JSONL (file, line, reason), stats (DVC metrics).
Params: ingest_sessions.input, split, thinking, include_tools, exclude_tools,
        max_line_bytes, cache, cache_dir.

Each file is parsed whole (a conversation spans the file) on all cores, into its
own part, named after its path under the input and kept while the hash of its
content and of everything that changes the parse is unchanged
(stages/common/parts.py): a run after one new transcript is added parses and
writes only that file's part, and the folder holds the same bytes as after a
cold run. Workers write their parts themselves, so no parse crosses a pipe.
"""

import json
import logging
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import click
import msgspec

from schemas.claude_code import SubagentMeta
from stages.common.atomic import write_bytes_atomic
from stages.common.cli import (
    EXAMPLES,
    SKIP_KINDS,
    InputScan,
    cache_options,
    found_files,
    jobs_option,
    max_line_bytes_option,
    provenance_path,
    scan_input,
    setup_logging,
    skipped_lines,
    stage_command,
    strict_option,
)
from stages.common.jsonl import iter_lines
from stages.common.params import stage_params
from stages.common.parts import Parsed, ingest_parts, part_name
from stages.common.sources import source_input, sources_option
from stages.common.stats import Stats
from stages.sessions import claude_code, codex, detect
from stages.sessions.threads import SessionParams

log = logging.getLogger("logtune")


class Task(NamedTuple):
    path: str
    file: str  # the path as written into records
    part: str  # the name of its part in the output folder
    params: SessionParams
    max_line_bytes: int
    agent_type: str | None  # a sub-agent's, named by the .meta.json beside it


def parse_part(item: tuple[Task, Path]) -> Parsed:
    """Parse one transcript into its part (in a worker: only the small summary crosses a pipe)."""
    task, part = item
    lines = iter_lines(task.path, max_line_bytes=task.max_line_bytes)
    result = detect.parse_file(lines, task.file, task.params, task.max_line_bytes, task.agent_type)
    write_bytes_atomic(part, result.lines)
    return Parsed(
        result.counts.get("conversations", 0), len(result.lines), result.rejects, result.counts
    )


DISCOVERY_KEYS = (
    *(f"skipped_files.{kind}" for kind in SKIP_KINDS),
    "subagent_meta.read",
    "subagent_meta.invalid",
)


def make_tasks(root: Path, params: SessionParams, max_line_bytes: int, stats: Stats) -> list[Task]:
    """One task per transcript, in part-name order: the order of the records.

    What the search passed over is counted in `stats` and named on stderr, one line a kind.
    """
    scan = scan_input(root)
    agents = read_subagent_metas(scan, stats)
    for kind, paths in scan.skipped.items():
        stats.add(f"skipped_files.{kind}", len(paths))
    for line in skipped_lines(scan):
        log.warning(line)
    tasks = [
        Task(
            str(p),
            provenance_path(p, root),
            part_name(p.name if p == root else p.relative_to(root).as_posix()),
            params,
            max_line_bytes,
            agent.agentType if (agent := agents.get(p)) else None,
        )
        for p in found_files(scan, root)
    ]
    return sorted(tasks, key=lambda t: t.part)


def read_subagent_metas(scan: InputScan, stats: Stats) -> dict[Path, SubagentMeta]:
    """The `.meta.json` beside each sub-agent transcript, by transcript; each one read is taken
    off the scan's files passed over, and one that cannot be read is counted and named."""
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
    return {p: meta for p, meta in metas.items() if meta is not None}


def cache_key_parts(task: Task) -> tuple[object, ...]:
    """Everything besides the file's content that changes its parse."""
    versions = [(a.name, a.version) for a in detect.ADAPTERS]
    return ("sessions", versions, task.file, task.params, task.max_line_bytes, task.agent_type)


@stage_command
@stage_params("ingest_sessions", top_level=("sources",))
@click.option(
    "--input",
    default="data/samples/sessions",
    show_default=True,
    help="A transcript file, or a folder searched (recursively) for *.jsonl: Claude Code "
    "transcripts (~/.claude/projects) and Codex CLI rollouts (~/.codex/sessions).",
)
@click.option(
    "--split",
    type=click.Choice(["whole", "turn"]),
    default="whole",
    show_default=True,
    help="One conversation per session thread, or one per user prompt with its tool calls.",
)
@click.option(
    "--thinking",
    type=click.Choice(["drop", "keep"]),
    default="drop",
    show_default=True,
    help="Keep thinking blocks (Codex: reasoning summaries) as <think>…</think> at the start "
    "of the assistant content.",
)
@click.option(
    "--include-tools",
    multiple=True,
    help="Keep only tools whose name matches one of these globs (repeatable), e.g. 'mcp__*'.",
)
@click.option(
    "--exclude-tools",
    multiple=True,
    help="Drop tools whose name matches one of these globs (repeatable), e.g. Read.",
)
@max_line_bytes_option
@cache_options("data/cache/ingest_sessions")
@click.option(
    "--out-dir",
    default="data/ingested/sessions",
    show_default=True,
    help="Where the conversations/ parts, rejects.jsonl and stats.json go.",
)
@sources_option
@strict_option
@jobs_option
def main(
    input: str,
    split: str,
    thinking: str,
    include_tools: tuple[str, ...],
    exclude_tools: tuple[str, ...],
    max_line_bytes: int,
    cache: bool,
    cache_dir: str,
    out_dir: str,
    sources: tuple[str, ...],
    strict: bool,
    jobs: int,
) -> None:
    """Turn Claude Code and Codex CLI sessions into conversations with real tool calls.

    Example: python -m stages.ingest_sessions --input ~/.claude/projects --split turn
    --include-tools 'mcp__*'
    """
    setup_logging("ingest_sessions")
    out = Path(out_dir)
    params = msgspec.convert(
        {
            "split": split,
            "thinking": thinking,
            "include_tools": include_tools,
            "exclude_tools": exclude_tools,
        },
        SessionParams,
    )
    root = source_input("sessions", sources, input)
    counted = {*detect.COUNT_KEYS, *DISCOVERY_KEYS, *claude_code.COUNT_KEYS, *codex.COUNT_KEYS}
    reasons = {*detect.REJECT_REASONS, *claude_code.REJECT_REASONS, *codex.REJECT_REASONS}
    stats = Stats(["files.total", *sorted(counted), *(f"rejected.{r}" for r in sorted(reasons))])
    tasks = make_tasks(root, params, max_line_bytes, stats) if root else []
    stats.add("files.total", len(tasks))
    ingest_parts(
        tasks,
        parse_part,
        cache_key_parts,
        folder=out / "conversations",
        rejects_path=out / "rejects.jsonl",
        stats=stats,
        cache_dir=cache_dir if cache else None,
        strict=strict,
        jobs=jobs,
    )
    # Claude Code counts unknown record types as `unknown_types.<type>`, Codex as
    # `skipped.unknown_type.<type>`: both are named.
    unknown = Counter(stats.group("unknown_types")) + Counter(stats.group("skipped.unknown_type"))
    if unknown:
        named = ", ".join(f"{kind} ({n})" for kind, n in sorted(unknown.items()))
        log.warning("skipped records of types no reader knows: %s", named)
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
