"""A local OpenAI-compatible HTTP server for tests: the real `openai` client talks to it.

It serves the endpoints the LLM layer uses (chat completions, moderations, files, batches) with
responses shaped as the real API's, so the client's own parsing runs. Replies come from
scriptable responders (one callable per endpoint, deterministic defaults); faults are injected
by rules (`Fault`) that fire on matching requests a given number of times. It counts requests
in total, per endpoint and per last user message, and tracks how many are in flight at once.
With `finishes_abandoned`, it works on a chat request to the end after the client hangs up, as
a hosted model does (OpenAI keeps generating, and counts it against the client's limits).

Run it in a test with the `openai_emulator` fixture, or standalone (for benchmarks) with
`python -m tests.emulators.openai_api --port 0 --latency 0.05`, which prints its base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from aiohttp import web

FaultKind = Literal["http", "hang", "invalid_json", "schema_violation", "not_json"]
ChatResponder = Callable[[dict[str, Any]], dict[str, Any]]
ModerationResponder = Callable[[str], dict[str, Any]]

MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass
class Fault:
    """A fault that fires on the next `times` requests matching `match` (a substring of the
    last user message; None matches every chat request)."""

    kind: FaultKind
    times: int = 1
    match: str | None = None
    status: int = 500
    retry_after: float | None = None
    hang_seconds: float = 30.0


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    created_at: int
    metadata: dict[str, str] | None
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content, sort_keys=True)
    return ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def instance_for_schema(schema: dict[str, Any], seed: str) -> Any:
    """A deterministic value that satisfies the simple JSON Schemas structured outputs use."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: instance_for_schema(sub, f"{seed}.{name}") for name, sub in props.items()}
    if kind == "array":
        return [instance_for_schema(schema.get("items", {}), f"{seed}.0")]
    if kind == "string":
        return f"s-{_digest(seed)[:8]}"
    if kind == "integer":
        return int(_digest(seed)[:4], 16) % max(1, schema.get("maximum", 100))
    if kind == "number":
        return min(1.0, schema.get("maximum", 1.0))
    if kind == "boolean":
        return False
    return None


def default_chat_responder(body: dict[str, Any]) -> dict[str, Any]:
    """Tool call to the first tool if tools are offered, a schema instance for structured
    output, else an echo of the last user message."""
    text = last_user_text(body)
    tools = body.get("tools") or []
    if tools and body.get("tool_choice") != "none":
        function = tools[0]["function"]
        arguments = instance_for_schema(function.get("parameters", {}), text)
        call = {
            "id": f"call_{_digest(text)[:12]}",
            "type": "function",
            "function": {"name": function["name"], "arguments": json.dumps(arguments)},
        }
        return {"content": None, "tool_calls": [call]}
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = response_format["json_schema"].get("schema", {})
        return {"content": json.dumps(instance_for_schema(schema, text))}
    return {"content": f"echo: {text}"}


def default_moderation_responder(text: str) -> dict[str, Any]:
    """Flags any input containing the word 'violent' under violence."""
    flagged = "violent" in text.lower()
    return {
        "flagged": flagged,
        "categories": {name: flagged and name == "violence" for name in MODERATION_CATEGORIES},
        "category_scores": {
            name: 0.9 if flagged and name == "violence" else 0.001 for name in MODERATION_CATEGORIES
        },
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    kind = "requests" if status == 429 else "server_error" if status >= 500 else "invalid_request"
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status, headers=headers)


