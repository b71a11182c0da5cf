import json

import msgspec
import pytest
import tiktoken
from bpe_openai.registry import o200k_base
from tiktoken.load import load_tiktoken_bpe

from schemas.format_lines import OpenAIFileReport
from stages.common.hashing import content_id
from stages.common.json_value import decode_lines
from stages.formats.contract import wrong_turns
from stages.formats.format_helpers import Unexportable
from stages.formats.openai_chat import to_openai_chat
from stages.formats.vocab import ensure_encodings_base
from stages.validation.openai_checks import check_openai_values, count_tokens, default_epochs
from tests.formats import conversations as c


def checked(lines: list[tuple[int, bytes]], **options) -> OpenAIFileReport:
    return check_openai_values(decode_lines(lines), **options)


def lines_of(*examples) -> list[tuple[int, bytes]]:
    return [
        (i + 1, e if isinstance(e, bytes) else json.dumps(e).encode())
        for i, e in enumerate(examples)
    ]


def exported(conv) -> dict:
    return json.loads(msgspec.json.encode(to_openai_chat(conv)[0]))


def test_arguments_stay_strings_and_tool_content_is_a_string():
    line = exported(c.NEGATIVE)
    assert line["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"cmd":"rm -rf /"}'
    assert line["messages"][5] == {"role": "tool", "content": "", "tool_call_id": "n2"}


def test_bad_turn_of_a_negative_example_has_weight_zero_and_only_it():
    line = exported(c.NEGATIVE)
    weights = [m.get("weight") for m in line["messages"] if m["role"] == "assistant"]
    assert weights == [0, None, None]


def test_explicit_weight_marks_the_bad_turn_of_a_code_correction():
    assert wrong_turns(c.CODE_CORRECTION) == ({2: "first_attempt"}, {2: 4})
    line = exported(c.CODE_CORRECTION)
    assert line["messages"][2]["weight"] == 0 and "weight" not in line["messages"][4]


def test_tool_name_is_dropped_from_tool_messages_and_parallel_flag_follows_calls():
    assert "name" not in exported(c.PREAMBLE_CALL)["messages"][3]
    assert exported(c.PREAMBLE_CALL)["parallel_tool_calls"] is False
    assert exported(c.PARALLEL)["parallel_tool_calls"] is True
    assert "parallel_tool_calls" not in exported(c.PLAIN)


def test_a_negative_example_without_a_correction_is_refused():
    with pytest.raises(Unexportable) as err:
        to_openai_chat(c.LONE_NEGATIVE)
    assert err.value.reason == "negative_without_correction"


def test_every_export_passes_the_checks():
    examples = [exported(conv) for conv in c.ALL]
    report = checked(lines_of(*examples), file="train.jsonl")
    assert report.errors == []
    assert report.valid_examples == report.examples == len(c.ALL)


@pytest.mark.parametrize(
    ("example", "field", "reason"),
    [
        (
            {"messages": [{"role": "user", "content": "hi"}]},
            "messages",
            "example_missing_assistant_message",
        ),
        (
            {
                "messages": [
                    {"role": "robot", "content": "hi"},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "messages[0].role",
            "unrecognized_role",
        ),
        (
            {"messages": [{"content": "hi"}, {"role": "assistant", "content": "x"}]},
            "messages[0].role",
            "message_missing_key",
        ),
        (
            {"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]},
            "messages[0].content",
            "missing_content",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a", "mood": 1},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "messages[0].mood",
            "message_unrecognized_key",
        ),
        (
            {
                "msgs": [],
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "x"},
                ],
            },
            "msgs",
            "unrecognized_key",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "x"},
                    {"role": "assistant", "content": "y"},
                ]
            },
            "messages[2].role",
            "consecutive_assistant",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "x"},
                    {"role": "user", "content": "are you there?"},
                ]
            },
            "messages[2].role",
            "ends_after_last_reply",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "tool", "tool_call_id": "z", "content": "r"},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "messages[1].tool_call_id",
            "tool_without_call",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "k",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    {"role": "user", "content": "b"},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "messages[1].tool_calls[0]",
            "call_without_result",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "k",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "tool_call_id": "k",
                        "content": [{"type": "text", "text": "r"}],
                    },
                    {"role": "assistant", "content": "x"},
                ]
            },
            "messages[2].content",
            "tool_content_not_string",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "k",
                                "type": "function",
                                "function": {"name": "f", "arguments": {"q": 1}},
                            }
                        ],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments",
            "arguments_not_string",
        ),
    ],
)
def test_a_malformed_record_fails_with_its_line_id_field_and_reason(example, field, reason):
    good = exported(c.PLAIN)
    report = checked(lines_of(good, example, good), file="f.jsonl")
    assert [(e.line, e.record_id, e.field, e.reason) for e in report.errors] == [
        (2, content_id(example["messages"]), field, reason)
    ]
    assert report.valid_examples == 2


