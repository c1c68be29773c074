"""Model backends: the real bundled model in-process, and Ollama/OpenAI clients against loopback servers."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from pipeline.errors import ModelTimeout, ModelUnavailable
from pipeline.models.base import Message
from pipeline.models.ollama_backend import OllamaModel
from pipeline.models.openai_backend import OpenAIModel

PROMPT = [Message("system", "You write PostgreSQL."), Message("user", "Table courses(code, title). Question: list course titles")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """A small aiohttp server on 127.0.0.1 that records requests."""

    def __init__(self, routes):
        self.app = web.Application()
        self.app.add_routes(routes)
        self.requests: list[dict] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self):
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


def ollama_server(reply: str, *, delay: float = 0.0, known_model: str = "askdb-course") -> LoopbackServer:
    async def chat(request):
        body = await request.json()
        server.requests.append(body)
        if body["model"] != known_model:
            return web.json_response({"error": f"model '{body['model']}' not found"}, status=404)
        await asyncio.sleep(delay)
        return web.json_response({"model": body["model"], "created_at": "2026-11-24T00:00:00Z",
                                  "message": {"role": "assistant", "content": reply}, "done": True,
                                  "done_reason": "stop", "eval_count": 7})
    server = LoopbackServer([web.post("/api/chat", chat)])
    return server


def openai_server(reply: str, *, delay: float = 0.0, known_model: str = "askdb-course") -> LoopbackServer:
    async def completions(request):
        body = await request.json()
        server.requests.append({"body": body, "auth": request.headers.get("Authorization")})
        if body["model"] != known_model:
            return web.json_response({"error": {"message": "model not found"}}, status=404)
        await asyncio.sleep(delay)
        return web.json_response({"id": "x", "object": "chat.completion", "model": body["model"],
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                               "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 20, "completion_tokens": 5}})
    server = LoopbackServer([web.post("/v1/chat/completions", completions)])
    return server


async def test_ollama_happy_path_sends_temperature_zero():
    async with ollama_server("SELECT title FROM courses") as server:
        model = OllamaModel(host=server.url, model="askdb-course")
        out = await model.complete(PROMPT, max_tokens=50, stop=(";",))
        await model.aclose()
    assert out.text == "SELECT title FROM courses" and out.tokens == 7
    sent = server.requests[0]
    assert sent["options"]["temperature"] == 0 and sent["options"]["num_predict"] == 50
    assert sent["messages"][1]["content"].startswith("Table courses")


async def test_ollama_missing_model_and_unreachable_name_host_and_model():
    async with ollama_server("x") as server:
        model = OllamaModel(host=server.url, model="nope")
        with pytest.raises(ModelUnavailable) as err:
            await model.complete(PROMPT)
        await model.aclose()
    assert "nope" in str(err.value) and server.url in str(err.value) and "not found" in str(err.value)
    dead = f"http://127.0.0.1:{free_port()}"
    model = OllamaModel(host=dead, model="askdb-course", timeout_s=5)
    with pytest.raises(ModelUnavailable) as err:
        await model.complete(PROMPT)
    await model.aclose()
    assert dead in str(err.value) and "askdb-course" in str(err.value)


async def test_ollama_slow_server_times_out():
    async with ollama_server("late", delay=3) as server:
        model = OllamaModel(host=server.url, model="askdb-course", timeout_s=0.3)
        with pytest.raises(ModelTimeout):
            await model.complete(PROMPT)
        await model.aclose()


async def test_openai_happy_path_and_auth():
    async with openai_server("SELECT 1") as server:
        model = OpenAIModel(base_url=server.url + "/v1", model="askdb-course", api_key="sk-test")
        outs = await model.complete_many([PROMPT, PROMPT], max_tokens=30)
        await model.aclose()
    assert [o.text for o in outs] == ["SELECT 1", "SELECT 1"] and outs[0].tokens == 5
    assert server.requests[0]["auth"] == "Bearer sk-test"
    assert server.requests[0]["body"]["temperature"] == 0


async def test_openai_errors_name_host_and_model():
    async with openai_server("x") as server:
        model = OpenAIModel(base_url=server.url + "/v1", model="other")
        with pytest.raises(ModelUnavailable, match="other"):
            await model.complete(PROMPT)
        await model.aclose()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAIModel(base_url=dead, model="askdb-course")
    with pytest.raises(ModelUnavailable) as err:
        await model.complete(PROMPT)
    await model.aclose()
    assert dead in str(err.value) and "cannot connect" in str(err.value)


async def test_openai_slow_server_times_out_and_cancellation_does_not_leak():
    async with openai_server("late", delay=3) as server:
        model = OpenAIModel(base_url=server.url + "/v1", model="askdb-course", timeout_s=0.3)
        with pytest.raises(ModelTimeout):
            await model.complete(PROMPT)
        task = asyncio.ensure_future(OpenAIModel(base_url=server.url + "/v1", model="askdb-course").complete(PROMPT))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await model.aclose()


# --- the real bundled model -------------------------------------------------------------

@pytest.fixture(scope="module")
def bundled_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.mark.slow
async def test_bundled_model_loads_caches_and_generates_concurrently(bundled_cache):
    from pipeline.models.transformers_backend import TransformersModel

    first = await TransformersModel.load("bundled", cache_root=bundled_cache, max_batch=4)
    assert not first.loaded.from_cache
    await first.aclose()
    model = await TransformersModel.load("bundled", cache_root=bundled_cache, max_batch=4)
    assert model.loaded.from_cache  # dequantized once, then read from the safetensors cache
    single = await model.complete(PROMPT, max_tokens=12)
    assert single.text.strip() and single.tokens > 0
    # Four concurrent askers share forward passes and each gets its own greedy answer.
    before = model.batches_run
    outs = await asyncio.gather(*(model.complete(PROMPT, max_tokens=12) for _ in range(4)))
    assert all(o.text.strip() for o in outs)
    assert model.batches_run - before < 4
    assert len({o.text for o in outs}) == 1  # same prompt, greedy: same text
    await model.aclose()


@pytest.mark.slow
async def test_bundled_model_timeout_stops_generation_and_frees_the_worker(bundled_cache):
    from pipeline.models.transformers_backend import TransformersModel

    model = await TransformersModel.load("bundled", cache_root=bundled_cache, timeout_s=0.05)
    with pytest.raises(ModelTimeout):
        await model.complete(PROMPT, max_tokens=400)
    # The abandoned generation stops early, so the next request is served instead of waiting behind it.
    model.timeout_s = 120
    out = await model.complete(PROMPT, max_tokens=5)
    assert out.tokens <= 5 and out.text.strip()
    await model.aclose()


@pytest.mark.slow
async def test_queued_requests_time_out_from_their_own_batch_start(bundled_cache):
    from pipeline.models.transformers_backend import TransformersModel

    # max_batch=1: the second request waits for the whole first generation, longer than its own timeout
    # would allow if the clock started at enqueue time.
    model = await TransformersModel.load("bundled", cache_root=bundled_cache, max_batch=1)
    first = asyncio.ensure_future(model.complete(PROMPT, max_tokens=24))
    await asyncio.sleep(0)
    t0 = asyncio.get_running_loop().time()
    await first
    one_generation = asyncio.get_running_loop().time() - t0
    model.timeout_s = max(one_generation * 3, 1.0)
    outs = await asyncio.gather(*(model.complete(PROMPT, max_tokens=24) for _ in range(6)))
    assert all(o.text.strip() for o in outs)  # none timed out although the last waited five generations
    await model.aclose()


@pytest.mark.slow
async def test_bundled_model_proposes_distinct_candidates_alongside_greedy_askers(bundled_cache):
    from pipeline.models.base import CandidateModel
    from pipeline.models.transformers_backend import TransformersModel

    model = await TransformersModel.load("bundled", cache_root=bundled_cache, max_batch=4)
    assert isinstance(model, CandidateModel)
    # A beam-search request and greedy ones arrive together: each gets its own kind of answer.
    beams, greedy = await asyncio.gather(model.complete_candidates(PROMPT, n=3, max_tokens=12),
                                         model.complete(PROMPT, max_tokens=12))
    assert 1 <= len(beams) <= 3 and all(b.text.strip() for b in beams)
    assert len({b.text.strip() for b in beams}) == len(beams)  # duplicates are dropped
    assert greedy.text.strip()
    await model.aclose()
