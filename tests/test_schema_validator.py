"""The fast first look of schema validation gives jsonschema's verdict and errors."""

import jsonschema

from stages.common.schema_validator import SchemaValidator, schema_validator

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 0},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def messages(value: object) -> list[str]:
    return sorted(e.message for e in SchemaValidator(SCHEMA).iter_errors(value))


def test_valid_and_invalid_values_match_jsonschema() -> None:
    full = jsonschema.Draft202012Validator(SCHEMA)
    values = [
        {"name": "ok", "count": 3},
        {"name": "ok", "count": -1},
        {"count": 2},
        {"name": "ok", "extra": 1},
        {"name": 5},
        [],
        {"name": "ok", "count": 10**30},
    ]
    for value in values:
        assert messages(value) == sorted(e.message for e in full.iter_errors(value)), value


def test_python_semantics_win_where_the_fast_check_is_stricter() -> None:
    # Python's `$` matches before a final newline; jsonschema-rs does not: jsonschema decides.
    assert messages({"name": "ok\n"}) == []


def test_a_value_with_no_json_counterpart_goes_to_jsonschema() -> None:
    [message] = messages({"name": "ok", "count": object()})
    assert message.endswith("is not of type 'integer'")


def test_one_validator_per_distinct_schema() -> None:
    assert schema_validator(dict(SCHEMA)) is schema_validator(dict(SCHEMA))
