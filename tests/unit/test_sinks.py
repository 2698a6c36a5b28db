"""The output sinks on real results: every file parses, has one entry per frame, and all
outputs agree with each other and with the poses; errors come at open and name the path."""

from __future__ import annotations

import collections
import dataclasses
import csv
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import COCO_DIR, REPO, start_xvfb
from livepose.errors import OutputError
from livepose.sinks import (
    CSV_HEADER,
    VIDEO_FOURCC,
    CocoSink,
    CsvSink,
    DisplaySink,
    JsonlSink,
    OpenPoseJsonSink,
    VideoSink,
)
from livepose.sinks.display import NO_DISPLAY
from livepose.types import COCO17_NAMES, Frame, FrameResult, People, Poses, StreamInfo

SIZE = (640, 424)
FPS = 25.0
PHOTOS = ["000000000785.jpg", "000000040083.jpg", "000000196141.jpg", "000000197388.jpg"]
EMPTY_AT = 2  # the frame index with nobody in it


def tracked_people(poses: Poses, ids: np.ndarray) -> People:
    """The poses as a tracker would report people it took them for: ``ids``, alternating states,
    the detections as raw, no predicted joints."""
    n, p = len(poses), len(poses.part_names)
    return People(poses, ids=np.asarray(ids, np.int64), state=(np.arange(n) % 2).astype(np.int8), raw=poses,
                  predicted_xy=np.full((n, p, 2), np.nan, np.float32))


@pytest.fixture(scope="module")
def run(estimator):
    """(info, results without ids, results with ids): the 4 COCO photos at one size as frames
    0, 1, 3, 4 and a blank frame 2 with an empty Poses."""
    images = [cv2.resize(cv2.imread(str(COCO_DIR / name)), SIZE, interpolation=cv2.INTER_AREA) for name in PHOTOS]
    images.insert(EMPTY_AT, np.full((SIZE[1], SIZE[0], 3), 90, np.uint8))
    info = StreamInfo(
        source=str(COCO_DIR), size=SIZE, fps=FPS, frame_count=len(images), is_live=False,
        model=estimator.card.name, part_names=estimator.part_names, limbs=estimator.card.limbs,
    )
    plain, tracked = [], []
    for index, image in enumerate(images):
        poses = Poses.empty(estimator.part_names) if index == EMPTY_AT else estimator(image)[0]
        frame = Frame(index=index, timestamp=index / FPS, captured_at=time.perf_counter(), image=image)
        ids = (np.arange(len(poses), dtype=np.int64)[::-1] + 10 * index + 3)
        plain.append(FrameResult(frame, People.detected(poses)))
        tracked.append(FrameResult(frame, tracked_people(poses, ids)))
    counts = [len(r.poses) for r in plain]
    assert counts[EMPTY_AT] == 0 and all(c > 0 for i, c in enumerate(counts) if i != EMPTY_AT)
    assert any((~r.poses.visible).any() for r in plain), "the fixture should have missing parts"
    return info, plain, tracked


def _write_all(sinks, info, results):
    for s in sinks:
        s.open(info)
    for r in results:
        for s in sinks:
            s.write(r)
    for s in sinks:
        s.close()


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---- contents -------------------------------------------------------------------------


