"""Every output through the same checks (a contract test), on synthetic results (no network):

* the lifecycle: open -> three results (nobody; two tracked people; two untracked people) ->
  close; close again is fine; write after close raises; what was written is valid (the video
  plays with every frame, JSON parses, the CSV has its header and rows, the receivers got
  every frame);
* a path that cannot be written (a file where a folder should be), or a network target that
  cannot be used, is one OutputError line naming it, at open;
* every serialiser says what the frame's record says (same ids, same coordinates within the
  format's rounding, the same missing keypoints);
* the record layer itself (made once, attached or not) and the pictures (drawn once, or by
  the output itself for results made by hand).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import json
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from helpers import UdpReceiver
from livepose.card import load_card
from livepose.errors import OutputError
from livepose.formats import coco17_index, coco_results, openpose_document, posetrack_people
from livepose.records import FrameRecord, attach_record, record_of
from livepose.render import draw_poses, render_result
from livepose.sinks import (
    CSV_HEADER, CocoSink, CsvSink, DisplaySink, ImageSink, JsonlSink, OpenPoseJsonSink, OscSink, Sink, UdpSink,
    VideoSink, WebSocketSink,
)
from livepose.sinks.files.atomic import PartFile, write_bytes_atomic, write_json_atomic
from livepose.sinks.stream.messages import people_documents, split_frame
from livepose.sinks.files.jsonl import jsonl_document
from livepose.types import TRACK_STATES, Frame, FrameResult, People, Poses, StreamInfo, Tracks

CARD = load_card()
PARTS = CARD.parts
P = len(PARTS)
SIZE = (320, 240)
FPS = 10.0
WAIT = 10.0


# -- synthetic results --------------------------------------------------------------------------
def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 200, SIZE[0], dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 6, (SIZE[1], SIZE[0], 3)).astype(np.float32)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _poses(seed: int, n: int = 2) -> Poses:
    """``n`` people with a few missing parts (NaN, conf 0) and one odd entry (conf > 0 but no
    coordinates: counted as missing everywhere)."""
    rng = np.random.default_rng(seed)
    xy = np.stack([rng.uniform(20, SIZE[0] - 20, (n, P)), rng.uniform(20, SIZE[1] - 20, (n, P))], -1).astype(np.float32)
    conf = rng.uniform(0.1, 0.95, (n, P)).astype(np.float32)
    missing = rng.random((n, P)) < 0.25
    missing[:, 0] = False
    xy[missing] = np.nan
    conf[missing] = 0.0
    if n:
        xy[0, 1] = np.nan  # conf > 0 without a position: missing
    score = rng.uniform(0.3, 0.9, n).astype(np.float32)
    return Poses(xy=xy, conf=conf, score=score, part_names=PARTS)


def _tracked(seed: int) -> People:
    """Two tracks as the tracker reports them: smoothed xy, raw detections, predicted joints."""
    det = _poses(seed)
    n = len(det)
    rng = np.random.default_rng(seed + 1)
    measured = det.conf > 0
    smooth = det.xy + rng.normal(0, 0.7, det.xy.shape).astype(np.float32)
    predicted = ~measured  # the tracker predicts every joint not measured this frame ...
    predicted[0] = False  # ... of the second track only
    smooth[predicted] = rng.uniform(30, 200, (int(predicted.sum()), 2)).astype(np.float32)
    tracks = Tracks(ids=np.array([7, 12], np.int64), xy=smooth.astype(np.float32), xy_raw=det.xy, conf=det.conf,
                    predicted=predicted, state=np.array([1, 0], np.int8), det_index=np.arange(n, dtype=np.int32),
                    score=det.score, part_names=PARTS)
    return People.from_tracks(tracks)


def make_results() -> list[FrameResult]:
    """Frame 0: nobody; frame 1: two tracked people; frame 2: two untracked people."""
    people = [People.detected(Poses.empty(PARTS)), _tracked(11), People.detected(_poses(21))]
    return [FrameResult(Frame(index=k, timestamp=k / FPS, captured_at=time.perf_counter(), image=_image(k)), p)
            for k, p in enumerate(people)]


INFO = StreamInfo(source="synthetic", size=SIZE, fps=FPS, frame_count=3, is_live=False, model=CARD.name,
                  part_names=PARTS, limbs=CARD.limbs)
RESULTS = make_results()
PEOPLE_PER_FRAME = [len(r.people) for r in RESULTS]


# -- what each output wrote, read back: per frame [(key, state, (P, 3) x y conf, NaN missing)] ---
def _kp(rows) -> np.ndarray:
    out = np.asarray([[np.nan if v is None else v for v in row] for row in rows], np.float64).reshape(-1, 3)
    out[out[:, 2] <= 0] = np.nan
    return out


def _read_jsonl(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return [[(p["id"], p.get("state"), _kp(p["keypoints"])) for p in json.loads(line)["people"]] for line in lines]


def _read_openpose(folder: Path):
    files = sorted(folder.glob("*_keypoints.json"))
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*.tmp"))
    return [[(p["person_id"][0], None, _kp(np.reshape(p["pose_keypoints_2d"], (-1, 3))))
             for p in json.loads(f.read_text())["people"]] for f in files]


def _read_coco(path: Path):
    entries = json.loads(path.read_text())
    assert not path.with_name(path.name + ".part").exists()
    by_image = collections.defaultdict(list)
    index = coco17_index(PARTS)
    for e in entries:
        assert e["category_id"] == 1
        kp17 = _kp(np.reshape(e["keypoints"], (17, 3)))
        kp = np.full((P, 3), np.nan)
        kp[index] = kp17
        by_image[e["image_id"]].append((e.get("track_id"), None, kp))
    return [by_image.get(r.frame.index, []) for r in RESULTS]


def _read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_HEADER
    frames: dict[int, list] = collections.OrderedDict()
    for row in rows[1:]:
        frame, _, person, part, x, y, c = row
        people = frames.setdefault(int(frame), collections.OrderedDict())
        if person == "":
            continue
        kp = people.setdefault(int(person), np.full((P, 3), np.nan))
        if x != "":
            kp[PARTS.index(part)] = (float(x), float(y), float(c))
    return [[(key, None, kp) for key, kp in people.items()] for people in frames.values()]


def _read_video(path: Path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        assert image.shape == (SIZE[1], SIZE[0], 3)
        frames.append(image)
    cap.release()
    return frames


def _read_images(folder: Path):
    files = sorted(folder.glob("*.png"))
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*.tmp"))
    images = [cv2.imread(str(f)) for f in files]
    assert all(i is not None and i.shape == (SIZE[1], SIZE[0], 3) for i in images)
    return images


def _people_from_stream(doc: dict):
    assert doc["type"] == "frame"
    return [(p["id"], p["state"], _kp(p["keypoints"])) for p in doc["people"]]


def _people_from_osc(dgram: bytes):
    messages = [(m.address, list(m.params)) for m in OscBundle(dgram)]
    assert messages[0][0] == "/livepose/frame"
    out = []
    for address, params in messages[1:]:
        if address.count("/") == 3:  # /livepose/person/<id>: id, state, score, x y conf ...
            state = None if params[1] == "none" else params[1]
            out.append((params[0], state, _kp(np.reshape(params[3:], (-1, 3)))))
    return out


# -- the outputs: how to make one, and how to read what it wrote ---------------------------------
class FileOutput:
    network = False

    def __init__(self, kind: str, make, read, target: str, digits: int | None, key):
        self.kind, self._make, self._read, self.target, self.digits, self.key = kind, make, read, target, digits, key

    def make(self, base: Path) -> Sink:
        return self._make(base / self.target)

    def start(self, sink: Sink, base: Path):
        sink.open(INFO)
        return base / self.target

    def read(self, where: Path):
        return self._read(where)

    def stop(self, where) -> None:
        pass


def _ids_or(record: FrameRecord, n: int, untracked):
    return int(record.ids[n]) if record.ids is not None else untracked(n)


FILE_OUTPUTS = [
    FileOutput("video", VideoSink, _read_video, "out/v.avi", None, None),
    FileOutput("jsonl", JsonlSink, _read_jsonl, "out/r.jsonl", 2, lambda r, n: _ids_or(r, n, lambda n: None)),
    FileOutput("openpose", lambda p: OpenPoseJsonSink(p, "clip"), _read_openpose, "out/op", 3,
               lambda r, n: _ids_or(r, n, lambda n: -1)),
    FileOutput("coco", CocoSink, _read_coco, "out/r.coco.json", 2, lambda r, n: _ids_or(r, n, lambda n: None)),
    FileOutput("csv", CsvSink, _read_csv, "out/r.csv", 2, lambda r, n: r.person_key(n)),
    FileOutput("image", ImageSink, _read_images, "out/images", None, None),
]


class WebSocketOutput:
    kind, network, digits = "websocket", True, 2

    @staticmethod
    def key(record, n):
        return record.json_ids[n]

    def make(self, base: Path) -> Sink:
        return WebSocketSink("127.0.0.1", 0)

    def start(self, sink: Sink, base: Path):
        from websockets.sync.client import connect

        sink.open(INFO)
        self._stack = contextlib.ExitStack()
        ws = self._stack.enter_context(connect(sink.ws_url, open_timeout=WAIT, close_timeout=2))
        assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
        deadline = time.monotonic() + WAIT
        while sink.clients < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        return ws

    def read(self, ws):
        return [_people_from_stream(json.loads(ws.recv(timeout=WAIT))) for _ in RESULTS]

    def stop(self, ws) -> None:
        self._stack.close()


class DatagramOutput:
    network = True

    def __init__(self, kind: str):
        self.kind = kind
        self.digits = None if kind == "osc" else 2  # OSC sends float32 values as they are

    def key(self, record, n):
        return record.person_key(n) if self.kind == "osc" else record.json_ids[n]

    def make(self, base: Path) -> Sink:
        self.receiver = UdpReceiver(wait=WAIT)
        if self.kind == "osc":
            return OscSink("127.0.0.1", self.receiver.port, keypoints_every=None)
        return UdpSink("127.0.0.1", self.receiver.port, hello_every=None)

    def start(self, sink: Sink, base: Path):
        sink.open(INFO)
        self.receiver.get()  # the stream description (OSC) or hello (UDP)
        return self.receiver

    def read(self, receiver):
        parse = _people_from_osc if self.kind == "osc" else (lambda d: _people_from_stream(json.loads(d)))
        return [parse(receiver.get()) for _ in RESULTS]

    def stop(self, receiver) -> None:
        receiver.close()


NETWORK_OUTPUTS = [WebSocketOutput(), DatagramOutput("osc"), DatagramOutput("udp")]
ALL_OUTPUTS = FILE_OUTPUTS + NETWORK_OUTPUTS
ids = [o.kind for o in ALL_OUTPUTS]


def run_through(output, base: Path):
    """open -> the three results -> close; returns (sink, what was read back)."""
    sink = output.make(base)
    where = output.start(sink, base)
    try:
        for r in RESULTS:
            sink.write(r)
        if output.network:
            got = output.read(where)
        sink.close()
        if not output.network:
            got = output.read(where)
    finally:
        sink.close()
        output.stop(where)
    return sink, got


# -- the contract ---------------------------------------------------------------------------------
@pytest.mark.parametrize("output", ALL_OUTPUTS, ids=ids)
def test_lifecycle_and_valid_output(tmp_path, output):
    sink, got = run_through(output, tmp_path)
    assert len(got) == len(RESULTS), f"{output.kind}: one entry per frame"
    if output.kind in ("video", "image"):
        assert all(isinstance(image, np.ndarray) for image in got)
    else:
        assert [len(frame) for frame in got] == PEOPLE_PER_FRAME
    sink.close()  # again: nothing happens
    with pytest.raises(RuntimeError):
        sink.write(RESULTS[1])


@pytest.mark.parametrize("output", ALL_OUTPUTS, ids=ids)
def test_close_before_open_is_fine(tmp_path, output):
    sink = output.make(tmp_path)
    sink.close()
    sink.close()
    assert not (tmp_path / "out").exists()
    getattr(output, "receiver", None) and output.receiver.close()


@pytest.mark.parametrize("output", FILE_OUTPUTS, ids=[o.kind for o in FILE_OUTPUTS])
def test_unwritable_path_is_one_output_error_naming_it(tmp_path, output):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    sink = output.make(blocker)
    with pytest.raises(OutputError) as err:
        sink.open(INFO)
    message = str(err.value)
    assert "\n" not in message and str(blocker) in message, message
    sink.close()


@pytest.mark.parametrize("make, where", [
    (lambda: OscSink("nohost.invalid", 9000), "OSC target nohost.invalid:9000"),
    (lambda: UdpSink("nohost.invalid", 9000), "UDP target nohost.invalid:9000"),
    (lambda: WebSocketSink("nohost.invalid", 0), "nohost.invalid:0"),
], ids=["osc", "udp", "websocket"])
def test_unusable_network_target_is_one_output_error_naming_it(make, where):
    sink = make()
    with pytest.raises(OutputError) as err:
        sink.open(INFO)
    assert "\n" not in str(err.value) and str(err.value).startswith(where), str(err.value)
    sink.close()


def test_sink_attributes():
    for cls in (VideoSink, DisplaySink, ImageSink):
        assert cls.needs_picture, cls
    for cls in (JsonlSink, OpenPoseJsonSink, CocoSink, CsvSink, WebSocketSink, OscSink, UdpSink):
        assert not cls.needs_picture and not cls.on_caller_thread and cls.stop_requested is None, cls
    assert DisplaySink.on_caller_thread and not VideoSink.on_caller_thread
    assert isinstance(DisplaySink().stop_requested, threading.Event)


# -- every serialiser agrees with the record -------------------------------------------------------
def _check_agrees(kind: str, got_frames, key, digits: int | None) -> None:
    tol = 1e-3 if digits is None else 0.5 * 10 ** -digits + 1e-6
    for r, got in zip(RESULTS, got_frames):
        record = record_of(r)
        assert len(got) == len(record), kind
        for n, (k, state, kp) in enumerate(got):
            assert k == key(record, n), (kind, r.frame.index, n)
            if state is not None:
                assert state == record.states[n]
            seen = record.seen[n]
            covered = np.isin(np.arange(P), coco17_index(PARTS)) if kind == "coco" else np.ones(P, bool)
            assert np.array_equal(~np.isnan(kp[covered, 0]), seen[covered]), (kind, "missing keypoints differ")
            columns = 2 if kind == "coco" else 3  # COCO's third value is visibility (1), not conf
            want = record.xyc[n][seen & covered, :columns].astype(np.float64)
            np.testing.assert_allclose(kp[seen & covered, :columns], want, atol=tol, rtol=0, err_msg=kind)


@pytest.mark.parametrize("output", [o for o in ALL_OUTPUTS if o.key is not None],
                         ids=[o.kind for o in ALL_OUTPUTS if o.key is not None])
def test_serialiser_agrees_with_the_record(tmp_path, output):
    _, got = run_through(output, tmp_path)
    _check_agrees(output.kind, got, output.key, output.digits)


def test_formats_and_stream_messages_agree_with_the_record():
    for r in RESULTS:
        record = record_of(r)
        # OpenPose and COCO from the result, the record and (untracked) bare poses: the same
        assert openpose_document(r) == openpose_document(record)
        if not record.tracked:
            assert openpose_document(r.poses) == openpose_document(record)
            assert coco_results(r.poses, r.frame.index) == coco_results(record, r.frame.index)
        # the split stream message holds the same people as the whole one
        for limit in (600, 1 << 20):
            parts = [json.loads(p) for p in split_frame(r, limit)]
            people = [p for part in parts for p in part["people"]]
            assert people == people_documents(record)
        jsonl = jsonl_document(INFO, record)
        assert [p["keypoints"] for p in jsonl["people"]] == [p["keypoints"] for p in people_documents(record)]
        if record.tracked:
            assert [p["state"] for p in jsonl["people"]] == [TRACK_STATES[s] for s in record.state.tolist()]
            for person, raw, pred in zip(jsonl["people"], record.raw_seen, record.predicted):
                assert [k[0] is not None for k in person["raw"]] == raw.tolist()
                assert [q is not None for q in person["predicted"]] == pred.tolist()


def test_tracking_evaluation_people_agree_with_the_record():
    record = record_of(RESULTS[1])
    people = posetrack_people(record, "img-1")
    index = coco17_index(PARTS)
    assert [p["track_id"] for p in people] == record.json_ids
    for n, p in enumerate(people):
        assert p["image_id"] == "img-1" and p["state"] == int(record.state[n])
        kp = np.reshape(p["keypoints"], (17, 3))
        np.testing.assert_allclose(kp, record.xyc[n][index], atol=0.0051)
        assert p["scores"] == [round(float(c), 4) for c in record.xyc[n][index][:, 2]]
    with pytest.raises(ValueError, match="tracked"):
        posetrack_people(RESULTS[2], 0)


# -- the record layer ---------------------------------------------------------------------------
def test_record_is_made_once_and_shared():
    r = attach_record(RESULTS[1])
    record = record_of(r)
    assert record is r.record and record_of(r) is record
    # the JSON shapes are built once per frame and shared by every output
    assert jsonl_document(INFO, r)["people"][0]["keypoints"] is people_documents(r)[0]["keypoints"]
    # a copy of the result for another frame does not take the old record
    moved = dataclasses.replace(r, frame=dataclasses.replace(r.frame, index=99))
    assert record_of(moved) is not record and record_of(moved).index == 99
    # the pipeline's way: the record made with the result; a picture added later keeps it
    frame, people = RESULTS[1].frame, RESULTS[1].people
    made = FrameResult(frame, people, record=FrameRecord.from_frame(frame, people))
    assert record_of(dataclasses.replace(made, picture=frame.image)) is made.record
    # a result with its record goes to another process whole (the record still its own)
    import pickle

    back = pickle.loads(pickle.dumps(made))
    assert record_of(back) is back.record and back.record.json_keypoints == made.record.json_keypoints
    # a result made by hand gets a record made now
    assert record_of(RESULTS[2]).index == 2 and record_of(RESULTS[2]) is not record_of(RESULTS[2])


def test_record_fields():
    tracked, plain, empty = record_of(RESULTS[1]), record_of(RESULTS[2]), record_of(RESULTS[0])
    assert (tracked.index, tracked.time, tracked.width, tracked.height) == (1, 0.1, SIZE[0], SIZE[1])
    assert tracked.part_names == PARTS and tracked.tracked and not plain.tracked and len(empty) == 0
    assert tracked.json_ids == [7, 12] and tracked.states == ("confirmed", "tentative")
    assert plain.json_ids == [None, None] and plain.states is None and plain.json_raw is None
    people = RESULTS[1].people
    # the missing-part convention, applied once: conf > 0 without coordinates is missing
    assert RESULTS[2].poses.conf[0, 1] > 0 and np.isnan(RESULTS[2].poses.xy[0, 1, 0])
    assert not plain.seen[0, 1] and tuple(plain.xyc[0, 1]) == (0, 0, 0)
    assert plain.json_keypoints[0][1] == [None, None, 0] and not tracked.raw_seen[0, 1]
    assert openpose_document(plain)["people"][0]["pose_keypoints_2d"][3:6] == [0.0, 0.0, 0.0]
    assert np.array_equal(tracked.predicted, np.isfinite(people.predicted_xy[..., 0]))
    assert not tracked.predicted[0].any() and tracked.predicted[1].any()
    assert all((q is None) == (not p) for q, p in zip(tracked.json_predicted[1], tracked.predicted[1]))
    assert empty.json_keypoints == [] and csv_header_only(empty)


def csv_header_only(record) -> bool:
    from livepose.sinks.files.csv import csv_rows

    return csv_rows(record) == [(record.index, record.json_time, "", "", "", "", "")]


# -- pictures: drawn once, or by the output for results made by hand -------------------------------
def test_render_result_draws_like_draw_poses():
    for r in RESULTS:
        want = draw_poses(r.frame.image.copy(), r.poses, CARD.limbs, r.person_ids)
        canvas = render_result(None, r, CARD.limbs)
        assert np.array_equal(canvas, want)
        again = render_result(canvas, r, CARD.limbs)
        assert again is canvas and np.array_equal(again, want)
    assert not np.array_equal(render_result(None, RESULTS[1], CARD.limbs), RESULTS[1].frame.image)


def test_picture_outputs_use_the_pipelines_picture(tmp_path):
    """With ``result.picture`` set the outputs write it as it is (and leave it unchanged)."""
    marked = []
    for r in RESULTS:
        picture = np.full_like(r.frame.image, 17 + 60 * r.frame.index)
        marked.append(dataclasses.replace(r, picture=picture))
    before = [m.picture.copy() for m in marked]
    with ImageSink(tmp_path / "img") as images, VideoSink(tmp_path / "v.avi") as video:
        for s in (images, video):
            s.open(INFO)
        for m in marked:
            images.write(m)
            video.write(m)
    for m, b in zip(marked, before):
        assert np.array_equal(m.picture, b)
    for image, m in zip(_read_images(tmp_path / "img"), marked):
        assert np.array_equal(image, m.picture)  # PNG: lossless
    for frame, m in zip(_read_video(tmp_path / "v.avi"), marked):
        assert abs(float(frame.mean()) - float(m.picture.mean())) < 3


def test_display_writes_the_picture_or_draws_itself():
    """DisplaySink without a window: what it hands the GUI thread is the picture (copied) or its
    own drawing, with the HUD on top."""
    class Gui:
        wake = threading.Event()

    sink = DisplaySink()
    sink._info, sink._gui = INFO, Gui()
    hud_rows = 60
    for r in RESULTS:
        sink.write(r)
        want = render_result(None, r, CARD.limbs)
        assert np.array_equal(sink._pending[hud_rows:], want[hud_rows:])
        picture = np.full_like(r.frame.image, 99)
        sink.write(dataclasses.replace(r, picture=picture))
        assert sink._pending is not picture and np.all(picture == 99)
        assert np.all(sink._pending[hud_rows:] == 99)


# -- photos ----------------------------------------------------------------------------------------
def test_photos_are_named_after_their_files(tmp_path):
    names = {0: "shots/a.JPG", 1: "b.gif", 2: "c.png"}
    images = ImageSink(tmp_path / "out", name_for=lambda r: names[r.frame.index])
    op = OpenPoseJsonSink(tmp_path / "out", name_for=lambda r: names[r.frame.index])
    for s in (images, op):
        s.open(INFO)
        for r in RESULTS:
            s.write(r)
        s.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.jpg", "a_keypoints.json", "b.png", "b_keypoints.json", "c.png", "c_keypoints.json"]
    doc = json.loads((tmp_path / "out" / "c_keypoints.json").read_text())
    assert doc == openpose_document(RESULTS[2]) and doc["people"][0]["person_id"] == [-1]
    with pytest.raises(ValueError):
        OpenPoseJsonSink(tmp_path / "x")


def test_photo_encode_failure_is_one_output_error(tmp_path, monkeypatch):
    sink = ImageSink(tmp_path / "out", name_for=lambda r: "p.webp")
    sink.open(INFO)
    monkeypatch.setattr(cv2, "imencode", lambda *a, **k: (False, None))
    with pytest.raises(OutputError) as err:
        sink.write(RESULTS[1])
    assert str(err.value) == f"{tmp_path / 'out' / 'p.webp'}: cannot encode image as .webp"
    sink.close()


# -- the one atomic writer ---------------------------------------------------------------------------
def test_atomic_writes(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": [1, 2.5]})
    assert (tmp_path / "a.json").read_bytes() == b'{"x":[1,2.5]}'
    write_bytes_atomic(tmp_path / "a.json", b"[]")
    assert (tmp_path / "a.json").read_bytes() == b"[]" and not list(tmp_path.glob(".*.tmp"))
    missing = tmp_path / "no" / "b.json"
    with pytest.raises(OutputError) as err:
        write_json_atomic(missing, {})
    assert str(err.value).startswith(f"{missing}: cannot write (") and "\n" not in str(err.value)
    part = PartFile(tmp_path / "s.json")
    assert part.temp == tmp_path / f".s.json.livepose-{os.getpid()}.tmp"
    part.write("[1")
    assert part.temp.read_text() == "[1" and not (tmp_path / "s.json").exists()
    part.commit("]")
    part.commit("]")
    assert json.loads((tmp_path / "s.json").read_text()) == [1] and not part.temp.exists()
    gone = PartFile(tmp_path / "t.json")
    gone.discard()
    assert not list(tmp_path.glob("t.json*"))
    import livepose.formats

    assert livepose.formats.write_json_atomic is write_json_atomic
