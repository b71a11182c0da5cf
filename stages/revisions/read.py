"""The curated records of one revision, read through `dvc.api`.

`dvc.api.open` takes a git revision, a branch or tag, or an experiment's name, and reads
the file's bytes from DVC's cache (fetching them from the default remote when the cache
lacks them), so a revision or experiment never checked out can be read; `None` reads the
workspace.
"""

from dataclasses import dataclass
from pathlib import PurePosixPath

import dvc.api
import msgspec
from dvc.exceptions import DvcException
from scmrepo.exceptions import SCMError

from schemas.conversation import Conversation
from stages.common.user_error import UserError

SPLITS = ("train", "validation")
WORKSPACE = "workspace"

_decoder = msgspec.json.Decoder(Conversation)


@dataclass(frozen=True)
class Entry:
    """One record at one revision: the split it is in, and the record itself."""

    split: str
    record: Conversation


def rev_name(rev: str | None) -> str:
    return WORKSPACE if rev is None else rev


def _file_bytes(repo: str, path: str, rev: str | None) -> bytes:
    try:
        with dvc.api.open(path, repo=repo, rev=rev, mode="rb") as handle:
            return handle.read()
    except (DvcException, SCMError, FileNotFoundError) as error:
        what = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(
            f"{path} at {rev_name(rev)}: cannot be read ({what}); check the revision or "
            "experiment name (`dvc exp list`), and `dvc pull` or `dvc exp pull` what the "
            "cache lacks"
        ) from None


def read_revision(repo: str, folder: str, rev: str | None) -> dict[str, Entry]:
    """Every record of `<folder>/{train,validation}.jsonl` at `rev`, by id."""
    entries: dict[str, Entry] = {}
    for split in SPLITS:
        path = str(PurePosixPath(folder) / f"{split}.jsonl")
        for number, line in enumerate(_file_bytes(repo, path, rev).splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = _decoder.decode(line)
            except msgspec.DecodeError as error:
                raise UserError(
                    f"{path}:{number} at {rev_name(rev)}: not a Conversation record ({error}); "
                    "give --records the folder curate writes"
                ) from None
            entries[record.id] = Entry(split, record)
    return entries
