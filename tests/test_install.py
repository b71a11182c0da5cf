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


def test_lock_was_compiled_with_every_extra() -> None:
    command = next(line for line in LOCK.read_text().splitlines() if "uv pip compile" in line)
    for extra in declared():
        if extra:
            assert f"--extra {extra}" in command, f"refresh the lock with --extra {extra}"


def test_readme_and_ci_install_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = 'pip install -c requirements.txt -e ".[test,train]"'
    assert install in readme
    assert install in ci


def test_torch_is_the_cpu_build_with_no_cuda_libraries() -> None:
    """The registry's default torch pulls gigabytes of CUDA wheels; the check runs on CPU."""
    pins = pinned()
    assert pins["torch"].endswith("+cpu")
    gpu = [name for name in pins if name.startswith(("nvidia-", "cuda-")) or name == "triton"]
    assert gpu == []
