"""Memory over a long run: resident set size sampled while a whole video goes through the
pipeline with every file output on.  It must stay flat (no per-frame growth).

    python benchmarks/bench_memory.py [--video PATH] [--every 100]

Default video: ../shared/data/video/pets09-s2l1-480x360-10fps.avi (795 frames); prints
"skipped: ..." when absent.  Prints RSS every ``--every`` frames and the growth between the
first sample after warm-up and the last, per 1000 frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO.parent / "shared" / "data" / "video" / "pets09-s2l1-480x360-10fps.avi"


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT)
    ap.add_argument("--every", type=int, default=100)
    args = ap.parse_args()
    if not args.video.is_file():
        print(f"skipped: {args.video} not found")
        return 0

    from livepose import PoseEstimator
    from livepose import sinks as S
    from livepose.capture import open_source
    from livepose.runner import run_video
    from livepose.sinks.base import Sink

    samples: list[tuple[int, float]] = []

    class Sampler(Sink):
        name = "memory"

        def open(self, info):
            pass

        def write(self, result):
            if result.frame.index % args.every == 0:
                samples.append((result.frame.index, rss_mib()))
                print(f"frame {result.frame.index:5d}: RSS {samples[-1][1]:.1f} MiB", flush=True)

        def close(self):
            pass

    est = PoseEstimator()
    source = open_source(str(args.video))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        sinks = [S.VideoSink(out / "v.mp4"), S.JsonlSink(out / "a.jsonl"), S.OpenPoseJsonSink(out / "op", "v"),
                 S.CocoSink(out / "c.json"), S.CsvSink(out / "a.csv"), Sampler()]
        summary = run_video(source, est, sinks, quiet=True)
    print(summary.line())
    if len(samples) >= 3:
        (f0, m0), (f1, m1) = samples[1], samples[-1]
        print(f"growth from frame {f0} to {f1}: {m1 - m0:+.1f} MiB ({(m1 - m0) / (f1 - f0) * 1000:+.2f} MiB per 1000 frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
