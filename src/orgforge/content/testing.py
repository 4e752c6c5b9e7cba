"""A scripted local LLM server for tests, benchmarks and offline development.

It speaks the OpenAI chat completions wire format (``POST …/chat/completions``, including
Azure's ``/openai/deployments/<name>/chat/completions?api-version=…``) and the Anthropic
messages format (``POST /v1/messages``, answering with a ``tool_use`` block), over a real socket
on 127.0.0.1, so the official SDKs are exercised end to end. It answers every item of a batch
prompt with a plausible text that names the item's company, and counts what it receives.

A *script* decides per request what goes wrong: ``script(n, body) -> action`` where ``n`` counts
requests from 1 and the action is one of ``ok`` (or None), ``malformed``, ``drop:K`` (leave out
K items), ``extra`` (one item too many), ``refuse_item``, ``refuse_batch``, ``placeholder``,
``short``, ``truncate``, ``429:S`` (Retry-After S seconds), ``500``, ``401``, ``slow:S``.

    with FakeLLM(latency=0.2) as server:
        config.content.base_url = server.url + "/v1"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[int, dict], str | None]


def _items(prompt: str) -> list[dict]:
    items = []
    for line in prompt.splitlines():
        if line.startswith('{"id":'):
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
    return items


def item_text(item: dict) -> str:
    name = item.get("account") or item.get("contact") or "The customer"
    topic = item.get("subject") or item.get("opportunity") or item.get("type") or "the account"
    return (
        f"{name}: item {item['id']} about {topic[:80]}, a realistic note written by the local "
        "test server for the demo org."
    )


class FakeLLM:
    def __init__(
        self,
        script: Script | None = None,
        *,
        latency: float = 0.0,
        reject_json_schema: bool = False,
    ) -> None:
        self.script = script
        self.latency = latency
        self.reject_json_schema = reject_json_schema
        self.requests: list[dict[str, Any]] = []
        self.usage = {"input_tokens": 0, "output_tokens": 0}  # totals of answered usage
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeLLM:
        fake = self
        self._stopping.clear()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def count(self) -> int:
        return len(self.requests)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.usage = {"input_tokens": 0, "output_tokens": 0}

    # -- handling ------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        with self._lock:
            self.requests.append(
                {
                    "path": handler.path,
                    "headers": {k.lower(): v for k, v in handler.headers.items()},
                    "body": body,
                }
            )
            n = len(self.requests)
        anthropic = handler.path.split("?")[0].endswith("/messages")
        action = (self.script(n, body) if self.script else None) or "ok"
        if self.latency:
            time.sleep(self.latency)
        name, _, arg = action.partition(":")
        if name == "slow":  # answers late, or when the server stops (no test waits it out)
            self._stopping.wait(float(arg or 5))
            action, name = "ok", "ok"
        if name == "429":
            return self._error(handler, 429, anthropic, "rate_limit", {"retry-after": arg or "0"})
        if name in ("500", "401"):
            return self._error(handler, int(name), anthropic, "server" if name == "500" else "auth")
        response_format = body.get("response_format") or {}
        if self.reject_json_schema and response_format.get("type") == "json_schema":
            return self._error(
                handler,
                400,
                anthropic,
                "invalid",
                message="response_format json_schema unsupported",
            )
        if anthropic:
            prompt = "\n".join(
                m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
                for m in body.get("messages", [])
            )
            prompt_chars = len(prompt) + len(str(body.get("system", "")))
        else:
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            prompt_chars = len(prompt)
        items = [{"id": it["id"], "text": item_text(it)} for it in _items(prompt)]
        if name == "drop":
            items = items[int(arg or 1) :]
        elif name == "extra":
            items.append({"id": "999", "text": "An extra item nobody asked for, to be ignored."})
        elif name == "refuse_item" and items:
            items[0]["text"] = "I'm sorry, but I can't help with that request."
        elif name == "placeholder" and items:
            items[0]["text"] = "[Company] is a leading provider of services for {account} today."
        elif name == "short" and items:
            items[0]["text"] = "Ok."
        payload = {"items": items}
        text = json.dumps(payload)
        finish = "stop"
        if name == "malformed":
            text = text[: len(text) // 2] + " ...oops"
        elif name == "truncate":
            text, finish = text[: len(text) // 2], "length"
        usage_in, usage_out = max(1, prompt_chars // 4), max(1, len(text) // 4)
        with self._lock:
            self.usage["input_tokens"] += usage_in
            self.usage["output_tokens"] += usage_out
        if anthropic:
            content: list[dict] = [
                {"type": "tool_use", "id": f"toolu_{n}", "name": "submit_texts", "input": payload}
            ]
            stop = "tool_use"
            if name in ("malformed", "truncate"):
                content = [{"type": "text", "text": text}]
                stop = "max_tokens" if name == "truncate" else "end_turn"
            if name == "refuse_batch":
                content, stop = [{"type": "text", "text": "I can't help with that."}], "refusal"
            data = {
                "id": f"msg_{n}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude"),
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
            }
        else:
            message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
            if name == "refuse_batch":
                message = {"role": "assistant", "content": None, "refusal": "I can't help."}
            data = {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "gpt"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": usage_in,
                    "completion_tokens": usage_out,
                    "total_tokens": usage_in + usage_out,
                },
            }
        self._send(handler, 200, data)

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        anthropic: bool,
        kind: str,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        message = (
            message
            or {
                "rate_limit": "Rate limit reached; retry later.",
                "server": "The server had an error while processing your request.",
                "auth": "Incorrect API key provided.",
                "invalid": "Invalid request.",
            }[kind]
        )
        if anthropic:
            types = {
                "rate_limit": "rate_limit_error",
                "server": "api_error",
                "auth": "authentication_error",
                "invalid": "invalid_request_error",
            }
            data: dict = {"type": "error", "error": {"type": types[kind], "message": message}}
        else:
            types = {
                "rate_limit": "rate_limit_exceeded",
                "server": "server_error",
                "auth": "invalid_request_error",
                "invalid": "invalid_request_error",
            }
            data = {"error": {"message": message, "type": types[kind], "param": None, "code": None}}
        self._send(handler, status, data, headers)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: dict,
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = json.dumps(data).encode()
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(raw)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(raw)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer
