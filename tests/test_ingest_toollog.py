"""ingest_toollog through its command line: good lines become conversations, bad ones rejects."""

import json
from pathlib import Path

import pytest

from stages.common import ingestion
from stages.common.jsonl import part_files
from stages.ingest import command
from tests.conftest import REPO, read_jsonl, write_lines

main = command("toollog")


def log_line(**fields: object) -> str:
    line = {
        "timestamp": "2026-11-02T09:16:02Z",
        "model": "gpt-4o-mini",
        "user_query": "bank all the shrimp",
        "model_response": json.dumps(
            {
                "role": "assistant",
                "content": "Depositing the shrimps.",
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {
                            "name": "bank_deposit",
                            "arguments": '{"item": "Raw shrimps", "quantity": 20}',
                        },
                    }
                ],
            }
        ),
        "tool_name": "bank_deposit",
        "arguments": '{"item": "Raw shrimps", "quantity": 20}',
        "status": "success",
        "message": "Deposited 20 x Raw shrimps",
        "output": {"deposited": 20},
        "tools_enabled": ["bank_deposit"],
        "rating": 5,
        "final_response": "Done: 20 raw shrimps are in the bank.",
    }
    line.update(fields)
    return json.dumps({k: v for k, v in line.items() if v is not ...})


def ingest(run, workdir: Path, *args: str, exit_code: int = 0):
    result = run(
        main, "--input", "logs", "--out-dir", "out", "--jobs", "1", *args, exit_code=exit_code
    )
    out = workdir / "out"
    return result, out


def test_a_full_line_becomes_the_whole_exchange(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "day.jsonl", [log_line()])
    _, out = ingest(run, workdir)
    [conversation] = read_jsonl(out / "conversations")
    assert conversation["messages"] == [
        {"role": "user", "content": "bank all the shrimp"},
        {
            "role": "assistant",
            "content": "Depositing the shrimps.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "bank_deposit",
                        "arguments": '{"item":"Raw shrimps","quantity":20}',
                    },
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '{"status":"success","message":"Deposited 20 x Raw shrimps",'
            '"output":{"deposited":20}}',
        },
        {"role": "assistant", "content": "Done: 20 raw shrimps are in the bank."},
    ]
    assert conversation["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "bank_deposit",
                "parameters": {
                    "type": "object",
                    "properties": {"item": {"type": "string"}, "quantity": {"type": "integer"}},
                    "required": ["item", "quantity"],
                },
            },
        }
    ]
    assert conversation["labels"] == {"rating": 5}
    assert conversation["meta"] == {
        "file": "logs/day.jsonl",
        "line": 1,
        "timestamp": "2026-11-02T09:16:02Z",
        "model": "gpt-4o-mini",
    }
    assert conversation["source"] == "toollog"
    assert len(conversation["id"]) == 16


def test_old_format_lines_are_rebuilt_from_the_call(run, workdir: Path) -> None:
    write_lines(
        workdir / "logs" / "old.jsonl",
        [
            log_line(
                user_query=...,
                model_response=...,
                final_response=...,
                rating=...,
                tool_name="fish",
                arguments='{"method": "harpoon"}',
                status="error",
            )
        ],
    )
    _, out = ingest(run, workdir)
    [conversation] = read_jsonl(out / "conversations")
    messages = conversation["messages"]
    assert messages[0] == {"role": "user", "content": 'Use fish with method="harpoon".'}
    assert "content" not in messages[1]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "fish",
        "arguments": '{"method":"harpoon"}',
    }
    assert len(messages) == 3
    assert conversation["labels"]["tags"] == ["tool_error", "reconstructed"]
    assert conversation["meta"]["reconstructed"] is True
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconstructed"] == 1


def test_a_chat_completion_response_and_content_parts(run, workdir: Path) -> None:
    completion = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Walking "},
                        {"type": "text", "text": "now."},
                    ],
                    "tool_calls": [
                        {"function": {"name": "walk_to", "arguments": "{}"}},
                        {"function": {"name": "get_inventory", "arguments": "{}"}},
                    ],
                }
            }
        ]
    }
    write_lines(
        workdir / "logs" / "a.jsonl",
        [
            log_line(
                model_response=json.dumps(completion),
                tool_name="walk_to",
                arguments={"location": "bank"},
            )
        ],
    )
    _, out = ingest(run, workdir)
    [conversation] = read_jsonl(out / "conversations")
    assert conversation["messages"][1]["content"] == "Walking now."
    assert conversation["messages"][1]["tool_calls"][0]["function"]["arguments"] == (
        '{"location":"bank"}'
    )
    assert json.loads((out / "stats.json").read_text())["unexecuted_calls_dropped"] == 1


