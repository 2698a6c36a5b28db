"""Ray mode: one Ray task per video (``--ray local``, ``--ray auto`` or ``--ray ADDRESS``).

Each task runs :func:`livepose.batch.job.run_job` on a worker of the cluster, with the resources
it declares (``num_cpus``: ``--cpus-per-video``, ``num_gpus``: ``--gpus-per-video``); it gets the
:class:`~livepose.batch.job.Job` (the video's path, its folder, the whole RunConfig: one small
object, never frames) and writes the outputs itself, so ``--out`` must be storage every node can
write (the same path on each).  A failed attempt raises :class:`VideoFailed` and Ray retries it
(``max_retries`` with ``retry_exceptions``), as it retries a task whose worker died; the driver
(this process) keeps the manifest and the progress, waiting on the tasks with ``ray.wait``.

Where the cluster comes from: ``local`` starts a private Ray on this machine for the batch and
stops it at the end; ``auto`` joins the cluster ``RAY_ADDRESS`` names or one ``ray start --head``
started on this machine, else starts a private one like ``local``; ``ADDRESS`` (``HOST:PORT`` of
the head's GCS, default port 6379) joins that cluster, after checking within a few seconds that
something answers there.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from typing import Callable, Sequence

from livepose.batch.job import Job, attempts_made, run_job
from livepose.errors import LiveposeError

RAY_HINT = 'pip install -e ".[ray]"'
PROBE_SECONDS = 5.0
INIT_SECONDS = 30.0


class RayUnavailable(LiveposeError):
    """Ray is not installed, or the cluster named does not answer (exit 1)."""

    exit_code = 1


class VideoFailed(Exception):
    """A task's attempt at a video failed (its manifest figures in ``result``): Ray retries it."""

    def __init__(self, result: dict):
        super().__init__(result)
        self.result = result

    def __str__(self) -> str:
        return str(self.result.get("error", "failed"))


def require_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"--ray needs Ray, which is not installed: {RAY_HINT}") from None
    return ray


def _video_task(job: Job) -> dict:
    """A Ray task: the video through run_job in this worker (which keeps its network for its next videos)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    result = run_job(job)
    if ray_gpus := _ray_gpu_ids():
        result["gpu"] = ray_gpus
    if result["status"] == "failed":
        raise VideoFailed(result)
    return result


def _ray_gpu_ids() -> str:
    """The GPUs Ray gave this task (it sets CUDA_VISIBLE_DEVICES for them), '' for none."""
    try:
        import ray

        return ",".join(str(g) for g in ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - only for the manifest
        return ""


def _host_port(address: str) -> tuple[str, int]:
    text = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 6379
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise RayUnavailable(f"--ray {address}: expected HOST:PORT of the Ray head (e.g. 10.0.0.5:6379)") from None


def _probe(address: str) -> None:
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS):
            pass
    except OSError as exc:
        raise RayUnavailable(f"--ray {address}: no Ray cluster answers at {host}:{port} "
                             f"({exc.strerror or exc}); start one with: ray start --head") from None


def _local_cluster_address() -> str | None:
    """The address of a cluster ``ray start`` started on this machine, or that RAY_ADDRESS names."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    try:
        import tempfile

        with open(os.path.join(tempfile.gettempdir(), "ray", "ray_current_cluster"), encoding="utf-8") as fh:
            address = fh.read().strip()
    except OSError:
        return None
    return address or None


