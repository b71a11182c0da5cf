"""Discord's markup tokens as a reader sees them, before any text can become a target.

A model trained on `<@&818907925450777051>` learns to write role ids nobody can read. Roles
and channels become `@role` and `#channel` (the API sends only their ids), a timestamp token
the UTC date or time it shows, a slash-command token `/name`. User mentions are rendered by
name in stages/discord/candidates.py, which knows the names.
"""

import re
from datetime import UTC, datetime

ROLE = re.compile(r"<@&\d+>")
CHANNEL = re.compile(r"<#\d+>")
COMMAND = re.compile(r"</([\w -]+):\d+>")
TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")
FORMATS = {"t": "%H:%M UTC", "T": "%H:%M:%S UTC", "d": "%Y-%m-%d", "D": "%Y-%m-%d"}


def _timestamp(match: re.Match[str]) -> str:
    try:
        moment = datetime.fromtimestamp(int(match.group(1)), UTC)
    except (OverflowError, OSError, ValueError):
        return match.group(0)
    return moment.strftime(FORMATS.get(match.group(2) or "f", "%Y-%m-%d %H:%M UTC"))


def render_markup(text: str) -> str:
    text = ROLE.sub("@role", text)
    text = CHANNEL.sub("#channel", text)
    text = COMMAND.sub(lambda m: "/" + m.group(1), text)
    return TIMESTAMP.sub(_timestamp, text)
