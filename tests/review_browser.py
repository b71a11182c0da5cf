"""Debian's chromium under Playwright, and the review server as a user starts it: shared by
the browser tests and the script that takes the docs' screenshots."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser builds are not reachable: the system's chromium, kept offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: install it with `sudo apt-get install -y chromium`"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@contextmanager
def review_server(cwd: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`python -m stages.review --port 0` in `cwd`; yields the URL it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stages.review", "--port", "0"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert " at http://127.0.0.1:" in line, f"the server printed {line!r}"
        yield line.split(" at ")[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
