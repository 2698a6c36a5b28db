"""Where the pipeline's time outside the network goes: the bare network and ``livepose run``
interleaved on the same frames, per engine, with per-thread CPU time, run-queue waits, context
switches and page faults.

    python benchmarks/bench_overhead.py                                # 720p street video, every CPU engine
    python benchmarks/bench_overhead.py --frames 20 --rounds 2         # a smoke test
    python benchmarks/bench_overhead.py --engines openvino:fp32 mobilenet_thin:onnxruntime:fp32
    python benchmarks/bench_overhead.py --decoder-threads 1 --cv-threads 1 --engine-threads 2

Per engine (``[MODEL:]BACKEND:PRECISION``; default: every CPU engine and precision of the default
network here, bench_networks.configurations, plus mobilenet_thin on ONNX Runtime fp32), ONE
estimator (livepose.build.build_estimator) is built and used for both sides:

* A, bare network: the video's first ``--frames`` frames, decoded and letterboxed in memory
  beforehand, then ``network.run(tensor, box)`` once per frame (bench_pipeline.bare_network_fps);
* B, the pipeline: ``livepose run VIDEO --jsonl TMP --max-frames N --quiet`` in-process: the
  command line's own RunConfig (livepose.cli.run_config), ``livepose.build.build(config,
  estimator=est)`` and ``run.execute()``.  B's FPS is the RunSummary's (what ``livepose run``
  prints: from the start of the run loop, so it includes the stream's warm-up); "steady" is
  (frames - 1) / (last result - first result).

A and B alternate for ``--rounds`` rounds (A B, then B A, ...).  Printed per engine: each round's
FPS, the median of the per-round ratios B/A and the ratio of the medians; the network's own time
per call in A and in B (the instance's ``run_raw`` wrapped with a timer, in both), which tells
whether the network itself runs slower inside the pipeline (something fights it for the cores)
or the time is lost between calls; and, for the median round, where the CPU went:

* per thread group (Python threads by their ``threading`` name, native threads by their
  ``/proc/self/task/<tid>/comm`` name with the trailing number replaced by ``#``, unnamed native
  threads by the phase in which they appeared: "unnamed, from engine ...", "unnamed, from capture
  open", ...): threads, CPU ms per frame (``/proc/self/task/<tid>/schedstat`` run time, in ns;
  ``stat`` utime+stime ticks where schedstat is missing), run-queue wait ms per frame (runnable
  but not running: waiting for a core), voluntary / involuntary context switches and minor page
  faults per frame (``/proc/self/task/<tid>/status`` and ``stat``), and the threads' nice values;
* the process: CPU seconds against wall seconds (cores used of the cores allowed), and
  getrusage's minor faults and context switches per frame.

Threads that end during a run (the pipeline's, the outputs', FFmpeg's decoder threads) are read
one last time: Python threads as they finish (``threading.Thread.run`` is wrapped in this process),
native ones by a sampler thread (every ``--sample-ms``, its own CPU shown as "bench-sampler");
what no thread accounts for (native threads ending between two samples) is shown as "unaccounted".

Before the runs: how many threads each library starts (alive after importing numpy, cv2, numba,
livepose, onnxruntime, openvino; after opening the video with cv2 and reading a frame, and with
PyAV; after building each engine), with their names.

Read-only experiments, set from this process without editing the library: ``--decoder-threads N``
(``OPENCV_FFMPEG_THREADS``, which OpenCV's FFmpeg capture reads when it opens a file: its decoder
threads, default one per core), ``--cv-threads N`` (cv2.setNumThreads), ``--engine-threads N``
(ModelSettings.threads, ``livepose run --threads``).  Prints "skipped: ..." and exits 0 when the
video is absent.  The bar (issue 18): B at least 0.97 of A, median of interleaved rounds.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
    here = os.path.dirname(os.path.abspath(__file__))
    default_video = os.path.join(os.path.dirname(os.path.dirname(here)), "shared", "data", "video",
                                 "street-crowd-720p50.avi")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", default=default_video, help="video (default: the 720p street video)")
    ap.add_argument("--frames", type=int, default=150, help="frames per run (default 150)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds A B / B A (default 5)")
    ap.add_argument("--engines", nargs="+", metavar="[MODEL:]BACKEND:PRECISION",
                    help="engines to measure (default: every CPU engine of the default network, plus "
                         "mobilenet_thin:onnxruntime:fp32)")
    ap.add_argument("--jsonl", action=argparse.BooleanOptionalAction, default=True,
                    help="the pipeline writes JSONL like livepose run --jsonl (default on)")
    ap.add_argument("--decoder-threads", type=int, metavar="N",
                    help="OPENCV_FFMPEG_THREADS=N for OpenCV's FFmpeg capture (default: unset, FFmpeg's own)")
    ap.add_argument("--cv-threads", type=int, metavar="N",
                    help="OpenCV's thread pool: cv2.setNumThreads(N) and the run's capture.opencv_threads N "
                         "(default: the run's own setting, 1)")
    ap.add_argument("--engine-threads", type=int, metavar="N", help="inference threads (livepose run --threads)")
    ap.add_argument("--sample-ms", type=float, default=50.0,
                    help="sampler period for native threads (default 50); 0: no sampler thread, so that only the "
                         "run's own threads use the CPU (threads that end during a run are then not counted)")
    return ap.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.decoder_threads is not None:  # before cv2 loads: OpenCV reads it at each open
    os.environ["OPENCV_FFMPEG_THREADS"] = str(ARGS.decoder_threads)

import re  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

PID = os.getpid()
TICK = os.sysconf("SC_CLK_TCK")
TASKS = f"/proc/{PID}/task"
PROC_COMM = Path(f"/proc/{PID}/comm").read_text().strip()

# -- per-thread figures from /proc ------------------------------------------------------------


def read_thread(tid: int) -> dict | None:
    """comm, cpu_s (schedstat run time, else utime+stime), runq_s, vcs, ics, minflt of one thread
    of this process, None when it has ended."""
    base = f"{TASKS}/{tid}"
    try:
        with open(f"{base}/stat") as f:
            stat = f.read()
        with open(f"{base}/status") as f:
            status = f.read()
        try:
            with open(f"{base}/schedstat") as f:
                run_ns, wait_ns, _ = (int(x) for x in f.read().split())
            cpu, runq = run_ns / 1e9, wait_ns / 1e9
        except (OSError, ValueError):
            cpu = runq = None
    except OSError:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    rest = stat[stat.rindex(")") + 2:].split()
    ticks = (int(rest[11]) + int(rest[12])) / TICK
    vcs = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))
    ics = int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))
    return {"comm": comm, "cpu": cpu if cpu is not None else ticks, "ticks": ticks, "runq": runq or 0.0,
            "vcs": vcs, "ics": ics, "minflt": int(rest[7]), "nice": int(rest[16])}


def thread_ids() -> list[int]:
    try:
        return [int(t) for t in os.listdir(TASKS)]
    except OSError:
        return []


def snapshot() -> dict[int, dict]:
    out = {}
    for tid in thread_ids():
        row = read_thread(tid)
        if row is not None:
            out[tid] = row
    return out


# -- where each thread came from ----------------------------------------------------------------

PY_NAMES: dict[int, str] = {}  # native id -> threading name (Python threads)
FINAL: dict[int, dict] = {}  # native id -> its figures read as it finished (Python threads)
BORN: dict[int, str] = {}  # native id -> the phase in which it was first seen
_PHASE = ["interpreter start"]
_orig_run = threading.Thread.run


def _recording_run(self):
    tid = threading.get_native_id()
    PY_NAMES[tid] = self.name
    BORN.setdefault(tid, _PHASE[0])
    try:
        _orig_run(self)
    finally:
        row = read_thread(tid)
        if row is not None:
            FINAL[tid] = row


threading.Thread.run = _recording_run  # every Python thread started from now on names itself


def mark(phase: str) -> None:
    """Threads not seen before were born in the phase that just ended."""
    for tid in thread_ids():
        BORN.setdefault(tid, phase)
    _PHASE[0] = phase


def label(tid: int, comm: str) -> str:
    if tid == PID:
        return "main thread"
    if tid in PY_NAMES:
        name = PY_NAMES[tid]
        return re.sub(r"^Thread-\d+", "Thread-#", name)
    if comm and comm != PROC_COMM:
        return re.sub(r"\d+$", "#", comm)
    return f"unnamed, from {BORN.get(tid, '?')}"


class Sampler:
    """Reads every thread's figures every ``period`` s while a run goes, so that native threads
    ending during it are counted (up to their last sample); its own thread is bench-sampler."""

    def __init__(self, period: float):
        self.period = period
        self.latest: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def _take(self) -> None:
        for tid, row in snapshot().items():
            self.latest[tid] = row
            BORN.setdefault(tid, _PHASE[0])

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self._take()

    def __enter__(self):
        self._take()
        if self.period > 0:  # 0: no sampling thread (its CPU stays out of the run's figures)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._take()


class Measure:
    """Figures of one run: wall, process CPU and rusage deltas, per-thread deltas."""

    def __init__(self, phase: str, period: float):
        self.phase, self.period = phase, period

    def __enter__(self):
        mark(_PHASE[0])
        _PHASE[0] = self.phase
        alive = set(thread_ids())
        for tid in [t for t in PY_NAMES if t not in alive]:  # ended: its id may be reused by a native thread
            del PY_NAMES[tid]
        FINAL.clear()
        self.before = snapshot()
        self.ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self.sampler = Sampler(self.period).__enter__()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.sampler.__exit__(*exc)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        r0 = self.ru0
        self.proc_cpu = (ru.ru_utime + ru.ru_stime) - (r0.ru_utime + r0.ru_stime)
        self.ru = {"minflt": ru.ru_minflt - r0.ru_minflt, "majflt": ru.ru_majflt - r0.ru_majflt,
                   "vcs": ru.ru_nvcsw - r0.ru_nvcsw, "ics": ru.ru_nivcsw - r0.ru_nivcsw}
        after = dict(self.sampler.latest)
        for tid, row in FINAL.items():  # Python threads read as they finished
            if tid in after or tid not in self.before:
                after[tid] = row
        zero = {"cpu": 0.0, "ticks": 0.0, "runq": 0.0, "vcs": 0, "ics": 0, "minflt": 0}
        self.threads = {}
        for tid, row in after.items():
            b = self.before.get(tid, zero)
            d = {k: row[k] - b[k] for k in zero}
            d["comm"] = row["comm"]
            d["nice"] = row.get("nice", 0)
            d["new"] = tid not in self.before
            d["label"] = label(tid, row["comm"])  # now: a later run forgets the names of ended threads
            self.threads[tid] = d
        return False

    def groups(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for tid, d in self.threads.items():
            if d["cpu"] <= 0 and d["vcs"] == 0 and d["ics"] == 0 and d["minflt"] == 0:
                continue  # idle the whole run (e.g. another engine's pool)
            g = out.setdefault(d["label"], {"n": 0, "cpu": 0.0, "ticks": 0.0, "runq": 0.0, "vcs": 0,
                                                       "ics": 0, "minflt": 0, "nice": set()})
            g["n"] += 1
            g["nice"].add(d["nice"])
            for k in ("cpu", "ticks", "runq", "vcs", "ics", "minflt"):
                g[k] += d[k]
        return out


# -- library thread counts ------------------------------------------------------------------------


def thread_names() -> Counter:
    c = Counter()
    for tid, row in snapshot().items():
        c[label(tid, row["comm"])] += 1
    return c


class ThreadLog:
    def __init__(self):
        self.rows: list[tuple[str, int, str]] = []
        self.last = thread_names()

    def step(self, what: str) -> None:
        mark(what)
        now = thread_names()
        new = now - self.last
        gone = self.last - now
        parts = [f"+{n} {k}" for k, n in sorted(new.items())] + [f"-{n} {k}" for k, n in sorted(gone.items())]
        self.rows.append((what, sum(now.values()), ", ".join(parts) or "no change"))
        self.last = now

    def print(self) -> None:
        print("threads alive (this process) and what changed:")
        w = max(len(r[0]) for r in self.rows)
        for what, n, change in self.rows:
            print(f"  {what:<{w}}  {n:3d}  {change}")


LOG = ThreadLog()


# -- the two sides ----------------------------------------------------------------------------------


class NetTimer:
    """Wraps a network instance's ``run_raw`` with a timer (the same in A and B)."""

    def __init__(self, network):
        self.network = network
        self.calls: list[float] = []
        inner = network.run_raw  # the bound method of its class

        def timed(tensor):
            t = time.perf_counter()
            try:
                return inner(tensor)
            finally:
                self.calls.append(time.perf_counter() - t)

        network.run_raw = timed

    def take(self) -> list[float]:
        calls, self.calls = self.calls, []
        return calls

    def remove(self) -> None:
        self.network.__dict__.pop("run_raw", None)


