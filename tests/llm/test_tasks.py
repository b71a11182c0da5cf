"""The LLM tasks as pure functions: requests, replies (clean, noisy, empty, malformed) and the
offline heuristics, without a model."""

import json

import msgspec
import pytest

from schemas.conversation import (
    Conversation,
    FunctionCall,
    FunctionDef,
    Labels,
    Message,
    Tool,
    ToolCall,
)
from stages.common.hashing import messages_id
from stages.common.llm import complete_all
from stages.common.llm.cache import ResponseCache
from stages.common.tool_results import failure_message
from stages.llm_tasks import coherence as segment
from stages.llm_tasks import explain_failure, label
from stages.llm_tasks import tool_plan as inject_tools
from stages.llm_tasks.moderation import conversation_texts, offline_moderator
from stages.llm_tasks.task_io import TaskError, request_payload
from stages.llm_tasks.tool_failures import find_failures


def call(call_id: str, name: str, arguments: dict) -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=json.dumps(arguments)))


def convo(*messages: Message, rating: int | None = None) -> Conversation:
    return Conversation(
        id=messages_id(list(messages)),
        source="session",
        messages=list(messages),
        labels=Labels(rating=rating),
    )


USER = Message(role="user", content="sell 100 lobsters")
SELF_CORRECTED = convo(
    USER,
    Message(role="assistant", tool_calls=[call("c1", "ge_sell", {"item": "lobster", "qty": 100})]),
    Message(role="tool", tool_call_id="c1", content='{"status":"error","message":"Not enough"}'),
    Message(role="assistant", tool_calls=[call("c2", "ge_sell", {"item": "lobster", "qty": 27})]),
    Message(role="tool", tool_call_id="c2", content='{"status":"success"}'),
    Message(role="assistant", content="Sold the 27 you had; you did not have 100."),
)
FALSE_SUCCESS = convo(
    USER,
    Message(role="assistant", tool_calls=[call("c1", "ge_sell", {"item": "lobster"})]),
    Message(role="tool", tool_call_id="c1", content='{"error": "Not enough items"}'),
    Message(role="assistant", content="Sold them all!"),
)
CATALOG = [
    Tool(
        function=FunctionDef(
            name="bank_deposit",
            description="Deposit items into the open bank.",
            parameters={
                "type": "object",
                "properties": {"item": {"type": "string"}, "quantity": {"type": "integer"}},
                "required": ["item", "quantity"],
            },
        )
    ),
    Tool(
        function=FunctionDef(
            name="walk_to",
            description="Walk to a named place.",
            parameters={
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        )
    ),
]


# tool failures


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"status": "error", "message": "Bank is not open"}', "Bank is not open"),
        ('{"error": "target out of range"}', "target out of range"),
        ('{"status": "FAILED"}', "FAILED"),
        ("Error: file not found\nmore", "Error: file not found"),
        ("Traceback (most recent call last):", "Traceback (most recent call last):"),
        ('{"status": "success", "error": null}', None),
        ("The user doesn't want to proceed with this tool use.", None),
        ("errors.log written", None),
        ("", None),
    ],
)
def test_failure_message(content, expected):
    assert failure_message(content) == expected


def test_a_failure_and_the_call_that_corrected_it():
    [failure] = find_failures(SELF_CORRECTED)
    assert failure.request == "sell 100 lobsters"
    assert failure.call.id == "c1" and failure.error == "Not enough"
    assert failure.fix is not None and failure.fix.id == "c2"
    [unrecovered] = find_failures(FALSE_SUCCESS)
    assert unrecovered.fix is None and unrecovered.error == "Not enough items"


def test_a_retry_with_the_same_arguments_is_no_correction():
    same = call("c2", "ge_sell", {"item": "lobster"})
    conversation = convo(
        *FALSE_SUCCESS.messages[:3],
        Message(role="assistant", tool_calls=[same]),
        Message(role="tool", tool_call_id="c2", content="ok"),
    )
    assert find_failures(conversation)[0].fix is None


# label

GOOD_LABELS = {
    "example_type": "negative",
    "quality_score": 0.2,
    "tags": ["tool_error", "tool_use", "tool_error"],
    "reasoning": "claims success after an error",
    "problem": "ge_sell failed",
    "root_cause": None,
}


