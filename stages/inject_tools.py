"""inject_tools: synthetic tool calls before Discord replies that a tool would have informed.

Reads:  conversations JSONL (segment's output) and a tool catalog (a JSON list of
        function definitions in OpenAI `tools` shape); with the `llm` planner, the prompt
        prompts/inject_tools.md.
Writes: into data/ingested/discord/, where every source's output lies: conversations/
        (one JSONL part; calls and results inserted, `meta.synthetic_tool_calls`
        set on every conversation), planner_failures.jsonl (id, reason of every planner
        reply that could not be used), stats (calls per tool), and the LLM response cache
        (`--cache-dir`, a persistent DVC output).
Params: inject_tools.input, catalog, planner, chunk_size; the `llm` section.

The planner decides where to call which tool with which arguments and result:
`heuristic` (stages/discord/tool_injection.py) reads keywords and numbers, offline;
`llm` (stages/discord/llm_planner.py) asks the tool trigger model through the LLM layer
(with `llm.provider: offline`, the task's own deterministic heuristic answers).
"""

import json
from pathlib import Path

import click

from schemas.conversation import Conversation, Tool
from stages.common.atomic import atomic_folder
from stages.common.catalog import load_catalog
from stages.common.cli import setup_logging, stage_command
from stages.common.jsonl import PART_SUFFIX, JsonlWriter, batches, read_records, records_size
from stages.common.llm import LLMSettings, LLMStats
from stages.common.llm.llm_option import llm_option
from stages.common.params import stage_params
from stages.common.progress import Progress
from stages.common.stats import Stats
from stages.discord.llm_planner import Planned, plan_with_llm
from stages.discord.tool_injection import Planner, apply_injections, heuristic_plan

PLANNERS: dict[str, Planner] = {"heuristic": heuristic_plan}  # offline, one conversation at a time
LLM_PLANNER = "llm"  # plans a chunk at once through the LLM layer
# planner failure reasons written even at zero, so `dvc metrics diff` compares like with like
PLANNER_FAILURES = (
    "empty_reply",
    "invalid_json",
    "schema_violation",
    "refusal",
    "missing_tool",
    "invalid_arguments",
    "arguments_schema_violation",
    "missing_result",
    "timeout",
    "rate_limited",
    "server_error",
    "connection",
)


def plan_chunk(
    planner: str,
    chunk: list[Conversation],
    tools: list[Tool],
    settings: LLMSettings,
    cache_dir: str,
    llm_stats: LLMStats,
) -> Planned:
    if planner == LLM_PLANNER:
        return plan_with_llm(chunk, tools, settings, cache_dir, llm_stats)
    plan = PLANNERS[planner]
    return Planned([plan(conversation, tools) for conversation in chunk], [], {})


@stage_command
@stage_params("inject_tools")
@llm_option
@click.option(
    "--input",
    default="data/discord/segmented/conversations.jsonl",
    show_default=True,
    help="Conversations to add tool calls to.",
)
@click.option(
    "--catalog",
    default="data/samples/tools/discord_catalog.json",
    show_default=True,
    help="JSON list of the tool definitions the assistant may call.",
)
@click.option(
    "--planner",
    type=click.Choice(sorted([*PLANNERS, LLM_PLANNER])),
    default="heuristic",
    show_default=True,
    help="What decides where a tool call goes.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Conversations per round of LLM requests (the llm planner).",
)
@click.option(
    "--cache-dir",
    default="data/llm_cache/inject_tools",
    show_default=True,
    help="The LLM response cache of the llm planner (a persistent DVC output).",
)
@click.option(
    "--out-dir",
    default="data/ingested/discord",
    show_default=True,
    help="Where the conversations/ folder, planner_failures.jsonl and stats.json go.",
)
def main(
    input: str,
    llm: LLMSettings,
    catalog: str,
    planner: str,
    chunk_size: int,
    cache_dir: str,
    out_dir: str,
) -> None:
    """Insert a tool call and its result before replies that state what a tool would return.

    Example: python -m stages.inject_tools --catalog tools.json --planner llm
    --llm provider=openai
    """
    setup_logging("inject_tools")
    out = Path(out_dir)
    tools = load_catalog(catalog)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    stats = Stats(
        [
            "read",
            "conversations",
            "with_tool_calls",
            "synthetic_tool_calls",
            *(f"calls.{tool.function.name}" for tool in tools),
            *(f"planner_failed.{r}" for r in PLANNER_FAILURES),
            *LLMStats().counters(),
        ]
    )
    llm_stats = LLMStats()
    with (
        atomic_folder(out / "conversations") as parts,
        JsonlWriter(parts / f"{0:09d}{PART_SUFFIX}") as writer,
        JsonlWriter(out / "planner_failures.jsonl") as failures,
        Progress("read", total=records_size([input]), unit="B") as progress,
    ):
        for chunk in batches(read_records(input, Conversation, progress), chunk_size):
            stats.add("read", len(chunk))
            planned = plan_chunk(planner, chunk, tools, llm, cache_dir, llm_stats)
            stats.merge(planned.counts)
            failures.write_all(planned.failures)
            for conversation, injections in zip(chunk, planned.injections, strict=True):
                writer.write(apply_injections(conversation, injections, tools))
                stats.add("with_tool_calls", bool(injections))
                stats.add("synthetic_tool_calls", len(injections))
                for injection in injections:
                    stats.add(f"calls.{injection.name}")
        stats.add("conversations", writer.count)
    stats.merge(llm_stats.counters())
    stats.write(out / "stats.json")
    click.echo(json.dumps(stats.to_dict()), err=True)


if __name__ == "__main__":
    main()
