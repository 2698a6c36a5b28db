"""Plots (PNG) and one self-contained HTML page from the per-person tables of
:func:`livepose.analysis.table.analyze`.

* ``person_<id>_angles.png``: the chosen angles over time (``--angles``; default the joint
  flexion angles), one panel per joint or segment, right and left as two lines (a missing value
  is a gap in the line); with ``--reps`` the thresholds dashed, each repetition shaded, peaks marked.
* ``person_<id>_speed.png``: speed of the reference point (the neck) over time, m/s when the
  person has a scale.
* ``trajectories.png``: every person's neck path, over the middle frame of ``video`` when given
  (read with OpenCV), else on a blank canvas the size of the run's frames, y pointing down.
* ``report.html``: the conventions, a summary table per person and the plots, the PNGs embedded
  as base64 ``data:`` URIs, inline CSS, no script, no link: it works offline.

matplotlib is imported lazily (the ``analysis`` extra) and only through its object API with the
Agg canvas, so no display is needed; without it :func:`build_report` returns ``None``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import numpy as np

JOINTS = ("knee", "hip", "shoulder", "elbow")
SIDES = ("right", "left")
SKIP_NOTE = "note: plots and report.html skipped (matplotlib is not installed; pip install livepose[analysis])"
_ANGLE_STAT = re.compile(r"^(?P<stem>.+)_(?P<stat>min|max|mean|rom)_deg$")


def _mpl():
    """``(Figure, FigureCanvasAgg)`` or ``None`` when matplotlib cannot be imported."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure, FigureCanvasAgg


