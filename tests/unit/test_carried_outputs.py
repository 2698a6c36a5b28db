"""Carrying (``--keyframe-every K`` > 1) in every output, on constructed frames whose carried
keypoints are known: the CSV ``carried`` column, COCO's ``carried`` / ``keyframe``, OpenPose's
``pose_keypoints_2d_carried`` / ``livepose_keyframe``, OSC's ``/keyframe`` and ``/person/<id>/carried``
(split bundles too), rings on the picture, and offline smoothing keeping the mask in both
left/right labellings.  With carrying off every output is as before."""

from __future__ import annotations

import csv
import dataclasses
import json
import time

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from helpers import CLIP, UdpReceiver
from livepose.analysis.angles import OPENPOSE_COCO_PARTS as PARTS
from livepose.formats import coco_results, openpose_document
from livepose.records import FrameRecord
from livepose.render import draw_people, draw_poses, id_colour
from livepose.settings import OutputSettings, RunConfig
from livepose.sinks import CSV_CARRIED_HEADER, CSV_HEADER, CocoSink, CsvSink, OpenPoseJsonSink
from livepose.sinks.files.csv import csv_rows
from livepose.sinks.stream.datagram import MAX_UDP_PAYLOAD
from livepose.sinks.stream.osc import OscSink
from livepose.track.offline import smooth_people
from livepose.types import COCO17_NAMES, Frame, FrameResult, People, Poses, StreamInfo

P = len(PARTS)
SIZE = (320, 240)
INFO = StreamInfo(source="constructed", size=SIZE, fps=25.0, frame_count=3, is_live=False, model="test",
                  part_names=PARTS, limbs=np.array([[0, 1], [1, 2]]))
IDS = (7, 9)
MISSING = {0: (3, 16), 1: (0,)}  # per person the parts not seen
# per person the parts carried by flow; part 3 of person 0 is flagged but missing: written as 0
CARRIED = {0: (1, 2, 3, 5, 15), 1: (4, 14, 17)}


def _mask(parts_of: dict) -> np.ndarray:
    out = np.zeros((len(IDS), P), bool)
    for n, parts in parts_of.items():
        out[n, list(parts)] = True
    return out


def make_people(carried: bool | None = True, keyframe: bool = False, ids=IDS) -> People:
    """Two tracked people of 18 parts (some missing); ``carried`` None: carrying off; False: a
    network frame of a carrying run (nothing carried)."""
    n = len(ids)
    xy = np.stack([np.stack([40 + 120 * k + 3.0 * np.arange(P), 30 + 10.0 * np.arange(P)], -1)
                   for k in range(n)]).astype(np.float32)
    conf = np.full((n, P), 0.75, np.float32)
    for k, gone in MISSING.items():
        if k < n:
            xy[k, list(gone)] = np.nan
            conf[k, list(gone)] = 0.0
    poses = Poses(xy=xy, conf=conf, score=np.linspace(0.9, 0.6, n).astype(np.float32), part_names=PARTS)
    mask = None if carried is None else (_mask(CARRIED)[:n] if carried else np.zeros((n, P), bool))
    return People(poses, ids=np.asarray(ids, np.int64), state=np.ones(n, np.int8), raw=poses,
                  predicted_xy=np.full((n, P, 2), np.nan, np.float32), carried=mask,
                  keyframe=keyframe if carried is not None else True)


def make_result(index: int, people: People) -> FrameResult:
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    frame = Frame(index=index, timestamp=index / 25.0, captured_at=time.perf_counter(), image=image)
    return FrameResult(frame, people, record=FrameRecord.from_frame(frame, people))


def expected_carried() -> np.ndarray:
    """(2, P) int: what every output writes, carried and seen."""
    return (_mask(CARRIED) & ~_mask(MISSING)).astype(int)


def empty_people(carried: bool) -> People:
    poses = Poses.empty(PARTS)
    return People(poses, ids=np.zeros(0, np.int64), state=np.zeros(0, np.int8), raw=poses,
                  predicted_xy=np.zeros((0, P, 2), np.float32),
                  carried=np.zeros((0, P), bool) if carried else None, keyframe=not carried)


