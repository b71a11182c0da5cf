"""Workers die with their parent: a main process killed outright leaves no worker running."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

MAIN = """
import time
from stages.common.parallel import ordered_map
print("started", flush=True)
for _ in ordered_map(time.sleep, [60] * 4, jobs=2):
    pass
"""


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_main_process_leaves_no_worker() -> None:
    main = subprocess.Popen([sys.executable, "-c", MAIN], cwd=REPO, stdout=subprocess.PIPE)
    assert main.stdout is not None and main.stdout.readline() == b"started\n"
    deadline = time.monotonic() + 20
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        workers = {pid for pid in children(main.pid) if alive(pid)}
    assert len(workers) == 2
    os.kill(main.pid, signal.SIGKILL)
    main.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