def prepare(estimator, frames):
    from livepose.preprocess import Preprocessor

    pre = Preprocessor(estimator.card.input, estimator.size)
    out = []
    for image in frames:
        tensor, box = pre(image)
        out.append((tensor.copy(), box))
    return out


def run_bare(estimator, prepared, period: float) -> dict:
    net = estimator.network
    with Measure("bare network", period) as m:
        for tensor, box in prepared:
            net.run(tensor, box)
    return {"fps": len(prepared) / m.wall, "steady": len(prepared) / m.wall, "frames": len(prepared), "m": m,
            "wall": m.wall}


def run_config_for(video: Path, frames: int, jsonl: Path | None, key: tuple[str | None, str, str],
                   threads: int | None):
    """``livepose run VIDEO [--jsonl X] --max-frames N --quiet --backend B --precision P [--model M]``
    as the command line turns it into a RunConfig."""
    model, backend, precision = key
    argv = ["run", str(video), "--max-frames", str(frames), "--quiet", "--backend", backend, "--precision", precision]
    if model:
        argv += ["--model", model]
    if jsonl is not None:
        argv += ["--jsonl", str(jsonl)]
    else:
        argv += ["--no-display"]
    if threads is not None:
        argv += ["--threads", str(threads)]
    try:
        from livepose.cli import build_parser, run_config

        return run_config(build_parser().parse_args(argv)), " ".join(["livepose", *argv])
    except Exception as exc:  # the command line changed: the same settings by keyword
        from livepose.settings import RunConfig

        kw = dict(source=str(video), max_frames=frames, quiet=True, display=False, backend=backend,
                  precision=precision, threads=threads)
        if model:
            kw["model"] = model
        if jsonl is not None:
            kw["jsonl"] = str(jsonl)
        return RunConfig.from_overrides(**kw), f"RunConfig.from_overrides({kw}) (cli: {exc})"


