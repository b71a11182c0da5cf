"""Claude Code transcripts → conversations, on hand-written fixtures with every trap of the format.

Expected messages are written out from reading the fixtures, not copied from the parser.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from schemas.__main__ import HERE as SCHEMA_DIR
from stages.common.hashing import messages_id
from stages.common.jsonl import Line, iter_lines
from stages.sources.sessions.claude_code import COUNT_KEYS, REJECT_REASONS, parse_transcript
from stages.sources.sessions.threads import ParseResult, SessionParams
from tests.records import assistant, call, tool, user

FIXTURES = Path(__file__).parent / "fixtures" / "sessions"


def parse(name: str, **params: Any) -> ParseResult:
    return parse_transcript(iter_lines(FIXTURES / name), name, SessionParams(**params))


def plain(result: ParseResult) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(c) for c in result.conversations]


BASIC_TURN_1 = [
    user("Why does the parser fail on empty files?"),
    assistant(
        "Let me look at the parser.",
        call("toolu_read1", "Read", {"file_path": "/home/ann/proj/parse.py"}),
        call("toolu_mcp1", "mcp__code-search__find", {"query": "empty file", "limit": 5}),
    ),
    tool("toolu_read1", "def parse(text):\n    return text.split()[0]\n"),
    tool("toolu_mcp1", "parse.py:2 split()[0]\n[image]"),
    assistant("`split()[0]` raises IndexError on empty input."),
]
BASIC_TURN_2 = [
    user("Run the tests."),
    assistant(
        None, call("toolu_bash1", "Bash", {"command": "pytest -q", "description": "Run tests"})
    ),
    tool("toolu_bash1", "1 failed, 3 passed"),
    assistant("One test fails: test_empty."),
]


def test_whole_session_merges_blocks_and_pairs_results_across_records() -> None:
    result = parse("basic.jsonl")
    [conversation] = plain(result)
    assert conversation["messages"] == BASIC_TURN_1 + BASIC_TURN_2
    assert conversation["id"] == messages_id(result.conversations[0].messages)
    assert conversation["source"] == "sessions"
    assert conversation["labels"] == {"tags": ["claude_code", "tool_error"]}
    assert conversation["meta"] == {
        "file": "basic.jsonl",
        "line": 2,
        "timestamp": "2025-06-01T10:00:00.000Z",
        "model": "claude-sonnet-4-5",
        "session_id": "s-basic",
    }
    assert result.rejects == []
    counts = result.counts
    assert counts["read"] == 17
    assert counts["skipped.summary"] == 2  # top and middle of the file
    assert (counts["skipped.file-history-snapshot"], counts["skipped.progress"]) == (1, 1)
    assert "skipped.unknown_type" not in counts
    assert counts["skipped.system"] == 1
    assert counts["merged.assistant_records"] == 3  # msg_01 came as four records
    assert counts["tool_calls.paired"] == 3
    assert counts["tool_results.error"] == 1


def test_tools_are_inferred_from_the_calls_and_sorted() -> None:
    [conversation] = plain(parse("basic.jsonl"))
    assert conversation["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Bash",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "command": {"type": "string"},
                        "description": {"type": "string"},
                    },
                    "required": ["command", "description"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "Read",
                "parameters": {
                    "type": "object",
                    "properties": {"file_path": {"type": "string"}},
                    "required": ["file_path"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "mcp__code-search__find",
                "parameters": {
                    "type": "object",
                    "properties": {"limit": {"type": "integer"}, "query": {"type": "string"}},
                    "required": ["limit", "query"],
                },
            },
        },
    ]


def test_turn_split_gives_one_conversation_per_prompt_with_all_thread_tools() -> None:
    result = parse("basic.jsonl", split="turn")
    first, second = plain(result)
    assert first["messages"] == BASIC_TURN_1
    assert second["messages"] == BASIC_TURN_2
    assert first["labels"] == {"tags": ["claude_code"]}
    assert second["labels"] == {"tags": ["claude_code", "tool_error"]}
    assert (first["meta"]["line"], first["meta"]["timestamp"]) == (2, "2025-06-01T10:00:00.000Z")
    assert (second["meta"]["line"], second["meta"]["timestamp"]) == (13, "2025-06-01T10:01:00.000Z")
    names = [t["function"]["name"] for t in first["tools"]]
    assert names == ["Bash", "Read", "mcp__code-search__find"]
    assert second["tools"] == first["tools"]


def test_kept_thinking_opens_the_assistant_content() -> None:
    [conversation] = plain(parse("basic.jsonl", thinking="keep"))
    assert conversation["messages"][1]["content"] == (
        "<think>\nI should read the parser first.\n</think>\n\nLet me look at the parser."
    )
    assert conversation["messages"][2:] == (BASIC_TURN_1 + BASIC_TURN_2)[2:]


def test_include_glob_keeps_only_mcp_tools_and_removes_the_rest_cleanly() -> None:
    result = parse("basic.jsonl", include_tools=("mcp__*",))
    [conversation] = plain(result)
    assert conversation["messages"] == [
        user("Why does the parser fail on empty files?"),
        assistant(
            "Let me look at the parser.",
            call("toolu_mcp1", "mcp__code-search__find", {"query": "empty file", "limit": 5}),
        ),
        tool("toolu_mcp1", "parse.py:2 split()[0]\n[image]"),
        assistant("`split()[0]` raises IndexError on empty input."),
        user("Run the tests."),
        assistant("One test fails: test_empty."),
    ]
    assert [t["function"]["name"] for t in conversation["tools"]] == ["mcp__code-search__find"]
    assert conversation["labels"] == {
        "tags": ["claude_code"]
    }  # the failing Bash result went with its call
    assert result.counts["tool_calls.filtered"] == 2
    assert result.counts["tool_results.orphan"] == 0


def test_exclude_globs_drop_named_tools_and_merge_what_is_left() -> None:
    result = parse("basic.jsonl", exclude_tools=("Read", "mcp__code-search__*", "Bash"))
    [conversation] = plain(result)
    assert conversation["messages"] == [
        user("Why does the parser fail on empty files?"),
        assistant("Let me look at the parser.\n\n`split()[0]` raises IndexError on empty input."),
        user("Run the tests."),
        assistant("One test fails: test_empty."),
    ]
    assert "tools" not in conversation
    assert result.counts["tool_calls.filtered"] == 3
    assert result.counts["dropped.empty_assistant"] == 1
    assert result.counts["merged.assistant_messages"] == 1


def test_non_prompts_errors_and_bad_lines_in_one_file() -> None:
    result = parse("traps.jsonl")
    [conversation] = plain(result)
    refusal = (
        "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if "
        "it was a file edit, the new_string was NOT written to the file). STOP what you are doing "
        "and wait for the user to tell you how to proceed."
    )
    edit = {"file_path": "app.py", "old_string": "foo", "new_string": "bar"}
    assert conversation["messages"] == [
        user("Rename foo to bar in app.py"),
        assistant(None, call("toolu_edit1", "Edit", edit)),
        tool("toolu_edit1", refusal),
        user("Only in the function names, please."),
        assistant("Done: renamed the functions."),
        user("Now list the files."),
        assistant("The listing did not come back."),
    ]
    assert conversation["labels"] == {
        "tags": ["claude_code", "interrupted", "tool_error", "tool_rejected"]
    }
    assert conversation["meta"]["line"] == 4
    assert conversation["meta"]["timestamp"] == "2025-07-01T09:00:01.000Z"
    assert [(r.line, r.reason) for r in result.rejects] == [
        (10, "invalid_json"),
        (14, "wrong_type"),
        (15, "missing_field"),
        (21, "truncated_line"),
    ]
    assert "$.message.content" in result.rejects[1].message
    assert all(r.file == "traps.jsonl" for r in result.rejects)
    expected = {
        "read": 21,
        "conversations": 1,
        "skipped.meta": 1,
        "skipped.command": 2,
        "skipped.interrupt": 1,
        "skipped.api_error": 1,
        "skipped.compact_boundary": 1,
        "skipped.compact_summary": 1,
        "skipped.queue-operation": 1,  # whose `content` is not a string: never read
        "tool_calls.paired": 1,
        "tool_calls.unanswered": 1,
        "tool_results.orphan": 1,
        "tool_results.error": 1,
        "dropped.empty_assistant": 1,
    }
    assert {k: result.counts.get(k, 0) for k in expected} == expected


def test_turns_survive_compaction_with_timestamps_going_backwards() -> None:
    first, second, third = plain(parse("traps.jsonl", split="turn"))
    assert first["labels"] == {
        "tags": ["claude_code", "interrupted", "tool_error", "tool_rejected"]
    }
    assert second["messages"] == [
        user("Only in the function names, please."),
        assistant("Done: renamed the functions."),
    ]
    assert second["labels"] == {"tags": ["claude_code"]}
    assert third["messages"] == [
        user("Now list the files."),
        assistant("The listing did not come back."),
    ]
    # the call after the prompt is stamped earlier than the prompt: the earliest one is kept
    assert (third["meta"]["line"], third["meta"]["timestamp"]) == (16, "2025-07-01T09:00:09.000Z")
    assert second["meta"]["timestamp"] == "2025-07-01T09:00:10.000Z"


def test_split_responses_parallel_calls_images_and_unknown_blocks() -> None:
    result = parse("interleaved.jsonl")
    [conversation] = plain(result)
    assert conversation["messages"] == [
        user("[image]\n\nWhat is in this screenshot?"),
        assistant(
            None,
            call("toolu_w1", "mcp__web__fetch", {"url": "https://example.com/a"}),
            call("toolu_w2", "mcp__web__fetch", {"url": "https://example.com/b", "timeout": 3}),
        ),
        tool("toolu_w1", "page a"),
        tool("toolu_w2", "page b"),
        user("Also check page c."),
        assistant("A login form."),
    ]
    assert conversation["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"timeout": {"type": "integer"}, "url": {"type": "string"}},
        "required": ["url"],
    }
    assert result.counts["skipped.assistant_blocks"] == 1  # redacted_thinking
    assert result.counts["dropped.empty_assistant"] == 1  # a thinking-only response
    assert result.counts["images_replaced"] == 1
    # text next to tool results answers within the turn: it does not start a new one
    assert len(parse("interleaved.jsonl", split="turn").conversations) == 1


def test_thinking_only_response_is_kept_and_merged_when_thinking_is_kept() -> None:
    [conversation] = plain(parse("interleaved.jsonl", thinking="keep"))
    assert conversation["messages"][1]["content"] == "<think>\nTwo lookups.\n</think>"
    assert conversation["messages"][-1] == assistant(
        "<think>\nOnly thinking here.\n</think>\n\nA login form."
    )


def test_inline_sidechains_become_separate_subagent_conversations() -> None:
    main, docs, tests = plain(parse("sidechain_inline.jsonl"))
    assert main["messages"] == [
        user("Survey the repo: docs and tests."),
        assistant(
            None,
            call(
                "toolu_task1",
                "Task",
                {"description": "docs", "prompt": "Summarize the docs folder."},
            ),
            call("toolu_task2", "Task", {"description": "tests", "prompt": "Count the tests."}),
        ),
        tool("toolu_task1", "One page: docs/index.md."),
        tool("toolu_task2", "42 tests."),
        assistant("Docs: one page. Tests: 42."),
    ]
    assert main["labels"] == {"tags": ["claude_code"]}
    assert docs["messages"] == [
        user("Summarize the docs folder."),
        assistant(None, call("toolu_a_glob", "Glob", {"pattern": "docs/**"})),
        tool("toolu_a_glob", "docs/index.md"),
        assistant("One page: docs/index.md."),
    ]
    assert tests["messages"] == [
        user("Count the tests."),
        assistant(
            None, call("toolu_b_grep", "Grep", {"pattern": "def test_", "output_mode": "count"})
        ),
        tool("toolu_b_grep", "42"),
        assistant("42 tests."),
    ]
    for sub in (docs, tests):
        assert sub["labels"] == {"tags": ["claude_code", "subagent"]}
        assert sub["meta"]["session_id"] == "s-side"
    assert [t["function"]["name"] for t in docs["tools"]] == ["Glob"]
    assert (docs["meta"]["line"], tests["meta"]["line"]) == (4, 5)


def test_subagent_file_is_one_subagent_conversation() -> None:
    [conversation] = plain(parse("s-side/subagents/agent-x3.jsonl"))
    assert conversation["labels"] == {"tags": ["claude_code", "subagent"]}
    assert conversation["messages"][0] == user("Find the CI config.")
    assert [c["id"] for c in conversation["messages"][1]["tool_calls"]] == [
        "toolu_c_glob",
        "toolu_c_read",
    ]
    assert conversation["meta"]["model"] == "claude-haiku-4-5"


@pytest.mark.parametrize(
    "name", ["basic.jsonl", "traps.jsonl", "interleaved.jsonl", "sidechain_inline.jsonl"]
)
@pytest.mark.parametrize("split", ["whole", "turn"])
def test_every_conversation_has_valid_openai_shape(name: str, split: str) -> None:
    schema = json.loads((SCHEMA_DIR / "conversation.schema.json").read_text())
    for conversation in parse(name, split=split, thinking="keep").conversations:
        jsonschema.validate(msgspec.to_builtins(conversation), schema)
        assert_openai_shape(msgspec.to_builtins(conversation)["messages"])


def assert_openai_shape(messages: list[dict[str, Any]]) -> None:
    """Starts with a prompt, no two assistants in a row, every call answered, no stray results."""
    assert messages[0]["role"] == "user"
    assert any(m["role"] == "assistant" for m in messages)
    open_calls: list[str] = []
    previous = None
    for message in messages:
        if message["role"] == "tool":
            assert open_calls and message["tool_call_id"] == open_calls.pop(0)
        else:
            assert open_calls == []
        if message["role"] == "assistant":
            assert previous != "assistant"
            assert message.get("content") or message.get("tool_calls")
            open_calls = [c["id"] for c in message.get("tool_calls", [])]
        previous = message["role"]
    assert open_calls == []


def test_bad_lines_never_cost_the_good_records_around_them() -> None:
    good_prompt = {"type": "user", "sessionId": "s", "message": {"content": "hi"}, "uuid": "a"}
    good_reply = {
        "type": "assistant",
        "sessionId": "s",
        "message": {"id": "m", "content": [{"type": "text", "text": "hello"}]},
    }
    lines = [
        Line(1, json.dumps(good_prompt).encode()),
        Line(2, b"\xff\xfe{"),
        Line(3, b"[1, 2]"),
        Line(4, b'{"type": "assistant", "message": {"content": [{"type": 7}]}}'),
        Line(5, b""),
        Line(6, b"", oversize=9_000_000),
        Line(7, b'{"type": "mystery-record", "payload": [1]}'),
        Line(8, json.dumps(good_reply).encode()),
        Line(9, b'{"type": "user", "message": {"content": "cut', unterminated=True),
    ]
    result = parse_transcript(lines, "mem.jsonl", SessionParams())
    [conversation] = plain(result)
    assert conversation["messages"] == [user("hi"), assistant("hello")]
    assert [(r.line, r.reason) for r in result.rejects] == [
        (2, "invalid_utf8"),
        (3, "wrong_type"),
        (4, "wrong_type"),
        (6, "line_too_long"),
        (9, "truncated_line"),
    ]
    assert {r.reason for r in result.rejects} <= set(REJECT_REASONS)
    assert result.counts["blank_lines"] == 1
    assert result.counts["skipped.unknown_type"] == 1
    assert result.counts["unknown_types.mystery-record"] == 1
    named = {k for k in result.counts if not k.startswith("unknown_types.")}
    assert named <= set(COUNT_KEYS)


def test_unterminated_last_line_that_is_whole_json_is_kept() -> None:
    prompt = Line(1, b'{"type":"user","message":{"content":"q"}}')
    reply = Line(2, b'{"type":"assistant","message":{"content":"a"}}', unterminated=True)
    result = parse_transcript([prompt, reply], "f", SessionParams())
    assert plain(result)[0]["messages"] == [user("q"), assistant("a")]
    assert result.rejects == []


def test_a_prompt_with_no_reply_and_an_empty_file_give_nothing() -> None:
    lonely = Line(1, b'{"type":"user","message":{"content":"anyone?"}}')
    result = parse_transcript([lonely], "f", SessionParams())
    assert result.conversations == []
    assert result.counts["dropped.no_reply"] == 1
    assert parse_transcript([], "f", SessionParams()).conversations == []


def test_output_is_deterministic() -> None:
    encode = msgspec.json.encode
    for name in ["basic.jsonl", "traps.jsonl", "sidechain_inline.jsonl"]:
        assert encode(parse(name, split="turn")) == encode(parse(name, split="turn"))


def test_an_unanswered_turn_opens_the_next_one_in_turn_mode() -> None:
    def record(n: int, kind: str, content: Any, **extra: Any) -> Line:
        body = {"type": kind, "uuid": f"u{n}", "message": {"content": content}, **extra}
        return Line(n, json.dumps(body).encode())

    api_error = {"model": "<synthetic>", "content": [{"type": "text", "text": "API Error: 529"}]}
    lines = [
        record(1, "user", "summarise the log"),
        Line(
            2,
            json.dumps(
                {"type": "assistant", "uuid": "u2", "isApiErrorMessage": True, "message": api_error}
            ).encode(),
        ),
        record(3, "user", "try again"),
        record(4, "assistant", [{"type": "text", "text": "The log shows two restarts."}]),
        record(5, "user", "thanks, bye"),
    ]
    result = parse_transcript(lines, "f", SessionParams(split="turn"))
    assert [c["messages"] for c in plain(result)] == [
        [user("summarise the log"), user("try again"), assistant("The log shows two restarts.")]
    ]
    assert result.counts["folded.unanswered_turns"] == 1
    assert result.counts["dropped.no_reply"] == 1  # the last prompt, which nothing answers
