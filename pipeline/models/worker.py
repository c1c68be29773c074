"""The request queue the embedded backends share: one worker task per event loop drains it, and closing the model
stops the worker and cancels what still waits."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable


def current_worker(worker: asyncio.Task | None, run: Callable[[], Awaitable[None]], queue: asyncio.Queue
                   ) -> tuple[asyncio.Task, asyncio.Queue]:
    """`worker` and `queue` when the worker runs on this event loop, else a new queue and a task running `run` (tests
    and CLI commands may each run their own loop). The new task first runs at the caller's next await, so `run` may
    read the queue from the attribute the caller assigns the result to."""
    loop = asyncio.get_running_loop()
    if worker is None or worker.done() or worker.get_loop() is not loop:
        queue = asyncio.Queue()
        worker = loop.create_task(run())
    return worker, queue


async def stop_worker(worker: asyncio.Task | None, queue: asyncio.Queue) -> None:
    """Cancel the worker (when it runs on this loop) and every request still queued (each has a `future`)."""
    if worker is not None and worker.get_loop() is asyncio.get_running_loop():
        worker.cancel()
        try:
            await worker
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
            pass
    while not queue.empty():
        r = queue.get_nowait()
        if not r.future.done():
            r.future.cancel()
