"""Does ``--size auto`` find the small people of wide shots, at what cost, and does it leave the rest alone?

    python benchmarks/bench_autosize.py                                  # the shared videos, both networks
    python benchmarks/bench_autosize.py VIDEO [VIDEO ...] --models lwop --max-frames 100
    python benchmarks/bench_autosize.py --sizes=-1x552,-1x736             # fixed sizes too (a sweep)

For each video (default: the shared street-crowd-720p50.avi, pets09-s2l1-480x360-10fps.avi,
basketball-drill-426x240.mp4 and dance-3people-720x1280.mp4; a missing one prints ``skipped: ...``)
and each network of ``--models``, the same frames run twice through the composed pipeline
(:func:`livepose.build.build`, tracking on, no outputs): at the card's input size and with
``size="auto"``.  Printed per run: the network input, people per frame (mean, the people a run
reports), distinct track ids, ids lasting at least 5 frames, frames per second of the run itself
(after its warm-up; with ``--runs`` the median of the runs), the seconds the run took to build (network loading; with ``auto`` also the
sampling and probing before it), and ``auto``'s one line saying what it picked.  ``--sizes``
adds runs at fixed sizes, to see what a full run at each finds.  The runs of a video alternate
order from video to video.  Figures only, no pass/fail.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SHARED = Path(os.environ.get("LIVEPOSE_SHARED", ROOT.parent / "shared"))
VIDEOS = ("street-crowd-720p50.avi", "pets09-s2l1-480x360-10fps.avi", "basketball-drill-426x240.mp4",
          "dance-3people-720x1280.mp4")


def measure(video: Path, model: str, size, *, max_frames: int | None, threads: int | None, backend: str) -> dict:
    """One run of ``video`` at ``size`` (None: the card's; "auto"): the figures of the table."""
    from livepose.build import build
    from livepose.settings import RunConfig

    config = RunConfig.from_overrides(source=str(video), model=model, size=size, max_frames=max_frames,
                                      threads=threads, backend=backend, quiet=True)
    lines: list[str] = []
    t0 = time.perf_counter()
    run = build(config, outputs=False, warn=lines.append, announce=lines.append)
    built = time.perf_counter() - t0
    stream = run.stream
    frames = people = 0
    ids: dict[int, int] = {}
    try:
        stream.start()  # the warm-up is not the run's
        t1 = time.perf_counter()
        for result in stream:
            frames += 1
            people += len(result.people)
            if result.people.ids is not None:
                for i in result.people.ids.tolist():
                    ids[i] = ids.get(i, 0) + 1
        seconds = time.perf_counter() - t1
    finally:
        run.close()
    choice = run.size_choice
    w, h = stream.stages.letterbox.plan(stream.info.size).net_size
    return {"input": f"{w}x{h}", "frames": frames, "people": people / max(1, frames), "ids": len(ids),
            "ids5": sum(1 for n in ids.values() if n >= 5), "fps": frames / seconds if seconds > 0 else 0.0,
            "probe_s": built, "line": choice.line if choice is not None else "", "lines": lines}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path, help="video files (default: the shared videos)")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared data folder")
    parser.add_argument("--models", default="lwop,mobilenet_thin", help="networks, comma separated")
    parser.add_argument("--max-frames", type=int, default=300, help="frames per run (default 300)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each size: the median FPS (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads (default: all cores)")
    parser.add_argument("--backend", default="auto", help="engine (default auto)")
    parser.add_argument("--sizes", default="",
                        help="fixed sizes to run as well, comma separated, e.g. --sizes=-1x552,-1x736")
    args = parser.parse_args(argv)

    videos = args.videos or [args.shared / "data" / "video" / name for name in VIDEOS]
    present = []
    for video in videos:
        if video.is_file():
            present.append(video)
        else:
            print(f"skipped: {video} (absent{'; set LIVEPOSE_SHARED or --shared' if not args.videos else ''})")
    if not present:
        return 0
    from livepose.preprocess import parse_size

    extra = [parse_size(t) for t in args.sizes.split(",") if t.strip()]
    print("| video | network | size | input | people/frame | distinct ids | ids >= 5 frames | FPS | "
          "build s | frames |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    notes = []
    for k, video in enumerate(present):
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            sizes = [None, "auto", *extra]
            got = {}
            fps: dict = {size: [] for size in sizes}
            for _ in range(max(1, args.runs)):
                for size in (sizes if k % 2 == 0 else sizes[::-1]):
                    got[size] = measure(video, model, size, max_frames=args.max_frames, threads=args.threads,
                                        backend=args.backend)
                    fps[size].append(got[size]["fps"])
            for size in sizes:
                got[size]["fps"] = statistics.median(fps[size])
            for size in sizes:
                r = got[size]
                name = size if isinstance(size, str) else "default" if size is None else f"{size[0]}x{size[1]}"
                print(f"| {video.name} | {model} | {name} | {r['input']} | {r['people']:.2f} | "
                      f"{r['ids']} | {r['ids5']} | {r['fps']:.2f} | {r['probe_s']:.1f} | {r['frames']} |", flush=True)
            notes.append(f"{video.name}, {model}: {got['auto']['line'] or '; '.join(got['auto']['lines'])}")
    print()
    for line in notes:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
