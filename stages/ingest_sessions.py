"""ingest_sessions: agent session transcripts (Claude Code, Codex CLI) → conversations.

Reads:  every *.jsonl under `ingest_sessions.input`: Claude Code transcripts, sub-agent
        files included (`agent-<id>.jsonl`, `<session>/subagents/agent-<id>.jsonl`), and
        Codex CLI rollouts (`rollout-*.jsonl`), side by side; each file goes to the
        adapter that recognises it (stages/sessions/detect.py), and a file none
        recognises is one `unrecognised_format` reject.
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
from pathlib import Path
from typing import NamedTuple

import click
import msgspec

from stages.common.atomic import write_bytes_atomic
from stages.common.cli import (
    cache_options,
    input_files,
    jobs_option,
    max_line_bytes_option,
    provenance_path,
    setup_logging,
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


def parse_part(item: tuple[Task, Path]) -> Parsed:
    """Parse one transcript into its part (in a worker: only the small summary crosses a pipe)."""
    task, part = item
    lines = iter_lines(task.path, max_line_bytes=task.max_line_bytes)
    result = detect.parse_file(lines, task.file, task.params, task.max_line_bytes)
    write_bytes_atomic(part, result.lines)
    return Parsed(
        result.counts.get("conversations", 0), len(result.lines), result.rejects, result.counts
    )


def make_tasks(root: Path, params: SessionParams, max_line_bytes: int) -> list[Task]:
    """One task per transcript, in part-name order: the order of the records."""
    tasks = [
        Task(
            str(p),
            provenance_path(p, root),
            part_name(p.name if p == root else p.relative_to(root).as_posix()),
            params,
            max_line_bytes,
        )
        for p in input_files(root)
    ]
    return sorted(tasks, key=lambda t: t.part)


def cache_key_parts(task: Task) -> tuple[object, ...]:
    """Everything besides the file's content that changes its parse."""
    versions = [(a.name, a.version) for a in detect.ADAPTERS]
    return ("sessions", versions, task.file, task.params, task.max_line_bytes)


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
    tasks = make_tasks(root, params, max_line_bytes) if root else []
    counted = {*detect.COUNT_KEYS, *claude_code.COUNT_KEYS, *codex.COUNT_KEYS}
    reasons = {*detect.REJECT_REASONS, *claude_code.REJECT_REASONS, *codex.REJECT_REASONS}
    stats = Stats(["files.total", *sorted(counted), *(f"rejected.{r}" for r in sorted(reasons))])
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
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