def _png(fig, canvas_cls) -> bytes:
    canvas_cls(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def frame_size(jsonl) -> tuple[int, int] | None:
    """``(width, height)`` from the first frame of the JSON Lines file, or None."""
    try:
        with open(jsonl, "r", encoding="utf-8") as fh:
            for raw in fh:
                if raw.strip():
                    obj = json.loads(raw)
                    w, h = int(obj["width"]), int(obj["height"])
                    return (w, h) if w > 0 and h > 0 else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def middle_frame(video) -> np.ndarray | None:
    """The middle frame of ``video`` as RGB (H, W, 3) uint8, or None when it cannot be read."""
    try:
        import cv2
    except ImportError:
        return None
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            return None
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if n > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, n // 2)
        ok, img = cap.read()
        if not ok or img is None:
            return None
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _panels(angles) -> list:
    """Short angle names -> ``[(stem, [(short name, side or None), ...])]``, one panel per joint
    or segment, in first-seen order."""
    panels: dict = {}
    for name in angles:
        stem, side = name, None
        for sd in SIDES:
            if name.endswith(f"_{sd}"):
                stem, side = name[: -len(sd) - 1], sd
        panels.setdefault(stem, []).append((name, side))
    return list(panels.items())


def angles_png(pid, cols: dict, mpl, angles=None, reps=None) -> bytes:
    """One panel per joint or segment of ``angles`` (short names, default the joint flexions),
    right and left as two lines; ``reps`` (short name -> :func:`~livepose.analysis.reps.count_reps`
    result): its thresholds as dashed lines, each repetition shaded from start to end, its peak marked."""
    from livepose.analysis.angles import ANGLES, DEFAULT_PLOT_ANGLES

    Figure, Canvas = mpl
    angles = [a for a in (DEFAULT_PLOT_ANGLES if angles is None else angles) if ANGLES[a][0] in cols]
    panels = _panels(angles)
    reps = reps or {}
    fig = Figure(figsize=(9, 2.2 * max(1, len(panels))), layout="constrained")
    axes = fig.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    t = np.asarray(cols["time"], float)
    colors = {"right": "tab:red", "left": "tab:blue", None: "tab:purple"}
    for ax, (stem, members) in zip(axes, panels):
        for name, side in members:
            color = colors[side]
            a = np.asarray(cols[ANGLES[name][0]], float)
            ax.plot(t, a, color=color, label=side or stem, lw=1.5)
            r = reps.get(name)
            if r and r.get("low_deg") is not None:
                for level in (r["low_deg"], r["high_deg"]):
                    ax.axhline(level, color=color, ls="--", lw=0.8, alpha=0.7)
                for k, rep in enumerate(r["reps"], 1):
                    ax.axvspan(rep["start"], rep["end"], color=color, alpha=0.12, lw=0)
                    ax.plot([rep["peak"]], [rep["peak_deg"]], "v", color="black", ms=6)
                    ax.annotate(str(k), (rep["peak"], rep["peak_deg"]), textcoords="offset points", xytext=(0, 6),
                                ha="center", fontsize=7)
        joint = any(ANGLES[n][0].endswith("_flexion_deg") for n, _ in members)
        ax.set_ylabel(f"{stem} (deg)" if joint else f"{stem} (deg from horiz.)")
        ax.grid(alpha=0.3)
        ax.margins(y=0.15)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    title = f"person {pid}: angles (flexion: 0 = straight)"
    if reps:
        title += "; repetitions shaded, peaks marked"
    fig.suptitle(title)
    return _png(fig, Canvas)


def speed_png(pid, cols: dict, mpl, metric: bool = False) -> bytes:
    Figure, Canvas = mpl
    fig = Figure(figsize=(9, 3), layout="constrained")
    ax = fig.subplots()
    key, unit = ("speed_m_s", "m/s") if metric and "speed_m_s" in cols else ("speed_px_s", "px/s")
    ax.plot(np.asarray(cols["time"], float), np.asarray(cols[key], float), color="tab:green", lw=1.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"speed ({unit})")
    ax.grid(alpha=0.3)
    ax.set_title(f"person {pid}: speed of the neck")
    return _png(fig, Canvas)


def trajectories_png(tables: dict, size, image, mpl) -> bytes:
    Figure, Canvas = mpl
    if image is not None:
        h, w = image.shape[:2]
    elif size is not None:
        w, h = size
    else:
        xs = [np.nanmax(np.asarray(c["neck_x"], float), initial=0) for c in tables.values() if "neck_x" in c]
        ys = [np.nanmax(np.asarray(c["neck_y"], float), initial=0) for c in tables.values() if "neck_y" in c]
        w, h = max([1.0, *xs]) * 1.05, max([1.0, *ys]) * 1.05
    scale = 9.0 / max(w, h)
    fig = Figure(figsize=(max(3.0, w * scale), max(3.0, h * scale)), layout="constrained")
    ax = fig.subplots()
    if image is not None:
        ax.imshow(image, extent=(0, w, h, 0), alpha=0.8)
    for pid, cols in tables.items():
        if "neck_x" not in cols:
            continue
        x, y = np.asarray(cols["neck_x"], float), np.asarray(cols["neck_y"], float)
        (line,) = ax.plot(x, y, lw=2, label=f"person {pid}")
        ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        if ok.size:
            ax.plot(x[ok[0]], y[ok[0]], "o", color=line.get_color())
            ax.plot(x[ok[-1]], y[ok[-1]], "s", color=line.get_color())
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)                     # y down, as in the image
    ax.set_aspect("equal")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.set_title("neck paths (o first frame, square last frame)")
    if tables:
        ax.legend(loc="upper right", fontsize=8)
    return _png(fig, Canvas)


def _num(v, digits=1) -> str:
    return "&ndash;" if v is None else f"{v:.{digits}f}"


def _img(data: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(data).decode("ascii")}">')


