"""A loopback Slack: records Web API calls (auth.test, views.open, chat.*, files_upload_v2's three steps) and
response_url posts."""
from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import parse_qsl

from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSlackApi:
    """`async with FakeSlackApi() as api`: point AsyncWebClient(base_url=api.base_url) at it."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.responses: list[dict] = []
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes posted to its upload URL
        self.errors: dict[str, str] = {}  # method -> the error Slack answers it with (ok: false)
        self._changed = asyncio.Condition()
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    async def __aenter__(self) -> "FakeSlackApi":
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()

    def called(self, method: str) -> list[dict]:
        return [args for m, args in self.calls if m == method]

    async def wait_for(self, predicate) -> None:
        """Until predicate() holds (the test's own timeout bounds it)."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def _record(self, target: list, item) -> None:
        async with self._changed:
            target.append(item)
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        text = await request.text()
        if request.content_type == "application/json":
            args = json.loads(text or "{}")
        else:
            args = dict(parse_qsl(text))
        args.update(request.query)  # the files.* methods send their arguments in the query string
        await self._record(self.calls, (method, args))
        body = {"ok": True}
        if method in self.errors:
            return web.json_response({"ok": False, "error": self.errors[method]})
        if method == "auth.test":
            body.update(team_id="T1", user_id="UBOT", bot_id="BBOT", team="Course", user="askdb",
                        url="https://course.slack.com/")
        elif method.startswith("chat."):
            body.update(channel=args.get("channel"), ts="1700000000.000200")
        elif method == "views.open":
            body.update(view={"id": "V1"})
        elif method == "files.getUploadURLExternal":
            file_id = f"F{len(self.called(method)):05d}"
            body.update(file_id=file_id, upload_url=f"http://127.0.0.1:{self.port}/upload/{file_id}")
        elif method == "files.completeUploadExternal":
            body.update(files=[{"id": f["id"], "title": f.get("title")} for f in json.loads(args["files"])])
        return web.json_response(body)

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK")

    async def _response(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.text())
        payload["_name"] = request.match_info["name"]
        await self._record(self.responses, payload)
        return web.Response(text="ok")