def carrying_run() -> list[FrameResult]:
    """Frame 0 a network frame, 1 carried, 2 carried with nobody."""
    return [make_result(0, make_people(carried=False, keyframe=True)), make_result(1, make_people()),
            make_result(2, empty_people(True))]


def plain_run() -> list[FrameResult]:
    return [make_result(0, make_people(None)), make_result(1, make_people(None)), make_result(2, empty_people(False))]


def write(sink, results) -> None:
    sink.open(INFO)
    for r in results:
        sink.write(r)
    sink.close()


# ---- CSV ----------------------------------------------------------------------------------------
def test_csv_rows_end_with_the_carried_flag():
    record = make_result(1, make_people()).record
    rows = csv_rows(record, carrying=True)
    assert len(rows) == 2 * P and all(len(row) == len(CSV_CARRIED_HEADER) for row in rows)
    assert [row[-1] for row in rows] == expected_carried().reshape(-1).tolist()
    # a missing keypoint: empty x, y, conf 0, carried 0 (even where flagged carried)
    row = rows[3]
    assert row[2:] == (7, PARTS[3], "", "", 0, 0)
    assert csv_rows(make_result(2, empty_people(True)).record, carrying=True) == [(2, 0.08, "", "", "", "", "", "")]
    # a record without carrying fields, in a carrying CSV: 0 everywhere
    assert {row[-1] for row in csv_rows(make_result(0, make_people(None)).record, carrying=True)} == {0}
    # carrying off: the seven columns as before
    assert csv_rows(record) == [row[:-1] for row in rows]


def test_csv_sink_with_carrying_writes_the_carried_column(tmp_path):
    path = tmp_path / "run.csv"
    write(CsvSink(path, carrying=True), carrying_run())
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_CARRIED_HEADER == CSV_HEADER + ("carried",)
    body = rows[1:]
    assert len(body) == 2 * P + 2 * P + 1
    assert [r[-1] for r in body[:2 * P]] == ["0"] * (2 * P)  # the network frame
    assert [int(r[-1]) for r in body[2 * P:4 * P]] == expected_carried().reshape(-1).tolist()
    assert body[-1] == ["2", "0.08", "", "", "", "", "", ""]  # a frame with nobody: one row, carried empty


def test_csv_carried_filters_in_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "run.csv"
    write(CsvSink(path, carrying=True), carrying_run())
    df = pd.read_csv(path, dtype={"person": "Int64"})
    carried = df[(df["frame"] == 1) & (df["carried"] == 1)]
    want = [(IDS[n], PARTS[p]) for n, p in zip(*np.nonzero(expected_carried()))]
    assert list(zip(carried["person"], carried["keypoint"])) == want
    assert df.loc[df["frame"] == 2, "carried"].isna().all()


