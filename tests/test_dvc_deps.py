"""Every module a stage imports is among its dvc.yaml deps, so changing it reruns the stage."""

import ast
from pathlib import Path

import pytest

from tests.conftest import dvc_stages

REPO = Path(__file__).resolve().parent.parent
STAGES = dvc_stages()
PROJECT_PACKAGES = ("stages", "schemas")


def module_file(name: str) -> Path | None:
    base = REPO / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None  # a name imported from a module, not a module


def imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return [n for n in names if n.split(".")[0] in PROJECT_PACKAGES]


def project_files(module: str) -> set[str]:
    """The project's source files a module loads, following imports through the project."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        path = module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += imported_names(path)
    return {p.relative_to(REPO).as_posix() for p in seen}


def covered(file: str, deps: list[str]) -> bool:
    return any(file == dep or file.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_imported_module_is_a_dependency(stage: str) -> None:
    spec = STAGES[stage]
    module, *args = spec["cmd"].split()[2:]
    # `stages.ingest SOURCE` loads the source's adapter by name, not by an import
    modules = [module, *(f"stages.sources.{a}" for a in args[:1] if module == "stages.ingest")]
    deps = [d if isinstance(d, str) else next(iter(d)) for d in spec.get("deps", [])]
    files = set().union(*(project_files(m) for m in modules))
    missing = sorted(f for f in files if not covered(f, deps))
    assert not missing, f"{stage}: add to its deps in dvc.yaml: {', '.join(missing)}"
