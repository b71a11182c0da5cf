"""The committed lock pins every dependency the project declares, so a clean machine installs
the versions the tests ran with."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
LOCK = ROOT / "requirements.txt"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": project["dependencies"], **project["optional-dependencies"]}


def pinned() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            pins[canonical(match[1])] = match[2]
    return pins


def test_every_declared_dependency_is_pinned() -> None:
    pins = pinned()
    for extra, requirements in declared().items():
        for requirement in requirements:
            name = canonical(re.match(r"[A-Za-z0-9._-]+", requirement)[0])
            assert name in pins, f"{requirement} ({extra or 'main'}) is not in requirements.txt"


def test_every_pin_carries_the_hashes_of_its_files() -> None:
    """pip checks each file it installs against the hashes the lock lists for its pin."""
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    pins = [block for block in blocks if re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*==", block)]
    assert {canonical(block.split("==")[0]) for block in pins} == set(pinned())
    assert len(pins) > 100
    unhashed = [block.split()[0] for block in pins if "--hash=sha256:" not in block]
    assert unhashed == []


def test_lock_was_compiled_with_every_extra() -> None:
    command = next(line for line in LOCK.read_text().splitlines() if "uv pip compile" in line)
    for extra in declared():
        if extra:
            assert f"--extra {extra}" in command, f"refresh the lock with --extra {extra}"


def test_readme_and_ci_install_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for install in (
        "pip install --require-hashes -r requirements.txt",
        "pip install --no-deps -e .",
    ):
        assert install in readme
        assert install in ci


def test_torch_is_the_cpu_build_with_no_cuda_libraries() -> None:
    """The registry's default torch pulls gigabytes of CUDA wheels; the check runs on CPU."""
    pins = pinned()
    assert pins["torch"].endswith("+cpu")
    gpu = [name for name in pins if name.startswith(("nvidia-", "cuda-")) or name == "triton"]
    assert gpu == []
