"""Secrets and personal data out of conversations, before anything is exported.

Credentials are matched by the shapes their issuers give them (an OpenAI key, a
Discord bot token, an AWS access key id, a private key block...), which finds
them wherever they stand, with very few false alarms: a high-entropy guess would
redact every hash and id a tool ever printed. Known secret values from the
environment are replaced too, whatever their shape. Each match becomes
`[REDACTED:<kind>]`, a text that is valid inside a JSON string.
"""

import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

from schemas.conversation import Conversation, FunctionCall, Message, ToolCall

SECRET_PATTERNS: dict[str, str] = {
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    "anthropic_key": r"\bsk-ant-[A-Za-z0-9_-]{20,}",
    "openai_key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "stripe_key": r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
    "slack_token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "discord_token": r"\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40}",
    "jwt": r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    "bearer_token": r"(?P<bearer_token_keep>(?i:\bbearer) )[A-Za-z0-9._~+/-]{20,}=*",
    "url_password": r"(?<=://)[^/\s:@\"'\\]+:[^/\s@\"'\\]+(?=@)",
    "assigned_secret": (
        r"(?P<assigned_secret_keep>(?i:\b(?:api[_-]?key|secret|password|passwd|access[_-]?token))"
        r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?)[^\s\"'\\]{8,}"
    ),
}

PII_PATTERNS: dict[str, str] = {
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
    "ip_address": r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b",
}

KINDS = (*SECRET_PATTERNS, *PII_PATTERNS, "env_secret")
KEEP = "_keep"  # a pattern's prefix group kept in the text: `password: [REDACTED:...]`


class Scrubber:
    """Replaces every match of the chosen patterns, counting them by kind."""

    def __init__(
        self, *, secrets: bool = True, pii: bool = True, known_values: Iterable[str] = ()
    ) -> None:
        patterns = {**(SECRET_PATTERNS if secrets else {}), **(PII_PATTERNS if pii else {})}
        values = sorted(
            {form for v in known_values if len(v) >= 8 for form in (v, json_escaped(v))},
            key=len,
            reverse=True,
        )
        if values:
            patterns = {"env_secret": "|".join(map(re.escape, values)), **patterns}
        branches = [f"(?P<{kind}>{pattern})" for kind, pattern in patterns.items()]
        self._pattern = re.compile("|".join(branches)) if branches else None
        self.counts: Counter[str] = Counter()

    def text(self, text: str | None) -> str | None:
        if not text or self._pattern is None or not self._pattern.search(text):
            return text
        return self._pattern.sub(self._redact, text)

    def _redact(self, match: re.Match[str]) -> str:
        kind = match.lastgroup or "secret"
        self.counts[kind] += 1
        groups = match.groupdict()
        return f"{groups.get(kind + KEEP) or ''}[REDACTED:{kind}]"

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    def arguments(self, arguments: str) -> str:
        """Scrub the values inside a JSON arguments text, keeping it valid JSON."""
        if self._pattern is None or not self._pattern.search(arguments):
            return arguments
        try:
            decoded = msgspec.json.decode(arguments)
        except msgspec.DecodeError:
            return self.text(arguments) or arguments
        return msgspec.json.encode(self.value(decoded)).decode()

    def message(self, message: Message) -> Message:
        calls = message.tool_calls and [
            ToolCall(
                id=call.id,
                function=FunctionCall(
                    name=call.function.name, arguments=self.arguments(call.function.arguments)
                ),
            )
            for call in message.tool_calls
        ]
        return msgspec.structs.replace(
            message, content=self.text(message.content), tool_calls=calls
        )

    def conversation(self, conversation: Conversation) -> Conversation:
        """The conversation with secrets replaced; its id still names the source record."""
        labels = conversation.labels
        return msgspec.structs.replace(
            conversation,
            messages=[self.message(m) for m in conversation.messages],
            labels=msgspec.structs.replace(
                labels,
                reasoning=self.text(labels.reasoning),
                problem=self.text(labels.problem),
                root_cause=self.text(labels.root_cause),
                correction=labels.correction and self.message(labels.correction),
            ),
        )


def json_escaped(value: str) -> str:
    """How a value reads inside JSON text (a tool result, arguments): `a"b` as `a\\"b`."""
    return msgspec.json.encode(value).decode()[1:-1]


def environment_secrets(names: Iterable[str]) -> list[str]:
    """The values of the named environment variables that are set: never logged, only matched."""
    return [os.environ[name] for name in names if os.environ.get(name)]


SECRET_NAME_SUFFIXES = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD")


def secret_like_environment() -> list[str]:
    """Values of variables named like credentials (`*_TOKEN`, `*_API_KEY`, ...).

    Used on diagnostics (rejects excerpts), never on training text: a variable
    such as `DEPLOY_KEY=production` would otherwise redact an ordinary word.
    """
    names = [name for name in os.environ if name.upper().endswith(SECRET_NAME_SUFFIXES)]
    return environment_secrets(sorted(names))