def test_csv_carrying_off_is_unchanged(tmp_path):
    """Carrying off (the default): the header of seven columns, and the same bytes whether or not
    the records have carrying fields."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write(CsvSink(a), plain_run())
    write(CsvSink(b), carrying_run())
    text = a.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(CSV_HEADER)
    assert "carried" not in text and text.splitlines()[-1] == "2,0.08,,,,,"
    assert b.read_bytes() == a.read_bytes()


def test_build_outputs_passes_carrying_to_the_csv(tmp_path, monkeypatch):
    from livepose import build as B

    csv_of = [s for s in B.build_outputs(OutputSettings(csv=str(tmp_path / "a.csv")), "clip", carrying=True)
              if isinstance(s, CsvSink)]
    assert len(csv_of) == 1 and csv_of[0].carrying
    assert not B.build_outputs(OutputSettings(csv=str(tmp_path / "a.csv")), "clip")[0].carrying

    asked = []

    class Stop(Exception):
        pass

    def stop(outputs, name, **kwargs):
        asked.append(kwargs["carrying"])
        raise Stop

    monkeypatch.setattr(B, "build_outputs", stop)
    for k in (1, 3):
        config = RunConfig.from_overrides(source=str(CLIP), csv=str(tmp_path / "b.csv"), keyframe_every=k,
                                          display=False)
        with pytest.raises(Stop):
            B.build(config)
    assert asked == [False, True]


# ---- COCO -----------------------------------------------------------------------------------------
def test_coco_results_carry_the_mask_in_coco17_order():
    entries = coco_results(make_result(1, make_people()), image_id=1)
    index = [PARTS.index(name) for name in COCO17_NAMES]
    want = expected_carried()[:, index]
    assert [e["carried"] for e in entries] == want.tolist()
    assert all(len(e["carried"]) == 17 and e["keyframe"] is False for e in entries)
    # the mask goes with the keypoints: a carried part's v is 1 (seen), the missing ones 0
    for e, mask in zip(entries, want):
        v = e["keypoints"][2::3]
        assert all(v[k] == 1 for k in np.flatnonzero(mask))
    key = coco_results(make_result(0, make_people(carried=False, keyframe=True)), image_id=0)
    assert [e["carried"] for e in key] == [[0] * 17] * 2 and all(e["keyframe"] is True for e in key)
    # carrying off, or bare poses: the entries as before
    plain = coco_results(make_result(1, make_people(None)), image_id=1)
    assert all(set(e) == {"image_id", "category_id", "keypoints", "score"} for e in plain)
    assert [{k: v for k, v in e.items() if k not in ("carried", "keyframe")} for e in entries] == plain
    assert coco_results(make_people().poses, image_id=1) == plain


def test_coco_sink_writes_carried_and_keyframe(tmp_path):
    path = tmp_path / "run.json"
    write(CocoSink(path), carrying_run())
    entries = json.loads(path.read_text())
    assert [e["image_id"] for e in entries] == [0, 0, 1, 1]
    assert [e["keyframe"] for e in entries] == [True, True, False, False]
    assert [e["track_id"] for e in entries] == list(IDS) * 2
    index = [PARTS.index(name) for name in COCO17_NAMES]
    assert [e["carried"] for e in entries[2:]] == expected_carried()[:, index].tolist()
    plain = tmp_path / "plain.json"
    write(CocoSink(plain), plain_run())
    assert "carried" not in plain.read_text() and "keyframe" not in plain.read_text()


def test_coco_results_with_carried_keys_load_in_pycocotools(tmp_path):
    pytest.importorskip("pycocotools")
    from livepose.eval.coco import coco_eval

    entries = coco_results(make_result(1, make_people()), image_id=1)
    gt = {"images": [{"id": 1, "width": SIZE[0], "height": SIZE[1]}],
          "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17_NAMES), "skeleton": []}],
          "annotations": []}
    for k, e in enumerate(entries):
        kp = list(e["keypoints"])
        kp[2::3] = [2 if v else 0 for v in kp[2::3]]
        xs, ys = kp[0::3], kp[1::3]
        seen = [i for i, v in enumerate(kp[2::3]) if v]
        x0, y0 = min(xs[i] for i in seen), min(ys[i] for i in seen)
        w, h = max(xs[i] for i in seen) - x0, max(ys[i] for i in seen) - y0
        gt["annotations"].append({"id": k + 1, "image_id": 1, "category_id": 1, "keypoints": kp,
                                  "num_keypoints": len(seen), "bbox": [x0, y0, w, h], "area": w * h, "iscrowd": 0})
    metrics = coco_eval(gt, entries, [1])
    assert metrics["AP"] == pytest.approx(1.0)


# ---- OpenPose JSON ---------------------------------------------------------------------------------
def test_openpose_document_carries_the_mask_in_part_order():
    doc = openpose_document(make_result(1, make_people()))
    assert doc["livepose_keyframe"] is False
    assert [p["pose_keypoints_2d_carried"] for p in doc["people"]] == expected_carried().tolist()
    for person in doc["people"]:
        assert len(person["pose_keypoints_2d_carried"]) * 3 == len(person["pose_keypoints_2d"])
    key = openpose_document(make_result(0, make_people(carried=False, keyframe=True)))
    assert key["livepose_keyframe"] is True
    assert [p["pose_keypoints_2d_carried"] for p in key["people"]] == [[0] * P] * 2
    empty = openpose_document(make_result(2, empty_people(True)))
    assert empty == {"version": 1.3, "people": [], "livepose_keyframe": False}
    # carrying off, bare poses (livepose image): as before
    plain = openpose_document(make_result(1, make_people(None)))
    assert set(plain) == {"version", "people"} and all("pose_keypoints_2d_carried" not in p for p in plain["people"])
    assert plain["people"] == [{k: v for k, v in p.items() if k != "pose_keypoints_2d_carried"}
                               for p in doc["people"]]
    assert openpose_document(make_people().poses, np.asarray(IDS)) == plain


def test_openpose_sink_writes_carried_and_keyframe(tmp_path):
    write(OpenPoseJsonSink(tmp_path / "op", "clip"), carrying_run())
    docs = [json.loads((tmp_path / "op" / f"clip_{k:012d}_keypoints.json").read_text()) for k in range(3)]
    assert [d["livepose_keyframe"] for d in docs] == [True, False, False]
    assert [p["pose_keypoints_2d_carried"] for p in docs[1]["people"]] == expected_carried().tolist()
    write(OpenPoseJsonSink(tmp_path / "plain", "clip"), plain_run())
    for k in range(3):
        text = (tmp_path / "plain" / f"clip_{k:012d}_keypoints.json").read_text()
        assert "carried" not in text and "livepose_keyframe" not in text


# ---- OSC --------------------------------------------------------------------------------------------
def _messages(dgram: bytes) -> list[tuple[str, list]]:
    assert OscBundle.dgram_is_bundle(dgram)
    return [(m.address, list(m.params)) for m in OscBundle(dgram)]


def _osc(mode: str = "both", **kwargs) -> OscSink:
    sink = OscSink("127.0.0.1", 9, mode=mode, keypoints_every=None, **kwargs)
    sink.announcement(INFO)  # the keypoint names, as open does
    return sink


@pytest.mark.parametrize("mode", ["both", "keypoints", "arrays"])
def test_osc_sends_keyframe_and_carried_per_person(mode):
    sink = _osc(mode)
    (dgram,) = sink.frame_datagrams(make_result(1, make_people()))
    messages = _messages(dgram)
    assert messages[0][0] == "/livepose/frame" and len(messages[0][1]) == 5 and messages[0][1][3:] == [0, 1]
    assert messages[1] == ("/livepose/keyframe", [0])
    carried = [(a, v) for a, v in messages if a.endswith("/carried")]
    assert carried == [(f"/livepose/person/{pid}/carried", mask) for pid, mask in zip(IDS, expected_carried().tolist())]
    per_person = {"both": 1 + P + 1, "keypoints": P + 1, "arrays": 2}[mode]
    assert len(messages) == 2 + 2 * per_person
    for n, pid in enumerate(IDS):  # each person's carried message is its last
        assert messages[2 + (n + 1) * per_person - 1][0] == f"/livepose/person/{pid}/carried"
    (key,) = sink.frame_datagrams(make_result(0, make_people(carried=False, keyframe=True)))
    key = _messages(key)
    assert key[1] == ("/livepose/keyframe", [1])
    assert [v for a, v in key if a.endswith("/carried")] == [[0] * P] * 2
    (empty,) = sink.frame_datagrams(make_result(2, empty_people(True)))
    assert _messages(empty) == [("/livepose/frame", [2, pytest.approx(0.08), 0, 0, 1]), ("/livepose/keyframe", [0])]


def test_osc_carrying_off_is_unchanged():
    sink = _osc()
    (plain,) = sink.frame_datagrams(make_result(1, make_people(None)))
    messages = _messages(plain)
    assert not any(a.endswith("/keyframe") or a.endswith("/carried") for a, _ in messages)
    assert len(messages) == 1 + 2 * (1 + P)
    # the carrying messages added, nothing else changed
    (carried,) = sink.frame_datagrams(make_result(1, make_people()))
    assert [m for m in _messages(carried) if not m[0].endswith(("/keyframe", "/carried"))] == messages


def test_osc_split_keeps_persons_whole_with_their_carried_message():
    people_ids = tuple(range(20, 26))
    many = make_people(carried=None, ids=people_ids)
    many = dataclasses.replace(many, carried=np.tile(_mask(CARRIED)[:1], (len(people_ids), 1)), keyframe=False)
    whole = _osc(max_bundle=MAX_UDP_PAYLOAD).frame_datagrams(make_result(1, many))
    assert len(whole) == 1
    limit = len(whole[0]) // 3  # at least three parts; still larger than any one person
    sink = _osc(max_bundle=limit)
    parts = sink.frame_datagrams(make_result(1, many))
    assert len(parts) >= 3 and max(len(d) for d in parts) <= limit
    seen = []
    for k, dgram in enumerate(parts):
        messages = _messages(dgram)
        assert messages[0][0] == "/livepose/frame" and messages[0][1][2:] == [len(people_ids), k, len(parts)]
        assert messages[1] == ("/livepose/keyframe", [0])
        pids = [int(a.split("/")[3]) for a, _ in messages[2:]]
        for pid in dict.fromkeys(pids):
            assert f"/livepose/person/{pid}/carried" in [a for a, _ in messages], "a person's carried goes with it"
            assert pid not in seen
            seen.append(pid)
    assert seen == list(people_ids)


def test_osc_carried_over_loopback():
    receiver = UdpReceiver(wait=10.0)
    try:
        sink = OscSink("127.0.0.1", receiver.port, keypoints_every=None)
        sink.open(INFO)
        assert _messages(receiver.get())[0][0] == "/livepose/keypoints"
        for r in carrying_run():
            sink.write(r)
            messages = _messages(receiver.get())
            assert messages[0][1][0] == r.frame.index
            assert messages[1] == ("/livepose/keyframe", [int(r.people.keyframe)])
            want = [] if not len(r.people) else (expected_carried() if not r.people.keyframe
                                                else np.zeros((2, P), int)).tolist()
            assert [v for a, v in messages if a.endswith("/carried")] == want
        sink.close()
        assert sink.errors == 0 and sink.frames_written == 3
    finally:
        receiver.close()


# ---- the picture ------------------------------------------------------------------------------------
def _centre(people: People, n: int, p: int) -> tuple[int, int]:
    x, y = people.poses.xy[n, p]
    return int(round(float(y))), int(round(float(x)))


@pytest.mark.parametrize("tracked", [True, False])
def test_carried_keypoints_are_drawn_as_rings(tracked):
    people = make_people()
    if not tracked:
        people = People(people.poses, carried=people.carried, keyframe=False)
    no_limbs = np.zeros((0, 2), np.int64)
    background = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
    image = draw_people(background.copy(), people, no_limbs, thickness=3)
    plain = draw_poses(background.copy(), people.poses, no_limbs, people.ids, 3)  # carrying off: every one a dot
    for n, pid in enumerate(IDS):
        colour = list(id_colour(pid)) if tracked else [255, 255, 255]
        carried = expected_carried()[n].astype(bool)
        seen = ~_mask(MISSING)[n]
        for p in np.flatnonzero(seen):
            y, x = _centre(people, n, p)
            if carried[p]:
                assert image[y, x].tolist() == [40, 40, 40], (n, p)  # hollow: the background at the centre
                ring = image[y - 6:y + 7, x - 6:x + 7]
                assert (ring == colour).all(-1).any(), (n, p)  # ... inside a ring in the person's colour
            else:  # a dot as without carrying, filled with the person's colour
                assert image[y, x].tolist() == plain[y, x].tolist() == colour, (n, p)
                assert (image[y - 2:y + 3, x - 2:x + 3] == colour).all(), (n, p)  # radius 4 px: 5x5 inside
    for n in range(2):
        for p in np.flatnonzero(~_mask(MISSING)[n]):
            y, x = _centre(people, n, p)
            assert plain[y, x].tolist() != [40, 40, 40]
    no_carry = dataclasses.replace(people, carried=None)
    assert np.array_equal(draw_people(background.copy(), no_carry, no_limbs, thickness=3), plain)


# ---- offline smoothing ------------------------------------------------------------------------------
MIRROR = np.array([PARTS.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
                   for n in PARTS])


def _track_frames(flips: list[bool]) -> tuple[list[People], np.ndarray]:
    """One tracked person walking right, frame k in the mirror labelling where ``flips[k]`` (its
    left and right parts swapped, as the tracker reports a relabelled person); carried on the odd
    frames, the mask in the raw labelling of each frame (swapped with the joints)."""
    body = np.stack([np.zeros(P), np.linspace(-90, 90, P)], -1)
    # left parts on the image's right, right parts on its left: a clear side for each
    side = np.array([1.0 if n.startswith("left") else -1.0 if n.startswith("right") else 0.0 for n in PARTS])
    body[:, 0] = 25.0 * side
    out = []
    carried_parts = np.zeros(P, bool)
    carried_parts[[PARTS.index("left_wrist"), PARTS.index("left_knee"), PARTS.index("nose")]] = True
    gone = PARTS.index("right_ear")
    for k, flip in enumerate(flips):
        xy = (body + [100.0 + 4.0 * k, 150.0]).astype(np.float32)
        conf = np.full(P, 0.8, np.float32)
        xy[gone], conf[gone] = np.nan, 0.0
        carried = carried_parts.copy() if k % 2 else np.zeros(P, bool)
        carried[gone] = k % 2 == 1  # flagged but missing: never written as carried
        if flip:
            xy, conf, carried = xy[MIRROR], conf[MIRROR], carried[MIRROR]
        poses = Poses(xy=xy[None], conf=conf[None], score=np.array([0.9], np.float32), part_names=PARTS)
        out.append(People(poses, ids=np.array([4]), state=np.ones(1, np.int8), raw=poses,
                          predicted_xy=np.full((1, P, 2), np.nan, np.float32), carried=carried[None],
                          keyframe=k % 2 == 0))
    return out, np.arange(len(flips)) / 25.0


@pytest.mark.parametrize("case", ["one-labelling", "relabelled", "short-flip"])
def test_smooth_people_keeps_keyframe_and_carried_with_the_joints(case):
    flips = {"one-labelling": [False] * 12, "relabelled": [False] * 6 + [True] * 6,
             "short-flip": [False] * 5 + [True] * 2 + [False] * 5}[case]
    people, t = _track_frames(flips)
    out = smooth_people(people, t, mirror=MIRROR)
    wrist, knee, nose = (PARTS.index(n) for n in ("left_wrist", "left_knee", "nose"))
    for k, (before, after) in enumerate(zip(people, out)):
        assert after.keyframe is before.keyframe and after.carried.shape == (1, P)
        written = after.poses.conf[0] > 0
        assert not (after.carried[0] & ~written).any(), "carried only where a joint is written"
        # the body point a carried flag was on: the written joint at the same place carries it
        xy = after.poses.xy[0]
        for p in np.flatnonzero(after.carried[0]):
            src = np.flatnonzero(before.carried[0] & (before.poses.conf[0] > 0))
            d = np.linalg.norm(before.poses.xy[0][src] - xy[p], axis=-1)
            assert d.min() < 5.0, (k, p)
        if k % 2:
            flipped_out = (xy[PARTS.index("left_wrist"), 0] < xy[PARTS.index("right_wrist"), 0])
            want = {wrist, knee, nose} if not flipped_out else {int(MIRROR[wrist]), int(MIRROR[knee]), nose}
            assert set(np.flatnonzero(after.carried[0]).tolist()) == want, (k, case)
        else:
            assert not after.carried[0].any()
    mirrored = {int(MIRROR[wrist]), int(MIRROR[knee]), nose}
    if case == "short-flip":  # frame 5 is raw in the mirror labelling, written in the surrounding one
        assert set(np.flatnonzero(people[5].carried[0] & (people[5].poses.conf[0] > 0))) == mirrored
        assert set(np.flatnonzero(out[5].carried[0])) == {wrist, knee, nose}
    elif case == "relabelled":  # a relabelling: written in the raw labelling, the mask swapped with the joints
        assert set(np.flatnonzero(out[7].carried[0])) == mirrored and set(np.flatnonzero(out[3].carried[0])) == {
            wrist, knee, nose}


def test_smooth_people_without_carrying_gives_no_carried():
    people, t = _track_frames([False] * 6)
    plain = [dataclasses.replace(p, carried=None, keyframe=True) for p in people]
    out = smooth_people(plain, t, mirror=MIRROR)
    assert all(p.carried is None and p.keyframe for p in out)
