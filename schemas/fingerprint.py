"""The fingerprint of the files one stage reads, written by the `inputs` stage."""

import msgspec

from schemas.base import Record


class InputFile(Record):
    """A file below an input path: `path` is relative to it, so the fingerprint names no
    machine folder and is the same wherever the same files lie."""

    path: str
    size: int
    sha256: str


class InputPath(Record):
    param: str  # the params.yaml key, e.g. ingest_sessions.input
    path: str | None  # as written there, `~` included
    files: list[InputFile] = msgspec.field(default_factory=list)


class StageFingerprint(Record):
    stage: str
    source: str
    enabled: bool
    inputs: list[InputPath] = msgspec.field(default_factory=list)