def test_catalog_definitions_win_over_inference(run, workdir: Path) -> None:
    definition = {
        "type": "function",
        "function": {
            "name": "bank_deposit",
            "description": "Deposit items.",
            "parameters": {"type": "object", "properties": {"item": {"type": "string"}}},
        },
    }
    (workdir / "catalog.json").write_text(json.dumps([definition]))
    write_lines(workdir / "logs" / "a.jsonl", [log_line(tools_enabled=["bank_deposit", "fish"])])
    _, out = ingest(run, workdir, "--catalog", "catalog.json")
    [conversation] = read_jsonl(out / "conversations")
    assert conversation["tools"] == [definition]


def test_unusable_catalog_is_a_clear_error(run, workdir: Path) -> None:
    (workdir / "catalog.json").write_text('{"not": "a list"}')
    write_lines(workdir / "logs" / "a.jsonl", [log_line()])
    result, _ = ingest(run, workdir, "--catalog", "catalog.json", exit_code=1)
    assert "catalog.json: not a usable tool catalog" in result.output


BAD_LINES = [
    ("invalid_json", '{"tool_name": "fish", '),
    ("invalid_utf8", b'{"tool_name": "fish", "user_query": "caf\xe9"}'),
    ("missing_field", '{"user_query": "fish"}'),
    ("wrong_type", '{"tool_name": ["fish"]}'),
    ("wrong_type", log_line(rating="five")),
    ("wrong_type", log_line(rating=9)),
    ("invalid_arguments", log_line(arguments='{"method": ')),
    ("invalid_arguments", log_line(arguments='["net"]')),
    ("wrong_type", "[1, 2]"),
]


@pytest.mark.parametrize(("reason", "bad"), BAD_LINES)
def test_each_bad_line_is_rejected_and_its_neighbours_kept(
    run, workdir: Path, reason: str, bad: str | bytes
) -> None:
    write_lines(
        workdir / "logs" / "a.jsonl",
        [log_line(user_query="first"), bad, log_line(user_query="third")],
    )
    result, out = ingest(run, workdir)
    kept = read_jsonl(out / "conversations")
    assert [c["messages"][0]["content"] for c in kept] == ["first", "third"]
    assert [c["meta"]["line"] for c in kept] == [1, 3]
    [reject] = read_jsonl(out / "rejects.jsonl")
    assert (reject["file"], reject["line"], reject["reason"]) == ("logs/a.jsonl", 2, reason)
    assert f"logs/a.jsonl:2: {reason}:" in result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejected"][reason] == 1
    assert sum(stats["rejected"].values()) == 1
    assert stats["conversations"] == 2


def test_a_cut_off_last_line_is_truncated_but_a_whole_one_is_kept(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "a.jsonl", [log_line(user_query="whole")], final_newline=False)
    write_lines(
        workdir / "logs" / "b.jsonl",
        [log_line(user_query="x"), log_line()[:70]],
        final_newline=False,
    )
    _, out = ingest(run, workdir)
    kept = read_jsonl(out / "conversations")
    assert [c["messages"][0]["content"] for c in kept] == ["whole", "x"]
    [reject] = read_jsonl(out / "rejects.jsonl")
    assert (reject["file"], reject["line"], reject["reason"]) == (
        "logs/b.jsonl",
        2,
        "truncated_line",
    )


def test_huge_lines_are_rejected_by_size(run, workdir: Path) -> None:
    huge = log_line(output="x" * 5000)
    write_lines(
        workdir / "logs" / "a.jsonl", [log_line(user_query="a"), huge, log_line(user_query="b")]
    )
    _, out = ingest(run, workdir, "--max-line-bytes", "2000")
    assert [c["messages"][0]["content"] for c in read_jsonl(out / "conversations")] == [
        "a",
        "b",
    ]
    [reject] = read_jsonl(out / "rejects.jsonl")
    assert reject["reason"] == "line_too_long"
    assert reject["line"] == 2
    assert f"line of {len(huge)} bytes" in reject["message"]


