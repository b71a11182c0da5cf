"""discord_emojis: list servers' custom emojis and make them the ones the assistant may use.

Reads:  each guild's custom emojis over the Discord REST API (discord.py), with the bot
        token from the environment variable `collect_discord.token_env` names.
Writes: `segment.assistant_custom_emojis` in params.yaml, as `name:id` entries, with every
        comment and the layout of the file kept (ruamel.yaml round trip).

Not a pipeline stage: run it when the servers' emojis change, then `dvc repro`.
"""

import asyncio
import io
import os
from pathlib import Path
from typing import Any

import click
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from stages.common.atomic import write_bytes_atomic
from stages.common.cli import stage_command
from stages.common.envname import env_name_problem
from stages.common.params import PARAMS_FILE, load_params
from stages.discord.rest import (
    DEFAULT_API_BASE,
    DEFAULT_TOKEN_NAME,
    DiscordCollectError,
    list_guild_emojis,
)

SECTION, KEY = "segment", "assistant_custom_emojis"


def _null(representer: Any, _value: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long value onto a second line
    yaml.preserve_quotes = True
    yaml.representer.add_representer(type(None), _null)  # keep `null`, not an empty value
    return yaml


def emoji_entries(emojis: list[dict[str, Any]]) -> list[str]:
    """`name:id` for each custom emoji, sorted and each once."""
    return sorted({f"{e['name']}:{e['id']}" for e in emojis if e.get("id") and e.get("name")})


def rewrite_emojis(text: str, entries: list[str], path: str = PARAMS_FILE) -> str:
    """`text` (params.yaml) with `segment.assistant_custom_emojis` set to `entries`.

    The list is changed in place, so its key's comment stays; an empty list is `[]`.
    """
    yaml = _round_trip()
    try:
        data = yaml.load(text)
    except YAMLError as error:
        raise click.ClickException(f"{path}: not valid YAML: {error}") from error
    section = data.get(SECTION) if isinstance(data, CommentedMap) else None
    if not isinstance(section, CommentedMap) or KEY not in section:
        raise click.ClickException(f"{path}: no `{SECTION}.{KEY}` to rewrite")
    current = section[KEY]
    if not isinstance(current, CommentedSeq):
        current = CommentedSeq()
        section[KEY] = current
    current.clear()
    current.extend(entries)
    if entries:
        current.fa.set_block_style()
    else:
        current.fa.set_flow_style()
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _collect_option(params_file: str, key: str, default: str) -> str:
    """A `collect_discord` setting of the params file, so both commands use the same API."""
    if not Path(params_file).exists():
        return default
    section = load_params(params_file).get("collect_discord") or {}
    return str(section.get(key) or default)


@stage_command
@click.option(
    "--guild",
    "guilds",
    multiple=True,
    required=True,
    help="A server (guild) id whose custom emojis the assistant may use (repeatable).",
)
@click.option(
    "--params",
    "params_file",
    default=PARAMS_FILE,
    show_default=True,
    type=click.Path(dir_okay=False, exists=True),
    help="The params file to rewrite.",
)
@click.option(
    "--api-base", default=None, help="The Discord API root [default: collect_discord.api_base]."
)
@click.option(
    "--token-env",
    default=None,
    help="NAME of the environment variable holding the bot token "
    "[default: collect_discord.token_env].",
)
@click.option("--dry-run", is_flag=True, help="List the emojis; leave the params file alone.")
def main(
    guilds: tuple[str, ...],
    params_file: str,
    api_base: str | None,
    token_env: str | None,
    dry_run: bool,
) -> None:
    """List each server's custom emojis and set segment.assistant_custom_emojis to them.

    Example: python -m stages.discord_emojis --guild 1180000000000000100
    """
    api_base = api_base or _collect_option(params_file, "api_base", DEFAULT_API_BASE)
    token_env = token_env or _collect_option(params_file, "token_env", DEFAULT_TOKEN_NAME)
    problem = env_name_problem(token_env, "collect_discord.token_env", DEFAULT_TOKEN_NAME)
    if problem is not None:
        raise click.ClickException(problem)
    token = os.environ.get(token_env)
    found: list[dict[str, Any]] = []
    for guild in dict.fromkeys(guilds):
        try:
            emojis = asyncio.run(
                list_guild_emojis(guild, token=token, base_url=api_base, token_name=token_env)
            )
        except DiscordCollectError as error:
            raise click.ClickException(str(error)) from error
        for entry in emoji_entries(emojis):
            click.echo(f"{guild}\t{entry}")
        found.extend(emojis)
    entries = emoji_entries(found)
    if dry_run:
        return
    path = Path(params_file)
    write_bytes_atomic(path, rewrite_emojis(path.read_text(), entries, params_file).encode())
    click.echo(f"{params_file}: {SECTION}.{KEY} set to {len(entries)} emojis", err=True)


if __name__ == "__main__":
    main()
