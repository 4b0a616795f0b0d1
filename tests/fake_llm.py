"""An OpenAI-compatible chat completions server on 127.0.0.1 for tests, speaking the real wire format.

`POST /v1/chat/completions` takes the JSON body OpenAI, Ollama and vLLM take and answers a
`chat.completion` object, or an `{"error": {...}}` body with the status code those servers use.
What it answers is chosen per request: `modes` (a queue, one per request) or else `mode`:

- "good": a JSON summary citing the comment ids found in the prompt (as a model asked to would);
- "fenced": the same inside a ```json fence, as chatty models write it;
- "timeout": waits `delay` seconds before answering (longer than the client's timeout);
- "http_500", "http_503", "http_429", "http_400": that status with an error body;
- "not_json": prose instead of JSON; "no_points": JSON without points; "bad_cites": points citing
  ids that are not in the thread; "no_choices": a 200 whose body is not a chat completion.

A wrong or missing `Authorization: Bearer <api_key>` answers 401 when `api_key` is set, a body asking
for `stream: true` answers 400 (this server does not stream). Every request is kept in `requests`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def user(self) -> str:
        return str(self.body["messages"][-1]["content"])


@dataclass
class FakeLLM:
    api_key: str | None = None
    mode: str = "good"
    modes: list[str] = field(default_factory=list)
    delay: float = 5.0
    requests: list[SeenRequest] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _completions(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        self.requests.append(SeenRequest(request.path, dict(request.headers), body))
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return _error(400, "you must provide a model parameter and messages", "invalid_request_error")
        if body.get("stream"):
            return _error(400, "this server does not stream", "invalid_request_error")
        mode = self.modes.pop(0) if self.modes else self.mode
        if mode == "timeout":
            await asyncio.sleep(self.delay)
            mode = "good"
        if mode.startswith("http_"):
            status = int(mode.removeprefix("http_"))
            kind = {429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}.get(status, "invalid_request")
            return _error(status, f"simulated {status}", kind)
        if mode == "no_choices":
            return web.json_response({"object": "list", "data": []})
        user = str(body["messages"][-1]["content"])
        content = {
            "good": lambda: json.dumps(_summary(user)),
            "fenced": lambda: f"Sure! Here it is:\n```json\n{json.dumps(_summary(user), indent=2)}\n```",
            "not_json": lambda: "The thread is mostly about the ferry. People disagree about safety.",
            "no_points": lambda: json.dumps({"summary": "A thread about things."}),
            "bad_cites": lambda: json.dumps(_summary(user, bad_cites=True)),
        }[mode]()
        n = len(self.requests)
        return web.json_response(
            {
                "id": f"chatcmpl-fake{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(user) // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": (len(user) + len(content)) // 4,
                },
            }
        )


def _error(status: int, message: str, kind: str, code: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": code}}, status=status)


def _summary(user: str, bad_cites: bool = False) -> dict[str, Any]:
    """What a well-behaved model answers: points about the ids it was shown, in their order."""
    ids = list(dict.fromkeys(re.findall(r"\[(c\d+|m[0-9a-f]{10})\]", user)))
    want = 3 if "exactly 3 points" in user else 5
    points = [
        {
            "label": f"Topic {n + 1}",
            "point": f"Readers discuss point {n + 1} of this thread{'' if bad_cites else f' [{key}]'}.",
            "cites": ["c999999999"] if bad_cites else [key],
        }
        for n, key in enumerate(ids[:want])
    ]
    disagreements = []
    if len(ids) >= 2 and not bad_cites:
        disagreements.append({"claim": "One reader made a claim.", "pushback": "Another said no.", "cites": ids[:2]})
    return {"points": points, "disagreements": disagreements}
