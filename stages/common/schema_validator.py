"""JSON Schema validation with a fast first look.

jsonschema walks a value in Python, tens of microseconds per field: validating every
exported line and every LLM reply with it cost most of validate's and enrich's time.
jsonschema-rs (Rust) says whether a value is valid a hundred times faster; only a value
it rejects goes through jsonschema, whose errors (path, validator, message) are what
the stages report. Where the two could disagree (a `pattern` with `$`, which Python's
`re` also matches before a final newline), jsonschema-rs is the stricter, so a value
it passes jsonschema passes too, and jsonschema's verdict is the one that counts.
"""

from collections.abc import Iterator
from typing import Any

import jsonschema
import jsonschema.validators
import jsonschema_rs

from stages.common.hashing import content_hash

_built: dict[str, "SchemaValidator"] = {}
# Schemas built per request (a tool plan's, from its catalog) come and go: only the last few
# are held by identity.
RECENT_SCHEMAS = 64
_by_identity: dict[int, tuple[dict[str, Any], "SchemaValidator"]] = {}


class SchemaValidator:
    """`iter_errors` as jsonschema's, fast for a valid value."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        self.full = cls(schema)
        self._fast = jsonschema_rs.validator_for(schema, validate_formats=False)

    def iter_errors(self, value: Any) -> Iterator[jsonschema.ValidationError]:
        try:
            if self._fast.is_valid(value):
                return iter(())
        except ValueError:  # a Python value with no JSON counterpart: let jsonschema say
            pass
        return self.full.iter_errors(value)


def schema_validator(schema: dict[str, Any]) -> SchemaValidator:
    """The validator of a schema, built once per distinct schema (building costs more than
    validating). The schemas asked for last are found by identity first: a task asks with
    the same dict for every reply, and hashing its JSON each time was a fourteenth of
    enrich's work. A schema is never changed once made."""
    seen = _by_identity.pop(id(schema), None)  # a dict held here: its id is its own
    if seen is None:
        digest = content_hash(schema)
        if digest not in _built:
            _built[digest] = SchemaValidator(schema)
        seen = (schema, _built[digest])
    _by_identity[id(schema)] = seen  # the latest last: the least recent goes first
    while len(_by_identity) > RECENT_SCHEMAS:
        del _by_identity[next(iter(_by_identity))]
    return seen[1]
