"""What a consumer check says about one line: the field at fault, a reason key, a sentence.

The checks know nothing of files or record ids; `schema_checks.check_values` places each
finding on its file and line, and validate names the record the export's metadata places there.
"""

from typing import NamedTuple


class Finding(NamedTuple):
    field: str
    reason: str
    message: str
