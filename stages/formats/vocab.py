"""The o200k_base vocabulary, offline: unpacked from the `bpe-openai` wheel.

`openai-harmony` and `tiktoken` download their vocabulary at first use, which fails
without network. `bpe-openai` ships `o200k_base.tiktoken.gz`; unpacking it into a
folder named by `TIKTOKEN_ENCODINGS_BASE` lets openai-harmony load it from disk.
The folder is fixed (under the system temp dir unless given) and the file is
written once, atomically, so parallel test workers never see half a file.
"""

import gzip
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import bpe_openai
import bpe_openai._bindings

ENV = "TIKTOKEN_ENCODINGS_BASE"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "logtune-tiktoken"
PACKED = Path(bpe_openai.__file__).parent / "data"


def unpack(name: str, directory: Path) -> Path:
    """`<directory>/<name>.tiktoken`, unpacked from bpe-openai if not there yet."""
    target = directory / f"{name}.tiktoken"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    data = gzip.decompress((PACKED / f"{name}.tiktoken.gz").read_bytes())
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
    return target


def ensure_encodings_base(directory: Path | None = None) -> Path:
    """Point `TIKTOKEN_ENCODINGS_BASE` at a folder holding o200k_base; return it.

    An existing setting that already holds the file is kept.
    """
    current = os.environ.get(ENV)
    if directory is None and current and (Path(current) / "o200k_base.tiktoken").exists():
        return Path(current)
    folder = directory or DEFAULT_DIR
    unpack("o200k_base", folder)
    os.environ[ENV] = str(folder)
    return folder


@cache
def o200k() -> bpe_openai.Encoding:
    """The o200k_base encoding (GPT-4o and later), read from the bundled file."""
    return bpe_openai.get_encoding("o200k_base")


@cache
def _o200k_backend() -> Any:
    """bpe-openai's Rust tokenizer itself, the one `o200k()` wraps."""
    return bpe_openai._bindings.tokenizer_for_encoding("o200k_base")


def _without_lone_surrogates(text: str) -> str:
    """The text bpe-openai tokenizes for one holding a lone surrogate: each one replaced."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def count_o200k(text: str) -> int:
    """Tokens of `text` in o200k_base, as many as `o200k().encode_ordinary` gives, without
    making them: a fifth faster, and with no limit (encode_ordinary refuses a text of a
    million characters or of 200,000 tokens, which one tool result can be)."""
    try:
        return _o200k_backend().count(text)
    except UnicodeEncodeError:
        return _o200k_backend().count(_without_lone_surrogates(text))


def encode_o200k(text: str) -> list[int]:
    """`o200k().encode_ordinary(text)`, with no limit of length."""
    try:
        return _o200k_backend().encode(text)
    except UnicodeEncodeError:
        return _o200k_backend().encode(_without_lone_surrogates(text))
