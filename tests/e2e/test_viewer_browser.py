"""The live viewer in headless Chromium (the system's, never a downloaded one), fed by a
WebSocketSink with real results from the example clip: the page connects with its own token, draws
the pictures and the skeletons in the person's colour where the person is, counts what it drew,
and reconnects when the server comes back."""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from helpers import first_frames
from livepose.sinks.stream.server import WebSocketSink

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

TOKEN = "viewer-t0ken"
WAIT_MS = 15_000  # a hang guard, not a timing check
FINAL = 100_000  # the index of the last frame sent, drawn and checked


def chromium_path() -> str | None:
    for candidate in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no system Chromium (looked for chromium on PATH and /usr/bin/chromium)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {path} does not start: {str(exc).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def clip(browser, request):
    """The clip's first 10 frames (after ``browser``: without a Chromium nothing is computed)."""
    info, results = first_frames(request.getfixturevalue("clip_run"), 10)
    assert len(results) == 10 and all(len(r.poses) == 1 for r in results)
    return info, results


def fresh(result, index: int):
    """The result as frame ``index``, captured now (so the page's latency is meaningful)."""
    frame = dataclasses.replace(result.frame, index=index, captured_at=time.perf_counter())
    return dataclasses.replace(result, frame=frame)


class Feeder:
    """Writes the clip's results over and over, about 20 per second, until stopped."""

    def __init__(self, sink, results):
        self.sink, self.results = sink, results
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        k = 0
        while not self.stop.is_set():
            self.sink.write(fresh(self.results[k % len(self.results)], k))
            k += 1
            self.stop.wait(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


def colour_hits(image: np.ndarray, points, colour, radius: int = 2, tolerance: float = 60.0) -> int:
    """How many of ``points`` have a pixel of ``colour`` (RGB) within ``radius`` pixels."""
    target = np.array(colour[::-1], float)  # BGR
    hits = 0
    for x, y in points:
        x, y = int(round(x)), int(round(y))
        patch = image[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1].astype(float)
        if patch.size and (np.linalg.norm(patch - target, axis=2) < tolerance).any():
            hits += 1
    return hits


def open_viewer(browser, sink):
    """(context, page, page errors): the viewer page of ``sink`` opened with its token."""
    # the page's Content-Security-Policy forbids eval, which Playwright's wait_for_function uses
    context = browser.new_context(viewport={"width": 1000, "height": 640}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{sink.url}?token={TOKEN}")
    except BaseException:
        context.close()
        raise
    return context, page, errors


def test_viewer_draws_live_skeletons_and_reconnects(browser, clip):
    info, results = clip
    sink = WebSocketSink("127.0.0.1", 0, token=TOKEN, frames_width=info.size[0])
    sink.open(info)
    feeder = Feeder(sink, results)
    context, page, errors = open_viewer(browser, sink)
    try:
        page.wait_for_function("window.livepose && window.livepose.imagesDrawn >= 5 && window.livepose.framesDrawn >= 10",
                               timeout=WAIT_MS)
        feeder.close()
        final = fresh(results[-1], FINAL)
        sink.write(final)
        page.wait_for_function(f"window.livepose.lastFrame === {FINAL} && window.livepose.backgroundFrame === {FINAL}",
                               timeout=WAIT_MS)
        stats = page.evaluate("({...window.livepose, hello: null, colorOf: null})")
        assert stats["state"] == "connected" and stats["connects"] == 1
        assert stats["framesReceived"] >= stats["framesDrawn"] >= 11 and stats["imagesReceived"] >= 6
        assert stats["people"] == 1 and stats["fps"] > 0 and stats["latencyMs"] is not None
        assert int(page.text_content("#frames")) == stats["framesDrawn"]
        assert page.text_content("#people") == "1"
        assert "connected" in page.get_attribute("#state", "class")
        assert page.text_content("#fps") != "-" and page.text_content("#latency").endswith(")")

        # the canvas as shown: the frame behind, the skeleton in the person's colour on the limbs
        shot = cv2.imdecode(np.frombuffer(page.locator("#view").screenshot(), np.uint8), cv2.IMREAD_COLOR)
        scale = shot.shape[1] / info.size[0]
        assert shot.shape[0] == pytest.approx(info.size[1] * scale, abs=2)
        person_id = int(final.person_ids[0])
        colour = page.evaluate(f"window.livepose.colorOf({person_id})")
        xy, conf = final.poses.xy[0], final.poses.conf[0]
        midpoints = [(xy[a] + xy[b]) / 2 * scale for a, b in np.asarray(info.limbs) if conf[a] > 0 and conf[b] > 0]
        assert len(midpoints) >= 8
        drawn = colour_hits(shot, midpoints, colour)
        plain = cv2.resize(final.frame.image, (shot.shape[1], shot.shape[0]), interpolation=cv2.INTER_AREA)
        background = colour_hits(plain, midpoints, colour)
        assert drawn >= 0.8 * len(midpoints), (drawn, len(midpoints))
        assert background <= 0.2 * len(midpoints), "the skeleton colour is in the picture itself"
        assert np.abs(shot.astype(int) - plain).mean() < 25  # the picture is behind the skeleton
        far = np.ones(shot.shape[:2], bool)  # away from the person, the canvas is just the picture
        visible = xy[conf > 0] * scale
        x0, y0 = visible.min(0) - 40
        x1, y1 = visible.max(0) + 40
        far[max(0, int(y0)):int(y1), max(0, int(x0)):int(x1)] = False
        assert colour_hits(shot, [(x, y) for y, x in np.argwhere(far)[::997]], colour, radius=0) == 0

        # the server goes away and comes back on the same port: the page reconnects by itself
        port = sink.port
        sink.close()
        page.wait_for_function("window.livepose.state === 'closed'", timeout=WAIT_MS)
        assert "retrying" in page.text_content("#state")
        sink = WebSocketSink("127.0.0.1", port, token=TOKEN, frames_width=info.size[0])
        sink.open(info)
        page.wait_for_function("window.livepose.connects === 2 && window.livepose.state === 'connected'",
                               timeout=WAIT_MS)
        sink.write(fresh(results[0], FINAL + 1))
        page.wait_for_function(f"window.livepose.lastFrame === {FINAL + 1}", timeout=WAIT_MS)
        assert errors == []
    finally:
        feeder.close()
        context.close()
        sink.close()


def test_viewer_draws_carried_keypoints_as_rings(browser, clip):
    """With carrying on (``--keyframe-every``) the messages mark the keypoints carried by optical
    flow; the page draws those as rings (hollow: the picture shows at the centre) and the network's
    as filled dots.  Two keypoints with no limb between them, so that only the dots are drawn."""
    info, results = clip
    final = results[-1]
    people = final.people
    limbs = {tuple(sorted(map(int, limb))) for limb in np.asarray(info.limbs)}
    seen = np.flatnonzero(people.poses.conf[0] > 0)
    dot, ring = next((a, b) for a in seen for b in seen
                     if a != b and tuple(sorted((int(a), int(b)))) not in limbs
                     and np.linalg.norm(people.poses.xy[0, a] - people.poses.xy[0, b]) > 40)
    conf = np.zeros_like(people.poses.conf)
    conf[0, [dot, ring]] = people.poses.conf[0, [dot, ring]]
    carried = np.zeros(conf.shape, np.bool_)
    carried[0, ring] = True
    poses = dataclasses.replace(people.poses, conf=conf)
    frame = dataclasses.replace(final.frame, index=FINAL, captured_at=time.perf_counter())
    marked = dataclasses.replace(final, frame=frame, people=dataclasses.replace(people, poses=poses, carried=carried,
                                                                               keyframe=False))
    sink = WebSocketSink("127.0.0.1", 0, token=TOKEN, frames_width=info.size[0])
    sink.open(info)
    context, page, errors = open_viewer(browser, sink)
    try:
        # the server's hello (the skeleton's limbs) first: without it the page draws no people
        page.wait_for_function("window.livepose && window.livepose.hello !== null", timeout=WAIT_MS)
        sink.write(marked)
        page.wait_for_function(f"window.livepose.lastFrame === {FINAL} && window.livepose.backgroundFrame === {FINAL}",
                               timeout=WAIT_MS)
        # the canvas's own pixels (a screenshot of the element can catch the page mid-layout)
        url = page.evaluate("document.getElementById('view').toDataURL('image/png')")
        shot = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        scale = shot.shape[1] / info.size[0]
        colour = page.evaluate(f"window.livepose.colorOf({int(final.person_ids[0])})")
        lw = max(2, round(info.size[0] / 256))  # viewer.js: the line width in canvas pixels
        (dx, dy), (rx, ry) = people.poses.xy[0, dot] * scale, people.poses.xy[0, ring] * scale
        assert colour_hits(shot, [(dx, dy)], colour, radius=0) == 1  # a filled dot: the colour at its centre
        assert colour_hits(shot, [(rx, ry)], colour, radius=0) == 0  # a ring: the picture at its centre ...
        r = lw * 1.6 * scale
        around = [(rx + r * np.cos(t), ry + r * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
        assert colour_hits(shot, around, colour, radius=1) >= 9  # ... and the colour all round it
        assert errors == []
    finally:
        context.close()
        sink.close()