def test_invalid_json_and_non_object_lines_are_reported_not_raised():
    report = checked(lines_of(b'{"messages": [', b"[1, 2]"), file="f.jsonl")
    assert [(e.line, e.record_id, e.reason) for e in report.errors] == [
        (1, "", "invalid_json"),
        (2, "", "data_type"),
    ]


def test_the_record_id_is_the_content_id_of_the_messages():
    """validate puts the metadata's record id in its place (tests/test_validate.py)."""
    bad = {"messages": [{"role": "user", "content": "a"}]}
    report = checked(lines_of(bad), file="f.jsonl")
    assert report.errors[0].record_id == content_id(bad["messages"])


def test_o200k_counts_agree_with_tiktoken_on_the_same_vocabulary():
    folder = ensure_encodings_base()
    reference = tiktoken.Encoding(
        name="o200k_base",
        pat_str=o200k_base()["pat_str"],
        mergeable_ranks=load_tiktoken_bpe(str(folder / "o200k_base.tiktoken")),
        special_tokens={},
    )
    example = exported(c.PREAMBLE_CALL)
    expected = 3
    for m in example["messages"]:
        expected += 3 + sum(len(reference.encode(v)) for v in m.values() if isinstance(v, str))
        for k in m.get("tool_calls", []):
            expected += len(reference.encode(k["function"]["name"]))
            expected += len(reference.encode(k["function"]["arguments"]))
    expected += len(reference.encode(json.dumps(example["tools"], separators=(",", ":"))))
    assert count_tokens(example) == expected


def test_token_count_of_a_tiny_example_by_hand():
    # "user", "hi", "assistant", "hello" are one o200k token each: 3 + (3+1+1) + (3+1+1)
    example = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    }
    assert count_tokens(example) == 13


def test_too_long_examples_are_flagged_and_billed_at_the_limit():
    example = {
        "messages": [
            {"role": "user", "content": "word " * 50},
            {"role": "assistant", "content": "ok"},
        ]
    }
    report = checked(lines_of(example), file="f.jsonl", max_tokens=20)
    expected = [(content_id(example["messages"]), "too_many_tokens")]
    assert [(e.record_id, e.reason) for e in report.errors] == expected
    assert report.too_long == 1 and report.billing_tokens_per_epoch == 20


@pytest.mark.parametrize(
    ("n", "epochs"), [(1, 25), (10, 10), (30, 3), (34, 3), (40, 3), (9000, 2), (30000, 1)]
)
def test_default_epochs_follow_the_cookbook_heuristic(n, epochs):
    assert default_epochs(n) == epochs


def test_cost_estimate_multiplies_tokens_by_epochs():
    examples = [exported(conv) for conv in c.CLEAN]
    report = checked(lines_of(*examples), file="f.jsonl")
    assert report.epochs == 25  # 4 examples: min(25, 100 // 4)
    assert report.billing_tokens_per_epoch == sum(count_tokens(e) for e in examples)
    assert report.billing_tokens_total == 25 * report.billing_tokens_per_epoch