@pytest.mark.parametrize("tracked", [False, True], ids=["no-ids", "ids"])
def test_file_outputs_parse_and_agree(tmp_path, run, tracked):
    info, plain, with_ids = run
    results = with_ids if tracked else plain
    jsonl, coco, csv_path, op_dir = tmp_path / "a/run.jsonl", tmp_path / "b/run.coco.json", tmp_path / "c/run.csv", tmp_path / "op"
    _write_all([JsonlSink(jsonl), CocoSink(coco), CsvSink(csv_path), OpenPoseJsonSink(op_dir, "clip")], info, results)
    parts = info.part_names

    # JSON Lines: one object per frame, in order, matching the poses within rounding
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(results)
    docs = [json.loads(line) for line in lines]
    for doc, r in zip(docs, results):
        assert doc["schema"] == "livepose.frame/1" and doc["model"] == info.model
        assert doc["frame"] == r.frame.index and doc["time"] == round(r.frame.timestamp, 4)
        assert (doc["width"], doc["height"]) == SIZE
        assert len(doc["people"]) == len(r.poses)
        for n, person in enumerate(doc["people"]):
            assert person["id"] == (int(r.person_ids[n]) if tracked else None)
            assert person["score"] == pytest.approx(float(r.poses.score[n]), abs=5e-5)
            assert len(person["keypoints"]) == len(parts)
            for p, (x, y, c) in enumerate(person["keypoints"]):
                if r.poses.visible[n, p]:
                    assert x == pytest.approx(float(r.poses.xy[n, p, 0]), abs=0.0051)
                    assert y == pytest.approx(float(r.poses.xy[n, p, 1]), abs=0.0051)
                    assert c == pytest.approx(float(r.poses.conf[n, p]), abs=0.00051) and c > 0
                else:
                    assert (x, y, c) == (None, None, 0)

    # OpenPose: one file per frame, named by the frame index
    files = sorted(op_dir.glob("*.json"))
    assert [f.name for f in files] == [f"clip_{r.frame.index:012d}_keypoints.json" for r in results]
    assert not list(op_dir.glob("*.part"))
    for f, doc in zip(files, docs):
        op = json.loads(f.read_text())
        assert op["version"] == 1.3 and len(op["people"]) == len(doc["people"])
        for person, mine in zip(op["people"], doc["people"]):
            assert person["person_id"] == [mine["id"] if tracked else -1]
            triples = np.asarray(person["pose_keypoints_2d"]).reshape(-1, 3)
            for (x, y, c), (jx, jy, jc) in zip(triples, mine["keypoints"]):
                if jx is None:
                    assert (x, y, c) == (0, 0, 0)
                else:
                    assert (x, y, c) == pytest.approx((jx, jy, jc), abs=0.0056)

    # COCO results: one list, one entry per person, COCO-17 order
    entries = json.loads(coco.read_text())
    assert not coco.with_name(coco.name + ".part").exists()
    assert len(entries) == sum(len(d["people"]) for d in docs)
    by_image = collections.defaultdict(list)
    for e in entries:
        by_image[e["image_id"]].append(e)
    coco_index = [parts.index(name) for name in COCO17_NAMES]
    for doc in docs:
        mine = by_image.get(doc["frame"], [])
        assert len(mine) == len(doc["people"])
        for e, person in zip(mine, doc["people"]):
            assert e["category_id"] == 1
            assert e["score"] == pytest.approx(person["score"], abs=6e-5)
            assert ("track_id" in e) == tracked and e.get("track_id") == person["id"]
            kp = np.asarray(e["keypoints"]).reshape(17, 3)
            for k, p in enumerate(coco_index):
                jx, jy, _ = person["keypoints"][p]
                if jx is None:
                    assert tuple(kp[k]) == (0, 0, 0)
                else:
                    assert tuple(kp[k]) == pytest.approx((jx, jy, 1), abs=0.0051)

    # CSV: every frame present (the empty one as one row), one row per part per person
    rows = _read_csv(csv_path)
    assert list(rows[0].keys()) == list(CSV_HEADER)
    frames = collections.defaultdict(list)
    for row in rows:
        frames[int(row["frame"])].append(row)
    assert list(frames) == [r.frame.index for r in results]
    for doc in docs:
        mine = frames[doc["frame"]]
        assert all(float(row["time"]) == doc["time"] for row in mine)
        if not doc["people"]:
            assert len(mine) == 1 and [mine[0][k] for k in CSV_HEADER[2:]] == [""] * 5
            continue
        assert len(mine) == len(doc["people"]) * len(parts)
        for n, person in enumerate(doc["people"]):
            block = mine[n * len(parts):(n + 1) * len(parts)]
            assert [row["keypoint"] for row in block] == list(parts)
            assert {int(row["person"]) for row in block} == {person["id"] if tracked else n}
            for row, (jx, jy, jc) in zip(block, person["keypoints"]):
                if jx is None:
                    assert (row["x"], row["y"], float(row["conf"])) == ("", "", 0.0)
                else:
                    assert (float(row["x"]), float(row["y"]), float(row["conf"])) == (jx, jy, jc)


