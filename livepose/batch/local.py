"""Local mode: the videos of a batch over N worker processes of this machine (standard library
only: :class:`concurrent.futures.ProcessPoolExecutor`, ``spawn`` start method, so ONNX Runtime,
OpenVINO and Numba start clean in each worker).

Each worker runs one video at a time (:func:`livepose.batch.job.run_job`) with its own network
session, kept for its next videos.  At most N videos are in flight: a worker process that dies
(SIGKILL, out of memory) breaks the pool; the videos in flight then count a failed attempt each
(the pool cannot tell which worker died), a new pool is made and they are retried (up to
``retries`` more times) while the others go on.  ``--gpus F``: each worker sees its own GPU
(``CUDA_VISIBLE_DEVICES``, given in the worker's initializer), 1/F workers per GPU.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Sequence

from livepose.batch.job import Job, run_job, worker_init

DIED = "the worker process died (killed, or out of memory) while running it"


def _failed(job: Job, attempt: int, error: str) -> dict:
    return {"video": job.video, "stem": job.stem, "status": "failed", "attempts": attempt, "frames": 0,
            "seconds": 0.0, "fps": 0.0, "people_per_frame": 0.0, "distinct_ids": 0, "error": error, "warnings": []}


def run_local(jobs: Sequence[Job], *, workers: int, retries: int, on_result: Callable[[Job, dict], None],
              gpu_slots: Sequence[str] | None = None, on_retry: Callable[[Job, dict], None] | None = None) -> None:
    """Run ``jobs`` on ``workers`` processes; ``on_result(job, result)`` for each video once its
    last attempt ended (``result["attempts"]`` attempts made), ``on_retry`` for each failed attempt
    that is retried."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    pending = deque(jobs)
    attempts: dict[str, int] = {job.video: 0 for job in jobs}
    in_flight: dict = {}

    def make_pool() -> ProcessPoolExecutor:
        slots = None
        if gpu_slots is not None:
            slots = ctx.Queue()
            for slot in gpu_slots:
                slots.put(slot)
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init, initargs=(slots,))

    def settle(job: Job, result: dict) -> None:
        result["attempts"] = attempts[job.video]
        if result["status"] == "failed" and attempts[job.video] <= retries:
            if on_retry is not None:
                on_retry(job, result)
            pending.appendleft(job)
        else:
            on_result(job, result)

    pool = make_pool()
    try:
        while pending or in_flight:
            broken = False
            while pending and len(in_flight) < workers:
                job = pending.popleft()
                try:
                    future = pool.submit(run_job, job)
                except BrokenProcessPool:  # a worker died since the last wait: not this video's fault
                    pending.appendleft(job)
                    broken = True
                    break
                attempts[job.video] += 1
                in_flight[future] = job
            if not broken:
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in done:
                    broken |= _collect(future, in_flight.pop(future), attempts, settle)
            if broken:  # every future still in flight fails with it: collect them, then a new pool
                for future in list(in_flight):
                    future.exception()  # waits until the pool has marked it
                    _collect(future, in_flight.pop(future), attempts, settle)
                pool.shutdown(wait=True)
                pool = make_pool()
    except KeyboardInterrupt:
        _interrupt(pool)
        for future, job in list(in_flight.items()):  # the videos running stop, their outputs closed valid
            try:
                _collect(future, job, attempts, lambda j, r: on_result(j, r))
            except KeyboardInterrupt:
                break
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(future, job: Job, attempts: dict, settle) -> bool:
    """Hand the future's result to ``settle``; True when the pool broke."""
    try:
        result = future.result()
    except BrokenProcessPool:
        settle(job, _failed(job, attempts[job.video], DIED))
        return True
    except Exception as exc:  # e.g. the job could not be sent to the worker
        settle(job, _failed(job, attempts[job.video], f"internal error: {type(exc).__name__}: {exc}"))
        return False
    settle(job, result)
    return False


def _interrupt(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C given to the command only (SIGTERM, a script): pass it on to the workers, whose
    video stops with its outputs closed valid (a Ctrl-C at the terminal reaches them already)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            os.kill(process.pid, signal.SIGINT)
        except (OSError, AttributeError):
            pass


__all__ = ["DIED", "run_local"]
