"""diff: which records a dataset change added, removed or changed, between two revisions.

Reads:  <records>/train.jsonl and <records>/validation.jsonl (curate's output) at REV_A and
        REV_B through dvc.api: from DVC's cache (or the default remote), so any commit,
        branch, tag or experiment name works without checking it out.
Writes: a report on stdout: totals, counts by source, example type and split, the ids
        added and removed, and a unified diff of each changed record's rendered conversation;
        `--format json` for scripts.

A tool, not a pipeline stage: the record-level companion of `dvc params diff` and
`dvc metrics diff`. See docs/teams.md.
"""

import click
import msgspec

from stages.common.cli import stage_command
from stages.revisions.compare import compare
from stages.revisions.read import WORKSPACE, read_revision, rev_name
from stages.revisions.report import text_report


def _rev(value: str) -> str | None:
    return None if value == WORKSPACE else value


@stage_command
@click.argument("rev_a", default="HEAD")
@click.argument("rev_b", default=WORKSPACE)
@click.option(
    "--records",
    default="data/curated",
    show_default=True,
    help="The folder, inside the repository, of train.jsonl and validation.jsonl to compare.",
)
@click.option(
    "--repo",
    default=".",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="The DVC repository (a path).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--context",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Unchanged lines shown around each change of a record.",
)
def main(rev_a: str, rev_b: str, records: str, repo: str, output_format: str, context: int) -> None:
    """Compare the curated records of REV_A (default HEAD) and REV_B (default: the
    workspace) by id: added, removed, changed, and counts by source, type and split.

    A revision is anything git or `dvc exp show` names: a commit, branch, tag or
    experiment; `workspace` is the working tree.

    Example: python -m stages.diff HEAD~1 HEAD --format json
    """
    a = read_revision(repo, records, _rev(rev_a))
    b = read_revision(repo, records, _rev(rev_b))
    diff = compare(a, b, rev_name(_rev(rev_a)), rev_name(_rev(rev_b)), context)
    if output_format == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(diff), indent=2))
    else:
        click.echo(text_report(diff), nl=False)


if __name__ == "__main__":
    main()
