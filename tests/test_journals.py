"""Markdown journals → conversations: every shape and every odd input, on hand-written fixtures."""

from pathlib import Path

import jsonschema
import msgspec
import pytest

from schemas.conversation import Conversation
from stages.common.hashing import messages_id
from stages.sources.journals.labels import fence_label, find_label, title_label
from stages.sources.journals.markdown import parse_journal

FIXTURES = Path(__file__).parent / "fixtures" / "journals"
SCHEMA = msgspec.json.decode(
    (Path(__file__).parents[1] / "schemas/conversation.schema.json").read_bytes()
)


def parse(name: str):
    return parse_journal((FIXTURES / name).read_bytes(), name)


def texts(conversation: Conversation) -> list[str | None]:
    return [message.content for message in conversation.messages]


def reasons(result) -> list[tuple[int, str]]:
    return [(reject.line, reject.reason) for reject in result.rejects]


def test_bold_labels_make_a_reasoning_chain_with_code_and_lesson():
    first = parse("chains.md").conversations[0]
    assert first.source == "journals"
    assert first.labels.example_type == "reasoning_chain"
    assert first.meta.file == "chains.md"
    assert first.meta.line == 3
    assert texts(first) == [
        "Bank withdraw silently fails\n\n"
        '`bank.withdraw("coins", 500)` returned `ok` but the inventory stayed empty.',
        "Root cause: the withdraw was sent while the bank interface was still opening.\n\n"
        "Fix: wait for the `bank_open` event before any withdraw.\n\n"
        '```python\nawait bot.wait_for("bank_open")\n```\n\n'
        "Lesson: never assume a UI is ready because the click succeeded.",
    ]
    assert first.labels.problem.startswith("`bank.withdraw")
    assert first.labels.root_cause == (
        "the withdraw was sent while the bank interface was still opening."
    )
    assert first.labels.reasoning.endswith(
        "never assume a UI is ready because the click succeeded."
    )
    assert first.id == messages_id(first.messages)


def test_sub_headings_in_any_case_and_synonyms_make_a_chain():
    chain = parse("chains.md").conversations[1]
    assert chain.meta.line == 17
    assert chain.labels.problem == "The bot walks back and forth on the river bank for minutes."
    assert chain.labels.root_cause == "The A* heuristic treated water tiles as walkable."
    assert chain.labels.reasoning == "Mark water tiles as impassable in the collision map."


def test_list_item_labels_and_a_second_chain_in_one_section():
    result = parse("chains.md")
    login, chat = result.conversations[2], result.conversations[3]
    assert (login.meta.line, chat.meta.line) == (28, 28)
    assert login.labels.problem == "login times out on the first try every morning."
    assert login.labels.reasoning == "refresh the token at startup."
    assert chat.labels.problem == "chat messages arrive twice."
    assert chat.labels.root_cause == "two listeners were registered after a reconnect."


def test_untagged_opening_prose_is_the_problem():
    chain = parse("chains.md").conversations[4]
    assert chain.labels.problem == "Fishing stops without a message when the inventory is full."
    assert chain.labels.root_cause == "the fishing loop only checks for the fishing spot moving."


def test_incomplete_chains_are_rejected_with_reasons():
    result = parse("chains.md")
    assert len(result.conversations) == 5
    assert reasons(result) == [(48, "chain_missing_fix"), (54, "chain_missing_problem")]


def test_bad_good_pairs_from_marks_info_strings_comments_and_headings():
    pairs = parse("code_pairs.md").conversations
    assert [c.labels.example_type for c in pairs] == ["code_correction"] * 4
    closing, default, quoting, awaiting = pairs
    assert texts(closing) == [
        "Closing files\n\nFix this code:\n\n```python\nf = open(path)\ndata = f.read()\n```",
        "The context manager closes the file even when `read` raises.\n\n"
        "```python\nwith open(path) as f:\n    data = f.read()\n```",
    ]
    assert "items=[]" in texts(default)[0]
    assert texts(default)[1].startswith("```python\ndef add(item, items=None):")
    # a label-only first-line comment is dropped from the code, its words explain the fix
    assert texts(quoting) == [
        "Shell quoting\n\nFix this code:\n\n```bash\nrm $file\n```",
        'breaks on file names with spaces\n\nquoted\n\n```bash\nrm -- "$file"\n```',
    ]
    assert texts(awaiting)[1] == "```js\nconst data = await fetchData();\n```"


def test_a_bad_block_without_a_good_one_is_rejected():
    assert reasons(parse("code_pairs.md")) == [(64, "unpaired_code_block")]


def test_anti_pattern_list_items_become_one_negative_each():
    negatives = parse("anti.md").conversations[:2]
    assert [texts(c) for c in negatives] == [
        [
            "Is this a good approach: poll the bank API in a tight loop?",
            "No. Never poll the bank API in a tight loop: it rate-limits at 10 requests a second.",
        ],
        [
            "Is this a good approach: hard-code coordinates?",
            "No. Don't hard-code coordinates — they change with each map update.",
        ],
    ]
    assert negatives[0].labels.example_type == "negative"
    assert negatives[0].labels.problem == "poll the bank API in a tight loop"


def test_dont_heading_and_avoid_tag_become_negatives():
    result = parse("anti.md")
    combat, trading = result.conversations[2], result.conversations[3]
    assert texts(combat) == [
        "Is this a good approach: retry combat actions blindly?",
        "No. Don't retry combat actions blindly.\n\n"
        "Retrying `attack` after a timeout double-attacks when the first call landed.",
    ]
    assert texts(trading)[0] == "Is this a good approach: listing items below the guide price?"
    assert texts(trading)[1].endswith("Check the guide price first.")


