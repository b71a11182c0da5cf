"""The o200k_base vocabulary, offline: unpacked from the `bpe-openai` wheel.

`openai-harmony` and `tiktoken` download their vocabulary at first use, which fails
without network. `bpe-openai` ships `o200k_base.tiktoken.gz`; unpacking it into a
folder named by `TIKTOKEN_ENCODINGS_BASE` lets openai-harmony load it from disk.
The folder is fixed (under the system temp dir unless given) and the file is
written once, atomically, so parallel test workers never see half a file.

Tokens are counted by bpe-openai's compiled module alone: importing the `bpe_openai`
package reads three vocabularies into Python dicts for its tiktoken-style wrapper (71 MB
and half a second in every process that imports this module), which logtune does not use.
"""

import base64
import gzip
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ENV = "TIKTOKEN_ENCODINGS_BASE"
DEFAULT_DIR = Path(tempfile.gettempdir()) / "logtune-tiktoken"
BINDINGS = "bpe_openai._bindings"


def _package_dir() -> Path:
    """bpe-openai's folder, found without importing the package."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bpe-openai is not installed")
    return Path(spec.submodule_search_locations[0])


PACKED = _package_dir() / "data"


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


def _bindings() -> ModuleType:
    """bpe-openai's compiled module, loaded from its file without the package's `__init__`
    (and registered, so that a later `import bpe_openai` uses it, not a second copy)."""
    loaded = sys.modules.get(BINDINGS)
    if loaded is not None:
        return loaded
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = _package_dir() / f"_bindings{suffix}"
        if path.exists():
            spec = importlib.util.spec_from_file_location(BINDINGS, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[BINDINGS] = module
            package = sys.modules.get("bpe_openai")
            if package is not None:  # imported before: its attribute, as an import sets it
                package._bindings = module  # type: ignore[attr-defined]
            return module
    raise ImportError(f"no compiled module {BINDINGS} in {_package_dir()}")


@cache
def _o200k_backend() -> Any:
    """bpe-openai's Rust tokenizer for o200k_base (GPT-4o and later)."""
    return _bindings().tokenizer_for_encoding("o200k_base")


@cache
def _o200k_token_bytes() -> list[bytes]:
    """Token → its bytes, read from the packed vocabulary (`<base64 bytes> <token>` a line,
    in token order); loaded only where a text is cut at a token."""
    lines = gzip.decompress((PACKED / "o200k_base.tiktoken.gz").read_bytes()).splitlines()
    table = [b""] * len(lines)
    for line in lines:
        encoded, token = line.split()
        table[int(token)] = base64.b64decode(encoded)
    return table


def decode_o200k_bytes(tokens: list[int]) -> bytes:
    """The bytes of these tokens (a slice may cut a character: these are bytes, not text)."""
    table = _o200k_token_bytes()
    return b"".join(table[token] for token in tokens)


def _without_lone_surrogates(text: str) -> str:
    """The text bpe-openai tokenizes for one holding a lone surrogate: each one replaced."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def count_o200k(text: str) -> int:
    """Tokens of `text` in o200k_base, as many as bpe-openai's `encode_ordinary` gives, without
    making them: a fifth faster, and with no limit (encode_ordinary refuses a text of a
    million characters or of 200,000 tokens, which one tool result can be)."""
    try:
        return _o200k_backend().count(text)
    except UnicodeEncodeError:
        return _o200k_backend().count(_without_lone_surrogates(text))


def encode_o200k(text: str) -> list[int]:
    """bpe-openai's `encode_ordinary(text)` in o200k_base, with no limit of length."""
    try:
        return _o200k_backend().encode(text)
    except UnicodeEncodeError:
        return _o200k_backend().encode(_without_lone_surrogates(text))
