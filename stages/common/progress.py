"""Progress of long work on stderr: a bar on a terminal, a heartbeat line in a log.

On a terminal, a tqdm bar shows the count, the rate and, when the total is known, the ETA.
Anywhere else (a DVC log, CI, a pipe) a bar's carriage returns are noise, so one log line
every HEARTBEAT_SECONDS says how far the work got: enough to see that the stage is alive.
Only stderr is written, so stage outputs and stdout stay the same bytes.

    with Progress("parse", total=size, unit="B") as bar:
        for span in spans:
            ...
            bar.update(span.size)

Call `update` per batch (a span, a file, a record of some kilobytes), not per line of a hot
loop: a call costs a clock read. tqdm is imported only when a bar or a heartbeat is shown:
its import costs about 40 ms, which every short stage run would pay for nothing.
"""

import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger("logtune")

HEARTBEAT_SECONDS = 20.0


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _tqdm() -> "type[tqdm]":
    from tqdm import tqdm

    return tqdm


class Progress:
    """One piece of work's progress: `update(n)` as it goes, `close()` (or `with`) at the end.

    `unit="B"` counts bytes (shown as kB, MB); any other unit counts items. `enabled=False`
    shows nothing. `tty` and `interval` default to the terminal test and HEARTBEAT_SECONDS, read
    at creation so a test can set them; `clock` gives the heartbeat's time.
    """

    def __init__(
        self,
        desc: str,
        *,
        total: float | None = None,
        unit: str = "records",
        enabled: bool = True,
        leave: bool = True,
        tty: bool | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
    ) -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.n = 0.0
        self.enabled = enabled
        self.interval = HEARTBEAT_SECONDS if interval is None else interval
        self._clock = clock
        self._start = self._last = clock()
        self._bar: tqdm | None = None
        if enabled and (stderr_is_terminal() if tty is None else tty):
            in_bytes = unit == "B"
            self._bar = _tqdm()(
                total=total,
                desc=desc,
                unit=unit if in_bytes else f" {unit}",
                unit_scale=in_bytes,
                unit_divisor=1024 if in_bytes else 1000,
                file=stream or sys.stderr,
                mininterval=0.5,
                leave=leave,
                dynamic_ncols=True,
            )

    def update(self, n: float = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled:
            now = self._clock()
            if now - self._last >= self.interval:
                self._last = now
                log.info("%s", self.heartbeat(now - self._start))

    def heartbeat(self, elapsed: float) -> str:
        """`parse: 120.0MB of 512.0MB (23%), 35.1MB/s, 0:11 left` or `moderate: 1.2k records,
        40.5 records/s` when the total is unknown."""
        rate = self.n / elapsed if elapsed > 0 else 0.0
        text = f"{self.desc}: {self._amount(self.n)}"
        if self.total:
            text += f" of {self._amount(self.total)} ({100 * self.n / self.total:.0f}%)"
        text += f", {self._amount(rate)}/s"
        if self.total and rate > 0:
            text += f", {_tqdm().format_interval(max(0.0, self.total - self.n) / rate)} left"
        return text

    def _amount(self, value: float) -> str:
        if self.unit == "B":
            return f"{_tqdm().format_sizeof(value, divisor=1024)}B"
        return f"{_tqdm().format_sizeof(value)} {self.unit}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
