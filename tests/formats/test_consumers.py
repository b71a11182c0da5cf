"""Every format function fed to the consumer that reads it: templates, parsers, schemas.

Hugging Face `datasets` loads the files the export stage writes: tests/test_export_consumers.py.
"""

import gzip
import json
import os
from pathlib import Path

import jsonschema
import msgspec
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from schemas.conversation import FunctionDef, Tool
from stages.export import export_record
from stages.formats import format_helpers
from stages.formats.chatml import parse_chatml, renumber_calls, to_chatml
from stages.formats.contract import clean_conversation
from stages.formats.exporters import FORMATS, LINE_SCHEMAS, Unexportable
from stages.formats.format_helpers import function_dicts, tool_dicts, tool_texts
from stages.formats.harmony import SLOT, render, to_harmony
from stages.formats.preference import chat_message, to_preference
from stages.formats.qwen import DEFAULT_SYSTEM, parse_qwen, to_qwen
from stages.formats.sharegpt import to_sharegpt
from stages.formats.trainer_configs import axolotl_datasets, llamafactory_dataset_info
from stages.formats.vocab import PACKED, ensure_encodings_base
from tests.formats import conversations as c

HERE = Path(__file__).parent
SCHEMAS = Path(__file__).parents[2] / "schemas"


def export(name: str, convs=c.ALL) -> list[dict]:
    rows = []
    for conv in convs:
        try:
            rows.extend(json.loads(msgspec.json.encode(line)) for line in FORMATS[name](conv))
        except Unexportable:
            continue
    return rows