def test_outputs_are_streamed_and_flushed_per_frame(tmp_path, run):
    info, _, results = run
    jsonl, coco, csv_path = JsonlSink(tmp_path / "r.jsonl"), CocoSink(tmp_path / "r.json"), CsvSink(tmp_path / "r.csv")
    sinks = [jsonl, coco, csv_path]
    for s in sinks:
        s.open(info)
    for s in sinks:
        s.write(results[0])
    # on disk before close, under the temporary names (the final paths appear at close)
    assert len(jsonl._file.temp.read_text().splitlines()) == 1
    assert len(_read_csv(csv_path._file.temp)) == len(results[0].poses) * len(info.part_names)
    part = coco.part_path.read_text()
    assert part.count('"image_id"') == len(results[0].poses) and not (tmp_path / "r.json").exists()
    assert not (tmp_path / "r.jsonl").exists() and not (tmp_path / "r.csv").exists()
    for s in sinks:
        s.close()
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 1 and not list(tmp_path.glob(".*.tmp"))


def test_sinks_keep_no_per_frame_state(tmp_path, run):
    """Nothing grows with the number of frames (no buffering of the run)."""
    info, _, results = run
    sinks = [VideoSink(tmp_path / "v.avi"), JsonlSink(tmp_path / "r.jsonl"), CocoSink(tmp_path / "r.json"),
             CsvSink(tmp_path / "r.csv"), OpenPoseJsonSink(tmp_path / "op", "x")]

    def sizes(sink):
        return {k: len(v) for k, v in vars(sink).items() if isinstance(v, (list, dict, set, tuple, collections.deque))}

    for s in sinks:
        s.open(info)
        s.write(results[0])
    before = [sizes(s) for s in sinks]
    for r in results[1:] * 3:
        for s in sinks:
            s.write(r)
    assert [sizes(s) for s in sinks] == before
    for s in sinks:
        s.close()


# ---- video ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(VIDEO_FOURCC))
def test_video_plays_back_with_every_frame(tmp_path, run, suffix):
    info, _, results = run
    path = tmp_path / "deep" / "er" / f"out{suffix}"
    before = [r.frame.image.copy() for r in results]
    small = results[0].frame.image[::2, ::2]  # another size: resized to the stream's
    extra = FrameResult(Frame(99, 99 / FPS, 0.0, np.ascontiguousarray(small)),
                        People.detected(Poses.empty(info.part_names)))
    with VideoSink(path) as sink:
        sink.open(info)
        for r in results + [extra]:
            sink.write(r)
    sink.close()
    for r, img in zip(results, before):  # the shared frames were not drawn on
        assert np.array_equal(r.frame.image, img)
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS, rel=0.01)
    decoded = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        decoded.append(image)
    cap.release()
    assert len(decoded) == len(results) + 1
    assert all(d.shape == (SIZE[1], SIZE[0], 3) for d in decoded)
    # skeletons were drawn: the keypoints' pixels changed (white dots without ids)
    r = results[0]
    pts = np.round(r.poses.xy[r.poses.visible]).astype(int)
    change = np.abs(decoded[0][pts[:, 1], pts[:, 0]].astype(int) - r.frame.image[pts[:, 1], pts[:, 0]].astype(int))
    assert change.mean() > 40
    # the blank frame came through as blank
    assert np.abs(decoded[EMPTY_AT].astype(int) - 90).mean() < 3