def test_dont_and_do_before_fences_are_a_code_pair_not_negatives():
    result = parse("anti.md")
    pair, negative = result.conversations[4], result.conversations[5]
    assert pair.labels.example_type == "code_correction"
    assert texts(pair)[1] == "```python\nawait asyncio.sleep(1)\n```"
    assert texts(negative) == [
        "Is this a good approach: blocking the event loop?",
        "No. Avoid blocking the event loop.",
    ]
    assert len(result.conversations) == 6
    assert result.rejects == []


def calls(conversation: Conversation) -> list[tuple[str, str]]:
    return [
        (call.function.name, call.function.arguments)
        for message in conversation.messages
        for call in message.tool_calls or []
    ]


def test_commands_become_tool_calls_with_the_description_as_prompt():
    commands = parse("commands.md").conversations
    assert [texts(c)[0] for c in commands] == [
        "Check which process holds port 8080",
        "Restart the bot service",
        "Recent commits",
        "Send the bot home with the teleport tool",
        "Show disk usage",
    ]
    assert [calls(c) for c in commands] == [
        [("shell", '{"command":"lsof -i :8080"}')],
        [("shell", '{"command":"systemctl --user restart gamebot"}')],
        # console: only the `$ ` lines are commands, the rest is their output
        [("shell", '{"command":"git log --oneline -3\\ngit status --short"}')],
        [("teleport", '{"confirm":true,"destination":"home"}')],
        [("shell", '{"command":"df -h"}')],
    ]
    assert all(c.labels.example_type == "direct_execution" for c in commands)
    assert commands[3].tools[0].function.parameters == {
        "type": "object",
        "properties": {"confirm": {"type": "boolean"}, "destination": {"type": "string"}},
        "required": ["confirm", "destination"],
    }
    assert commands[0].tools[0].function.name == "shell"


def test_command_blocks_that_cannot_be_examples_are_rejected():
    assert reasons(parse("commands.md")) == [
        (38, "bad_tool_block"),
        (50, "command_without_description"),
        (58, "empty_command"),
        (61, "no_recognised_shape"),
    ]


def test_odd_markdown_is_counted_not_fatal():
    result = parse("odd.md")
    assert [c.labels.problem for c in result.conversations] == ["the bot freezes at night."]
    assert reasons(result) == [(3, "empty_section"), (5, "empty_section"), (19, "unclosed_fence")]


def test_invalid_utf8_loses_only_its_own_section():
    result = parse("invalid_utf8.md")
    assert [c.labels.problem for c in result.conversations] == ["the bot idles.", "fishing stops."]
    assert reasons(result) == [(11, "invalid_utf8")]
    assert "\ufffd" in result.rejects[0].excerpt


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_files_are_one_reject(data):
    result = parse_journal(data, "empty.md")
    assert result.conversations == []
    assert reasons(result) == [(1, "empty_file")]


@pytest.mark.parametrize(
    "data",
    [
        b"# Only a heading",
        b"```",
        b"- **Problem:**",
        b"**Fix:**\n```bash",
        b"\x00\x01\x02",
        b"# A\n## B\n### C\n#### Problem\n",
        b"> **Problem:** quoted\n\n|a|b|\n|-|-|\n",
        b"\r\n\r\n## Problem\r\nx\r\n## Fix\r\ny\r\n",
        "❌\n✅".encode(),
    ],
)
def test_fragments_never_raise(data):
    result = parse_journal(data, "f.md")
    for conversation in result.conversations:
        jsonschema.validate(msgspec.to_builtins(conversation), SCHEMA)


def test_crlf_and_headings_at_the_top_level_are_parts_of_the_document():
    result = parse_journal(b"## Problem\r\nIt hangs.\r\n\r\n## Fix\r\nKill it.\r\n", "crlf.md")
    assert [(c.labels.problem, c.labels.reasoning) for c in result.conversations] == [
        ("It hangs.", "Kill it.")
    ]


def test_every_fixture_gives_schema_valid_records_and_the_same_bytes_twice():
    for path in sorted(FIXTURES.glob("*.md")):
        first = parse(path.name).conversations
        assert msgspec.json.encode(first) == msgspec.json.encode(parse(path.name).conversations)
        for conversation in first:
            jsonschema.validate(msgspec.to_builtins(conversation), SCHEMA)


@pytest.mark.parametrize(
    ("text", "kind", "rest"),
    [
        ("**Root cause:** stale cache", "root_cause", "stale cache"),
        ("**Fix**: restart", "fix", "restart"),
        ("__Solution__ - patch it", "fix", "patch it"),
        ("Symptoms: slow", "problem", "slow"),
        ("❌ Wrong way:", "bad", "Wrong way:"),
        ("✅", "good", ""),
    ],
)
def test_tags_in_their_many_spellings(text, kind, rest):
    label = find_label(text)
    assert label is not None and kind in label.kinds and label.rest == rest and label.tagged


@pytest.mark.parametrize(
    "title",
    [
        "Issue tracker setup",
        "Why we use DVC",
        "Avoiding deadlocks",
        "Before we start, a word on tools",
    ],
)
def test_titles_that_merely_start_with_a_label_word_are_not_labels(title):
    assert title_label(title) is None


@pytest.mark.parametrize(
    ("info", "code", "kind", "note"),
    [
        ("python bad", "x\n", "bad", ""),
        ("js {.good}", "x\n", "good", ""),
        ("rust ❌", "x\n", "bad", ""),
        ("python", "# Before: slow\nx\n", "bad", "slow"),
        ("c", "/* after */\nx\n", "good", ""),
        ("python", "# compute the total\nx\n", None, ""),
    ],
)
def test_fence_labels(info, code, kind, note):
    found, _, found_note = fence_label(info, code)
    assert (found, found_note) == (kind, note)
