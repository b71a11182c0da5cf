"""What a tool result says about its call: failed, refused by the user, or fine.

A result is a failure when it is a JSON object with a truthy `error` or a `status` of
error/failed/failure, or text that opens with Error, Exception, Traceback, Failed or Fatal.
A user refusing a call (Claude Code's refusal text) is not a failure of the call: the call
itself was the mistake.
"""

import re
from typing import Any

from stages.common.json_value import json_or_none

FAILED_STATUSES = {"error", "failed", "failure", "fail"}
_FAILED_TEXT = re.compile(r"^\s*(error|exception|traceback|failed|fatal)\b", re.IGNORECASE)
MAX_ERROR_CHARS = 300
JSON_WHITESPACE = " \t\n\r"  # what may come before a JSON value


def _json_object(text: str) -> dict[str, Any] | None:
    # Most results are plain text: no need to have the decoder fail on them.
    if not text.lstrip(JSON_WHITESPACE).startswith("{"):
        return None
    value = json_or_none(text)
    return value if isinstance(value, dict) else None


def failure_message(content: str | None) -> str | None:
    """The error a tool result reports, or None when the result is not a failure."""
    text = content or ""
    value = _json_object(text)
    if value is not None:
        status = value.get("status")
        failed = bool(value.get("error")) or (
            isinstance(status, str) and status.lower() in FAILED_STATUSES
        )
        if not failed:
            return None
        message = value.get("message") or value.get("error") or status
        return str(message)[:MAX_ERROR_CHARS]
    if _FAILED_TEXT.match(text):
        return text.strip().splitlines()[0][:MAX_ERROR_CHARS]
    return None


# Claude Code's tool result when the user declines a proposed call.
REFUSAL_PREFIX = "The user doesn't want to proceed with this tool use"


def refused_by_user(content: str | None) -> bool:
    return (content or "").startswith(REFUSAL_PREFIX)
