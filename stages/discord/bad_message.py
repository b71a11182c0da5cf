"""The error a single unreadable Discord message raises, whatever its source."""


class BadMessage(ValueError):
    """A message we cannot keep; `reason` is the stats key it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
