"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama's /v1) over aiohttp."""
from __future__ import annotations

import asyncio
import time
from typing import Sequence

import aiohttp

from ..errors import ModelTimeout, ModelUnavailable
from .base import Completion, Message, cut_at_stop


class OpenAIModel:
    """Chat completions from an OpenAI-compatible endpoint; one aiohttp session, owned here."""

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0,
                 max_concurrency: int = 8):
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(max_concurrency)

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def complete(self, messages: Sequence[Message], *, max_tokens: int = 160,
                       stop: Sequence[str] = ()) -> Completion:
        """One completion at temperature 0."""
        started = time.perf_counter()
        body = {"model": self.name, "messages": [{"role": m.role, "content": m.content} for m in messages],
                "temperature": 0, "max_tokens": max_tokens}
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API takes at most four
        url = f"{self.base_url}/chat/completions"
        try:
            async with self._slots, self._sess().post(url, json=body) as resp:
                if resp.status == 404:
                    raise ModelUnavailable(self.base_url, self.name, "model or endpoint not found (404)")
                if resp.status >= 400:
                    raise ModelUnavailable(self.base_url, self.name, f"HTTP {resp.status}: {(await resp.text())[:200]}")
                data = await resp.json()
        except asyncio.TimeoutError:
            raise ModelTimeout(self.base_url, self.name, self.timeout_s) from None
        except aiohttp.ClientError as exc:
            raise ModelUnavailable(self.base_url, self.name, f"cannot connect ({exc})") from exc
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelUnavailable(self.base_url, self.name, "malformed response") from exc
        tokens = (data.get("usage") or {}).get("completion_tokens", 0)
        return Completion(cut_at_stop(text, stop), tokens, (time.perf_counter() - started) * 1000)

    async def complete_many(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 160,
                            stop: Sequence[str] = ()) -> list[Completion]:
        """Concurrent completions; the server batches."""
        return list(await asyncio.gather(*(self.complete(m, max_tokens=max_tokens, stop=stop) for m in batch)))

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
