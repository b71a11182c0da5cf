"""What every stage command shares: one-line errors, one run per output folder, logging, paths
as provenance, --strict."""

import contextlib
import gc
import inspect
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from stages.common.atomic import output_transaction
from stages.common.input_paths import relative_below
from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES
from stages.common.lock import output_lock
from stages.common.params import PARAMS_KEYS_META
from stages.common.user_error import UserError

F = Callable[..., Any]

# Loggers of the HTTP stack under the openai client: `httpx2` (the openai 3.x line) or `httpx`
# log one INFO line per request, a thousand lines in a run that shows a progress bar anyway.
QUIET_LOGGERS = ("httpx", "httpx2", "openai")
# A stage makes millions of short-lived objects (decoded records) and next to no cycles: at
# Python's default (700, 10, 10) the collector ran thousands of times a chunk, scanning the
# records still held, and took over a quarter of enrich's time (tests/bench/README.md#pipeline).
GC_THRESHOLDS = (10_000, 20, 10)


class StageCommand(click.Command):
    """A stage command whose user errors are one line (`Error: ...`, exit 1), never a traceback.

    Library code raises `UserError` (stages/common/user_error.py) for what the user must fix; it
    becomes a ClickException here, as do two other kinds, once for every stage:
    - an OSError on a path (a missing input, an out-dir under a file, no permission, a full
      disk): the message names the path and the option that holds it;
    - a bad value read from the params file: the message names the file and the key, not an
      option the user never typed.

    A stage with an `--out-dir` holds that folder's lock while it runs (stages/common/lock.py):
    a second run into the same folder fails at once instead of mixing its outputs in. Its
    outputs in that folder change together when it ends, or not at all when it crashes or is
    killed (`output_transaction` in stages/common/atomic.py).

    Its --help shows the defaults params.yaml gives, and the example ending the docstring as
    commands to copy, one per line, never rewrapped.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(arg in ctx.help_option_names for arg in args):
            self._load_params_for_help(ctx, args)
        try:
            return super().parse_args(ctx, args)
        except UserError as error:
            raise click.ClickException(str(error)) from None
        except click.BadParameter as error:
            keys = ctx.meta.get(PARAMS_KEYS_META) or {}
            param = error.param
            if param is None or param.name not in keys:
                raise
            if ctx.get_parameter_source(param.name) is not click.core.ParameterSource.DEFAULT_MAP:
                raise
            raise click.ClickException(f"{keys[param.name]}: {error.message}") from None

    def _load_params_for_help(self, ctx: click.Context, args: list[str]) -> None:
        """--help is handled before --params is read: read it first, so the defaults shown
        are the ones a run would use."""
        option = next((p for p in self.params if p.name == "params_file"), None)
        if option is None or option.callback is None:
            return
        value = option.default
        for i, arg in enumerate(args):
            if arg == "--params" and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith("--params="):
                value = arg.partition("=")[2]
        if isinstance(value, str) and Path(value).is_file():
            option.callback(ctx, option, value)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = inspect.cleandoc(self.help or "")
        description, _, example = text.partition("Example:")
        if description.strip():
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(description.strip())
        commands = example_commands(example)
        if commands:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text("Example:")
                for line in commands:
                    formatter.write(f"{' ' * (formatter.current_indent + 2)}{line}\n")

    def invoke(self, ctx: click.Context) -> Any:
        gc.set_threshold(*GC_THRESHOLDS)  # workers fork from here and keep it
        try:
            with self._outputs(ctx.params.get("out_dir")):
                return super().invoke(ctx)
        except UserError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            if error.filename is None:
                raise
            raise click.ClickException(path_problem(ctx, error)) from None

    @contextlib.contextmanager
    def _outputs(self, out_dir: str | None) -> Iterator[None]:
        if not out_dir:
            yield
            return
        with output_lock(out_dir), output_transaction(out_dir):
            yield


def example_commands(example: str) -> list[str]:
    """A docstring's example as shell lines: a continued command ends in ` \\`."""
    lines = [line.strip() for line in example.strip().splitlines() if line.strip()]
    return [f"{line} \\" for line in lines[:-1]] + lines[-1:]


def path_problem(ctx: click.Context, error: OSError) -> str:
    """`PATH: reason`, and which option to check when one of them holds the path."""
    path = os.fsdecode(error.filename)
    reason = error.strerror or type(error).__name__
    param = _param_holding(ctx, os.path.abspath(path))
    hint = f" (check {param.get_error_hint(ctx)})" if param is not None else ""
    return f"{path}: {reason}{hint}"


def _param_holding(ctx: click.Context, path: str) -> click.Parameter | None:
    """The parameter whose path value is `path` or a folder above it (the deepest one)."""
    best: tuple[int, click.Parameter] | None = None
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        values: Sequence[object] = value if isinstance(value, (tuple, list)) else (value,)
        for item in values:
            if not isinstance(item, (str, Path)) or not str(item):
                continue
            root = os.path.abspath(item)
            if (path == root or relative_below(path, root) is not None) and (
                best is None or len(root) > best[0]
            ):
                best = (len(root), param)
    return best[1] if best else None


def stage_command(fn: F) -> click.Command:
    """`@click.command()` for a stage: its errors are one line, its outputs change together
    (see StageCommand)."""
    return click.command(cls=StageCommand)(fn)


def setup_logging(stage: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"{stage}: %(message)s", force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def strict_option(fn: F) -> F:
    return click.option(
        "--strict",
        is_flag=True,
        help="Stop at the first bad line with its file and line, instead of rejecting it.",
    )(fn)


def jobs_option(fn: F) -> F:
    return click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=lambda: min(os.cpu_count() or 1, 8),
        show_default="number of cores",
        help="Worker processes; the output is the same for any value.",
    )(fn)


def max_line_bytes_option(fn: F) -> F:
    return click.option(
        "--max-line-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_LINE_BYTES,
        show_default=True,
        help="Longer lines are rejected without being read into memory.",
    )(fn)


def cache_options(default_dir: str) -> Callable[[F], F]:
    """--cache/--no-cache and --cache-dir, for stages with a per-file parse cache."""

    def decorate(fn: F) -> F:
        fn = click.option(
            "--cache-dir",
            default=default_dir,
            show_default=True,
            help="Where per-file parses are kept (not a DVC output: deleting it only costs time).",
        )(fn)
        return click.option(
            "--cache/--no-cache",
            default=True,
            show_default=True,
            help="Reuse the parse of files already seen with the same content and params.",
        )(fn)

    return decorate
