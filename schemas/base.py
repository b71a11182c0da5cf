"""The base Structs every record derives from."""

import msgspec


class Record(
    msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, gc=False
):
    """A record we write ourselves.

    Unknown fields are refused because every producer is our own code: a stray
    field means a bug or a version skew, not data to carry along. Defaults are
    omitted so optional fields cost nothing on disk, and keyword-only fields keep
    construction readable as records grow.
    """


class RawRecord(msgspec.Struct, kw_only=True, gc=False):
    """A record as some other tool writes it.

    Unknown fields are ignored: the tools that write our inputs add fields
    between versions, and a new field must never reject a whole line.
    """
