"""Embedded llama.cpp backend: the GGUF as shipped (4-bit), a LoRA adapter in GGUF form, grammars.

One llama.cpp context serves every asker: requests wait in a queue and run one at a time in a worker thread, so the
event loop never blocks and the key/value cache of the previous prompt is reused for the prefix a new prompt shares
with it (system text and schema), plus a RAM cache of earlier prompts' states for prefixes that came back.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

from ..errors import ModelNotInstalled, ModelTimeout, ModelUnavailable
from .base import Completion, Message, cut_at_stop
from .chat import ChatTemplate
from .worker import current_worker, stop_worker

log = logging.getLogger("askdb.models")

INSTALL_HINT = "pip install llama-cpp-python (make demo does this; it builds from source with cmake, once)"


@dataclass
class _Request:
    messages: Sequence[Message]
    max_tokens: int
    stop: Sequence[str]
    future: asyncio.Future = field(repr=False)
    grammar: str | None = None
    candidates: int = 0  # >0: beam search, a list of up to that many completions


class LlamaCppModel:
    """A GGUF model run by llama.cpp in this process."""

    def __init__(self, llm, *, name: str, template: ChatTemplate, adapter: str | None = None,
                 timeout_s: float = 60.0, load_s: float = 0.0):
        self.llm = llm
        self.name = name
        self.template = template
        self.adapter = adapter
        self.timeout_s = timeout_s
        self.load_s = load_s
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self._current: _Request | None = None
        self._thread: asyncio.Future | None = None
        self.reused_tokens = 0  # of the last prompt, the tokens whose keys and values came from the cache

    @classmethod
    async def load(cls, gguf: Path, *, adapter: str | None = None, adapter_gguf: Path | None = None,
                   threads: int = 0, context: int = 2048, timeout_s: float = 60.0,
                   ) -> "LlamaCppModel":
        """Load `gguf` (and a GGUF LoRA adapter) in a worker thread."""
        llm, load_s = await asyncio.to_thread(_load, Path(gguf), adapter_gguf, threads, context)
        template = ChatTemplate.from_gguf_metadata(llm.metadata)
        name = Path(gguf).stem + (f"+{Path(adapter).name}" if adapter else "")
        log.info("model %s loaded by llama.cpp in %.2f s", name, load_s)
        return cls(llm, name=name, template=template, adapter=adapter, timeout_s=timeout_s, load_s=load_s)

    async def complete(self, messages: Sequence[Message], *, max_tokens: int = 160,
                       stop: Sequence[str] = ()) -> Completion:
        """One greedy completion."""
        return await self._submit(_Request(messages, max_tokens, stop, self._future()))

    async def complete_grammar(self, messages: Sequence[Message], *, grammar: str, max_tokens: int = 160,
                               stop: Sequence[str] = ()) -> Completion:
        """One greedy completion that the GBNF `grammar` allows."""
        return await self._submit(_Request(messages, max_tokens, stop, self._future(), grammar=grammar))

    async def complete_candidates(self, messages: Sequence[Message], *, n: int, max_tokens: int = 160,
                                  stop: Sequence[str] = (), grammar: str | None = None) -> list[Completion]:
        """Up to `n` distinct completions by beam search, most likely first. The beams are sequences of one llama.cpp
        context sharing the prompt's cached keys and values, and advance together in one batch per token."""
        return await self._submit(_Request(messages, max_tokens, stop, self._future(), grammar=grammar,
                                           candidates=max(1, n)))

    async def complete_many(self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 160,
                            stop: Sequence[str] = ()) -> list[Completion]:
        """Completions for several prompts (queued; they run one after another)."""
        return list(await asyncio.gather(*(self.complete(m, max_tokens=max_tokens, stop=stop) for m in batch)))

    def _future(self) -> asyncio.Future:
        self._worker, self._queue = current_worker(self._worker, self._run, self._queue)
        return asyncio.get_running_loop().create_future()

    async def _submit(self, request: _Request):
        await self._queue.put(request)
        try:
            # Queue waits are bounded by the callers' concurrency limits; the timeout covers the whole wait here
            # because one llama.cpp request is short (about a second), unlike a transformers batch.
            return await asyncio.wait_for(asyncio.shield(request.future), self.timeout_s * max(1, request.candidates))
        except asyncio.TimeoutError:
            request.future.cancel()
            raise ModelTimeout("local", self.name, self.timeout_s) from None
        except asyncio.CancelledError:
            request.future.cancel()
            raise

    async def _run(self) -> None:
        while True:
            r = await self._queue.get()
            if r.future.done():
                continue
            self._current = r
            self._thread = asyncio.ensure_future(asyncio.to_thread(self._generate, r))
            try:
                # Shielded: cancelling the worker must not orphan the thread, which aclose waits for before it frees
                # the model (freeing it under a running decode crashes the process).
                result = await asyncio.shield(self._thread)
            except Exception as exc:  # noqa: BLE001 - a model failure must reach its waiter, not kill the worker
                if not r.future.done():
                    r.future.set_exception(ModelUnavailable("local", self.name, str(exc)))
                continue
            if not r.future.done():
                r.future.set_result(result)

    def _generate(self, r: _Request):
        prompt = self.template.render(r.messages)
        return self._beam_search(prompt, r) if r.candidates else self._decode(prompt, r)

    def _decode(self, prompt: str, r: _Request) -> Completion:
        """Greedy decoding. With a grammar, the model's own best tokens are checked first and the grammar scans the
        vocabulary only when they are all refused: the constraint costs almost nothing where the model is right.
        (Prompt-lookup drafts, checked in one batch, were tried: on the course dev questions only 20% of the drafted
        tokens held and generation got 1.4x slower.)"""
        import llama_cpp
        import numpy as np

        llm, started = self.llm, time.perf_counter()
        self._feed(self._prompt_tokens(prompt, r))
        vocab = llm._model.vocab
        grammar = self._grammar(r)
        out: list[int] = []
        logprobs: list[float] = []
        text = ""
        try:
            while len(out) < r.max_tokens and not r.future.cancelled():  # a gone asker stops spending the cores
                logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                               shape=(llm.n_vocab(),))
                token = _best_allowed(logits, grammar)
                if token is None or llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                if grammar:
                    llama_cpp.llama_sampler_accept(grammar, token)
                out.append(token)
                logprobs.append(float(_log_softmax(logits)[token]))
                text = llm.detokenize(out).decode("utf-8", errors="ignore")
                if any(s and s in text for s in r.stop):
                    break
                llm.eval([token])
        finally:
            if grammar:
                llama_cpp.llama_sampler_free(grammar)
        return Completion(cut_at_stop(text, r.stop), len(out), (time.perf_counter() - started) * 1000,
                          tuple(logprobs))

    def _beam_search(self, prompt: str, r: _Request) -> list[Completion]:
        """Beam search as transformers runs it (as many beams as completions, early stopping, hypotheses scored by
        their summed log-probabilities over their length). Each beam is a sequence of the context: a child shares its
        parent's keys and values (the unified cache copies no tensors), and all beams take their next token in one
        batch, which on a CPU costs about what one token does. Sequence 0 keeps the prompt alone for the next
        question's prefix reuse."""
        import llama_cpp
        import numpy as np

        llm, started, width = self.llm, time.perf_counter(), min(r.candidates, _BEAMS)
        prompt_tokens = self._prompt_tokens(prompt, r, generated=width * r.max_tokens)
        self._feed(prompt_tokens)
        ctx, vocab, n_vocab = llm._ctx.ctx, llm._model.vocab, llm.n_vocab()
        memory = llama_cpp.llama_get_memory(ctx)

        def logprobs(i: int):
            return _log_softmax(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,)))

        free = list(range(1, 2 * width + 1))
        seq = free.pop(0)
        llama_cpp.llama_memory_seq_cp(memory, 0, seq, -1, -1)
        beams = [_Beam((), 0.0, seq, self._grammar(r), logprobs(-1))]
        finished: list[tuple[float, tuple[int, ...]]] = []
        batch = llama_cpp.llama_batch_init(width, 0, 1)
        try:
            for _ in range(r.max_tokens):
                if r.future.cancelled():
                    break
                proposals = sorted(((b.score + float(b.logprobs[t]), i, t) for i, b in enumerate(beams)
                                    for t in _top_allowed(b.logprobs, b.grammar, width + 1)), reverse=True)
                chosen = []
                for rank, (score, i, token) in enumerate(proposals[: 2 * width]):
                    tokens = (*beams[i].tokens, token)
                    ended = llama_cpp.llama_vocab_is_eog(vocab, token)
                    if not ended and r.stop:
                        text = llm.detokenize(list(tokens)).decode("utf-8", errors="ignore")
                        ended = any(s and s in text for s in r.stop)
                    if ended:
                        if rank < width:  # as transformers: an ending counts only among the best `width`
                            finished.append((score / len(tokens), tokens))
                    elif len(chosen) < width:
                        chosen.append((score, i, token))
                if len(finished) >= width or not chosen:
                    break
                children = []
                batch.n_tokens = len(chosen)
                for k, (score, i, token) in enumerate(chosen):
                    parent, seq = beams[i], free.pop(0)
                    llama_cpp.llama_memory_seq_cp(memory, parent.seq, seq, -1, -1)
                    grammar = llama_cpp.llama_sampler_clone(parent.grammar) if parent.grammar else None
                    if grammar:
                        llama_cpp.llama_sampler_accept(grammar, token)
                    batch.token[k], batch.pos[k] = token, len(prompt_tokens) + len(parent.tokens)
                    batch.n_seq_id[k], batch.seq_id[k][0], batch.logits[k] = 1, seq, True
                    children.append(_Beam((*parent.tokens, token), score, seq, grammar, None))
                _drop(memory, beams, free)
                beams = children
                if llama_cpp.llama_decode(ctx, batch) != 0:
                    raise ModelUnavailable("local", self.name, "llama.cpp could not decode the beams (context full)")
                beams = [b._replace(logprobs=logprobs(k)) for k, b in enumerate(beams)]
            else:
                finished += [(b.score / max(1, len(b.tokens)), b.tokens) for b in beams]
        finally:
            _drop(memory, beams, free)
            llama_cpp.llama_batch_free(batch)
        elapsed_ms = (time.perf_counter() - started) * 1000
        out, seen = [], set()
        for _, tokens in sorted(finished, reverse=True):
            text = cut_at_stop(llm.detokenize(list(tokens)).decode("utf-8", errors="ignore"), r.stop)
            if text.strip() and text.strip() not in seen and len(out) < width:
                seen.add(text.strip())
                out.append(Completion(text, len(tokens), elapsed_ms))
        return out

    def _prompt_tokens(self, prompt: str, r: _Request, *, generated: int = 0) -> list[int]:
        llm = self.llm
        tokens = llm.tokenize(prompt.encode("utf-8"), special=True)
        if len(tokens) + (generated or r.max_tokens) > llm.n_ctx():
            raise ModelUnavailable("local", self.name, f"the prompt ({len(tokens)} tokens) does not fit the context "
                                                       f"({llm.n_ctx()}; raise model.context_tokens)")
        return tokens

    def _grammar(self, r: _Request):
        """A fresh grammar sampler for `r`, or None. A grammar llama.cpp refuses (a schema name it cannot spell) must
        not stop the bot: it answers unconstrained."""
        import llama_cpp

        if not r.grammar:
            return None
        grammar = llama_cpp.llama_sampler_init_grammar(self.llm._model.vocab, r.grammar.encode(), b"root")
        if not grammar:
            log.warning("llama.cpp could not parse the schema grammar; generating without it")
        return grammar or None

    def _feed(self, tokens: list[int]) -> None:
        """Evaluate `tokens`, reusing the cached keys and values of the prefix they share with what the context
        holds (the system text and schema a new question usually shares with the last one)."""
        import numpy as np

        llm = self.llm
        held = min(llm.n_tokens, len(tokens) - 1)  # at least one token is evaluated: its logits start decoding
        same = np.asarray(llm.input_ids[:held]) == np.asarray(tokens[:held])
        prefix = int(held if same.all() else np.argmin(same))
        llm.n_tokens = prefix
        llm.eval(tokens[prefix:])
        self.reused_tokens = prefix

    def grammar_allows(self, grammar: str, text: str) -> bool:
        """Whether llama.cpp's grammar sampler lets this model write `text` and then stop (for tests and
        diagnostics: it runs in the caller's thread)."""
        import llama_cpp

        vocab = self.llm._model.vocab
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not sampler:
            raise ModelUnavailable("local", self.name, "llama.cpp could not parse the grammar")
        try:
            for token in [*self.llm.tokenize(text.encode(), add_bos=False, special=False), self.llm.token_eos()]:
                if not _allows(sampler, token):
                    return False
                if token != self.llm.token_eos():
                    llama_cpp.llama_sampler_accept(sampler, token)
            return True
        finally:
            llama_cpp.llama_sampler_free(sampler)

    async def aclose(self) -> None:
        """Stop the worker, let a running generation stop at its next token, and free the model."""
        if self._current is not None and not self._current.future.done():
            self._current.future.cancel()  # the decode loop sees this and stops
        await stop_worker(self._worker, self._queue)
        if self._thread is not None and not self._thread.done():
            await asyncio.wait({self._thread})
        llm, self.llm = self.llm, None
        if llm is not None:
            await asyncio.to_thread(llm.close)