def test_video_fps_defaults_to_25_and_unknown_suffix_is_refused(tmp_path, run):
    info, results, _ = run
    odd = dataclasses.replace(info, fps=0.0)
    with VideoSink(tmp_path / "v.mp4") as sink:
        sink.open(odd)
        sink.write(results[0])
    assert cv2.VideoCapture(str(tmp_path / "v.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
    with pytest.raises(OutputError, match=r"v\.gif.*\.mp4"):
        VideoSink(tmp_path / "v.gif")
    with pytest.raises(OutputError, match="no suffix"):
        VideoSink(tmp_path / "video")


# ---- COCO -----------------------------------------------------------------------------


def test_coco_file_is_valid_json_when_the_run_stops_early(tmp_path, run):
    info, _, results = run
    path = tmp_path / "early.json"
    with CocoSink(path) as sink:
        sink.open(info)
        for r in results[:2]:
            sink.write(r)
        # the run stops here (an exception, Ctrl-C): the with block still closes the sink
    entries = json.loads(path.read_text())
    assert len(entries) == len(results[0].poses) + len(results[1].poses)
    assert {e["image_id"] for e in entries} == {0, 1}
    assert not (tmp_path / "early.json.part").exists()

    with CocoSink(tmp_path / "none.json") as sink:  # no frame at all
        sink.open(info)
    assert json.loads((tmp_path / "none.json").read_text()) == []


def test_coco_needs_coco17_parts(tmp_path, run):
    info, _, _ = run
    parts = tuple(p for p in info.part_names if p not in ("left_ear", "right_ankle"))
    with pytest.raises(OutputError, match=r"bad\.json.*left_ear, right_ankle"):
        CocoSink(tmp_path / "bad.json").open(dataclasses.replace(info, part_names=parts))
    assert list(tmp_path.iterdir()) == []


# ---- errors and closing ---------------------------------------------------------------


def _all_sinks(base: Path):
    return [
        VideoSink(base / "out.mp4"), JsonlSink(base / "out.jsonl"), CocoSink(base / "out.json"),
        CsvSink(base / "out.csv"), OpenPoseJsonSink(base / "json", "clip"),
    ]


def test_unwritable_paths_fail_at_open_naming_the_path(tmp_path, run):
    info, _, _ = run
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file")
    for base in (blocker, blocker / "sub"):
        for sink in _all_sinks(base):
            with pytest.raises(OutputError) as err:
                sink.open(info)
            message = str(err.value)
            assert "\n" not in message and str(base) in message, message
            sink.close()
    # the path itself is a folder
    (tmp_path / "taken.jsonl").mkdir()
    with pytest.raises(OutputError, match=r"taken\.jsonl.*folder"):
        JsonlSink(tmp_path / "taken.jsonl").open(info)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder_fails_at_open(tmp_path, run):
    info, _, _ = run
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        for sink in _all_sinks(ro):
            with pytest.raises(OutputError, match="ermission denied"):
                sink.open(info)
    finally:
        ro.chmod(0o700)


def test_close_is_idempotent_and_safe_before_open(tmp_path, run):
    info, results, _ = run
    for sink in _all_sinks(tmp_path / "never"):
        sink.close()
        sink.close()
    assert not (tmp_path / "never").exists()
    for sink in _all_sinks(tmp_path / "twice"):
        with sink:
            sink.open(info)
            sink.write(results[0])
        sink.close()
        sink.close()
    assert json.loads((tmp_path / "twice" / "out.json").read_text())


def test_csv_loads_in_pandas(tmp_path, run):
    pd = pytest.importorskip("pandas")
    info, _, results = run
    with CsvSink(tmp_path / "r.csv") as sink:
        sink.open(info)
        for r in results:
            sink.write(r)
    df = pd.read_csv(tmp_path / "r.csv")
    assert list(df.columns) == list(CSV_HEADER)
    assert sorted(df["frame"].unique()) == [r.frame.index for r in results]
    assert len(df) == 1 + sum(len(r.poses) for r in results) * len(info.part_names)
    assert df.loc[df["frame"] == EMPTY_AT, "person"].isna().all()


# ---- display --------------------------------------------------------------------------


def test_display_refuses_without_an_x_display(monkeypatch, run):
    info, _, _ = run
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(OutputError) as err:
        DisplaySink().open(info)
    assert str(err.value) == NO_DISPLAY
    # the wheels' Qt has only the X11 plugin: Wayland alone would abort the process
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    with pytest.raises(OutputError, match="DISPLAY is not set"):
        DisplaySink().open(info)
    # a DISPLAY where no X server listens
    monkeypatch.setenv("DISPLAY", ":987")
    with pytest.raises(OutputError, match="cannot connect to the X display ':987'"):
        DisplaySink().open(info)
    DisplaySink().close()  # closing an unopened display is fine


def test_display_keys_and_hud_state(run):
    """Key handling and counters, without a window."""
    sink = DisplaySink()
    sink._on_key(ord(" "))
    assert sink.paused.is_set() and not sink.stop_requested.is_set()
    sink._on_key(ord(" "))
    assert not sink.paused.is_set()
    sink._on_key(ord(" "))
    sink._on_key(27)  # Esc also ends a pause, so a blocked write returns
    assert sink.stop_requested.is_set() and not sink.paused.is_set()
    other = DisplaySink()
    other._on_key(ord("q"))
    assert other.stop_requested.is_set()
    assert DisplaySink().dropped(5) == 0 and DisplaySink().fps() == 0.0
    assert DisplaySink.on_caller_thread and DisplaySink.needs_picture
    assert isinstance(other.stop_requested, type(sink.stop_requested)) and sink.stop_requested is not other.stop_requested


DISPLAY_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    import numpy as np
    from livepose.sinks import DisplaySink
    from livepose.types import Frame, FrameResult, People, Poses, StreamInfo

    data = np.load(sys.argv[1], allow_pickle=False)
    parts = tuple(str(p) for p in data["parts"])
    info = StreamInfo("test", tuple(int(v) for v in data["size"]), 25.0, None, True, "m", parts, data["limbs"])
    sink = DisplaySink("livepose-test")
    sink.open(info)                       # main thread, as a pipeline would

    def worker():                         # frames from a worker thread
        for i in range(int(data["count"])):
            n = int(data[f"n{i}"])
            poses = Poses(data[f"xy{i}"], data[f"conf{i}"], data[f"score{i}"], parts)
            people = People.detected(poses)
            if i % 2:  # tracked: drawn in the ids' colours with labels
                people = People(poses, ids=np.arange(n, dtype=np.int64), state=np.ones(n, np.int8), raw=poses,
                                predicted_xy=np.full(poses.xy.shape, np.nan, np.float32))
            index = i if i < 3 else i + 2   # a gap: two frames dropped
            frame = Frame(index, index / 25, time.perf_counter() - 0.03, data[f"img{i}"])
            sink.write(FrameResult(frame, people))
            time.sleep(0.05)

    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    time.sleep(0.3)
    shown = sink._shown_any
    print("dropped", sink.dropped(int(data["count"]) + 1))
    sink.close()                          # main thread again
    sink.close()
    print("RESULT", "shown" if shown else "not-shown", "stop" if sink.stop_requested.is_set() else "running",
          "alive" if t.is_alive() else "done")
""")


def test_display_window_under_xvfb(tmp_path, run):
    info, plain, _ = run
    arrays = {"parts": np.array(info.part_names), "size": np.array(info.size), "limbs": info.limbs,
              "count": np.array(len(plain))}
    for i, r in enumerate(plain):
        arrays.update({f"xy{i}": r.poses.xy, f"conf{i}": r.poses.conf, f"score{i}": r.poses.score,
                       f"n{i}": np.array(len(r.poses)), f"img{i}": r.frame.image})
    np.savez(tmp_path / "frames.npz", **arrays)
    proc, display = start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(REPO)}
        env.pop("WAYLAND_DISPLAY", None)
        done = subprocess.run([sys.executable, "-c", DISPLAY_SCRIPT, str(tmp_path / "frames.npz")],
                              env=env, capture_output=True, text=True, timeout=120)
    finally:
        proc.terminate()
        proc.wait(10)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT shown running done" in done.stdout, done.stdout + done.stderr[-2000:]
    assert "dropped 2" in done.stdout
