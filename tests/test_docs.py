"""Every stage, parameter, format and command is documented where a newcomer looks: --help and
docs/; the README stays one page, and no link between the pages leads nowhere."""

import importlib
import re
from pathlib import Path

import click
import msgspec
import pytest
import yaml

from stages.common.llm import LLMSettings
from stages.formats.exporters import FORMATS
from tests.conftest import dvc_stages

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
DOC_PAGES = sorted(DOCS.rglob("*.md"))
REFERENCE = "\n".join(page.read_text() for page in DOC_PAGES)
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
README_MAX_LINES = 300

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)


def stage_commands() -> list[str]:
    return sorted({spec["cmd"].split()[2] for spec in dvc_stages().values()})


def click_commands() -> list[str]:
    """Every `python -m stages.<name>` a user can run: the stages and their helpers."""
    names = []
    for path in sorted((REPO / "stages").glob("*.py")):
        module = importlib.import_module(f"stages.{path.stem}")
        if isinstance(getattr(module, "main", None), click.Command):
            names.append(module.__name__)
    return names


@pytest.mark.parametrize("module", stage_commands())
def test_stage_help_has_an_example(module: str) -> None:
    command = importlib.import_module(module).main
    assert isinstance(command, click.Command)
    assert "Example: python -m " + module in (command.help or "")


@pytest.mark.parametrize("stage", sorted(DVC["stages"]))
def test_stage_has_a_section_in_docs(stage: str) -> None:
    assert re.search(rf"^#{{1,3}} `?{stage}\b", REFERENCE, re.M), f"no docs heading for {stage}"


@pytest.mark.parametrize("module", click_commands())
def test_command_is_shown_in_docs(module: str) -> None:
    assert f"python -m {module}" in REFERENCE


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_has_a_section_in_docs(name: str) -> None:
    assert f"\n## {name}\n" in (DOCS / "formats.md").read_text()


def parameter_names() -> list[str]:
    names = []
    for key, value in PARAMS.items():
        if isinstance(value, dict):
            names.extend(f"{key}.{sub}" for sub in value)
        else:
            names.append(key)
    return names


@pytest.mark.parametrize("name", parameter_names())
def test_parameter_is_in_docs(name: str) -> None:
    assert f"`{name}`" in REFERENCE


def test_every_llm_setting_is_in_params_yaml() -> None:
    """`dvc exp run -S llm.<key>=...` can only set keys that params.yaml has."""
    settings = {field.name for field in msgspec.structs.fields(LLMSettings)}
    assert set(PARAMS["llm"]) == settings


def test_readme_fits_in_one_sitting() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference to docs/"


def prose(text: str) -> str:
    """Markdown without code, where `](` is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(FENCE.sub("", page.read_text()))}


def local_links(page: Path) -> list[tuple[Path, str]]:
    links = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        links.append(((page.parent / path).resolve() if path else page, fragment))
    return links


@pytest.mark.parametrize("page", [README, *DOC_PAGES], ids=lambda page: page.name)
def test_links_lead_somewhere(page: Path) -> None:
    for target, fragment in local_links(page):
        assert target.exists(), f"{page.name} links to {target}, which does not exist"
        if fragment:
            assert fragment in anchors(target), f"{page.name} links to a missing #{fragment}"


def test_readme_links_the_reference() -> None:
    linked = {target for target, _ in local_links(README)}
    assert DOCS / "README.md" in linked


def test_every_docs_page_is_in_the_index() -> None:
    linked = {target for target, _ in local_links(DOCS / "README.md")}
    missing = [page.name for page in DOC_PAGES if page.name != "README.md" and page not in linked]
    assert not missing, f"docs/README.md does not link {missing}"