def _person_section(s: dict, images: list, angles=None) -> str:
    """Summary, scale, angle table (the ``angles`` short names; all when None), repetitions, plots."""
    from livepose.analysis.angles import ANGLES

    e = html.escape
    pid = e(str(s["id"]))
    stems = []
    for key in s:
        m = _ANGLE_STAT.match(key)
        if m and m["stem"] not in stems:
            stems.append(m["stem"])
    if angles is not None:
        wanted = [ANGLES[a][0][:-4] for a in angles if a in ANGLES]
        stems = [st for st in wanted if st in stems]
    rows = "".join(
        f"<tr><td>{e(stem)}</td><td>{s.get(f'{stem}_frames', 0)}</td><td>{_num(s.get(f'{stem}_min_deg'))}</td>"
        f"<td>{_num(s.get(f'{stem}_max_deg'))}</td><td>{_num(s.get(f'{stem}_mean_deg'))}</td>"
        f"<td>{_num(s.get(f'{stem}_rom_deg'))}</td></tr>" for stem in stems)
    if s.get("m_per_px") is not None:
        move = (f"Peak speed: <b>{_num(s.get('peak_speed_m_s'), 2)} m/s</b>. "
                f"Distance travelled: <b>{_num(s.get('distance_m'), 2)} m</b> "
                f"({_num(s.get('distance_px'))} px).")
        if s.get("scale_source") == "person-height":
            scale = (f"<p>Scale: {_num(s.get('height_m'), 2)} m tall, estimated {_num(s.get('height_px'))} px "
                     f"(from {int(s.get('height_frames') or 0)} frames): {s['m_per_px'] * 1000:.3f} mm per px.</p>")
        else:
            scale = f"<p>Scale (--calibrate): {s['m_per_px'] * 1000:.3f} mm per px.</p>"
    else:
        move = (f"Peak speed: <b>{_num(s.get('peak_speed_px_s'))} px/s</b>. "
                f"Distance travelled: <b>{_num(s.get('distance_px'))} px</b>.")
        scale = ("<p>Scale: none (this person is in pixels; their height could not be estimated).</p>"
                 if "m_per_px" in s else "")
    head = (f"<p>Frames present: <b>{int(s['frames'])}</b> (frame {int(s['first_frame'])} to "
            f"{int(s['last_frame'])}, time {s['first_time']:.2f} s to {s['last_time']:.2f} s). {move}</p>{scale}")
    table = ("<table><tr><th>angle</th><th>frames</th><th>min (deg)</th><th>max (deg)</th><th>mean (deg)</th>"
             f"<th>range of motion (deg)</th></tr>{rows}</table>")
    reps_html = ""
    for name, r in (s.get("reps") or {}).items():
        if r.get("low_deg") is None:
            reps_html += f"<p>Repetitions on <code>{e(name)}</code>: 0 ({e(r.get('note') or '')}).</p>"
            continue
        lines = "".join(
            f"<tr><td>{k}</td><td>{rep['start']:.2f}</td><td>{rep['peak']:.2f}</td><td>{rep['end']:.2f}</td>"
            f"<td>{rep['end'] - rep['start']:.2f}</td><td>{rep['peak_deg']:.1f}</td></tr>"
            for k, rep in enumerate(r["reps"], 1))
        reps_html += (f"<p>Repetitions on <code>{e(name)}</code>: <b>{int(r['count'])}</b> "
                      f"(below {r['low_deg']:.1f}&deg;, above {r['high_deg']:.1f}&deg;, back below).</p>")
        if lines:
            reps_html += ('<table class="reps"><tr><th>rep</th><th>start (s)</th><th>peak (s)</th><th>end (s)</th>'
                          f"<th>duration (s)</th><th>peak (deg)</th></tr>{lines}</table>")
    return (f'<section><h2>Person {pid}</h2>{head}{table}{reps_html}'
            + "".join(f"<figure>{_img(d, a)}</figure>" for d, a in images) + "</section>")


CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%;height:auto}figure{margin:1em 0}
.conv{background:#f8f8f8;border-left:4px solid #888;padding:.5em 1em}code{font-size:.95em}"""


def report_html(doc: dict, person_images: dict, trajectories: bytes) -> bytes:
    """The page as UTF-8 bytes; ``person_images``: id -> [(png bytes, alt text)]."""
    e = html.escape
    smooth = doc.get("smooth") or "none"
    smooth_txt = {"rts": "RTS (the tracker's Kalman model run forward and backward, no lag)",
                  "butterworth": f"zero-phase Butterworth at {doc.get('cutoff_hz')} Hz",
                  "none": "none (the file's keypoints)"}.get(smooth, smooth)
    people = doc.get("people") or []
    conv = (
        '<div class="conv"><p><b>How to read this.</b> '
        + ("Positions, speeds and distances are in pixels (px, px/s; x to the right, y down) and, for each "
           "person with a scale, also in meters (m, m/s; y up from the image bottom): "
           + ("one scale from --calibrate" if doc.get("calibrate") else
              "each person's scale = their given height / their height in pixels, estimated from their "
              "segments")
           + ". Meters assume the motion is in a plane parallel to the image. Speeds are "
           if doc.get("units") == "m" else
           "Positions and distances are image pixels (px), x to the right and y down; speeds are px/s ")
        + "of the neck (the reference point).</p>"
        "<p><b>Joint angles</b> (<code>knee</code>, <code>hip</code>, <code>shoulder</code>, <code>elbow</code> "
        "flexion) are 0&deg; when the limb is straight and grow as it bends, up to 180&deg;; right and left are "
        "the person's own sides. <b>Segment angles</b> (<code>thigh</code>, <code>shank</code>, <code>arm</code>, "
        "<code>forearm</code>, <code>trunk</code>) are measured counter-clockwise from the horizontal pointing "
        "right, with y up: +90&deg; points up, -90&deg; down. An angle whose joints are not all visible is "
        "missing (a gap in the plots, &ndash; in the tables), never guessed. Angles are 2-D, in the image "
        "plane.</p>"
        f"<p>Smoothing: {e(smooth_txt)}. Range of motion = max - min.</p></div>")
    meta = (f"<p>Source: <code>{e(str(doc.get('source', '')))}</code>; model: <code>{e(str(doc.get('model')))}"
            f"</code>; {int(doc.get('frames', 0))} frames; {len(people)} "
            f"{'person' if len(people) == 1 else 'people'} analyzed "
            f"({int(doc.get('skipped_tracks', 0))} tracks shorter than {int(doc.get('min_frames', 0))} frames "
            "left out).</p>")
    body = (f"<h1>livepose analysis</h1>{meta}{conv}<h2>Trajectories</h2><figure>"
            f"{_img(trajectories, 'neck paths of every person')}</figure>"
            + "".join(_person_section(s, person_images.get(s["id"], []), doc.get("angles")) for s in people))
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>livepose analysis: {e(Path(str(doc.get('source', ''))).name)}</title><style>{CSS}</style>"
            f"</head><body>{body}</body></html>\n")
    return page.encode("utf-8")


def build_report(out: Path, jsonl, tables: dict, doc: dict, safe_id, video=None, log=None) -> dict | None:
    """``{path: bytes}`` for the PNGs and report.html, or ``None`` when matplotlib is missing.
    ``tables``: id -> columns (:func:`~livepose.analysis.table.person_table`); ``doc``: the
    summary.json document; ``safe_id``: id -> file-name part."""
    mpl = _mpl()
    if mpl is None:
        return None
    out = Path(out)
    files: dict = {}
    person_images: dict = {}
    summaries = {s["id"]: s for s in doc.get("people") or []}
    metric = doc.get("units") == "m"
    for pid, cols in tables.items():
        a = angles_png(pid, cols, mpl, doc.get("angles"), (summaries.get(pid) or {}).get("reps"))
        s = speed_png(pid, cols, mpl, metric and (summaries.get(pid) or {}).get("m_per_px") is not None)
        files[out / f"person_{safe_id(pid)}_angles.png"] = a
        files[out / f"person_{safe_id(pid)}_speed.png"] = s
        person_images[pid] = [(a, f"person {pid} angles over time"), (s, f"person {pid} speed over time")]
    image = None
    if video is not None:
        image = middle_frame(video)
        if image is None and log:
            log(f"warning: {video}: could not read a frame; trajectories drawn on a blank canvas")
    traj = trajectories_png(tables, frame_size(jsonl), image, mpl)
    files[out / "trajectories.png"] = traj
    files[out / "report.html"] = report_html(doc, person_images, traj)
    return files
