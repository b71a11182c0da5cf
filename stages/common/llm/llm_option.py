"""`llm_option`: the `llm` section of params.yaml for a stage command, with `--llm KEY=VALUE`
overrides, as one validated `LLMSettings` argument named `llm`.

Put it after `stage_params(...)`: that option is eager and leaves the whole params file in
`ctx.meta`, where this one finds the shared `llm` section.
"""

from collections.abc import Callable
from typing import Any

import click
import yaml

from stages.common.llm.settings import LLMSettings, LLMSettingsError
from stages.common.params import PARAMS_FILE, PARAMS_FILE_META, PARAMS_META

F = Callable[..., Any]


def _settings(ctx: click.Context, _param: click.Parameter, overrides: tuple[str, ...]) -> Any:
    values = dict((ctx.meta.get(PARAMS_META) or {}).get("llm") or {})
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--llm")
        values[key.strip()] = yaml.safe_load(text)
    try:
        return LLMSettings.from_params(values)
    except LLMSettingsError as error:
        if overrides:
            raise click.BadParameter(str(error), param_hint="--llm") from None
        raise click.ClickException(
            f"{ctx.meta.get(PARAMS_FILE_META, PARAMS_FILE)}: {error}"
        ) from None


def llm_option(fn: F) -> F:
    return click.option(
        "--llm",
        "llm",
        multiple=True,
        callback=_settings,
        metavar="KEY=VALUE",
        help="Override a key of the `llm` params section, e.g. --llm provider=openai.",
    )(fn)
