"""The fast first look of schema validation gives jsonschema's verdict and errors."""

import jsonschema

from stages.common import schema_validator as schema_validator_module
from stages.common.schema_validator import (
    RECENT_SCHEMAS,
    SchemaValidator,
    _by_identity,
    schema_validator,
)

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
    other = {**SCHEMA, "required": ["count"]}
    assert schema_validator(other) is not schema_validator(SCHEMA)


def test_a_schema_asked_for_again_is_not_hashed_again(monkeypatch) -> None:
    schema = {**SCHEMA, "title": "asked twice"}
    first = schema_validator(schema)
    monkeypatch.setattr(schema_validator_module, "content_hash", hashed_again)
    assert schema_validator(schema) is first


def hashed_again(_: object) -> str:
    raise AssertionError("hashed again")


def test_schemas_made_per_request_are_not_all_held() -> None:
    """Each request's own schema dict: the validator is shared by content, and only the
    last RECENT_SCHEMAS dicts stay alive for their identity."""
    made = [dict(SCHEMA) for _ in range(3 * RECENT_SCHEMAS)]
    validators = {id(schema_validator(schema)) for schema in made}
    assert len(validators) == 1
    held = sum(any(schema is kept for kept, _ in _by_identity.values()) for schema in made)
    assert held == RECENT_SCHEMAS
