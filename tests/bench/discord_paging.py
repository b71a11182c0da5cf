"""Collector throughput: 20,000 messages through real discord.py against the local emulator."""

import asyncio
import time
from datetime import UTC, datetime

from stages.discord.rest import collect_channels
from tests.emulators.discord_rest_api import DiscordEmulator, MessageFactory, make_user

COUNT = 20_000
CHANNEL = "900000000000000010"


def main() -> None:
    api = DiscordEmulator()
    api.start()
    try:
        api.add_guild("900000000000000001", "bench")
        api.add_channel(CHANNEL, "900000000000000001", "general")
        factory = MessageFactory(CHANNEL, datetime(2023, 1, 1, tzinfo=UTC))
        author = make_user("800000000000000001", "alice")
        api.add_messages(CHANNEL, [factory.message(author, f"m{i}") for i in range(COUNT)])
        started = time.perf_counter()
        histories = asyncio.run(collect_channels([CHANNEL], token=api.token, base_url=api.base_url))
        elapsed = time.perf_counter() - started
    finally:
        api.stop()
    assert len(histories[CHANNEL].payloads) == COUNT
    print(f"{COUNT / elapsed:.0f} messages/s ({COUNT} messages, {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
