"""Per-input-file results cached by content, so a new file costs only its own parse.

An entry's key hashes the file's content together with everything else that
changes the result (parser version, the parse params, the path written into
records). Hashing every input on every run would cost a full read, so the
content hash of a file is remembered against its size, mtime and inode, as DVC
does, and recomputed whenever one of them changes. Entries and the index are
renamed into place whole (stages/common/atomic.py); an entry damaged by a power
cut fails to decode and is simply parsed again. The cache is a local
accelerator, never a stage output; deleting it only costs time.
"""

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec

from stages.common.atomic import write_bytes_atomic
from stages.common.hashing import content_hash

READ_BYTES = 1 << 20

Stamp = tuple[int, int, int]  # size, mtime_ns, inode: a file changed when its stamp did
# path → [size, mtime_ns, inode, sha256 of the content]
Index = dict[str, tuple[int, int, int, str]]


def _path_key(path: Path) -> str:
    """The index names a file by a hash of its absolute path: a path holds the user's name."""
    return hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:32]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


class FileCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._index_path = self.root / "index.json"
        self._index = self._load_index()
        self._dirty = False

    def _load_index(self) -> Index:
        try:
            return msgspec.json.decode(self._index_path.read_bytes(), type=Index)
        except (OSError, msgspec.DecodeError):
            return {}  # no index yet, or a damaged one: contents are simply rehashed

    def remembered(self, path: Path) -> tuple[Stamp, str | None]:
        """The file's stamp now, and its sha256 if the file is unchanged since it was hashed."""
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        known = self._index.get(_path_key(path))
        return stamp, known[3] if known and known[:3] == stamp else None

    def remember(self, path: Path, stamp: Stamp, sha: str) -> None:
        """Keep a sha256 computed (maybe elsewhere) for the file as it was at `stamp`."""
        self._index[_path_key(path)] = (*stamp, sha)
        self._dirty = True

    def digest(self, path: Path) -> str:
        """The sha256 of a file's content, rehashed only when its stat changed."""
        stamp, sha = self.remembered(path)
        if sha is None:
            sha = file_sha256(path)
            self.remember(path, stamp, sha)
        return sha

    def key(self, path: Path, *parts: Any) -> str:
        """The entry key for `path` parsed under `parts` (anything msgspec can encode)."""
        return content_hash([self.digest(path), *parts])

    def entry(self, key: str) -> Path:
        """Where the entry for `key` lives."""
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return self.entry(key).is_file()

    def load(self, key: str) -> bytes | None:
        try:
            return self.entry(key).read_bytes()
        except FileNotFoundError:
            return None

    def store(self, key: str, data: bytes) -> None:
        write_bytes_atomic(self.entry(key), data)

    def save(self) -> None:
        """Write the hash index back, if any file was hashed this run."""
        if self._dirty:
            write_bytes_atomic(self._index_path, msgspec.json.encode(self._index))
            self._dirty = False