def test_label_request_carries_the_conversation_and_the_schema():
    request = label.build_request(FALSE_SUCCESS)
    assert request.messages[0]["content"].startswith("You label conversations")
    sent = request_payload(request)["conversation"]
    assert sent["messages"][-1] == {"role": "assistant", "content": "Sold them all!"}
    assert request.response_schema.schema["properties"]["tags"]["items"]["enum"] == sorted(
        label.TAGS
    )


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(GOOD_LABELS),
        "Here are the labels:\n```json\n" + json.dumps(GOOD_LABELS, indent=2) + "\n```\nDone.",
        "Sure! " + json.dumps(GOOD_LABELS) + " Hope this helps.",
    ],
)
def test_label_reply_clean_and_noisy(content):
    reply = label.parse_reply(content)
    assert reply == label.LabelReply(
        example_type="negative",
        quality_score=0.2,
        tags=["tool_error", "tool_use"],
        reasoning="claims success after an error",
        problem="ge_sell failed",
        root_cause=None,
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "empty_reply"),
        ("   ", "empty_reply"),
        ('{"example_type": "negative", "quality', "invalid_json"),
        ("I cannot label this.", "invalid_json"),
        (json.dumps({**GOOD_LABELS, "quality_score": 1.5}), "schema_violation"),
        (json.dumps({**GOOD_LABELS, "tags": ["made_up"]}), "schema_violation"),
        (json.dumps({**GOOD_LABELS, "example_type": "chitchat"}), "schema_violation"),
        (json.dumps({k: v for k, v in GOOD_LABELS.items() if k != "problem"}), "schema_violation"),
        ("[1, 2]", "schema_violation"),
    ],
)
def test_label_reply_empty_and_malformed(content, reason):
    error = label.parse_reply(content)
    assert isinstance(error, TaskError) and error.reason == reason


def test_offline_labels_spot_a_false_success():
    labels = label.offline(label.build_request(FALSE_SUCCESS))
    assert labels["example_type"] == "negative"
    assert labels["tags"] == ["tool_error", "tool_use", "unsupported_claim"]
    assert labels["problem"] == "Not enough items"
    # 0.6 + 0.2 (ends with a reply) - 0.4 (false claim); no bonus for a failed tool
    assert labels["quality_score"] == 0.4
    assert not isinstance(label.parse_reply(json.dumps(labels)), TaskError)


def test_offline_labels_of_a_self_correction_and_a_rated_one():
    labels = label.offline(label.build_request(SELF_CORRECTED))
    assert labels["example_type"] == "direct_execution"
    assert labels["tags"] == ["multi_tool", "self_correction", "tool_error", "tool_use"]
    rated = convo(USER, Message(role="assistant", content="Which lobsters?"), rating=4)
    labels = label.offline(label.build_request(rated))
    assert labels["quality_score"] == 0.75  # (4 - 1) / 4
    assert labels["tags"] == ["clarification", "no_tool"]


# explain_failure


def test_explained_self_correction_becomes_a_code_correction():
    [failure] = find_failures(SELF_CORRECTED)
    reply = explain_failure.offline(explain_failure.build_request(failure))
    why = explain_failure.parse_reply(json.dumps(reply))
    example = explain_failure.derived_example(SELF_CORRECTED, failure, why)
    assert example.labels.example_type == "code_correction"
    assert example.labels.tags == ["derived", "self_correction"]
    question, answer = example.messages
    assert "sell 100 lobsters" in question.content and "Error: Not enough" in question.content
    assert '"qty": 100' in question.content and '"qty": 27' in answer.content
    assert "The call that worked changed qty from 100 to 27." in answer.content
    assert "refused" not in answer.content
    assert example.id == messages_id(example.messages) and example.source == "session"


def test_offline_explanation_claims_only_what_the_log_shows():
    [failure] = find_failures(FALSE_SUCCESS)
    reply = explain_failure.offline(explain_failure.build_request(failure))
    assert reply["root_cause"] == (
        '`ge_sell` returned an error for {"item": "lobster"}: Not enough items. '
        "No later call in the conversation succeeded."
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ('{"a": 1, "b": 2}', '{"a": 1, "b": 3, "c": "x"}', 'b from 2 to 3, added c = "x"'),
        ('{"a": 1, "b": 2}', '{"a": 1}', "dropped b"),
        ('{"a": 1}', '{"a": 1}', "nothing in the arguments (the same call succeeded on retry)"),
        ("not json", '{"a": 1}', 'the arguments to {"a": 1}'),
    ],
)
def test_changed_arguments_names_each_difference(before, after, expected):
    assert explain_failure.changed_arguments(before, after) == expected