def test_strict_stops_at_the_first_bad_line(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "a.jsonl", [log_line(), "{oops"])
    result, out = ingest(run, workdir, "--strict", exit_code=1)
    assert "Error: logs/a.jsonl:2: invalid_json:" in result.output
    assert list(out.iterdir()) == []


def test_blank_lines_are_counted_not_rejected(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "a.jsonl", [log_line(), "", "   ", log_line(user_query="b")])
    _, out = ingest(run, workdir)
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["blank_lines"], stats["conversations"], stats["read"]) == (2, 2, 4)
    assert (out / "rejects.jsonl").read_bytes() == b""


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_output_is_the_same_for_any_number_of_workers(
    run, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingestion, "SPAN_BYTES", 64 << 10)  # several parts per file
    lines = [log_line(user_query=f"query {i}", rating=1 + i % 5) for i in range(3000)]
    lines[1234] = "{bad"
    write_lines(workdir / "logs" / "a.jsonl", lines)
    write_lines(workdir / "logs" / "b.jsonl", lines[:10])
    run(main, "--input", "logs", "--out-dir", "one", "--jobs", "1")
    run(main, "--input", "logs", "--out-dir", "two", "--jobs", "2")
    parts = folder_bytes(workdir / "two" / "conversations")
    assert len(parts) > 10
    assert folder_bytes(workdir / "one" / "conversations") == parts
    for name in ("rejects.jsonl", "stats.json"):
        assert (workdir / "one" / name).read_bytes() == (workdir / "two" / name).read_bytes()
    conversations = read_jsonl(workdir / "two" / "conversations")
    assert [(c["meta"]["file"], c["meta"]["line"]) for c in conversations] == [
        *(("logs/a.jsonl", n) for n in range(1, 3001) if n != 1235),
        *(("logs/b.jsonl", n) for n in range(1, 11)),
    ]
    assert read_jsonl(workdir / "two" / "rejects.jsonl")[0]["line"] == 1235


def test_a_rerun_replaces_the_whole_folder(
    run, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingestion, "SPAN_BYTES", 64 << 10)
    write_lines(workdir / "logs" / "a.jsonl", [log_line(user_query=f"q {i}") for i in range(500)])
    ingest(run, workdir)
    assert len(part_files(workdir / "out" / "conversations")) > 1
    write_lines(workdir / "logs" / "a.jsonl", [log_line(user_query="only")])
    _, out = ingest(run, workdir)
    assert [c["messages"][0]["content"] for c in read_jsonl(out / "conversations")] == ["only"]
    assert sorted(p.name for p in out.iterdir()) == ["conversations", "rejects.jsonl", "stats.json"]


def test_a_file_of_only_bad_lines_leaves_no_part(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "a.jsonl", ["{bad", ""])
    write_lines(workdir / "logs" / "b.jsonl", [log_line()])
    _, out = ingest(run, workdir)
    assert [p.name for p in part_files(out / "conversations")] == ["000000001.jsonl"]
    assert len(read_jsonl(out / "rejects.jsonl")) == 1


def test_missing_input_is_a_clear_error(run, workdir: Path) -> None:
    result, _ = ingest(run, workdir, exit_code=1)
    assert "logs: no such file or folder" in result.output


def test_an_input_outside_the_repository_leaves_no_machine_path(
    run, workdir: Path, tmp_path_factory
) -> None:
    logs = tmp_path_factory.mktemp("elsewhere") / "tools"
    write_lines(logs / "day.jsonl", [log_line(), "{bad"])
    run(main, "--input", str(logs), "--out-dir", "out", "--jobs", "1")
    parts = part_files(workdir / "out" / "conversations")
    written = b"".join(p.read_bytes() for p in parts).decode()
    written += (workdir / "out" / "rejects.jsonl").read_text()
    assert str(logs.parent) not in written
    assert read_jsonl(workdir / "out" / "conversations")[0]["meta"]["file"] == "tools/day.jsonl"
    assert read_jsonl(workdir / "out" / "rejects.jsonl")[0]["file"] == "tools/day.jsonl"


