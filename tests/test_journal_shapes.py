"""The shapes docs/journals.md shows, read from the docs themselves; deep nesting; non-journals."""

import json
import re
from pathlib import Path

import pytest

from stages.ingest import command
from stages.sources.journals.markdown import parse_journal
from tests.conftest import read_jsonl

ingest_journals = command("journals")

DOCS = Path(__file__).parents[1] / "docs" / "journals.md"
EXAMPLE_TYPES = ("reasoning_chain", "code_correction", "negative", "direct_execution")


def doc_examples() -> list[tuple[str, str]]:
    """Every ```markdown block of the docs, with the example type whose paragraph it is under."""
    examples: list[tuple[str, str]] = []
    kind = ""
    fence = ""
    lines: list[str] = []
    for line in DOCS.read_text().splitlines():
        heading = re.match(r"\*\*(\w+)\*\* —", line)
        if heading and not fence:
            kind = heading.group(1)
        elif not fence and re.fullmatch(r"`{3,}markdown", line):
            fence, lines = line.removesuffix("markdown"), []
        elif fence and line == fence:
            examples.append((kind, "\n".join(lines) + "\n"))
            fence = ""
        elif fence:
            lines.append(line)
    return examples


def texts(conversation) -> list[str | None]:
    return [message.content for message in conversation.messages]


def test_the_docs_show_every_example_type():
    assert {kind for kind, _ in doc_examples()} == set(EXAMPLE_TYPES)


@pytest.mark.parametrize(("kind", "example"), doc_examples())
def test_every_docs_example_parses_as_shown(kind, example):
    result = parse_journal(example.encode(), "docs.md")
    assert result.rejects == []
    assert [c.labels.example_type for c in result.conversations] == [kind]


def tagged(example: str) -> dict[str, str]:
    """The docs' "**Label:** text" lines as {label: text}."""
    return dict(re.findall(r"^\*\*([^*:]+):\*\* (.*)$", example, re.MULTILINE))


CHAIN = next(example for kind, example in doc_examples() if tagged(example))
TITLE, *_ = CHAIN.splitlines()
PARTS = tagged(CHAIN)


def test_the_docs_chain_with_tags_on_consecutive_lines_gives_the_documented_messages():
    (chain,) = parse_journal(CHAIN.encode(), "docs.md").conversations
    title = TITLE.split(" — ", 1)[1]
    assert texts(chain) == [
        f"{title}\n\n{PARTS['Problem']}",
        f"Root cause: {PARTS['Root cause']}\n\nFix: {PARTS['Fix']}\n\n"
        f"Lesson: {PARTS['Lesson learned']}",
    ]
    assert chain.labels.root_cause == PARTS["Root cause"]


SPELLINGS = ["**{}:** {}", "**{}**: {}", "__{}__ - {}", "{}: {}", "*{}:* {}"]
LAYOUTS = {
    "consecutive lines": lambda lines: "\n".join(lines),
    "blank lines between": lambda lines: "\n\n".join(lines),
    "one list item each": lambda lines: "\n".join(f"- {line}" for line in lines),
    "lines of one list item": lambda lines: "- " + "\n  ".join(lines),
    "hard line breaks": lambda lines: "  \n".join(lines),
    "backslash breaks": lambda lines: "\\\n".join(lines),
}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_tag_spelling_and_layout_reads_as_the_docs_example(spelling, layout):
    lines = [spelling.format(label, text) for label, text in PARTS.items()]
    journal = f"{TITLE}\n{LAYOUTS[layout](lines)}\n"
    result = parse_journal(journal.encode(), "j.md")
    assert result.rejects == []
    (chain,) = result.conversations
    assert (chain.labels.problem, chain.labels.root_cause) == (
        PARTS["Problem"],
        PARTS["Root cause"],
    )
    assert chain.labels.reasoning == f"{PARTS['Fix']}\n\n{PARTS['Lesson learned']}"


def test_prose_then_a_tag_on_the_next_line_is_problem_then_fix():
    journal = b"## Lost items\nThe withdraw loses items.\n**Fix:** wait for `bank_open`.\n"
    (chain,) = parse_journal(journal, "j.md").conversations
    assert (chain.labels.problem, chain.labels.reasoning) == (
        "The withdraw loses items.",
        "wait for `bank_open`.",
    )


def test_a_tag_inside_a_code_block_of_a_list_item_is_code_not_a_part():
    journal = (
        "## Crash on start\n"
        "- **Problem:** the bot crashes on start.\n"
        "- **Fix:** pin the version:\n"
        "  ```text\n"
        "  Fix: this line is log output\n"
        "  ```\n"
    )
    (chain,) = parse_journal(journal.encode(), "j.md").conversations
    assert chain.labels.reasoning == (
        "pin the version:\n\n```text\nFix: this line is log output\n```"
    )


