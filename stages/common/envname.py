"""Names of the environment variables that hold secrets, checked before anything prints them.

Options such as `llm.api_key_env` take the NAME of a variable; a key pasted there by mistake
would otherwise be echoed by the first error that names the variable ("OPENAI_API_KEY is not
set"), in a terminal, a CI log or a DVC log. A value that is not shaped like a name is refused
with a message that never repeats it, not even in part.
"""

import re

import click

from stages.common.scrub import Scrubber

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name_problem(value: str, key: str, example: str) -> str | None:
    """Why `value` cannot be the variable name that `key` takes, or None if it can."""
    if NAME.fullmatch(value) and Scrubber(pii=False).text(value) == value:
        return None
    return (
        f"{key} takes the NAME of an environment variable (such as {example}), and the value "
        "given is not one (not shown, in case it is a secret): put the secret in the "
        f"environment, e.g. `export {example}=...`, and its name in {key}"
    )


class EnvName(click.ParamType):
    """A click type for an option naming an environment variable, e.g. `--token-env`."""

    name = "NAME"

    def __init__(self, key: str, example: str) -> None:
        self.key = key
        self.example = example

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        problem = env_name_problem(str(value), self.key, self.example)
        if problem is not None:
            self.fail(problem, param, ctx)
        return str(value)
