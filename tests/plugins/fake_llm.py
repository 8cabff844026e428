"""A fake OpenAI-compatible chat server on loopback, driven through the real litellm client.

``fake_llm`` serves ``POST /v1/chat/completions`` in OpenAI's response shape. Script it with
``fake.script(...)``; each request consumes one step:

* ``str`` - the assistant message content;
* ``{"status": 500, "body": {...}}`` - an HTTP error with an OpenAI-style error body;
* ``{"sleep": 3.0, "content": "..."}`` - answer late (timeout tests);
* a callable ``fn(request_json) -> str | dict`` - computed answers.

``fake.requests`` holds every request body received (for asserting what the model saw).
When the script runs out the server answers 500 so an unexpected extra call fails loudly.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class FakeLLM:
    def __init__(self) -> None:
        self.steps: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._send(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
                with fake._lock:
                    fake.requests.append(body)
                    step = fake.steps.pop(0) if fake.steps else {"status": 500, "body": {
                        "error": {"message": "fake script exhausted", "type": "server_error"}}}
                if callable(step):
                    step = step(body)
                if isinstance(step, dict) and "sleep" in step:
                    time.sleep(step["sleep"])
                    step = step.get("content", "")
                if isinstance(step, dict) and "status" in step:
                    return self._send(step["status"], step.get("body") or {
                        "error": {"message": "upstream failure", "type": "server_error"}})
                self._send(200, fake.completion(body, str(step)))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout tests)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @staticmethod
    def completion(request: dict[str, Any], content: str) -> dict[str, Any]:
        prompt_chars = sum(len(m.get("content") or "") for m in request.get("messages", []))
        return {
            "id": f"chatcmpl-fake-{int(time.time() * 1000)}", "object": "chat.completion",
            "created": int(time.time()), "model": request.get("model", "fake"),
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": prompt_chars // 4 + len(content) // 4},
        }

    def script(self, *steps: Any) -> "FakeLLM":
        with self._lock:
            self.steps = list(steps)
            self.requests = []
        return self

    def start(self) -> "FakeLLM":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm():
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()