def nested(depth: int) -> str:
    return "".join(f"{'  ' * level}- level {level + 1}\n" for level in range(depth))


LATER = (
    "## Later\n**Problem:** a.\n**Fix:** b.\n\n"
    "## Last\nRestart it:\n```bash\nsystemctl restart bot\n```\n"
)


def test_a_list_nested_twelve_deep_is_one_reject_and_every_later_entry_is_read():
    journal = f"## Deep\n{nested(12)}- back at level 1\n\n{LATER}"
    result = parse_journal(journal.encode(), "deep.md")
    assert [(c.meta.line, c.labels.example_type) for c in result.conversations] == [
        (16, "reasoning_chain"),
        (20, "direct_execution"),
    ]
    (reject,) = result.rejects
    assert (reject.file, reject.line, reject.reason) == ("deep.md", 11, "nested_too_deep")
    assert "'Deep'" in reject.message and "9 list levels" in reject.message
    assert reject.excerpt.startswith("- level 10")


def test_a_list_nine_deep_is_read_whole():
    journal = f"## Not too deep\n- **Problem:** it hangs.\n{nested(9)}- **Fix:** kill it.\n"
    result = parse_journal(journal.encode(), "j.md")
    assert result.rejects == []
    (chain,) = result.conversations
    assert "level 9" in chain.labels.problem


def test_quotes_nested_past_the_limit_lose_nothing_after_them():
    journal = "## Quoted\n" + ">" * 30 + " deep\n\n" + LATER
    result = parse_journal(journal.encode(), "j.md")
    assert [c.labels.example_type for c in result.conversations] == [
        "reasoning_chain",
        "direct_execution",
    ]


@pytest.mark.parametrize(
    "deep",
    [
        "".join(f"{'  ' * level}- x\n" for level in range(1000)),
        "".join(f"{'   ' * level}1. x\n" for level in range(500)),
        "".join(f"{'  ' * level}{'->'[level % 2]} x\n" for level in range(300)),
        ">" * 5000 + " x\n",
        "[" * 3000 + "x" + "]" * 3000 + "\n",
    ],
    ids=["list", "ordered", "list-and-quote", "quote", "brackets"],
)
def test_any_depth_of_nesting_never_raises_nor_hides_what_follows(deep):
    result = parse_journal(f"## Deep\n{deep}\n{LATER}".encode(), "j.md")
    assert [c.meta.line for c in result.conversations][-2:] == [
        deep.count("\n") + 3,
        deep.count("\n") + 7,
    ]


README = """# Project

A library for doing things.

## Installation

Install it with your package manager of choice.

## Licence

MIT.
"""


def test_a_markdown_file_that_is_not_a_journal_is_one_reject_with_a_hint():
    result = parse_journal(README.encode(), "README.md")
    assert result.conversations == []
    (reject,) = result.rejects
    assert (reject.file, reject.line, reject.reason) == ("README.md", 1, "unrecognised_format")
    assert "not a journal: 3 section(s)" in reject.message
    assert "docs/journals.md" in reject.message and "ingest_journals.input" in reject.message
    assert reject.excerpt == "# Project"


def test_a_journal_with_a_broken_entry_keeps_its_own_rejects():
    result = parse_journal(b"## Half\n**Problem:** it hangs.\n\n## Empty\n", "j.md")
    assert [r.reason for r in result.rejects] == ["chain_missing_fix", "empty_section"]


def test_an_anti_pattern_item_with_nothing_to_avoid_is_counted():
    journal = b"## Anti-patterns\n- Never\n- Never poll the bank API in a loop.\n"
    result = parse_journal(journal, "j.md")
    assert [texts(c)[0] for c in result.conversations] == [
        "Is this a good approach: poll the bank API in a loop?"
    ]
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "anti_pattern_without_subject")]


def test_the_stage_counts_and_names_deep_lists_and_non_journals(run, workdir: Path):
    notes = workdir / "notes"
    notes.mkdir()
    (notes / "deep.md").write_text(f"## Deep\n{nested(12)}\n{LATER}")
    (notes / "README.md").write_text(README)
    result = run(ingest_journals, "--input", "notes", "--out-dir", "out")
    stats = json.loads((workdir / "out" / "stats.json").read_text())
    assert stats["conversations"] == 2
    assert stats["rejected"]["nested_too_deep"] == 1
    assert stats["rejected"]["unrecognised_format"] == 1
    assert stats["rejected"]["no_recognised_shape"] == 0
    assert "notes/deep.md:11: nested_too_deep" in result.output
    assert "notes/README.md:1: unrecognised_format" in result.output
    assert len(read_jsonl(workdir / "out" / "rejects.jsonl")) == 2