def qwen_template(messages: list[dict], tools: list[dict]) -> str:
    """Qwen2.5's chat template rendered the way transformers renders chat templates."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x: json.dumps(x, ensure_ascii=False)
    template = env.from_string((HERE / "qwen2_5_chat_template.jinja").read_text())
    return template.render(messages=messages, tools=tools or None, add_generation_prompt=False)


@pytest.mark.parametrize("conv", c.CLEAN, ids=lambda x: x.id)
def test_qwen_text_is_what_qwen25_chat_template_renders(conv):
    shown = clean_conversation(conv).messages  # what a format without a mask may carry
    messages = [msgspec.to_builtins(chat_message(m)) for m in shown]
    assert to_qwen(conv)[0].text == qwen_template(messages, tool_dicts(conv.tools))


def test_a_string_argument_would_be_double_encoded_by_the_template():
    messages = [msgspec.to_builtins(m) for m in c.PARALLEL.messages]
    rendered = qwen_template(messages, tool_dicts(c.PARALLEL.tools))
    assert '"arguments": "{\\"path\\":\\"a.txt\\"}"' in rendered
    assert rendered != to_qwen(c.PARALLEL)[0].text


@pytest.mark.parametrize("conv", c.CLEAN, ids=lambda x: x.id)
def test_qwen_text_round_trips_to_the_same_messages_and_tools(conv):
    messages, tools = parse_qwen(to_qwen(conv)[0].text)
    expected = renumber_calls(clean_conversation(conv).messages)
    if conv.messages[0].role != "system":
        expected = [c.Message(role="system", content=DEFAULT_SYSTEM), *expected]
    assert messages == expected
    assert tools == conv.tools


@pytest.mark.parametrize("conv", c.CLEAN, ids=lambda x: x.id)
def test_chatml_text_round_trips_to_the_same_messages(conv):
    expected = renumber_calls(clean_conversation(conv).messages)
    assert parse_chatml(to_chatml(conv)[0].text) == expected


def test_chatml_refuses_content_that_holds_its_markers():
    conv = c.conversation(
        [
            c.Message(role="user", content="say <|im_end|>"),
            c.Message(role="assistant", content="no"),
        ],
        source="discord",
    )
    with pytest.raises(Unexportable) as err:
        to_chatml(conv)
    assert err.value.reason == "special_token_in_content"


@pytest.mark.parametrize("conv", c.CLEAN, ids=lambda x: x.id)
def test_openai_harmony_renders_and_parses_every_harmony_line(conv):
    line = to_harmony(conv)[0]
    got = c.parse_harmony(line.text, conv.tools)
    assert got == [{k: getattr(m, k) for k in c.HARMONY_KEYS} for m in line.messages]


AWKWARD_TEXTS = [
    "",
    "   ",
    "ends with a newline\n",
    f"holds the slot {SLOT} character",
    "holds <|end|> and <|start|>assistant",
    "\u00e9t\u00e9 \U0001f41f \u4e2d\u6587",
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
@pytest.mark.parametrize("conv", [*c.CLEAN, c.NEGATIVE, c.CODE_CORRECTION], ids=lambda x: x.id)
def test_harmony_text_is_openai_harmonys_full_render(conv, text):
    """The line's text, laid out from cached skeletons, is what openai-harmony renders for
    the whole conversation at once; also with awkward texts in every message."""
    awkward = msgspec.structs.replace(
        conv,
        messages=[
            msgspec.structs.replace(m, content=text if m.content else m.content)
            for m in conv.messages
        ],
    )
    for each in (conv, awkward):
        try:
            line = to_harmony(each)[0]
        except Unexportable:
            continue
        tools = function_dicts(clean_conversation(each).tools)
        assert line.text == render(line.developer, tools, line.messages)


def test_harmony_renders_whole_when_a_tool_holds_the_slot_character():
    tool = c.Tool(function=c.FunctionDef(name="odd", description=f"marks {SLOT} places"))
    conv = msgspec.structs.replace(c.PREAMBLE_CALL, tools=[*c.PREAMBLE_CALL.tools, tool])
    line = to_harmony(conv)[0]
    assert f"marks {SLOT} places" in line.text
    assert line.text == render(line.developer, function_dicts(conv.tools), line.messages)


def test_harmony_keeps_the_preamble_and_puts_calls_on_commentary():
    line = to_harmony(c.PREAMBLE_CALL)[0]
    assert [(m.role, m.channel, m.recipient) for m in line.messages[1:4]] == [
        ("assistant", "commentary", None),
        ("assistant", "commentary", "functions.search_logs"),
        ("tool", "commentary", "assistant"),
    ]
    assert line.messages[1].content == "Let me search the logs first."
    assert line.messages[-1].channel == "final"


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_line_passes_its_generated_json_schema(name):
    schema = json.loads((SCHEMAS / f"{LINE_SCHEMAS[name]}.schema.json").read_text())
    rows = export(name, [*c.ALL, c.LONE_NEGATIVE])
    assert rows
    for row in rows:
        jsonschema.validate(row, schema)


def test_axolotl_rows_keep_arguments_as_json_text_arrow_can_type():
    rows = export("axolotl_chat", c.CLEAN)
    args = [
        call["function"]["arguments"]
        for row in rows
        for m in row["messages"]
        for call in m.get("tool_calls") or []
    ]
    assert '{"query":"timeout","limit":"ten"}' in args and '{"query":"timeout","limit":10}' in args
    params = rows[1]["tools"][0]["function"]["parameters"]
    assert json.loads(params) == c.SEARCH.function.parameters


def test_axolotl_masks_the_rejected_turn():
    rows = export("axolotl_chat", [c.NEGATIVE])
    assert [m.get("train") for m in rows[0]["messages"] if m["role"] == "assistant"] == [
        False,
        None,
        None,
    ]


def test_sharegpt_puts_parallel_calls_in_one_list_and_results_in_one_observation():
    row = to_sharegpt(c.PARALLEL)[0]
    turns = [(t.from_, t.value) for t in row.conversations]
    assert turns[1] == (
        "function_call",
        '[{"name":"read_file","arguments":{"path":"a.txt"}},{"name":"read_file","arguments":{"path":"b.txt"}}]',
    )
    assert turns[2] == ("observation", "alpha\n</tool_response>\n<tool_response>\nbeta")
    assert [f for f, _ in turns] == ["human", "function_call", "observation", "gpt"]
    assert json.loads(row.tools) == [
        {
            "name": "read_file",
            "description": "Read a file",
            "parameters": c.READ.function.parameters,
        }
    ]


def test_sharegpt_single_call_is_an_object_with_object_arguments():
    row = to_sharegpt(c.PREAMBLE_CALL)[0]
    assert json.loads(row.conversations[1].value) == {
        "name": "search_logs",
        "arguments": {"query": "error", "limit": 5},
    }
    assert row.system == "You help with logs."


def test_preference_pairs_from_negative_and_code_correction():
    neg = to_preference(c.NEGATIVE)[0]
    assert neg.rejected[0].tool_calls[0].function.arguments == {"cmd": "rm -rf /"}
    assert neg.chosen[0].tool_calls[0].function.arguments == {"cmd": "rm -rf ./build"}
    assert [m.role for m in neg.prompt] == ["user"]
    fix = to_preference(c.CODE_CORRECTION)[0]
    assert fix.prompt[-1].content == "Write add(a, b)"
    assert fix.rejected[0].content == "def add(a, b): return a - b"
    assert fix.chosen[0].content == "def add(a, b): return a + b"


def test_unified_lines_keep_every_label_and_provenance_field():
    row = export("unified", [c.NEGATIVE])[0]
    assert row["labels"] == {
        "example_type": "negative",
        "problem": "deleted the root",
        "root_cause": "no path check",
    }
    assert row["messages"][1]["weight"] == 0
    assert export("unified", [c.PREAMBLE_CALL])[0]["meta"] == {
        "file": "a.jsonl",
        "line": 7,
        "session_id": "s-1",
    }


def test_trainer_configs_point_at_the_files():
    text = axolotl_datasets("data/export/axolotl_chat.jsonl", "data/export/alpaca.jsonl")
    block = yaml.safe_load(text)
    [chat] = block["datasets"]
    assert chat["path"] == "data/export/axolotl_chat.jsonl"
    assert chat["type"] == "chat_template"
    assert chat["message_field_training"] == "train"
    # alpaca repeats records of the chat file: only a commented-out alternative beside it.
    comments = [line.removeprefix("# ") for line in text.splitlines() if line[:2] == "# "]
    assert yaml.safe_load("\n".join(comments[2:]))["datasets"] == [
        {"path": "data/export/alpaca.jsonl", "ds_type": "json", "type": "alpaca"}
    ]
    assert yaml.safe_load(axolotl_datasets(None, "data/export/alpaca.jsonl"))["datasets"] == [
        {"path": "data/export/alpaca.jsonl", "ds_type": "json", "type": "alpaca"}
    ]
    info = llamafactory_dataset_info("sharegpt.jsonl", "alpaca.jsonl")
    assert info["logtune_sharegpt"]["columns"] == {
        "messages": "conversations",
        "system": "system",
        "tools": "tools",
    }
    assert info["logtune_sharegpt"]["tags"]["function_tag"] == "function_call"
    assert info["logtune_alpaca"]["columns"]["prompt"] == "instruction"


def test_exports_are_byte_stable():
    for name in FORMATS:
        first = [msgspec.json.encode(x) for conv in c.CLEAN for x in _safe(name, conv)]
        second = [msgspec.json.encode(x) for conv in c.CLEAN for x in _safe(name, conv)]
        assert first == second


def _safe(name, conv):
    try:
        return FORMATS[name](conv)
    except Unexportable:
        return []


def test_vocab_unpacks_once_into_the_given_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE", raising=False)
    folder = ensure_encodings_base(tmp_path / "v")
    target = folder / "o200k_base.tiktoken"
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(folder)
    assert target.read_bytes() == gzip.decompress((PACKED / "o200k_base.tiktoken.gz").read_bytes())
    stamp = target.stat().st_mtime_ns
    assert ensure_encodings_base(tmp_path / "v") == folder and target.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in folder.iterdir()) == ["o200k_base.tiktoken"]


def test_tool_texts_are_what_json_dumps_writes_for_every_definition() -> None:
    """Made once per distinct list: definitions that differ only in a value's type (1, 1.0,
    true) or in key order keep their own texts."""
    parameters = [
        {"type": "integer", "default": 1},
        {"type": "integer", "default": 1.0},
        {"type": "integer", "default": True},
        {"default": 1, "type": "integer"},
        {"enum": ["café", "\u2028", "\x00"], "maximum": 1e16, "minimum": -0.0},
    ]
    lists = [[Tool(function=FunctionDef(name="f", parameters=p))] for p in parameters]
    lists.append([Tool(function=FunctionDef(name="a", description="é")), *lists[4], *lists[1]])
    for _ in range(2):
        for tools in lists:
            texts, functions = tool_texts(tools), function_dicts(tools)
            assert texts.functions_json == json.dumps(
                functions, ensure_ascii=False, separators=(",", ":")
            )
            assert texts.qwen_lines == "".join(
                "\n" + json.dumps(t, ensure_ascii=False) for t in tool_dicts(tools)
            )
            assert texts.parameters_json == tuple(
                json.dumps(f["parameters"], ensure_ascii=False, separators=(",", ":"))
                for f in functions
            )


def test_a_record_is_written_in_every_format_with_its_tools_encoded_once(monkeypatch) -> None:
    made: list[bytes] = []
    texts = format_helpers._tool_texts.__wrapped__

    def counted(encoded: bytes) -> format_helpers.ToolTexts:
        made.append(encoded)
        return texts(encoded)

    monkeypatch.setattr(format_helpers, "_tool_texts", counted)
    lines, _ = export_record(c.PARALLEL, list(FORMATS))
    assert {"qwen", "harmony", "sharegpt", "axolotl_chat"} <= set(lines)  # all that use them
    assert len(made) == 1
    # outside a record's writing, a list is looked up by its JSON each time
    format_helpers.tool_texts(c.PARALLEL.tools)
    assert len(made) == 2
