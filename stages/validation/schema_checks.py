"""Every line of an export file against its generated JSON Schema and its consumer's
check, errors named in full.

A consumer that says "invalid schema" and nothing else is no help: each error here
names the file, the line, the record id (validate puts the export metadata's in place of
the line's own) and the field as a path (`messages[2].content`, the missing key for a
missing key), with jsonschema's own message. A line the schema accepts then goes through
its consumer's check (`consumers.CONSUMER_CHECKS`), which can rely on the shape the schema
promised.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from schemas.format_lines import FormatError
from stages.common.json_value import NotJson
from stages.common.schema_validator import SchemaValidator
from stages.validation.finding import Finding

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
MESSAGE_CHARS = 300


@cache
def validator(schema_name: str) -> SchemaValidator:
    """A validator for `schemas/<schema_name>.schema.json`, built once."""
    return SchemaValidator(json.loads((SCHEMA_DIR / f"{schema_name}.schema.json").read_text()))


def field_path(parts: Iterable[str | int]) -> str:
    """jsonschema's path as people write it: `messages[2].tool_calls[0].id`, `$` for the line."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "$"


def problem_field(problem: jsonschema.ValidationError) -> str:
    """The field at fault; for a missing key, the key itself rather than its parent."""
    parts: list[str | int] = list(problem.absolute_path)
    if problem.validator == "required" and isinstance(problem.instance, dict):
        missing = [
            key
            for key in problem.validator_value
            if key not in problem.instance and problem.message == f"{key!r} is a required property"
        ]
        parts += missing[:1]
    return field_path(parts)


def own_id(value: Any) -> str:
    """A line's own `id`, where its format writes one; the caller knows the metadata's."""
    own = value.get("id") if isinstance(value, dict) else None
    return own if isinstance(own, str) else ""


def format_error(
    file: str, line: int, record_id: str, field: str, reason: str, message: str
) -> FormatError:
    return FormatError(
        file=file,
        line=line,
        record_id=record_id,
        field=field,
        reason=reason,
        message=message[:MESSAGE_CHARS],
    )


def check_values(
    values: Iterable[tuple[int, Any]],
    *,
    file: str,
    schema_name: str,
    consumer: Callable[[Any], Iterator[Finding]] | None = None,
) -> Iterator[FormatError]:
    """The errors of every (line number, value) (`decode_lines`), each naming the line's own
    record id where it has one (the caller puts the metadata's in its place)."""
    check = validator(schema_name)
    for number, value in values:
        if isinstance(value, NotJson):
            yield format_error(file, number, "", "$", "invalid_json", value.message)
            continue
        problems = sorted(check.iter_errors(value), key=lambda e: list(map(str, e.path)))
        for problem in problems:
            yield format_error(
                file,
                number,
                own_id(value),
                problem_field(problem),
                f"schema_{problem.validator}",
                problem.message,
            )
        if consumer is not None and not problems:
            for found in consumer(value):
                yield format_error(
                    file, number, own_id(value), found.field, found.reason, found.message
                )