def start(ray, where: str, *, num_cpus: int | None) -> str:
    """Connect to (or start) the cluster ``where`` names; returns a line saying which."""
    quiet = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = None
    if where == "auto":
        address = _local_cluster_address()
        if address is not None:
            try:
                _probe(address)
            except RayUnavailable:
                address = None  # a stale record of a cluster that stopped: a private one instead
    elif where != "local":
        address = where
        _probe(address)
    if address is None:
        previous = signal.getsignal(signal.SIGTERM)
        ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", object_store_memory=100 * 1024 * 1024, **quiet)
        _restore_sigterm(previous)  # ray.init sets its own (sys.exit); the command's makes it a Ctrl-C (exit 130)
        return f"Ray: a private cluster on this machine, {num_cpus or os.cpu_count()} CPUs"
    _init_bounded(ray, address, quiet)
    resources = ray.cluster_resources()
    return (f"Ray: cluster at {address}, {len(ray.nodes())} nodes, {resources.get('CPU', 0):g} CPUs, "
            f"{resources.get('GPU', 0):g} GPUs")


def _restore_sigterm(previous) -> None:
    if previous is None:
        return
    try:
        signal.signal(signal.SIGTERM, previous)
    except (ValueError, OSError, TypeError):
        pass


class _NotMainThread(logging.Filter):
    """Ray's warning that ray.init on a thread sets no SIGTERM handler: wanted here (the command has its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


def _init_bounded(ray, address: str, quiet: dict) -> None:
    """ray.init(address) on a thread: a cluster that accepts the connection but never completes
    it is one line after INIT_SECONDS, not a hang."""
    import threading

    failure: list[BaseException] = []
    quiet_thread = _NotMainThread()

    def connect():
        try:
            ray.init(address=address, **quiet)
        except BaseException as exc:  # noqa: BLE001 - reported on the caller's thread
            failure.append(exc)

    logging.getLogger("ray._private.worker").addFilter(quiet_thread)

    t = threading.Thread(target=connect, name="livepose-ray-init", daemon=True)
    t.start()
    t.join(INIT_SECONDS)
    logging.getLogger("ray._private.worker").removeFilter(quiet_thread)
    if t.is_alive():
        raise RayUnavailable(f"--ray {address}: the Ray cluster did not complete the connection within "
                             f"{INIT_SECONDS:g} s")
    if failure:
        exc = failure[0]
        raise RayUnavailable(f"--ray {address}: cannot join the Ray cluster ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}; a cluster with token authentication needs its "
                             f"token here too: RAY_AUTH_TOKEN, which ray get-auth-token prints on the head)")


def run_ray(ray, jobs: Sequence[Job], *, retries: int, cpus_per_video: float, gpus_per_video: float,
            on_result: Callable[[Job, dict], None]) -> None:
    """Run ``jobs`` as Ray tasks on the cluster :func:`start` joined; ``on_result(job, result)``
    per video when its last attempt ended.  Ctrl-C cancels the tasks not finished."""
    task = ray.remote(_video_task).options(num_cpus=cpus_per_video, num_gpus=gpus_per_video,
                                           max_retries=retries, retry_exceptions=[VideoFailed])
    refs = {task.remote(job): job for job in jobs}
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in ready:
                job = refs[ref]
                on_result(job, _outcome(ray, ref, job))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)
        raise


def _outcome(ray, ref, job: Job) -> dict:
    try:
        result = ray.get(ref)
    except VideoFailed as exc:  # Ray's RayTaskError(VideoFailed) is a VideoFailed too
        cause = getattr(exc, "cause", None)
        result = dict(getattr(cause if isinstance(cause, VideoFailed) else exc, "result", None) or {})
        if not result:
            result = _lost(job, str(exc))
    except Exception as exc:  # the worker died every time (WorkerCrashedError), or the task was lost
        result = _lost(job, f"the Ray worker running it died ({type(exc).__name__})")
    result["attempts"] = max(int(result.get("attempts") or 0), attempts_made(job), 1)  # a died attempt: the file counts it
    return result


def _lost(job: Job, error: str) -> dict:
    return {"video": job.video, "stem": job.stem, "status": "failed", "attempts": 0, "frames": 0, "seconds": 0.0,
            "fps": 0.0, "people_per_frame": 0.0, "distinct_ids": 0, "error": error, "warnings": []}


__all__ = ["RAY_HINT", "RayUnavailable", "VideoFailed", "require_ray", "run_ray", "start"]
