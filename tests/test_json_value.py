"""json_value decodes what json.loads decodes, to the same values, and fails as it fails."""

import json
import math

import pytest

from stages.common.json_value import json_or_none, json_value

TEXTS = [
    b'{"a": 1, "a": 2, "b": [1.0, -0.0, 1e-7, true, null]}',
    b"123456789012345678901234567890",
    b'"caf\\u00e9 \\ud83d\\ude00"',
    '{"k": "é"}',
    b"  [1, 2]\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_values_are_those_of_json_loads(text) -> None:
    value = json_value(text)
    assert value == json.loads(text)
    assert json.dumps(value) == json.dumps(json.loads(text))


@pytest.mark.parametrize("text", [b"NaN", b"1e400", b'"\\ud800"', '["\ud83d"]'])
def test_what_msgspec_refuses_json_loads_decides(text) -> None:
    value, expected = json_value(text), json.loads(text)
    assert repr(value) == repr(expected) or (math.isnan(value) and math.isnan(expected))


@pytest.mark.parametrize("text", [b"{", b"not json", b"[1,]", b""])
def test_errors_are_json_loads_errors(text) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        json_value(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("text", ['{"a": [1]}', "[]", "null", "{", "not json", ""])
def test_json_or_none_is_the_value_or_none_for_text_that_is_no_json(text: str) -> None:
    try:
        expected = json.loads(text)
    except json.JSONDecodeError:
        expected = None
    assert json_or_none(text) == expected
