"""Stage options that default from params.yaml, so DVC and the command line agree.

A stage reads its own section of params.yaml (plus the top-level keys it names,
such as `max_samples`) into click's `default_map`: params.yaml sets the
defaults, and any option given on the command line overrides them.
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from stages.common.user_error import UserError

PARAMS_FILE = "params.yaml"
# libyaml's loader when PyYAML was built with it: a tenth of the pure-Python loader's time,
# which every stage pays at start-up.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PARAMS_META = "logtune.params"  # ctx.meta key: the whole params file, for shared sections
PARAMS_FILE_META = "logtune.params_file"  # ctx.meta key: the params file's path as given
PARAMS_KEYS_META = "logtune.params_keys"  # ctx.meta key: option name → `file: section.key`


def read_yaml(path: str | Path) -> Any:
    """A YAML file's data; a syntax error is one line with the file, line and column."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = error.problem or error.context or "syntax error"
        raise UserError(f"{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from None


def load_params(path: str | Path) -> dict[str, Any]:
    params = read_yaml(path) or {}
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of sections at the top level")
    return params


def stage_defaults(
    params: dict[str, Any],
    path: str | Path,
    section: str,
    top_level: Sequence[str],
    read_elsewhere: Sequence[str] = (),
) -> dict[str, Any]:
    values = params.get(section) or {}
    if not isinstance(values, dict):
        raise UserError(f"{path}: `{section}` must be a mapping of parameters")
    defaults = {
        key.replace("-", "_"): value for key, value in values.items() if key not in read_elsewhere
    }
    defaults.update({key: params[key] for key in top_level if key in params})
    return defaults


def stage_params(
    section: str, top_level: Sequence[str] = (), read_elsewhere: Sequence[str] = ()
) -> Callable[[click.Command], click.Command]:
    """Add `--params FILE` to a stage command and default its options from FILE[section].

    `read_elsewhere` names keys of the section that another stage reads (`synthesize.augment`
    is enrich's): they are neither options here nor unknown keys."""

    def load(ctx: click.Context, _param: click.Parameter, value: str) -> str:
        path = Path(value)
        if not path.exists():
            if ctx.get_parameter_source("params_file") is click.core.ParameterSource.DEFAULT:
                return value
            raise click.BadParameter(f"{value} does not exist", param_hint="--params")
        params = load_params(path)
        ctx.meta[PARAMS_META] = params
        ctx.meta[PARAMS_FILE_META] = value
        defaults = stage_defaults(params, path, section, top_level, read_elsewhere)
        ctx.meta[PARAMS_KEYS_META] = {
            name: f"{value}: {name if name in top_level else f'{section}.{name}'}"
            for name in defaults
        }
        known = {p.name for p in ctx.command.params}
        unknown = sorted(set(defaults) - known)
        if unknown:
            raise click.ClickException(
                f"{value}: {', '.join(f'{section}.{k}' for k in unknown)} "
                f"is not a parameter of this stage (see --help)"
            )
        ctx.default_map = {**defaults, **(ctx.default_map or {})}
        return value

    return click.option(
        "--params",
        "params_file",
        default=PARAMS_FILE,
        show_default=True,
        is_eager=True,
        expose_value=False,
        callback=load,
        type=click.Path(dir_okay=False),
        help=f"Parameters file; options default from its `{section}` section.",
    )


def section_option(
    section: str, build: Callable[[dict[str, Any]], Any], error: type[Exception], example: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--<section> KEY=VALUE` (repeatable): a shared top-level section of the params file
    (`llm`, `scrub`) with the command line's overrides, built into one validated argument.

    Put it after `stage_params(...)`: that option is eager and leaves the params file in
    `ctx.meta`, where this one finds the section. A bad value names the file it came from.
    """

    def settings(ctx: click.Context, _param: click.Parameter, overrides: tuple[str, ...]) -> Any:
        values = dict((ctx.meta.get(PARAMS_META) or {}).get(section) or {})
        for item in overrides:
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise click.BadParameter(
                    f"expected KEY=VALUE, got {item!r}", param_hint=f"--{section}"
                )
            values[key.strip()] = yaml.safe_load(text)
        try:
            return build(values)
        except error as problem:
            if overrides:
                raise click.BadParameter(str(problem), param_hint=f"--{section}") from None
            where = ctx.meta.get(PARAMS_FILE_META, PARAMS_FILE)
            raise click.ClickException(f"{where}: {problem}") from None

    return click.option(
        f"--{section}",
        section,
        multiple=True,
        callback=settings,
        metavar="KEY=VALUE",
        help=f"Override a key of the `{section}` params section, e.g. --{section} {example}.",
    )
