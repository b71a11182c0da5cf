"""Build the official AsyncOpenAI client from settings; the key is read from the environment.

HTTP goes through the client's supported aiohttp backend (`openai.DefaultAioHttpClient`, the
`openai[aiohttp]` extra) rather than its default httpx stack: on the 2-core CI machine the
httpx stack costs about 1.9 ms of CPU per call, and at concurrency 16 and 50 ms latency the
whole budget of the ideal run is 3.1 ms per request, so CPU, not the server, set the pace.
Chat calls also skip the typed ChatCompletion (`runner.OpenAIProvider._post_chat`).
`tests/bench/llm_throughput.py` measures the result.

The client's own timeout is `ABANDON_AFTER` times `llm.timeout`: the runner stops waiting for
a reply after `llm.timeout` and tries again, but the call it gave up on keeps its concurrency
slot while the server still works on it (`runner.OpenAIProvider.send`); only this longer
timeout closes its connection, so a server that never answers cannot hold a slot forever.
"""

import os

import openai

from stages.common.llm.retry import LLMConfigError
from stages.common.llm.settings import LLMSettings

ABANDON_AFTER = 10


def make_client(settings: LLMSettings) -> openai.AsyncOpenAI:
    """The client, with its own retries off: the runner retries (with the cache and counters in
    view), and two layers of retries would multiply attempts and hide them from the stats."""
    key = os.environ.get(settings.api_key_env)
    if not key:
        raise LLMConfigError(
            f"llm.provider is 'openai' but the environment variable {settings.api_key_env} "
            f"(llm.api_key_env) is not set: `export {settings.api_key_env}=<your key>`, "
            "or run with llm.provider=offline"
        )
    return openai.AsyncOpenAI(
        api_key=key,
        base_url=settings.base_url,
        timeout=settings.timeout * ABANDON_AFTER,
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(timeout=settings.timeout * ABANDON_AFTER),
    )
