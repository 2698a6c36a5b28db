"""``--angles``: milliseconds per frame of the joint-angle labels (livepose.render_angles).

    python benchmarks/bench_angles.py [--people 10] [--size 1280x720] [--frames 300]

Synthetic standing people (300 px tall, arms and knees a little bent, every part found, tracked
ids), spread over the frame.  Three figures, each the mean over ``--frames`` frames on one
thread, wall and CPU time (CPU: what a loaded machine does not inflate): ``angle_labels`` alone (one all_angles call for the frame, the layout), ``draw_angles``
(labels and cv2.putText), and what the video output does per frame with --angles (copy of the
shared picture, labels, text).  Without --angles none of this runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from livepose.card import load_card
from livepose.render_angles import angle_labels, draw_angles
from livepose.types import People, Poses

TEMPLATE = {"nose": (0, 0), "neck": (0, 30), "right_shoulder": (-30, 32), "left_shoulder": (30, 32),
            "right_elbow": (-45, 85), "left_elbow": (45, 85), "right_wrist": (-35, 135), "left_wrist": (40, 135),
            "right_hip": (-18, 150), "left_hip": (18, 150), "right_knee": (-25, 225), "left_knee": (22, 225),
            "right_ankle": (-20, 300), "left_ankle": (25, 300), "right_eye": (-6, -6), "left_eye": (6, -6),
            "right_ear": (-12, -2), "left_ear": (12, -2)}


def people(n: int, size: tuple[int, int], parts: tuple[str, ...]) -> People:
    rng = np.random.default_rng(0)
    base = np.array([TEMPLATE.get(p, (np.nan, np.nan)) for p in parts], np.float32)
    step = (size[0] - 100) / max(1, n)
    xy = np.stack([base + (60 + step * (i + 0.5), size[1] * 0.25 + 40 * (i % 3)) + rng.normal(0, 3, base.shape)
                   for i in range(n)]).astype(np.float32)
    conf = np.where(np.isfinite(xy[..., 0]), 0.8, 0.0).astype(np.float32)
    poses = Poses(xy, conf, np.full(n, 0.9, np.float32), parts)
    return People(poses, ids=np.arange(1, n + 1), state=np.ones(n, np.int8), raw=poses,
                  predicted_xy=np.full_like(xy, np.nan))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    crowd = people(args.people, (w, h), tuple(load_card().parts))
    picture = np.full((h, w, 3), 90, np.uint8)
    canvas = np.empty_like(picture)
    n_labels = len(angle_labels(crowd.poses, frame_size=(w, h)))

    def video_sink_work():
        np.copyto(canvas, picture)
        draw_angles(canvas, crowd)

    print(f"{w}x{h}, {args.people} people, {n_labels} labels, mean of {args.frames} frames:")
    for name, fn in (("angle_labels", lambda: angle_labels(crowd.poses, frame_size=(w, h))),
                     ("draw_angles", lambda: draw_angles(canvas, crowd)),
                     ("video output (copy + draw_angles)", video_sink_work)):
        fn()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.frames):
            fn()
        wall, cpu = ((t - t_) * 1e3 / args.frames for t, t_ in ((time.perf_counter(), t0), (time.process_time(), c0)))
        print(f"  {name}: {wall:.2f} ms per frame (CPU {cpu:.2f} ms)")


if __name__ == "__main__":
    main()