def test_explained_unrecovered_failure_becomes_a_reasoning_chain():
    [failure] = find_failures(FALSE_SUCCESS)
    why = explain_failure.Explanation(problem="p", root_cause="no lobsters", fix="check first")
    example = explain_failure.derived_example(FALSE_SUCCESS, failure, why)
    assert example.labels.example_type == "reasoning_chain"
    assert example.messages[1].content == "Root cause: no lobsters\n\nFix: check first"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"problem": "a", "root_cause": "b", "fix": "c"}', "ok"),
        ('```json\n{"problem": "a", "root_cause": "b", "fix": "c"}\n```', "ok"),
        ('{"problem": " ", "root_cause": "b", "fix": "c"}', "blank_field"),
        ('{"problem": "a", "fix": "c"}', "schema_violation"),
        ("", "empty_reply"),
        ('{"problem": "a", "root_cause": ', "invalid_json"),
    ],
)
def test_explanation_replies(content, expected):
    reply = explain_failure.parse_reply(content)
    if expected == "ok":
        assert reply == explain_failure.Explanation(problem="a", root_cause="b", fix="c")
    else:
        assert isinstance(reply, TaskError) and reply.reason == expected


# segment

TURNS = [
    segment.Turn(speaker="ann", text="how do I bank?"),
    segment.Turn(speaker="bob", text="anyone up for raids"),
    segment.Turn(speaker="bot", text="Walk to a bank booth and click it.", assistant=True),
]


def test_segment_schema_allows_only_assistant_targets():
    request = segment.build_request(TURNS)
    props = request.response_schema.schema["properties"]
    assert props["target"]["enum"] == [2, None]
    assert request_payload(request)["turns"][2] == {
        "index": 2,
        "speaker": "bot",
        "assistant": True,
        "text": "Walk to a bank booth and click it.",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '{"coherent": true, "target": 2, "off_topic": [1, 1], "reason": "r"}',
            segment.SegmentVerdict(coherent=True, target=2, off_topic=[1], reason="r"),
        ),
        (
            'Verdict:\n```\n{"coherent": false, "target": null, "off_topic": [], "reason": "x"}'
            "\n```",
            segment.SegmentVerdict(coherent=False, target=None, off_topic=[], reason="x"),
        ),
        ('{"coherent": true, "target": 0, "off_topic": [], "reason": "r"}', "schema_violation"),
        ('{"coherent": true, "target": 2, "off_topic": [7], "reason": "r"}', "schema_violation"),
        (
            '{"coherent": true, "target": null, "off_topic": [], "reason": "r"}',
            "coherent_without_target",
        ),
        ('{"coherent": true, "target": 2, "off_topic": [2], "reason": "r"}', "target_off_topic"),
        ("", "empty_reply"),
        ("coherent: yes", "invalid_json"),
    ],
)
def test_segment_replies(content, expected):
    verdict = segment.parse_reply(content, TURNS)
    if isinstance(expected, str):
        assert isinstance(verdict, TaskError) and verdict.reason == expected
    else:
        assert verdict == expected


def test_segment_without_turns_is_an_error():
    assert segment.parse_reply('{"coherent": false}', []) == TaskError(
        "no_turns", "a segment without turns has nothing to judge"
    )


def test_offline_segment_verdict():
    verdict = segment.offline(segment.build_request(TURNS))
    assert (verdict["coherent"], verdict["target"]) == (True, 2)
    only_bot = [segment.Turn(speaker="bot", text="hi", assistant=True)]
    verdict = segment.offline(segment.build_request(only_bot))
    assert (verdict["coherent"], verdict["target"]) == (False, None)
    assert not isinstance(segment.parse_reply(json.dumps(verdict), only_bot), TaskError)


# inject_tools

CONTEXT = [Message(role="user", content="deposit 20 shrimps at the bank")]
REPLY = "Deposited 20 raw shrimps."


def injection(**fields) -> str:
    value = {
        "needed": True,
        "tool": "bank_deposit",
        "arguments": '{"item": "shrimps", "quantity": 20}',
        "result": '{"status": "success"}',
        "reason": "r",
        **fields,
    }
    return json.dumps(value)


def test_injection_clean_reply_gives_the_messages_to_insert():
    got = inject_tools.parse_reply(injection(), CATALOG)
    assert got == inject_tools.Injection(
        tool="bank_deposit",
        arguments='{"item":"shrimps","quantity":20}',
        result='{"status": "success"}',
        reason="r",
    )
    call_message, result_message = got.messages("call_x")
    assert call_message.tool_calls[0].function.name == "bank_deposit"
    assert (result_message.role, result_message.tool_call_id) == ("tool", "call_x")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (injection(tool="teleport"), "schema_violation"),
        (injection(tool=None), "missing_tool"),
        (injection(arguments="item=shrimps"), "invalid_arguments"),
        (injection(arguments="[1]"), "invalid_arguments"),
        (
            injection(arguments='{"item": "shrimps", "quantity": "lots"}'),
            "arguments_schema_violation",
        ),
        (injection(arguments='{"quantity": 2}'), "arguments_schema_violation"),
        (injection(result="  "), "missing_result"),
        (None, "empty_reply"),
        ('{"needed": tru', "invalid_json"),
    ],
)
def test_injection_malformed_replies(content, reason):
    error = inject_tools.parse_reply(content, CATALOG)
    assert isinstance(error, TaskError) and error.reason == reason


