"""The burst benchmark's baseline: a worker process running only a bare sleep-then-one-activity workflow.

It is tuned exactly as `python worker.py` is (`worker.worker_tuning`, from the same WORKER_MAX_… settings), runs on
the same event loop (`WORKER_EVENT_LOOP`) and settles its garbage collector the same way (`PROCESS_GC_THRESHOLD`),
so bench/burst.py compares the enrollment workflow with the floor Temporal and the SDK set, not two configurations.
Run by the benchmark as `python -m bench.bare_worker`; it reads TEMPORAL_ADDRESS and TEMPORAL_TASK_QUEUE.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.worker import Worker

from config import get_settings
from services.temporal import connect
from worker import run_worker_process, worker_tuning

log = logging.getLogger("bench.bare_worker")


class WakeAt(BaseModel):
    """When every bare workflow wakes: the burst's instant, shared by all of them."""

    at: datetime


@activity.defn
async def note_the_time() -> float:
    """The trivial step: the wall-clock instant it ran, which the benchmark takes the drain's end from."""
    return time.time()


@workflow.defn(sandboxed=False)  # this module imports the worker module, which the sandbox would re-import
class SleepThenActWorkflow:
    """What an enrollment does at its first email, minus the plan: sleep to an instant, then run one activity."""

    @workflow.run
    async def run(self, wake: WakeAt) -> float:
        await workflow.sleep(max(timedelta(0), wake.at - workflow.now()), summary="until the burst instant")
        return await workflow.execute_activity(note_the_time, start_to_close_timeout=timedelta(minutes=5),
                                               summary="one trivial activity")


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    client = await connect(settings)
    worker = Worker(client, task_queue=settings.temporal_task_queue, workflows=[SleepThenActWorkflow],
                    activities=[note_the_time], **worker_tuning(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker on task queue %r (bare burst baseline)", settings.temporal_task_queue)
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    run_worker_process(main)  # the garbage collector and the event loop too are the worker's
