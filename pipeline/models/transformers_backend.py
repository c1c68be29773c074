"""In-process transformers backend: one worker thread, concurrent requests batched into one forward pass."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import ModelTimeout, ModelUnavailable
from .base import Completion, Message, cut_at_stop
from .bundled import LoadedModel, load_weights
from .worker import current_worker, stop_worker

log = logging.getLogger("askdb.models")


@dataclass
class _Request:
    messages: Sequence[Message]
    max_tokens: int
    stop: Sequence[str]
    future: asyncio.Future = field(repr=False)
    started: asyncio.Event = field(repr=False, default_factory=asyncio.Event)
    candidates: int = 1  # >1: beam search, the result is a list of that many completions


class TransformersModel:
    """Local model in this process; generation runs off the event loop, requests share batches."""

    def __init__(self, loaded: LoadedModel, *, name: str, max_batch: int = 8, batch_window_ms: float = 5.0,
                 timeout_s: float = 120.0, adapter: str | None = None):
        self.name = name
        self.adapter = adapter
        self.loaded = loaded
        self.max_batch = max_batch
        self.batch_window_s = batch_window_ms / 1000
        self.timeout_s = timeout_s
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self.batches_run = 0

    @classmethod
    async def load(cls, source: str, *, cache_root: Path, adapter: str | None = None, device: str | None = None,
                   max_batch: int = 8, timeout_s: float = 120.0) -> "TransformersModel":
        """Load weights (cached), apply a LoRA adapter if given, in a worker thread."""
        dev = device or _best_device()
        dtype = "bfloat16" if dev.startswith("cuda") else "float32"
        loaded = await asyncio.to_thread(load_weights, source, cache_root=cache_root, device=dev, dtype=dtype)
        if adapter:
            loaded = await asyncio.to_thread(_apply_adapter, loaded, adapter)
        name = f"{Path(str(loaded.source)).stem}" + (f"+{Path(adapter).name}" if adapter else "")
        log.info("model %s loaded in %.1f s (cache=%s)", name, loaded.load_s, loaded.from_cache)
        return cls(loaded, name=name, max_batch=max_batch, timeout_s=timeout_s, adapter=adapter)

    async def complete(self, messages: Sequence[Message], *, max_tokens: int = 160,
                       stop: Sequence[str] = ()) -> Completion:
        """One greedy completion; waits its turn in the shared batch queue."""
        return await self._submit(messages, max_tokens, stop, 1)

    async def complete_candidates(self, messages: Sequence[Message], *, n: int, max_tokens: int = 160,
                                  stop: Sequence[str] = ()) -> list[Completion]:
        """Up to `n` distinct completions by beam search, most likely first (runs as its own batch)."""
        return await self._submit(messages, max_tokens, stop, max(1, n))

    async def _submit(self, messages, max_tokens, stop, candidates):
        self._worker, self._queue = current_worker(self._worker, self._run, self._queue)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        request = _Request(messages, max_tokens, stop, fut, asyncio.Event(), candidates)
        await self._queue.put(request)
        try:
            # The clock starts when this request's batch starts: waiting behind other askers is bounded by
            # the callers' concurrency limits, and a slow queue must not turn every queued question into a timeout.
            started = asyncio.ensure_future(request.started.wait())
            try:
                await asyncio.wait({started, fut}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                started.cancel()
            # Timeout or caller cancellation cancels the future: the worker skips it, or stops mid-generation.
            return await asyncio.wait_for(fut, self.timeout_s)
        except asyncio.TimeoutError:
            raise ModelTimeout("local", self.name, self.timeout_s) from None
        except asyncio.CancelledError:
            fut.cancel()
            raise

    async def complete_many(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 160,
                            stop: Sequence[str] = ()) -> list[Completion]:
        """Completions for several prompts, sharing forward passes."""
        return list(await asyncio.gather(*(self.complete(m, max_tokens=max_tokens, stop=stop) for m in batch)))

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            deadline = time.monotonic() + self.batch_window_s
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get_nowait() if remaining <= 0 else
                                 await asyncio.wait_for(self._queue.get(), remaining))
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
            live = [r for r in batch if not r.future.done()]
            if not live:
                continue
            for r in live:
                r.started.set()
            try:
                texts = await asyncio.to_thread(self._generate, live)
            except Exception as exc:  # noqa: BLE001 - a model failure must reach every waiter, not kill the worker
                for r in live:
                    if not r.future.done():
                        r.future.set_exception(ModelUnavailable("local", self.name, str(exc)))
                continue
            self.batches_run += 1
            for r, c in zip(live, texts):
                if not r.future.done():
                    r.future.set_result(c)

    def _generate(self, requests: list[_Request]) -> list:
        """Greedy requests share one generate call; each beam-search request runs alone."""
        greedy = [r for r in requests if r.candidates <= 1]
        done = dict(zip(map(id, greedy), self._generate_greedy(greedy))) if greedy else {}
        for r in requests:
            if r.candidates > 1:
                done[id(r)] = self._generate_beams(r)
        return [done[id(r)] for r in requests]

    def _generate_beams(self, r: _Request) -> list[Completion]:
        import torch

        tok, model = self.loaded.tokenizer, self.loaded.model
        started = time.perf_counter()
        enc = tok([render_chat(tok, r.messages)], return_tensors="pt", add_special_tokens=False).to(model.device)
        extra = _stop_kwargs(tok, [r])
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=r.max_tokens, do_sample=False, num_beams=r.candidates,
                                 num_return_sequences=r.candidates, early_stopping=True,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                                 stopping_criteria=[_AllAbandoned([r])], **extra)
        elapsed = (time.perf_counter() - started) * 1000
        results, seen = [], set()
        for row in out[:, enc["input_ids"].shape[1]:]:
            text = cut_at_stop(tok.decode(row, skip_special_tokens=True), r.stop)
            if text.strip() in seen:
                continue
            seen.add(text.strip())
            results.append(Completion(text, int((row != tok.pad_token_id).sum()), elapsed))
        return results

    def _generate_greedy(self, requests: list[_Request]) -> list[Completion]:
        import torch

        tok, model = self.loaded.tokenizer, self.loaded.model
        started = time.perf_counter()
        prompts = [render_chat(tok, r.messages) for r in requests]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        max_new = max(r.max_tokens for r in requests)
        extra = _stop_kwargs(tok, requests)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id,
                                 eos_token_id=tok.eos_token_id, stopping_criteria=[_AllAbandoned(requests)],
                                 output_scores=True, return_dict_in_generate=True, **extra)
            logprobs = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
        elapsed = (time.perf_counter() - started) * 1000
        results = []
        for i, r in enumerate(requests):
            new = out.sequences[i, enc["input_ids"].shape[1]:]
            kept = new != tok.pad_token_id
            ntok = int(kept.sum())
            text = tok.decode(new[: r.max_tokens], skip_special_tokens=True)
            results.append(Completion(cut_at_stop(text, r.stop), ntok, elapsed,
                                      tuple(float(x) for x in logprobs[i][kept[: logprobs.shape[1]]])))
        return results

    async def aclose(self) -> None:
        """Stop the worker; pending requests are cancelled."""
        await stop_worker(self._worker, self._queue)


class _AllAbandoned:
    """Stops a running generation once every waiter has timed out or been cancelled: no leaked compute."""

    def __init__(self, requests: list[_Request]):
        self.requests = requests

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        abandoned = all(r.future.cancelled() for r in self.requests)
        return torch.full((input_ids.shape[0],), abandoned, dtype=torch.bool, device=input_ids.device)


def _stop_kwargs(tokenizer, requests: Sequence[_Request]) -> dict:
    """generate() arguments that stop at the requests' stop strings (none: no arguments)."""
    stops = sorted({s for r in requests for s in r.stop if s.strip()})
    return {"stop_strings": stops, "tokenizer": tokenizer} if stops else {}


def render_chat(tokenizer, messages: Sequence[Message]) -> str:
    """The exact text the model sees for `messages`, ending with the assistant turn opener."""
    return tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True
    )


def _best_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _apply_adapter(loaded: LoadedModel, adapter: str) -> LoadedModel:
    from peft import PeftModel

    path = Path(adapter)
    if not (path / "adapter_config.json").exists():
        raise ModelUnavailable("local", str(path), "no adapter_config.json there (train one with askdb train)")
    model = PeftModel.from_pretrained(loaded.model, str(path))
    model = model.merge_and_unload()  # merged weights decode as fast as the base model
    model.eval()
    return LoadedModel(model, loaded.tokenizer, loaded.source, loaded.load_s, loaded.from_cache)