_TOKEN_DATA = [("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]  # llama_token_data, 12 bytes
_BEAMS = 8  # the most beams one search runs; the context holds twice as many sequences while they advance
_SHORTLIST = 64  # the model's best tokens checked one by one before the grammar scans the whole vocabulary


def _log_softmax(scores):
    """The log-probabilities of the next token, from its scores (logits)."""
    import numpy as np

    top = scores.max()
    return scores - (top + np.log(np.exp(scores - top).sum()))


def _best_allowed(scores, grammar) -> int | None:
    """The best-scoring token the grammar allows (any token without one); None when it allows none."""
    import numpy as np

    if grammar is None:
        return int(np.argmax(scores))
    allowed = _top_allowed(scores, grammar, 1)
    return allowed[0] if allowed else None


def _scan_allowed(scores, grammar) -> int | None:
    """The best-scoring token the grammar allows, the whole vocabulary checked in one call; None when it allows
    none."""
    import ctypes

    import llama_cpp
    import numpy as np

    table = np.zeros(len(scores), dtype=_TOKEN_DATA)
    table["id"] = np.arange(len(scores))
    table["logit"] = scores
    array = llama_cpp.llama_token_data_array(
        table.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), len(table), -1, False)
    llama_cpp.llama_sampler_apply(grammar, ctypes.byref(array))
    allowed = np.isfinite(table["logit"])
    return int(table["id"][allowed][np.argmax(table["logit"][allowed])]) if allowed.any() else None


class _Beam(NamedTuple):
    tokens: tuple[int, ...]
    score: float  # summed log-probabilities of `tokens`
    seq: int  # the context sequence holding its keys and values
    grammar: object  # its own grammar sampler state, or None
    logprobs: object  # of its next token


def _top_allowed(scores, grammar, k: int) -> list[int]:
    """The `k` best-scoring next tokens the grammar allows, best first: the model's best `_SHORTLIST` checked one by
    one (a large schema grammar takes a while per token, and the first few usually pass), the whole vocabulary only
    when none of them passes (then the best one alone)."""
    import numpy as np

    short = np.argpartition(-scores, _SHORTLIST)[:_SHORTLIST]
    ranked = [int(t) for t in short[np.argsort(-scores[short])]]
    if grammar is None:
        return ranked[:k]
    allowed = []
    for t in ranked:
        if _allows(grammar, t):
            allowed.append(t)
            if len(allowed) == k:
                break
    if not allowed and (best := _scan_allowed(scores, grammar)) is not None:
        allowed = [best]
    return allowed


def _drop(memory, beams: list[_Beam], free: list[int]) -> None:
    """Free the sequences and grammar states of `beams`."""
    import llama_cpp

    for b in beams:
        llama_cpp.llama_memory_seq_rm(memory, b.seq, -1, -1)
        free.append(b.seq)
        if b.grammar:
            llama_cpp.llama_sampler_free(b.grammar)
    beams.clear()


def _allows(grammar, token: int) -> bool:
    """Whether the grammar, in its current state, lets `token` come next."""
    import ctypes

    import llama_cpp

    one = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
    llama_cpp.llama_sampler_apply(grammar, ctypes.byref(llama_cpp.llama_token_data_array(one, 1, -1, False)))
    return one[0].logit != float("-inf")


def _load(gguf: Path, adapter_gguf: Path | None, threads: int, context: int):
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelNotInstalled(f"the llamacpp backend needs llama-cpp-python: {INSTALL_HINT} ({exc})") from None
    if not gguf.exists():
        raise ModelNotInstalled(f"model file {gguf} does not exist")
    if adapter_gguf is not None and not Path(adapter_gguf).exists():
        raise ModelUnavailable("local", str(adapter_gguf), "no GGUF adapter there")
    started = time.perf_counter()
    # One core is left to the event loop, Postgres and the embedder: llama.cpp's threads wait for each other at every
    # layer, so one of them losing its core for a moment stalls them all (measured: 2 threads on 2 busy cores decode
    # 5-20x slower than 1).
    threads = threads or max(1, (os.cpu_count() or 2) - 1)
    with _model_params(use_extra_bufts=not _cpu_has_amx()):
        llm = Llama(model_path=str(gguf), lora_path=str(adapter_gguf) if adapter_gguf else None, n_ctx=context,
                    n_threads=threads, n_threads_batch=threads, n_batch=512, seed=0, verbose=False)
    _with_beam_sequences(llm)
    return llm, time.perf_counter() - started


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _model_params(**fields):
    """Model parameters llama-cpp-python's Llama has no argument for, set on the defaults it starts from."""
    import llama_cpp.llama_cpp as native

    with _PARAMS_LOCK:
        default = native.llama_model_default_params

        def params():
            p = default()
            for name, value in fields.items():
                setattr(p, name, value)
            return p

        native.llama_model_default_params = params
        try:
            yield
        finally:
            native.llama_model_default_params = default


def _cpu_has_amx() -> bool:
    """Whether this CPU has AMX. A llama.cpp built for such a CPU moves the weights to its AMX buffers, where the
    first matrix product crashes the process (seen here on a Xeon with this model; llama.cpp issue 20824, open):
    there the weights stay in plain CPU buffers (prompt read at 270 tokens/s with the shipped Q4_1, still fast)."""
    try:
        return " amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _with_beam_sequences(llm) -> None:
    """Give `llm` a context of 2 * _BEAMS + 1 sequences over one unified cache. llama-cpp-python's Llama makes a
    one-sequence context and has no parameter for more, so the context is made again with the same parameters (and
    the LoRA adapter set on it again)."""
    import ctypes

    import llama_cpp
    from llama_cpp._internals import LlamaContext

    params = llm.context_params
    params.n_seq_max, params.kv_unified = 2 * _BEAMS + 1, True
    old, llm._ctx = llm._ctx, LlamaContext(model=llm._model, params=params, verbose=False)
    old.close()
    if llm._lora_adapter is not None:
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llm._lora_adapter)
        if llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, adapters, 1, (ctypes.c_float * 1)(llm.lora_scale)):
            raise ModelUnavailable("local", str(llm.lora_path), "llama.cpp could not set the LoRA adapter")
