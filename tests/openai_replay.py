"""A loopback server that speaks the OpenAI Chat Completions protocol and replays scripted answers.

Why a real server: the LLM path is only trustworthy end to end when the bytes go over HTTP through
``langchain-openai`` and the ``openai`` client — their request shape (model, API key header,
``response_format``), their timeouts, their retries and Retry-After handling, their error classes. A fake
chat model skips all of that. This server is the smallest stand-in for vLLM, Ollama or llama.cpp: stdlib
``http.server`` on 127.0.0.1 with a free port, in a daemon thread, one request per thread (a reply that
sleeps past the client's timeout must not hold up the retry).

The answer to a request is chosen by the question, read from the prompt's last user turn ("Question:
…", as ``cohort_engine.nlq.llm`` writes it): the n-th request for a question gets the n-th scripted
:class:`Reply` (the last one repeats). Questions without a script get :attr:`ReplayServer.default`.
Every request is recorded (headers, JSON body, arrival time) so tests can assert what left the engine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: assistant ``content`` with HTTP 200, or an error ``status``.

    ``delay_s`` sleeps before answering (a timeout when longer than the client's); ``headers`` go out
    as given (e.g. ``retry-after-ms`` on a 429).
    """

    content: str | None = None
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def ok_json(obj: Any) -> Reply:
    """A 200 whose assistant message is ``obj`` as JSON."""
    return Reply(content=json.dumps(obj, ensure_ascii=False))


def error(status: int, **headers: str) -> Reply:
    return Reply(status=status, headers=dict(headers))


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def question(self) -> str:
        return question_of(self.body)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def question_of(body: dict[str, Any]) -> str:
    """The question of the first user turn that asks one, after the last few-shot answer.

    ``nlq.llm`` puts the question in the last user turn, except in a repair round, where our echo of
    the model's answer and a repair instruction follow it: the question is then the user turn before
    the echo. Few-shot turns come earlier and are skipped.
    """
    messages = body.get("messages", [])
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    for i in reversed(users):
        text = _text(messages[i].get("content"))
        if "Question: " in text:
            return text.split("Question: ", 1)[1].strip()
    return ""


def chat_completion(content: str, model: str) -> dict[str, Any]:
    """A Chat Completions response body, as OpenAI-compatible servers send it."""
    return {
        "id": "chatcmpl-replay",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "replay",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class ReplayServer:
    """``with ReplayServer() as srv: srv.script(question, [Reply(...), ...]); ... srv.base_url``."""

    def __init__(self, default: Callable[[str], Sequence[Reply]] | None = None) -> None:
        self.default = default
        self.requests: list[Recorded] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting
    def script(self, question: str, replies: Sequence[Reply]) -> None:
        with self._lock:
            self._scripts[question] = list(replies)
            self._served.pop(question, None)

    def for_question(self, question: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.question == question]

    def _next(self, question: str) -> Reply:
        with self._lock:
            replies = self._scripts.get(question)
            if replies is None and self.default is not None:
                replies = list(self.default(question))
            if not replies:
                return Reply(status=404, content="no scripted answer for this question")
            n = self._served.get(question, 0)
            self._served[question] = n + 1
            return replies[min(n, len(replies) - 1)]

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    # -- lifecycle
    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ReplayServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    self.close_connection = True

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": "replay", "object": "model"}]}, {})
                else:
                    self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}}, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                rec = Recorded(
                    at=time.monotonic(),
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body if isinstance(body, dict) else {},
                )
                server._record(rec)
                if self.path != CHAT_PATH:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}, {})
                    return
                if rec.body.get("stream"):
                    self._send(400, {"error": {"message": "streaming is not replayed", "type": "bad"}}, {})
                    return
                reply = server._next(rec.question)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status == 200 and reply.content is not None:
                    payload = chat_completion(reply.content, str(rec.body.get("model", "")))
                else:
                    payload = {
                        "error": {
                            "message": reply.content or f"replayed status {reply.status}",
                            "type": "server_error" if reply.status >= 500 else "rate_limit_error",
                            "code": None,
                        }
                    }
                self._send(reply.status, payload, reply.headers)

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="openai-replay", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