def test_an_unpaired_surrogate_escape_is_named(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "a.jsonl", ['{"tool_name": "x", "user_query": "\\ud800"}', ""])
    ingest(run, workdir)
    [reject] = read_jsonl(workdir / "out" / "rejects.jsonl")
    assert reject["reason"] == "invalid_json"
    assert reject["message"] == "unpaired surrogate escape \\ud800 at byte 34"


def test_an_unreadable_model_response_costs_only_the_preamble(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "a.jsonl", [log_line(model_response="not json")])
    _, out = ingest(run, workdir)
    [conversation] = read_jsonl(out / "conversations")
    assert "content" not in conversation["messages"][1]
    assert conversation["messages"][1]["tool_calls"][0]["function"]["name"] == "bank_deposit"
    assert (out / "rejects.jsonl").read_bytes() == b""
    assert json.loads((out / "stats.json").read_text())["unreadable_model_responses"] == 1


# The Go CLI assistant's `tool_calls.log` (FORMATS.md, "Tool-call logs"): the seed's own
# example, its six lines joined into the one line the logger writes.
SEED_EXAMPLE = "".join(
    [
        '{"timestamp": "2025-11-16T13:10:33.85769013-05:00", "model": "qwen2.5-coder:3b",',
        ' "user_query": "Check current users",',
        ' "model_response": "{\\"role\\":\\"assistant\\",\\"content\\":\\"\\",'
        '\\"tool_calls\\":[...]}",',
        ' "tool_name": "run_commands", "arguments": "{\\"command\\":\\"who\\"}", '
        '"status": "success",',
        ' "message": "Command executed successfully",',
        ' "output": "cal      pts/0        2025-11-16 10:06 (192.168.2.25)\\n",',
        ' "tools_enabled": true, "rating": 5}',
    ]
)

RUN_COMMANDS = {
    "type": "function",
    "function": {
        "name": "run_commands",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
}


def go_line(command: str, **fields: object) -> str:
    """A line as the Go CLI writes it: compact, `model_response` the message's JSON text."""
    arguments = json.dumps({"command": command}, separators=(",", ":"))
    response = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_q7m2x9ka",
                "type": "function",
                "function": {"name": "run_commands", "arguments": arguments},
            }
        ],
    }
    line = {
        "timestamp": "2025-11-16T13:11:02.104-05:00",
        "model": "qwen2.5-coder:3b",
        "user_query": f"please run {command}",
        "model_response": json.dumps(response, separators=(",", ":")),
        "tool_name": "run_commands",
        "arguments": arguments,
        "status": "success",
        "message": "Command executed successfully",
        "output": "",
        "tools_enabled": True,
        "rating": 4,
    }
    line.update(fields)
    return json.dumps({k: v for k, v in line.items() if v is not ...}, separators=(",", ":"))


def test_the_seed_example_line_reads_right(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "tool_calls.log", [SEED_EXAMPLE])
    _, out = ingest(run, workdir)
    [conversation] = read_jsonl(out / "conversations")
    assert conversation["messages"] == [
        {"role": "user", "content": "Check current users"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "run_commands", "arguments": '{"command":"who"}'},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '{"status":"success","message":"Command executed successfully",'
            '"output":"cal      pts/0        2025-11-16 10:06 ([REDACTED:ip_address])\\n"}',
        },
    ]
    assert conversation["tools"] == [RUN_COMMANDS]
    assert conversation["labels"] == {"rating": 5}
    assert conversation["meta"] == {
        "file": "logs/tool_calls.log",
        "line": 1,
        "timestamp": "2025-11-16T13:10:33.85769013-05:00",
        "model": "qwen2.5-coder:3b",
    }
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["files"]["total"], stats["conversations"], sum(stats["rejected"].values())) == (
        1,
        1,
        0,
    )
    assert stats["unreadable_model_responses"] == 1  # the seed elides tool_calls as [...]


SEED_SHAPES = [
    go_line("who", timestamp="2025-11-16T13:10:33.85769013-05:00", rating=5),
    go_line("uptime", timestamp="2025-11-16T13:12:48-05:00", rating=...),
    go_line("true", timestamp="2025-11-16T13:17:40.000000001+05:30", output="", rating=2),
    go_line(
        "df -h",
        timestamp="2025-11-16T18:11:02.1Z",
        output="Filesystem      Size  Used Avail Use% Mounted on\n"
        "/dev/nvme0n1p2  468G  183G  262G  42% /\n",
    ),
    go_line("clear", output="\x1b[H\x1b[2J\x1b[3J", tools_enabled=False, rating=3),
    go_line("ls\t-la ", output=" \t a\r\nb  \n\n", message=""),
    go_line(
        "systemctl status nginx",
        status="error",
        message="Command failed: exit status 4",
        output="Unit nginx.service could not be found.\n",
    ),
    go_line("tail /var/log/syslog", status="timeout", message="Command timed out", output=None),
    go_line("mkdir -p ~/b && chmod 700 ~/b").replace("&", "\\u0026"),  # Go escapes HTML chars
    go_line("free -h", user_query=..., model_response=..., rating=..., tools_enabled=...),
    go_line("who", rating=0),  # Go's zero value: unrated
]


def test_every_seed_shape_ingests_and_reads_right(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "tool_calls.log", SEED_SHAPES)
    _, out = ingest(run, workdir)
    assert (out / "rejects.jsonl").read_bytes() == b""
    conversations = read_jsonl(out / "conversations")
    assert len(conversations) == len(SEED_SHAPES)
    for line, conversation in zip(SEED_SHAPES, conversations, strict=True):
        raw = json.loads(line)
        user, assistant, tool = conversation["messages"]
        if "user_query" in raw:
            assert user == {"role": "user", "content": raw["user_query"]}
        [call] = assistant["tool_calls"]
        assert call["function"]["name"] == "run_commands"
        assert json.loads(call["function"]["arguments"]) == json.loads(raw["arguments"])
        result = json.loads(tool["content"])
        assert result == {k: raw[k] for k in ("status", "message", "output") if raw[k] is not None}
        assert conversation["meta"]["timestamp"] == raw["timestamp"]
        assert conversation["labels"].get("rating") == (raw.get("rating") or None)
        assert conversation["tools"] == [RUN_COMMANDS]
    tags = [c["labels"].get("tags", []) for c in conversations]
    assert [i for i, t in enumerate(tags) if "tool_error" in t] == [6, 7]
    assert conversations[9]["messages"][0]["content"] == 'Use run_commands with command="free -h".'
    assert tags[9] == ["reconstructed"]
    timestamps = [t.split('"timestamp":"')[1].split('"')[0] for t in SEED_SHAPES]
    assert [c["meta"]["timestamp"] for c in conversations] == timestamps  # byte for byte


FISH = {
    "type": "function",
    "function": {"name": "fish", "parameters": {"type": "object", "properties": {}}},
}
RUN_COMMANDS_DOC = {
    "type": "function",
    "function": {
        "name": "run_commands",
        "description": "Run a shell command.",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}


@pytest.mark.parametrize(
    ("catalog", "tools_enabled", "expected"),
    [
        ([FISH, RUN_COMMANDS_DOC], True, [FISH, RUN_COMMANDS_DOC]),  # offered: the whole catalog
        ([FISH], True, [RUN_COMMANDS]),  # a catalog without the called tool is not its catalog
        (None, True, [RUN_COMMANDS]),
        ([FISH, RUN_COMMANDS_DOC], False, [RUN_COMMANDS_DOC]),
        ([FISH, RUN_COMMANDS_DOC], ..., [RUN_COMMANDS_DOC]),
        ([FISH, RUN_COMMANDS_DOC], ["fish"], [FISH, RUN_COMMANDS_DOC]),
        ([FISH], ["run_commands"], [RUN_COMMANDS]),
    ],
)
def test_tools_follow_tools_enabled(
    run, workdir: Path, catalog: list | None, tools_enabled: object, expected: list
) -> None:
    args = []
    if catalog is not None:
        (workdir / "catalog.json").write_text(json.dumps(catalog))
        args = ["--catalog", "catalog.json"]
    write_lines(workdir / "logs" / "tool_calls.log", [go_line("who", tools_enabled=tools_enabled)])
    _, out = ingest(run, workdir, *args)
    assert read_jsonl(out / "conversations")[0]["tools"] == expected


def test_lines_of_one_shape_keep_their_own_tools_enabled(run, workdir: Path) -> None:
    """The memo of encoded tools is keyed by `tools_enabled`, boolean or list."""
    (workdir / "catalog.json").write_text(json.dumps([FISH, RUN_COMMANDS_DOC]))
    enabled = [True, False, ["fish"], True, ..., False]
    write_lines(
        workdir / "logs" / "tool_calls.log", [go_line("who", tools_enabled=e) for e in enabled]
    )
    _, out = ingest(run, workdir, "--catalog", "catalog.json")
    names = [[t["function"]["name"] for t in c["tools"]] for c in read_jsonl(out / "conversations")]
    whole, called = ["fish", "run_commands"], ["run_commands"]
    assert names == [whole, called, whole, whole, called, called]


def test_a_folder_of_only_tool_calls_log_is_found(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "tool_calls.log", [SEED_EXAMPLE])
    _, out = ingest(run, workdir)
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["files"]["total"], stats["conversations"]) == (1, 1)


