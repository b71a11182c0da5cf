"""The `discord_api` pytest fixture: a running Discord emulator, stopped after the test.

Use it with `pytest_plugins = ["tests.emulators.discord_fixture"]` in a test module
or the root conftest.
"""

from collections.abc import Iterator

import pytest

from tests.emulators.discord_rest_api import DiscordEmulator


@pytest.fixture
def discord_api() -> Iterator[DiscordEmulator]:
    emulator = DiscordEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
