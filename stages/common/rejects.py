"""Rejected input: counted by reason, kept in a rejects file, reported with file and line."""

import functools
import logging
import re
from pathlib import Path

import msgspec

from schemas.reject import Reject
from stages.common.jsonl import JsonlWriter
from stages.common.scrub import Scrubber, private_path, secret_like_environment
from stages.common.stats import Stats
from stages.common.user_error import UserError

EXCERPT_CHARS = 300

log = logging.getLogger("logtune")


@functools.cache
def _scrubber() -> Scrubber:
    return Scrubber(known_values=secret_like_environment())


def excerpt(data: bytes) -> str:
    """The start of a bad line, readable whatever its encoding, short enough to log.

    Credentials and personal data in it are redacted here, where every excerpt is made, because
    rejects also live in caches and DVC outputs that get pushed.
    """
    text = data[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    return _scrubber().text(text[:EXCERPT_CHARS]) or ""


_space = re.compile(r"\s+")
OPENING_CHARS = 160


def opening(text: str) -> str:
    """A dropped record's excerpt: the start of an already scrubbed text, on one line."""
    return _space.sub(" ", text).strip()[:OPENING_CHARS]


def scrubbed(reject: Reject) -> Reject:
    """The reject as outputs and caches may hold it: its file name and texts scrubbed."""
    scrub = _scrubber().text
    return msgspec.structs.replace(
        reject,
        file=private_path(reject.file),
        message=scrub(reject.message) or "",
        excerpt=scrub(reject.excerpt) or "",
    )


def describe(reject: Reject) -> str:
    return f"{reject.file}:{reject.line}: {reject.reason}: {reject.message}"


class RejectsWriter(JsonlWriter):
    """Keeps every reject in a JSONL file and counts it as `rejected.<reason>`.

    With `strict`, the first reject stops the stage with a message naming the
    file and line; otherwise the first few are logged and the rest only counted.
    """

    def __init__(
        self, path: str | Path, stats: Stats, *, strict: bool = False, log_limit: int = 20
    ) -> None:
        super().__init__(path)
        self.stats = stats
        self.strict = strict
        self.log_limit = log_limit

    def add(self, reject: Reject) -> None:
        """Count, log and keep a reject, with any credential in its text redacted first."""
        reject = scrubbed(reject)
        if self.strict:
            raise UserError(describe(reject))
        if self.count < self.log_limit:
            log.warning("%s", describe(reject))
        elif self.count == self.log_limit:
            log.warning("more rejects follow: see %s", self.path)
        self.stats.add(f"rejected.{reject.reason}")
        self.write(reject)
