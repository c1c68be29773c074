"""Ollama backend through the official client (`ollama.AsyncClient`)."""
from __future__ import annotations

import asyncio
import time
from typing import Sequence

import httpx
import ollama

from ..errors import ModelTimeout, ModelUnavailable
from .base import Completion, Message, cut_at_stop


class OllamaModel:
    """A model served by Ollama; requests run concurrently, the server batches."""

    def __init__(self, *, host: str, model: str, timeout_s: float = 60.0, max_concurrency: int = 4):
        self.name = model
        self.host = host
        self.timeout_s = timeout_s
        self._client = ollama.AsyncClient(host=host, timeout=timeout_s)
        self._slots = asyncio.Semaphore(max_concurrency)

    async def complete(self, messages: Sequence[Message], *, max_tokens: int = 160,
                       stop: Sequence[str] = ()) -> Completion:
        """One completion at temperature 0."""
        started = time.perf_counter()
        options = {"temperature": 0, "num_predict": max_tokens}
        if stop:
            options["stop"] = list(stop)
        try:
            async with self._slots:
                resp = await asyncio.wait_for(
                    self._client.chat(model=self.name, messages=[{"role": m.role, "content": m.content} for m in messages],
                                      options=options),
                    self.timeout_s,
                )
        except asyncio.TimeoutError:
            raise ModelTimeout(self.host, self.name, self.timeout_s) from None
        except httpx.TimeoutException:
            raise ModelTimeout(self.host, self.name, self.timeout_s) from None
        except ollama.ResponseError as exc:
            detail = exc.error if exc.status_code != 404 else f"model not found (run: ollama pull {self.name})"
            raise ModelUnavailable(self.host, self.name, detail) from exc
        except (httpx.HTTPError, ConnectionError, OSError) as exc:
            raise ModelUnavailable(self.host, self.name, f"cannot connect ({exc or type(exc).__name__})") from exc
        text = resp.message.content or ""
        return Completion(cut_at_stop(text, stop), resp.eval_count or 0, (time.perf_counter() - started) * 1000)

    async def complete_many(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 160,
                            stop: Sequence[str] = ()) -> list[Completion]:
        """Concurrent completions, bounded by max_concurrency."""
        return list(await asyncio.gather(*(self.complete(m, max_tokens=max_tokens, stop=stop) for m in batch)))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        client = getattr(self._client, "_client", None)
        if client is not None:
            await client.aclose()
