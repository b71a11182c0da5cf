"""Ordered parallel map with bounded memory, for CPU-bound parsing across cores."""

import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Worker initializer: the kernel kills this worker when its parent dies, however it dies.

    A pool's workers otherwise outlive a main process killed with SIGKILL, parsing on and
    writing into a folder nobody will commit. Linux only (prctl); elsewhere a worker
    finishes its item and exits when it finds the pipe to its parent closed.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def ordered_map(
    fn: Callable[[In], Out], items: Iterable[In], *, jobs: int, window: int = 0
) -> Iterator[Out]:
    """`map(fn, items)` on `jobs` processes, results in input order.

    At most `window` items are in flight (default: twice the workers), unlike
    `Pool.imap`, whose feeder thread would read the whole input into memory.
    With one job everything runs in this process: no pickling, easy to debug.
    The workers are forked, whatever the platform's default: the stages load their
    tables before the pool starts so that the workers share them, and `ChunkFiles`
    reaches its workers by inheritance.
    """
    if jobs <= 1:
        yield from map(fn, items)
        return
    # Imported here: multiprocessing takes a fifth of a second to import, which a
    # run with nothing new to parse (one job) would pay for nothing.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    window = window or 2 * jobs
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        pending: deque[Future[Out]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