class OpenAIEmulator:
    """The server's state: responders, fault rules, files, batches and request counters."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.chat_responder: ChatResponder = default_chat_responder
        self.moderation_responder: ModerationResponder = default_moderation_responder
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        self.by_message: Counter[str] = Counter()
        self.request_log: list[tuple[float, str, str]] = []  # (monotonic time, endpoint, text)
        self.bodies: list[bytes] = []  # every JSON request body as it arrived, for privacy scans
        self.in_flight = 0
        self.max_in_flight = 0
        self.finishes_abandoned = False
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self.batches: dict[str, _Batch] = {}
        self.base_url = ""
        self._lock = threading.Lock()
        self._ids = Counter[str]()

    @property
    def total(self) -> int:
        return self.counts.total()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take_fault(self, text: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.match is None or fault.match in text):
                    fault.times -= 1
                    return fault
        return None

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._ids[prefix] += 1
            return f"{prefix}-{self._ids[prefix]:06d}"

    def _count(self, endpoint: str, text: str = "") -> None:
        with self._lock:
            self.counts[endpoint] += 1
            self.request_log.append((time.monotonic(), endpoint, text))

    def times_for(self, text: str) -> list[float]:
        """Arrival times of the chat requests whose last user message is `text`."""
        return [t for t, endpoint, m in self.request_log if endpoint == "chat" and m == text]

    @web.middleware
    async def _keep_body(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.content_type == "application/json":  # uploads are kept in `files`
            body = await request.read()  # aiohttp keeps it: the handler reads it again
            with self._lock:
                self.bodies.append(body)
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024**2, middlewares=[self._keep_body])
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/moderations", self._moderations)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._create_batch)
        app.router.add_get("/v1/batches/{id}", self._get_batch)
        return app

    # chat completions

    def chat_completion(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        """The full ChatCompletion object for a request body (also used for batch lines)."""
        message = {"role": "assistant", "refusal": None, **self.chat_responder(body)}
        message.setdefault("content", None)
        if fault is not None and fault.kind == "invalid_json":
            message["content"] = '{"truncated": '
        elif fault is not None and fault.kind == "schema_violation":
            message["content"] = json.dumps({"unexpected": True})
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        completion_id = f"chatcmpl-{_digest(json.dumps(body, sort_keys=True))[:24]}"
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body.get("model", "emulated"),
            "system_fingerprint": "fp_emulator",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not self.finishes_abandoned:
            return await self._chat_reply(body)
        # a client that hangs up cancels this handler, not the work shielded from it
        return await asyncio.shield(asyncio.ensure_future(self._chat_reply(body)))

    async def _chat_reply(self, body: dict[str, Any]) -> web.StreamResponse:
        text = last_user_text(body)
        self._count("chat", text)
        with self._lock:
            self.by_message[text] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            fault = self._take_fault(text)
            if fault is not None and fault.kind == "hang":
                await asyncio.sleep(fault.hang_seconds)
            if fault is not None and fault.kind == "http":
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                return _error(fault.status, f"injected {fault.status}", headers)
            if fault is not None and fault.kind == "not_json":  # a proxy's error page, say
                return web.Response(text="<html>502</html>", content_type="application/json")
            return web.json_response(self.chat_completion(body, fault))
        finally:
            with self._lock:
                self.in_flight -= 1

    # moderations

    async def _moderations(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._count("moderations")
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        with self._lock:
            for text in inputs:
                self.by_message[text] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        return web.json_response(
            {
                "id": self._new_id("modr"),
                "model": body.get("model", "omni-moderation-latest"),
                "results": [self.moderation_responder(text) for text in inputs],
            }
        )

    # files

    def _file_object(self, file_id: str) -> dict[str, Any]:
        filename, purpose, data = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": 1_700_000_000,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }

    def _store_file(self, filename: str, purpose: str, data: bytes) -> str:
        file_id = self._new_id("file")
        self.files[file_id] = (filename, purpose, data)
        return file_id

    async def _upload(self, request: web.Request) -> web.Response:
        self._count("files.create")
        form = await request.post()
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, web.FileField) or purpose != "batch":
            return _error(400, "expected a multipart 'file' and purpose 'batch'")
        file_id = self._store_file(upload.filename, "batch", upload.file.read())
        return web.json_response(self._file_object(file_id))

    async def _file_content(self, request: web.Request) -> web.Response:
        self._count("files.content")
        file_id = request.match_info["id"]
        if file_id not in self.files:
            return _error(404, f"no such file: {file_id}")
        return web.Response(body=self.files[file_id][2], content_type="application/octet-stream")

    # batches

    def _batch_object(self, batch: _Batch) -> dict[str, Any]:
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": batch.created_at,
            "metadata": batch.metadata,
            "request_counts": batch.counts,
        }

    async def _create_batch(self, request: web.Request) -> web.Response:
        self._count("batches.create")
        body = await request.json()
        if body.get("input_file_id") not in self.files:
            return _error(400, "unknown input_file_id")
        batch = _Batch(
            id=self._new_id("batch"),
            input_file_id=body["input_file_id"],
            endpoint=body["endpoint"],
            completion_window=body["completion_window"],
            created_at=1_700_000_000,
            metadata=body.get("metadata"),
        )
        self.batches[batch.id] = batch
        return web.json_response(self._batch_object(batch))

    async def _get_batch(self, request: web.Request) -> web.Response:
        """Each poll moves the batch one status on: validating → in_progress → completed."""
        self._count("batches.retrieve")
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "no such batch")
        if batch.status == "validating":
            batch.status = "in_progress"
        elif batch.status == "in_progress":
            self._complete(batch)
        return web.json_response(self._batch_object(batch))

    def _complete(self, batch: _Batch) -> None:
        outputs: list[bytes] = []
        errors: list[bytes] = []
        lines = self.files[batch.input_file_id][2].splitlines()
        for line in lines:
            entry = json.loads(line)
            body = entry["body"]
            text = last_user_text(body)
            with self._lock:
                self.by_message[text] += 1
            fault = self._take_fault(text)
            result: dict[str, Any] = {
                "id": self._new_id("batch_req"),
                "custom_id": entry["custom_id"],
                "error": None,
            }
            if fault is not None and fault.kind in ("http", "hang"):
                error = {"message": "injected", "type": "server_error", "code": None}
                result["response"] = {"status_code": fault.status, "body": {"error": error}}
                errors.append(json.dumps(result).encode())
            else:
                completion = self.chat_completion(body, fault)
                result["response"] = {"status_code": 200, "body": completion}
                outputs.append(json.dumps(result).encode())
        batch.counts = {"total": len(lines), "completed": len(outputs), "failed": len(errors)}
        batch.output_file_id = self._store_file("output.jsonl", "batch_output", _jsonl(outputs))
        if errors:
            batch.error_file_id = self._store_file("errors.jsonl", "batch_output", _jsonl(errors))
        batch.status = "completed"


def _jsonl(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


@contextlib.contextmanager
def serve(emulator: OpenAIEmulator, port: int = 0) -> Iterator[OpenAIEmulator]:
    """Serve on 127.0.0.1 from a background thread; `emulator.base_url` ends in /v1."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(emulator.app(), shutdown_timeout=0.5, handler_cancellation=True)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", port)
    loop.run_until_complete(site.start())
    bound = runner.addresses[0][1]
    emulator.base_url = f"http://127.0.0.1:{bound}/v1"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield emulator
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def openai_emulator() -> Iterator[OpenAIEmulator]:
    """A fresh emulator on a random local port for one test."""
    with serve(OpenAIEmulator()) as emulator:
        yield emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with serve(OpenAIEmulator(latency=args.latency), args.port) as emulator:
        print(emulator.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
