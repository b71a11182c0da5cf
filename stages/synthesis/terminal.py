"""Terminal rendering: ANSI colours, shell prompts that show a failed exit status, transcripts.

A prompt shows the previous command's exit status when it is not zero, as powerlevel10k,
starship and many PS1 setups do: `✘ 1 dana@api-2:~/shop (main) $`. That is how a reader
(and the test that checks every report) knows which command failed without guessing.
"""

import re
from collections.abc import Callable
from typing import NamedTuple

ESC = "\x1b["
RESET = f"{ESC}0m"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _colour(code: str) -> Callable[[object], str]:
    def paint(text: object) -> str:
        return f"{ESC}{code}m{text}{RESET}"

    return paint


red, green, yellow, blue, magenta, cyan = (_colour(c) for c in ("31", "32", "33", "34", "35", "36"))
bold, dim = _colour("1"), _colour("2")
bold_red, bold_green = _colour("1;31"), _colour("1;32")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Step(NamedTuple):
    """One command as typed, what it printed and how it exited, where it ran."""

    command: str
    output: str = ""
    exit_code: int = 0
    cwd: str = "~"
    branch: str | None = None  # what a git-aware prompt shows, e.g. `main` or `main|MERGING`


class PromptStyle(NamedTuple):
    symbol: str  # what ends the prompt
    status: str  # how a non-zero exit status is shown, `{code}` filled in


PROMPT_STYLES = (
    PromptStyle("$", "✘ {code}"),
    PromptStyle("\u276f", "✘ {code}"),  # starship's heavy angle bracket
    PromptStyle("%", "[{code}]"),
    PromptStyle("$", "[exit {code}]"),
)


def prompt(
    style: PromptStyle, user: str, host: str, step_cwd: str, branch: str | None, status: int
) -> str:
    shown = red(style.status.format(code=status)) + " " if status else ""
    git = " " + magenta(f"({branch})") if branch else ""
    return f"{shown}{bold_green(f'{user}@{host}')}:{blue(step_cwd)}{git} {style.symbol} "


def render(steps: list[Step], style: PromptStyle, user: str, host: str) -> str:
    """The transcript of `steps`, a `cd` typed wherever the directory changes, ending at the
    prompt after the last command (which shows its status)."""
    lines: list[str] = []
    cwd, branch, status = "~", None, 0
    for step in steps:
        if step.cwd != cwd:
            lines.append(prompt(style, user, host, cwd, branch, status) + f"cd {step.cwd}")
            cwd, status = step.cwd, 0
        branch = step.branch
        lines.append(prompt(style, user, host, cwd, branch, status) + step.command)
        if step.output:
            lines.append(step.output.rstrip("\n"))
        status = step.exit_code
    lines.append(prompt(style, user, host, cwd, branch, status).rstrip())
    return "\n".join(lines) + "\n"