def run_pipeline(estimator, config_of, period: float) -> dict:
    from livepose.build import build

    with tempfile.TemporaryDirectory() as tmp:
        config, _ = config_of(Path(tmp) / "out.jsonl")
        t_build = time.perf_counter()
        run = build(config, estimator=estimator, outputs=bool(config.outputs.jsonl))
        t_build = time.perf_counter() - t_build
        stamps: list[float] = []
        get = run.stream.get

        def stamped_get():
            r = get()
            if r is not None:
                stamps.append(time.perf_counter())
            return r

        run.stream.get = stamped_get  # the run loop's own calls, timed
        with Measure("pipeline", period) as m:
            summary = run.execute()
        lines = sum(1 for _ in open(Path(tmp) / "out.jsonl")) if config.outputs.jsonl else None
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return {"fps": summary.fps, "steady": steady, "frames": summary.frames, "m": m, "wall": m.wall,
            "build_s": t_build, "first_s": (stamps[0] - m.t0) if stamps else float("nan"), "jsonl_lines": lines,
            "people": summary.people}


# -- printing -------------------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1e3:7.2f}"


def print_where(name: str, r: dict, cores: int) -> None:
    m: Measure = r["m"]
    n = max(1, r["frames"])
    groups = m.groups()
    total_threads = sum(g["cpu"] for g in groups.values())
    print(f"    {name}: {r['frames']} frames in {m.wall:.2f} s; process CPU {m.proc_cpu:.2f} s = "
          f"{m.proc_cpu / m.wall:.2f} of {cores} cores; per frame: CPU {m.proc_cpu / n * 1e3:.1f} ms, "
          f"minor faults {m.ru['minflt'] / n:.0f}, major {m.ru['majflt'] / n:.1f}, "
          f"context switches vol {m.ru['vcs'] / n:.1f} / invol {m.ru['ics'] / n:.1f}")
    print(f"      {'thread group (threads that ran)':<52} {'thr':>3} {'CPU ms/f':>8} {'runq ms/f':>9} {'vcs/f':>7} "
          f"{'ics/f':>7} {'minflt/f':>8} {'nice':>4}")
    for key, g in sorted(groups.items(), key=lambda kv: -kv[1]["cpu"]):
        print(f"      {key[:52]:<52} {g['n']:3d} {ms(g['cpu'] / n):>8} {ms(g['runq'] / n):>9} {g['vcs'] / n:7.1f} "
              f"{g['ics'] / n:7.1f} {g['minflt'] / n:8.0f} {','.join(map(str, sorted(g['nice']))):>4}")
    rest = m.proc_cpu - total_threads
    print(f"      {'unaccounted (process CPU - threads)':<52} {'':>3} {ms(rest / n):>8}")