def test_a_folder_matching_no_pattern_is_an_error(run, workdir: Path) -> None:
    write_lines(workdir / "logs" / "tool_calls.txt", [SEED_EXAMPLE])
    result, out = ingest(run, workdir, exit_code=1)
    assert result.output.splitlines() == [
        "ingest_toollog: passed over files whose names do not match *.jsonl or *.log: 1 "
        "(logs/tool_calls.txt)",
        "Error: logs: no file in this folder or below it matches *.jsonl or *.log; point "
        "--input (ingest_toollog.input) at your files, or give --pattern "
        "(ingest_toollog.pattern) globs that match their names",
    ]
    assert not out.exists()


def test_pattern_overrides_the_default(run, workdir: Path) -> None:
    logs = workdir / "logs"
    write_lines(logs / "tool_calls.log", [go_line("who")])
    write_lines(logs / "old" / "tool_calls.log.1", [go_line("uptime")])
    write_lines(logs / "other.jsonl", [log_line()])
    _, out = ingest(run, workdir, "--pattern", "tool_calls.log*")
    files = [c["meta"]["file"] for c in read_jsonl(out / "conversations")]
    assert files == ["logs/old/tool_calls.log.1", "logs/tool_calls.log"]


def test_pattern_defaults_from_params_yaml(run, workdir: Path) -> None:
    (workdir / "params.yaml").write_text(
        'ingest_toollog:\n  pattern: ["*.txt", "*.log"]\n  input: logs\n'
    )
    write_lines(workdir / "logs" / "a.txt", [go_line("who")])
    write_lines(workdir / "logs" / "b.log", [go_line("uptime")])
    write_lines(workdir / "logs" / "c.jsonl", [log_line()])
    run(main, "--out-dir", "out", "--jobs", "1")
    files = [c["meta"]["file"] for c in read_jsonl(workdir / "out" / "conversations")]
    assert files == ["logs/a.txt", "logs/b.log"]


def test_the_bundled_terminal_log_ingests_whole(run, workdir: Path) -> None:
    """data/samples/toollog/tool_calls.log, with the catalog params.yaml gives the stage."""
    samples = REPO / "data" / "samples"
    run(
        main,
        *("--input", str(samples / "toollog"), "--out-dir", "out", "--jobs", "1"),
        *("--catalog", str(samples / "tools" / "catalog.json")),
    )
    rejects = read_jsonl(workdir / "out" / "rejects.jsonl")
    assert rejects and all(r["file"].endswith(".jsonl") for r in rejects)  # the traps elsewhere
    mine = [
        c
        for c in read_jsonl(workdir / "out" / "conversations")
        if c["meta"]["file"] == "toollog/tool_calls.log"
    ]
    assert len(mine) == len((samples / "toollog" / "tool_calls.log").read_text().splitlines())
    assert all(c["tools"] == [RUN_COMMANDS] for c in mine)
    assert sorted(c["labels"].get("rating", 0) for c in mine) == [0, 0, 2, 3, 4, 5, 5]
    outputs = [json.loads(c["messages"][2]["content"])["output"] for c in mine]
    assert "" in outputs and any(o.count("\n") > 2 for o in outputs)
    assert [c["meta"]["reconstructed"] for c in mine if "reconstructed" in c["meta"]] == [True]
