"""inputs: fingerprint the files each stage reads from params.yaml's paths, for DVC.

Reads:  the input paths params.yaml names (stage_inputs: `ingest_*.input`, the tool
        catalogs, `collect_discord.exports`), inside the repository or anywhere else,
        `~` included.
Writes: `<out-dir>/<stage>.json` for each of those stages (schemas/fingerprint.py:
        StageFingerprint): each input path as written in params.yaml, and every file
        below it with its path relative to it, its size and its sha256. A stage whose
        source is not in `sources` gets `enabled: false` and no files.
Params: sources, and the input paths of every source (stage_inputs).

Those stages depend on these fingerprints instead of on the input paths: DVC would
write a path outside the repository into dvc.lock as it is on this machine
(`/home/dana/.claude/projects`). DVC cannot see a change outside the repository on its
own, so this stage always runs; a file's sha256 is remembered against its size, mtime
and inode, and an unchanged input costs one stat per file.
"""

import os
from pathlib import Path
from typing import Any

import click
import msgspec

from schemas.fingerprint import InputFile, InputPath, StageFingerprint
from stages.common.atomic import write_bytes_atomic
from stages.common.cli import setup_logging, stage_command
from stages.common.filecache import FileCache
from stages.common.params import PARAMS_FILE, load_params
from stages.common.scrub import private_path
from stages.common.source_folders import SOURCES, check_sources, local_path, stage_inputs


def param_value(params: dict[str, Any], dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return (params.get(section) or {}).get(key)


def files_below(root: Path) -> list[Path]:
    """Every file of an input: the file itself, or a folder's files in sorted order.

    Symbolic links to folders are not followed, so a link loop cannot run forever.
    """
    if root.is_file():
        return [root]
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        found.extend(Path(folder, name) for name in sorted(names))
    return [path for path in found if path.is_file()]


def fingerprint(param: str, written: Any, hashes: FileCache) -> InputPath:
    if written is None:
        return InputPath(param=param, path=None)
    if not isinstance(written, str):
        raise click.ClickException(f"params.yaml: `{param}` must be a path, not {written!r}")
    root = local_path(written)
    if not root.exists():
        raise click.ClickException(
            f"params.yaml: `{param}` is {written}, which does not exist: "
            "fix the path, or leave its source out of `sources`"
        )
    files = [
        InputFile(
            path=private_path(path.name if path == root else path.relative_to(root).as_posix()),
            size=path.stat().st_size,
            sha256=hashes.digest(path),
        )
        for path in files_below(root)
    ]
    return InputPath(param=param, path=private_path(written), files=files)


def stage_fingerprint(
    stage: str, sources: tuple[str, ...], params: dict[str, Any], hashes: FileCache
) -> StageFingerprint:
    source, names = stage_inputs()[stage]
    if source not in sources:
        return StageFingerprint(stage=stage, source=source, enabled=False)
    inputs = [fingerprint(name, param_value(params, name), hashes) for name in names]
    return StageFingerprint(stage=stage, source=source, enabled=True, inputs=inputs)


@stage_command
@click.option(
    "--params",
    "params_file",
    default=PARAMS_FILE,
    show_default=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Parameters file: its `sources` and input paths.",
)
@click.option("--out-dir", default="data/inputs", show_default=True)
@click.option(
    "--cache-dir",
    default="data/cache/inputs",
    show_default=True,
    help="Where file hashes are remembered (deleting it only costs time).",
)
def main(params_file: str, out_dir: str, cache_dir: str) -> None:
    """Fingerprint each source's input files for DVC.

    Example: python -m stages.inputs --out-dir data/inputs
    """
    setup_logging("inputs")
    params = load_params(params_file)
    sources = check_sources(params.get("sources", list(SOURCES)), params_file)
    hashes = FileCache(cache_dir)
    encoder = msgspec.json.Encoder()
    for stage in stage_inputs():
        fingerprinted = stage_fingerprint(stage, sources, params, hashes)
        write_bytes_atomic(Path(out_dir, f"{stage}.json"), encoder.encode(fingerprinted) + b"\n")
    hashes.save()


if __name__ == "__main__":
    main()