def median_index(values: list[float]) -> int:
    order = sorted(range(len(values)), key=lambda i: values[i])
    return order[(len(order) - 1) // 2]


def engine_keys(requested) -> list[tuple[str | None, str, str]]:
    if requested:
        keys = []
        for text in requested:
            parts = text.split(":")
            if len(parts) == 2:
                keys.append((None, parts[0], parts[1]))
            elif len(parts) == 3:
                keys.append((parts[0], parts[1], parts[2]))
            else:
                raise SystemExit(f"--engines: {text!r} is not [MODEL:]BACKEND:PRECISION")
        return keys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_networks as _networks
    from livepose.card import load_card

    card = load_card(None, None)
    ok, skipped = _networks.configurations(card)
    for what, why in skipped:
        print(f"{card.name} {what}: skipped ({why})")
    keys = [(None, b, p) for b, p in ok if b in ("onnxruntime", "openvino") and p != "fp16"]
    keys.append(("mobilenet_thin", "onnxruntime", "fp32"))
    return keys


def main(args: argparse.Namespace) -> int:
    video = Path(args.video)
    if not video.is_file():
        print(f"skipped: {video} not found")
        return 0
    LOG.step("python start")
    import numpy

    LOG.step("import numpy")
    import cv2

    LOG.step("import cv2")
    if args.cv_threads is not None:
        cv2.setNumThreads(args.cv_threads)
        LOG.step(f"cv2.setNumThreads({args.cv_threads})")
    still = numpy.zeros((720, 1280, 3), numpy.uint8)
    cv2.resize(cv2.cvtColor(still, cv2.COLOR_BGR2RGB), (656, 368), interpolation=cv2.INTER_LINEAR)
    LOG.step("cv2 first resize (its thread pool)")
    import numba  # noqa: F401

    LOG.step("import numba")
    import livepose  # noqa: F401
    from livepose.build import build_estimator

    LOG.step("import livepose")
    import onnxruntime

    LOG.step("import onnxruntime")
    try:
        import openvino

        ov_version = openvino.__version__
    except ImportError:
        ov_version = "absent"
    LOG.step("import openvino")
    cap = cv2.VideoCapture(str(video))
    LOG.step("cv2 capture open")
    ok, _ = cap.read()
    n_dec = cap.get(cv2.CAP_PROP_N_THREADS)
    LOG.step("cv2 capture first read")
    cap.release()
    LOG.step("cv2 capture released")
    try:
        import av

        with av.open(str(video)) as container:
            LOG.step("PyAV open")
            stream = container.streams.video[0]
            codec = f"{stream.codec_context.name} {stream.width}x{stream.height}"
            for _ in container.decode(stream):
                break
            LOG.step("PyAV first frame")
            av_threads = f"{stream.codec_context.thread_type} x{stream.codec_context.thread_count}"
        LOG.step("PyAV closed")
    except Exception as exc:  # PyAV missing or the file not its kind
        codec, av_threads = "?", f"PyAV: {exc}"

    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores allowed of {os.cpu_count()}; python {sys.version.split()[0]}, cv2 "
          f"{cv2.__version__} (getNumThreads {cv2.getNumThreads()}), onnxruntime {onnxruntime.__version__}, openvino "
          f"{ov_version}, numba {numba.__version__}")
    print(f"video: {video} ({codec}); cv2 capture decoder threads (CAP_PROP_N_THREADS) {n_dec:g}; "
          f"PyAV {av_threads}; OPENCV_FFMPEG_THREADS={os.environ.get('OPENCV_FFMPEG_THREADS', '(unset)')}")
    print(f"settings: --frames {args.frames} --rounds {args.rounds} --jsonl {'on' if args.jsonl else 'off'} "
          f"--cv-threads {args.cv_threads} --engine-threads {args.engine_threads} --sample-ms {args.sample_ms:g}")

    keys = engine_keys(args.engines)
    from livepose.card import load_card

    default_model = load_card(None, None).name
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_pipeline import read_frames  # the same first N frames bench_pipeline reads

    frames = read_frames(video, args.frames)
    LOG.step("frames read for A")
    if not frames:
        print(f"skipped: no frame of {video} could be read")
        return 0
    period = args.sample_ms / 1e3
    results = []
    for key in keys:
        model, backend, precision = key
        name = f"{model or default_model} {backend} {precision}"

        def config_of(jsonl, key=key):
            config, command = run_config_for(video, len(frames), jsonl if args.jsonl else None, key, args.engine_threads)
            if args.cv_threads is not None:  # the run sets OpenCV's pool itself (capture.opencv_threads, default 1)
                config = config.with_(capture=config.capture.with_(opencv_threads=args.cv_threads))
            return config, command

        config, command = config_of(Path("OUT.jsonl"))
        try:
            est = build_estimator(config.model, config.decode, warm_up=True, augment=config.augment,
                                  suppress=config.suppress)
        except Exception as exc:
            print(f"\n{name}: skipped ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
            continue
        LOG.step(f"engine {name}")
        prepared = prepare(est, frames)
        timer = NetTimer(est.network)
        w, h = est.size
        print(f"\n== {name}: {est.describe() if hasattr(est, 'describe') else est.network.describe()}, input "
              f"{prepared[0][1].net_size[0]}x{prepared[0][1].net_size[1]}")
        print(f"   B = {command}")
        est.network.run(*prepared[0])  # warm at this size
        timer.take()
        rows = []
        for r in range(args.rounds):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            got = {}
            for side in order:
                if side == "A":
                    got["A"] = run_bare(est, prepared, period)
                else:
                    got["B"] = run_pipeline(est, config_of, period)
                got[side]["net"] = timer.take()
            a, b = got["A"], got["B"]
            rows.append(got)
            print(f"   round {r + 1} ({' '.join(order)}): bare {a['fps']:6.2f} FPS, pipeline {b['fps']:6.2f} FPS "
                  f"(steady {b['steady']:.2f}), ratio {b['fps'] / a['fps']:.3f}; network ms/call median "
                  f"A {statistics.median(a['net']) * 1e3:.1f} B {statistics.median(b['net']) * 1e3:.1f}; "
                  f"B: build {b['build_s']:.2f} s, first result {b['first_s']:.2f} s, {b['people']} people"
                  + (f", {b['jsonl_lines']} JSONL lines" if b["jsonl_lines"] is not None else ""), flush=True)
        timer.remove()
        ratios = [g["B"]["fps"] / g["A"]["fps"] for g in rows]
        steady = [g["B"]["steady"] / g["A"]["fps"] for g in rows]
        med_a = statistics.median(g["A"]["fps"] for g in rows)
        med_b = statistics.median(g["B"]["fps"] for g in rows)
        net_a = statistics.median(t for g in rows for t in g["A"]["net"])
        net_b = statistics.median(t for g in rows for t in g["B"]["net"])
        busy_b = statistics.median(sum(g["B"]["net"]) / g["B"]["wall"] for g in rows)
        busy_a = statistics.median(sum(g["A"]["net"]) / g["A"]["wall"] for g in rows)
        i = median_index(ratios)
        print(f"   median of {len(rows)}: bare {med_a:.2f} FPS, pipeline {med_b:.2f} FPS; ratio B/A median "
              f"{statistics.median(ratios):.3f} (rounds {', '.join(f'{x:.3f}' for x in ratios)}), ratio of medians "
              f"{med_b / med_a:.3f}, steady-state ratio median {statistics.median(steady):.3f}")
        print(f"   network per call: A {net_a * 1e3:.1f} ms, B {net_b * 1e3:.1f} ms (B/A {net_b / net_a:.3f}); "
              f"network busy: A {busy_a:.3f}, B {busy_b:.3f} of the wall time")
        print(f"   where the CPU went, round {i + 1} (the median ratio):")
        print_where("A bare network", rows[i]["A"], cores)
        print_where("B pipeline", rows[i]["B"], cores)
        cpu_a = statistics.median(g["A"]["m"].proc_cpu / max(1, g["A"]["frames"]) for g in rows)
        cpu_b = statistics.median(g["B"]["m"].proc_cpu / max(1, g["B"]["frames"]) for g in rows)
        print(f"   CPU per frame, median of rounds: A {cpu_a * 1e3:.1f} ms, B {cpu_b * 1e3:.1f} ms: the pipeline "
              f"spends {(cpu_b - cpu_a) * 1e3:.1f} ms a frame more ({(cpu_b - cpu_a) / (1 / med_a) * 100:.1f} % "
              f"of a bare network frame's wall time, {(cpu_b - cpu_a) / (cores / med_a) * 100:.1f} % of "
              f"{cores} cores over it)")
        results.append((name, statistics.median(ratios), len(rows), med_b / med_a, net_b / net_a))
        del est, prepared, timer
        import gc

        gc.collect()
        LOG.step(f"engine {name} released")

    print()
    LOG.print()
    print()
    for name, ratio, n, of_medians, net in results:
        print(f"{name}: pipeline {ratio:.2f} of bare network (median of {n} interleaved rounds; ratio of medians "
              f"{of_medians:.2f}; network per call in the pipeline {net:.2f}x bare); bar 0.97"
              + ("" if ratio >= 0.97 else "  << below"))
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
