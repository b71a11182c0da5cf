"""The one error type library code raises for a problem the user fixes.

Library modules know nothing of click: they raise `UserError` with a one-line message that
names the file, line or key at fault and says what to do. The stage command
(stages/common/cli.py) prints it as `Error: <message>` and exits 1; anything else is a bug
and keeps its traceback.
"""


class UserError(Exception):
    """A bad input, params value or missing file: the message is for the user, not a bug."""