def test_injection_not_needed_and_noisy():
    none = '{"needed": false, "tool": null, "arguments": null, "result": null, "reason": "chat"}'
    assert inject_tools.parse_reply(none, CATALOG) is None
    noisy = "I think a call is needed:\n```json\n" + injection() + "\n```"
    assert isinstance(inject_tools.parse_reply(noisy, CATALOG), inject_tools.Injection)


def test_offline_injection_picks_the_tool_and_fills_valid_arguments():
    reply = inject_tools.offline(inject_tools.build_request(CONTEXT, REPLY, CATALOG))
    assert (reply["needed"], reply["tool"]) == (True, "bank_deposit")
    assert json.loads(reply["arguments"]) == {"item": "shrimps", "quantity": 20}
    got = inject_tools.parse_reply(json.dumps(reply), CATALOG)
    assert isinstance(got, inject_tools.Injection)
    assert json.loads(got.result) == {"status": "success", "message": REPLY}
    walk = [Message(role="user", content="walk to the Draynor bank")]
    reply = inject_tools.offline(inject_tools.build_request(walk, "We're there.", CATALOG))
    assert (reply["tool"], json.loads(reply["arguments"])) == (
        "walk_to",
        {"location": "Draynor bank"},
    )
    chat = [Message(role="user", content="hello there")]
    reply = inject_tools.offline(inject_tools.build_request(chat, "Hi!", CATALOG))
    assert reply["needed"] is False and inject_tools.parse_reply(json.dumps(reply), CATALOG) is None


def test_injected_call_ids_are_stable():
    assert inject_tools.call_id("abc", 3) == inject_tools.call_id("abc", 3)
    assert inject_tools.call_id("abc", 3) != inject_tools.call_id("abc", 4)


# moderation


def test_offline_moderator_flags_phrases_not_game_talk():
    assert not offline_moderator("attack the goblin, then kill the cow").flagged
    result = offline_moderator("I'll KILL you. Also I want to die.")
    assert result.categories == ["harassment/threatening", "self-harm/intent"]
    assert result.scores == {"harassment/threatening": 1.0, "self-harm/intent": 1.0}


def test_conversation_texts_are_cut_not_truncated():
    conversation = convo(Message(role="user", content="x" * 250), *FALSE_SUCCESS.messages[1:2])
    pieces = conversation_texts(conversation, 100)
    joined = "".join(pieces)
    assert all(len(p) <= 100 for p in pieces) and len(pieces) == 3
    assert joined.startswith("user: " + "x" * 94) and 'call ge_sell: {"item": "lobster"}' in joined
    assert msgspec.json.decode(msgspec.json.encode(pieces)) == pieces


# task checks run inside the layer: a reply that fails one is retried and never cached


def test_a_reply_failing_the_task_check_is_retried_not_cached(settings, openai_emulator, tmp_path):
    replies = iter(
        [
            {"coherent": True, "target": None, "off_topic": [], "reason": "forgot the target"},
            {"coherent": True, "target": 2, "off_topic": [1], "reason": "bob is cross-talk"},
        ]
    )
    openai_emulator.chat_responder = lambda body: {"content": json.dumps(next(replies))}
    [result], stats = complete_all(
        settings, [segment.build_request(TURNS)], cache_dir=tmp_path, heuristic=None
    )
    assert stats.retry_reasons == {"coherent_without_target": 1}
    assert segment.parse_reply(result.reply.content, TURNS) == segment.SegmentVerdict(
        coherent=True, target=2, off_topic=[1], reason="bob is cross-talk"
    )
    [entry] = ResponseCache(tmp_path).keys()
    assert json.loads(ResponseCache(tmp_path).get(entry)["content"])["target"] == 2


def test_injected_arguments_that_break_the_tool_fail_the_request(
    settings, openai_emulator, tmp_path
):
    openai_emulator.chat_responder = lambda body: {"content": injection(arguments='{"item": 3}')}
    request = inject_tools.build_request(CONTEXT, REPLY, CATALOG)
    [result], stats = complete_all(
        msgspec.structs.replace(settings, max_attempts=2),
        [request],
        cache_dir=tmp_path,
        heuristic=None,
    )
    assert (result.ok, result.error) == (False, "arguments_schema_violation")
    assert stats.requests == 2 and len(ResponseCache(tmp_path)) == 0
