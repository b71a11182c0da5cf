"""review: a local web page to read what trains, see why records were dropped, and correct
labels by hand into the annotations file.

Reads:  data/curated/{train,validation,dropped}.jsonl, data/moderated/{conversations,flagged}.jsonl,
        data/export/{records.metadata.jsonl,rejects.jsonl,formats/}, the annotations file.
Writes: the annotations file (a save in the page), the list's index under --cache-dir.

A tool, not a pipeline stage: `dvc repro` never runs it; the next `dvc repro` carries the
labels saved here into every export. docs/review.md shows the page.
"""

from pathlib import Path

import click

from stages.common.cli import setup_logging, stage_command
from stages.common.params import PARAMS_FILE, load_params
from stages.reviewing.http_server import ReviewServer, loopback
from stages.reviewing.record_index import DataPaths
from stages.reviewing.review_api import ReviewApp
from stages.reviewing.trainer_view import FAMILIES


def export_system_prompt(params_file: str) -> str | None:
    """export.system_prompt, which every export puts first in examples that have none."""
    if not Path(params_file).exists():
        return None
    section = load_params(params_file).get("export") or {}
    return section.get("system_prompt") if isinstance(section, dict) else None


@stage_command
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on; 0 takes a free one.",
)
@click.option("--curated-dir", default="data/curated", show_default=True)
@click.option("--moderated-dir", default="data/moderated", show_default=True)
@click.option("--export-dir", default="data/export", show_default=True)
@click.option("--annotations", default="data/annotations.yaml", show_default=True)
@click.option(
    "--cache-dir",
    default="data/cache/review",
    show_default=True,
    help="Where the list's index is kept (git-ignored, no DVC output).",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(sorted(FAMILIES)),
    default="openai",
    show_default=True,
    help="The export format a record is first shown in.",
)
@click.option(
    "--params",
    "params_file",
    default=PARAMS_FILE,
    show_default=True,
    help="Parameters file: its export.system_prompt is shown as the exports write it.",
)
def main(
    host: str,
    port: int,
    curated_dir: str,
    moderated_dir: str,
    export_dir: str,
    annotations: str,
    cache_dir: str,
    export_format: str,
    params_file: str,
) -> None:
    """Serve the review page on this machine until Ctrl+C; print its URL, open nothing.

    Example: python -m stages.review --port 8765
    """
    setup_logging("review")
    paths = DataPaths(
        curated=Path(curated_dir),
        moderated=Path(moderated_dir),
        export=Path(export_dir),
        cache=Path(cache_dir),
    )
    app = ReviewApp(paths, Path(annotations), export_system_prompt(params_file), export_format)
    records = app.index.current().size
    server = ReviewServer(host, port, app)
    if not loopback(host):
        click.echo(
            f"warning: listening on {host}: anyone who can reach it can read and edit the labels",
            err=True,
        )
    click.echo(f"Reviewing {records} records at {server.url} (Ctrl+C stops)", nl=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
