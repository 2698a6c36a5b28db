"""Read a livepose JSON Lines run into per-person tracks; compute positions, speeds, distance
and angles; write one wide CSV (and Parquet when pyarrow is installed) per person and a summary.

Reading rules (docs/analysis.md):

* The file is streamed, one line at a time.  Each line must be a ``livepose.frame/1`` object;
  the first one that is not (not JSON, not an object, another schema) stops the analysis with
  one :class:`~livepose.errors.InputError` naming ``file:line``, and nothing is written.  The
  one exception is a LAST line without its newline that does not parse (a run cut mid-write):
  it is skipped with one warning line.
* People without an ``id`` (a run with tracking off) cannot be followed: a file where no
  person has an id is refused.
* Neighbouring frames are neighbouring lines of the file; speeds use the ``time`` field.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livepose.analysis.angles import OPENPOSE_COCO_PARTS, all_angles
from livepose.errors import InputError, OutputError

SCHEMA = "livepose.frame/1"
#: the point whose path gives the distance travelled and ``speed_px_s``
REFERENCE_PART = "neck"


@dataclass
class Run:
    path: Path
    times: np.ndarray            # (F,) seconds, one per line of the file
    frames: np.ndarray           # (F,) frame numbers
    model: str | None
    parts: tuple
    tracks: dict = field(default_factory=dict)  # id -> (rows (n,) int indices into times, kp (n, K, 3))
    raw: dict = field(default_factory=dict)     # id -> (n, K, 3) the detections (``raw``) of those rows, when the file has them
    width: int = 0               # the first frame's width and height in pixels (0: not in the file)
    height: int = 0


def _parts_for(model: str | None) -> tuple:
    """The part names of the model card named ``model`` when it is found, else OpenPose-COCO."""
    if model:
        try:
            from livepose.models import card_for

            parts = tuple(card_for(model).parts)
            if parts:
                return parts
        except Exception:  # noqa: BLE001 - an unknown card: the part list livepose writes by default
            pass
    return OPENPOSE_COCO_PARTS


def read_run(path: str | os.PathLike, warn=None) -> Run:
    """Stream ``path`` into a :class:`Run` (see the module doc for the rules)."""
    path = Path(path)
    warn = warn or (lambda m: print(f"warning: {m}", file=sys.stderr))
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a JSON Lines file")
    times, frames = [], []
    per_id: dict = {}
    model = None
    any_people = False
    no_id_line = None
    size = None
    try:
        fh = open(path, "r", encoding="utf-8", errors="strict")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with fh:
        lineno = 0
        pending = None
        try:
            for raw in fh:
                lineno += 1
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as exc:
                    if not raw.endswith("\n"):
                        pending = f"{path}:{lineno}: last line is cut short ({exc.msg}); skipped"
                        break
                    raise InputError(f"{path}:{lineno}: not JSON ({exc.msg}); is this a livepose --jsonl file?") from None
                if not isinstance(obj, dict) or obj.get("schema") != SCHEMA:
                    got = obj.get("schema") if isinstance(obj, dict) else type(obj).__name__
                    raise InputError(f"{path}:{lineno}: not a {SCHEMA} frame (schema: {got!r})")
                try:
                    t = float(obj["time"])
                    fr = int(obj["frame"])
                    people = obj.get("people") or []
                    row = len(times)
                    for person in people:
                        kp = np.array(person["keypoints"], dtype=float)
                        if kp.ndim != 2 or kp.shape[1] != 3:
                            raise ValueError("keypoints are not [x, y, conf] triples")
                        any_people = True
                        pid = person.get("id")
                        if pid is None:
                            no_id_line = no_id_line or lineno
                            continue
                        rows, kps, raws = per_id.setdefault(pid, ([], [], []))
                        rows.append(row)
                        kps.append(kp)
                        raw_kp = person.get("raw")
                        raws.append(None if raw_kp is None else np.array(raw_kp, dtype=float))
                except (KeyError, TypeError, ValueError) as exc:
                    raise InputError(f"{path}:{lineno}: malformed frame ({type(exc).__name__}: {exc})") from None
                times.append(t)
                frames.append(fr)
                model = model or obj.get("model")
                if size is None:
                    try:
                        size = (int(obj.get("width") or 0), int(obj.get("height") or 0))
                    except (TypeError, ValueError):
                        size = (0, 0)
        except UnicodeDecodeError:
            raise InputError(f"{path}: not text (not a livepose JSON Lines file)") from None
    if not times:
        if pending:
            raise InputError(f"{path}:{lineno}: no frames: the only line is cut short (a run stopped mid-write?)")
        raise InputError(f"{path}: no frames (empty file)" if lineno == 0 else
                         f"{path}: no frames ({lineno} blank line{'s' if lineno != 1 else ''})")
    if pending:
        warn(pending)
    if any_people and not per_id:
        raise InputError(f"{path}:{no_id_line}: a person without an id, and no person in the file has one "
                         "(a run with tracking off?); analyze needs tracked people")
    parts = _parts_for(model)
    run = Run(path, np.asarray(times, float), np.asarray(frames, int), model, parts,
              width=max(0, size[0]) if size else 0, height=max(0, size[1]) if size else 0)
    for pid, (rows, kps, raws) in per_id.items():
        run.tracks[pid] = (np.asarray(rows, int), _stack(kps, len(parts)))
        if all(r is not None and r.ndim == 2 and r.shape[1] == 3 for r in raws):
            run.raw[pid] = _stack(raws, len(parts))
    return run


def _stack(kps: list, k: int) -> np.ndarray:
    """(n, k, 3) from n (K, 3) arrays (cut or NaN-padded to k parts)."""
    arr = np.full((len(kps), k, 3), np.nan)
    for i, a in enumerate(kps):
        n = min(k, a.shape[0])
        arr[i, :n] = a[:n]
    return arr


def speeds(pos: np.ndarray, times: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Speed in px/s of ``pos`` (F, ..., 2) over file rows with timestamps ``times`` (F,).

    Central differences (row i-1 to i+1) where both neighbours hold the point; one-sided where only
    one does; NaN where neither does (a gap is never bridged).  ``present`` (F, ...) says where
    the point is known (NaN positions count as absent too)."""
    pos = np.asarray(pos, float)
    ok = np.asarray(present, bool) & np.all(np.isfinite(pos), axis=-1)
    f = pos.shape[0]
    out = np.full(pos.shape[:-1], np.nan)
    if f < 2:
        return out
    t = np.asarray(times, float).reshape((f,) + (1,) * (pos.ndim - 2))
    prev_ok = np.zeros_like(ok)
    prev_ok[1:] = ok[:-1]
    next_ok = np.zeros_like(ok)
    next_ok[:-1] = ok[1:]
    prev = np.roll(pos, 1, axis=0)
    nxt = np.roll(pos, -1, axis=0)
    tp = np.roll(t, 1, axis=0)
    tn = np.roll(t, -1, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        central = np.linalg.norm(nxt - prev, axis=-1) / (tn - tp)
        back = np.linalg.norm(pos - prev, axis=-1) / (t - tp)
        fwd = np.linalg.norm(nxt - pos, axis=-1) / (tn - t)
    out = np.where(ok & prev_ok & next_ok, central, out)
    out = np.where(ok & prev_ok & ~next_ok, back, out)
    out = np.where(ok & ~prev_ok & next_ok, fwd, out)
    return np.where(np.isfinite(out), out, np.nan)


def distance(pos: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Cumulative path length (F,) of ``pos`` (F, 2): steps between neighbouring rows that both
    hold the point; a gap adds nothing."""
    pos = np.asarray(pos, float)
    ok = np.asarray(present, bool) & np.all(np.isfinite(pos), axis=-1)
    step = np.zeros(pos.shape[0])
    if pos.shape[0] > 1:
        s = np.linalg.norm(pos[1:] - pos[:-1], axis=-1)
        step[1:] = np.where(ok[1:] & ok[:-1], s, 0.0)
    return np.cumsum(step)


SMOOTHERS = ("rts", "butterworth", "none")


def _smoothed(t: np.ndarray, xy: np.ndarray, vis: np.ndarray, conf: np.ndarray, smooth: str,
              cutoff_hz: float) -> np.ndarray:
    """(n, K, 2) positions smoothed offline (:mod:`livepose.analysis.smooth`); NaN stays NaN."""
    from livepose.analysis.smooth import butterworth_smooth, fill_gaps, rts_smooth

    if smooth == "rts":  # as livepose run --smoother offline: livepose.track.offline's noise, short gaps filled
        from livepose.settings import TrackerConfig
        from livepose.track.offline import RTS_PROCESS_NOISE_SCALE

        base = TrackerConfig()
        cfg = base.with_(process_noise=base.process_noise * RTS_PROCESS_NOISE_SCALE)
        out = rts_smooth(t, xy[:, None], np.where(vis, conf, 0.0)[:, None], cfg)[:, 0]
        return fill_gaps(t, out)
    if smooth == "butterworth":
        step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        nyquist = 0.5 / step if step > 0 else 0.0
        if not 0.0 < cutoff_hz < nyquist:
            raise InputError(f"--cutoff {cutoff_hz:g} Hz: must be above 0 and below half the frame rate "
                             f"({nyquist:g} Hz here)")
        return np.where(vis[..., None], butterworth_smooth(t, xy, vis, cutoff_hz=cutoff_hz), np.nan)
    return xy


def person_table(run: Run, pid, smooth: str = "none", cutoff_hz: float = 6.0) -> dict:
    """Columns (name -> 1-D array, one entry per frame the person is present) for person ``pid``;
    positions, speeds and angles from the keypoints smoothed by ``smooth`` (:data:`SMOOTHERS`:
    ``rts`` the tracker's Kalman model run forward and backward, ``butterworth`` zero-phase at
    ``cutoff_hz``, ``none`` the file's keypoints)."""
    rows, kp = run.tracks[pid]
    if smooth != "none" and pid in run.raw:  # smooth the detections, not the live filter's (lagging) output
        kp = run.raw[pid]
    lo, hi = int(rows.min()), int(rows.max()) + 1
    span = np.full((hi - lo,) + kp.shape[1:], np.nan)
    span[rows - lo] = kp
    present = np.zeros(hi - lo, bool)
    present[rows - lo] = True
    t = run.times[lo:hi]
    vis = np.isfinite(span[..., 0]) & np.isfinite(span[..., 1]) & (np.nan_to_num(span[..., 2]) > 0)
    xy = np.where(vis[..., None], span[..., :2], np.nan)
    min_conf = 0.0
    if smooth != "none":
        xy = _smoothed(t, xy, vis, np.nan_to_num(span[..., 2]), smooth, cutoff_hz)
        # a joint is known where the smoother gives it: measured, or in a short gap interpolated (its conf stays 0)
        vis = np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])
        span = np.concatenate([xy, span[..., 2:3]], axis=-1)
        min_conf = -1.0
    kp_speed = speeds(xy, t, vis & present[:, None])          # (n, K)
    ref = list(run.parts).index(REFERENCE_PART) if REFERENCE_PART in run.parts else 0
    dist = distance(xy[:, ref], vis[:, ref])
    angles = all_angles(span, run.parts, min_conf=min_conf)
    sel = rows - lo
    cols = {"time": run.times[rows], "frame": run.frames[rows]}
    for name, a in angles.items():
        cols[name] = a[sel]
    for i, part in enumerate(run.parts):
        cols[f"{part}_x"] = xy[sel, i, 0]
        cols[f"{part}_y"] = xy[sel, i, 1]
        cols[f"{part}_conf"] = np.nan_to_num(span[sel, i, 2])
    for i, part in enumerate(run.parts):
        cols[f"{part}_speed_px_s"] = kp_speed[sel, i]
    cols["speed_px_s"] = kp_speed[sel, ref]
    cols["distance_px"] = dist[sel]
    return cols


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return "" if not math.isfinite(v) else f"{v:.6g}" if abs(v) < 1e5 else f"{v:.1f}"


def table_csv(cols: dict) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = list(cols)
    w.writerow(names)
    for i in range(len(cols["time"])):
        w.writerow([_fmt(cols[n][i]) for n in names])
    return buf.getvalue().encode("utf-8")


def _nan_stat(fn, a):
    a = a[np.isfinite(a)]
    return float(fn(a)) if a.size else None


def summarize(pid, cols: dict, angle_names) -> dict:
    s = {"id": pid, "frames": int(len(cols["time"])),
         "first_time": float(cols["time"][0]), "last_time": float(cols["time"][-1]),
         "first_frame": int(cols["frame"][0]), "last_frame": int(cols["frame"][-1])}
    for name in angle_names:
        stem = name[:-4] if name.endswith("_deg") else name
        a = cols[name]
        lo, hi = _nan_stat(np.min, a), _nan_stat(np.max, a)
        s[f"{stem}_frames"] = int(np.isfinite(a).sum())
        s[f"{stem}_min_deg"] = lo
        s[f"{stem}_max_deg"] = hi
        s[f"{stem}_mean_deg"] = _nan_stat(np.mean, a)
        s[f"{stem}_rom_deg"] = None if lo is None else hi - lo
    s["peak_speed_px_s"] = _nan_stat(np.max, cols["speed_px_s"])
    s["distance_px"] = float(cols["distance_px"][-1]) if len(cols["distance_px"]) else 0.0
    return s


def summary_csv(rows: list) -> bytes:
    """One row per person; the scalar entries of the summaries (the repetition lists stay in
    summary.json and reps.csv).  Columns: the union of the rows' keys, in first-seen order."""
    buf = io.StringIO()
    names: list = []
    for r in rows:
        names += [k for k, v in r.items() if k not in names and not isinstance(v, (dict, list, tuple))]
    names = names or ["id", "frames"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for r in rows:
        vals = []
        for n in names:
            v = r.get(n)
            vals.append("" if v is None else _fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                        else str(v))
        w.writerow(vals)
    return buf.getvalue().encode("utf-8")


def parquet_bytes(cols: dict) -> bytes | None:
    """The table as Parquet, or None when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({k: np.asarray(v) for k, v in cols.items()}), sink)
    return sink.getvalue().to_pybytes()


def _safe_id(pid) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(pid))


def people_table(tables: dict) -> dict:
    """All persons in one long table: an ``id`` column then the person tables' columns, the rows
    of each person in turn (ids in the order of ``tables``).  An id column of text when any id is
    not an integer."""
    if not tables:
        return {"id": np.zeros(0, np.int64), "time": np.zeros(0), "frame": np.zeros(0, np.int64)}
    ids = list(tables)
    text_ids = not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in ids)
    id_col = np.concatenate([np.full(len(tables[p]["time"]), str(p) if text_ids else int(p),
                                     dtype=object if text_ids else np.int64) for p in ids])
    out = {"id": id_col}
    for name in tables[ids[0]]:
        out[name] = np.concatenate([np.asarray(tables[p][name]) for p in ids])
    return out


def reps_csv(summaries: list) -> bytes:
    """One row per repetition: id, angle, rep (1, 2, ...), start_s, peak_s, end_s, duration_s, peak_deg."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "angle", "rep", "start_s", "peak_s", "end_s", "duration_s", "peak_deg"])
    for s in summaries:
        for angle, r in (s.get("reps") or {}).items():
            for k, rep in enumerate(r["reps"], 1):
                w.writerow([s["id"], angle, k, _fmt(rep["start"]), _fmt(rep["peak"]), _fmt(rep["end"]),
                            _fmt(rep["end"] - rep["start"]), _fmt(rep["peak_deg"])])
    return buf.getvalue().encode("utf-8")


def _span(run: Run, pid, cols: dict):
    """``(times, present index)`` over every line of the run from the person's first frame to their last."""
    rows = run.tracks[pid][0]
    lo, hi = int(rows.min()), int(rows.max()) + 1
    return run.times[lo:hi], rows - lo


def _opensim_files(run: Run, pid, cols: dict, scale, angle_names) -> dict:
    from livepose.analysis.opensim import mot_bytes, trc_bytes

    t, sel = _span(run, pid, cols)
    xy = np.full((len(t), len(run.parts), 2), np.nan)
    for j, part in enumerate(run.parts):
        xy[sel, j, 0] = cols[f"{part}_x"]
        xy[sel, j, 1] = cols[f"{part}_y"]
    angles = {}
    for name in angle_names:
        a = np.full(len(t), np.nan)
        a[sel] = cols[name]
        angles[name[:-4] if name.endswith("_deg") else name] = a
    base = f"person_{_safe_id(pid)}"
    return {f"{base}.trc": trc_bytes(f"{base}.trc", t, run.parts, xy, scale, float(run.height)),
            f"{base}.mot": mot_bytes(f"{base}", t, angles)}


def _scales(run: Run, kept: list, tables: dict, person_height, calibrate, log) -> dict:
    """id -> ``{"scale": m/px or None, "source", "height_m", "height_px", "height_frames"}``."""
    from livepose.analysis.units import calibration_scale, height_px

    out = {}
    cal = calibration_scale(calibrate) if calibrate is not None else None
    for pid in kept:
        info = {"m_per_px": None, "scale_source": None, "height_m": None, "height_px": None, "height_frames": None}
        if cal is not None:
            info.update(m_per_px=cal, scale_source="calibrate")
        elif person_height:
            meters = person_height.get(str(pid), person_height.get(None))
            if meters is not None:
                hpx, n = height_px(tables[pid])
                info.update(height_m=meters, height_px=hpx, height_frames=n)
                if hpx is None:
                    log(f"warning: person {pid}: neck, both hips and a whole leg seen together in only {n} frames "
                        f"(need 5) to estimate the height in pixels; left in pixels")
                else:
                    info.update(m_per_px=meters / hpx, scale_source="person-height")
        out[pid] = info
    return out


def _parse_options(person_height, calibrate, angles, reps, reps_thresholds):
    """Check the option values (before the file is read); one InputError line each."""
    from livepose.analysis.angles import DEFAULT_PLOT_ANGLES, resolve_angles
    from livepose.analysis.reps import parse_thresholds
    from livepose.analysis.units import parse_calibrate, parse_person_height

    def _names(v):
        if v is None:
            return None
        return [x for item in ([v] if isinstance(v, str) else v) for x in str(item).split(",")]

    try:
        heights = None if person_height is None else parse_person_height(person_height)
        cal = None if calibrate is None else parse_calibrate(calibrate)
        if heights is not None and cal is not None:
            raise ValueError("--person-height and --calibrate: give one or the other (one scale per person)")
        chosen = resolve_angles(_names(angles)) if angles is not None else None
        if chosen is not None and not chosen:
            raise ValueError("--angles: no angle named; see livepose analyze --list-angles")
        rep_names = resolve_angles(_names(reps), "--reps") if reps is not None else []
        thresholds = None if reps_thresholds is None else parse_thresholds(reps_thresholds)
        if thresholds is not None and not rep_names:
            raise ValueError("--reps-thresholds: needs --reps ANGLE")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    plot = list(chosen) if chosen is not None else list(DEFAULT_PLOT_ANGLES)
    plot += [n for n in rep_names if n not in plot]
    return heights, cal, chosen, plot, rep_names, thresholds


def analyze(jsonl: str | os.PathLike, out_dir: str | os.PathLike, min_frames: int = 10, log=None, *,
            smooth: str = "rts", cutoff_hz: float = 6.0, report: bool = True, video=None,
            person_height=None, calibrate=None, angles=None, reps=None, reps_thresholds=None,
            reps_min_range: float | None = None, opensim: bool = True, combined: bool = True) -> dict:
    """Read ``jsonl``, write DIR/person_<id>.csv (+ .parquet), DIR/people.csv (+ .parquet),
    DIR/summary.csv, DIR/summary.json, DIR/person_<id>.trc and .mot (``opensim``), DIR/reps.csv
    (``reps``); then, when ``report`` and matplotlib is importable, the plots and DIR/report.html
    (:mod:`livepose.analysis.report`; ``video``: draw the trajectories over its middle frame).

    ``smooth``/``cutoff_hz``: see :func:`person_table`.  ``person_height``: meters, for everyone
    (a number) or per id (``"3=1.80,7=1.65"``, ``"1.75,3=1.80"`` with a default, or a dict with
    the default under None); ``calibrate``: ``"X1,Y1,X2,Y2,METERS"`` (:mod:`~livepose.analysis.units`);
    either adds metric columns.  ``angles``: short angle names (``"knee_right,elbow_left"`` or a
    list; :data:`~livepose.analysis.angles.ANGLES`) shown in the plots and the report (the tables
    keep every angle).  ``reps``: angle names to count repetitions on
    (:mod:`~livepose.analysis.reps`), ``reps_thresholds`` ``(low, high)`` degrees.

    Every check (options, the whole input, ids) and every output (tables, plots, page) is done in
    memory before the first file is written; then each file goes through a temporary name.
    Returns ``{"people": [...summaries], "skipped": n, "parquet": bool, "report": bool, "files": [...]}``."""
    if smooth not in SMOOTHERS:
        raise InputError(f"--smooth {smooth!r}: choose one of {', '.join(SMOOTHERS)}")
    from livepose.analysis.angles import ANGLES
    from livepose.analysis.reps import DEFAULT_MIN_RANGE_DEG, count_reps
    from livepose.analysis.units import add_metric_columns
    from livepose.sinks.files.atomic import write_bytes_atomic

    heights, cal, chosen, plot_angles, rep_names, thresholds = _parse_options(
        person_height, calibrate, angles, reps, reps_thresholds)
    min_range = DEFAULT_MIN_RANGE_DEG if reps_min_range is None else float(reps_min_range)
    log = log or (lambda m: print(m, file=sys.stderr))
    src = Path(jsonl)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if report and video is not None and not Path(video).is_file():
        raise InputError(f"{video}: no such video file (--video)")
    run = read_run(src, warn=lambda m: log(f"warning: {m}"))
    ids = sorted(run.tracks, key=lambda p: (str(type(p)), p))
    if heights:
        known = {str(p) for p in ids}
        unknown = [k for k in heights if k is not None and k not in known]
        if unknown:
            raise InputError(f"--person-height: id {unknown[0]} is not a track id in {src.name} "
                             f"(ids: {', '.join(str(p) for p in ids) or 'none'})")
    angle_names = list(all_angles(np.full((1, len(run.parts), 3), np.nan), run.parts))
    kept = [p for p in ids if len(run.tracks[p][0]) >= min_frames]
    tables: dict = {p: person_table(run, p, smooth, cutoff_hz) for p in kept}
    metric = heights is not None or cal is not None
    scales = _scales(run, kept, tables, heights, cal, log) if metric else {}
    if metric and run.height <= 0:
        log("warning: the file has no frame height; metric y is measured up from the image top (y_m = -y * scale)")
    files: dict = {}
    summaries = []
    have_pq = None
    for pid in kept:
        cols = tables[pid]
        if metric:
            add_metric_columns(cols, run.parts, scales[pid]["m_per_px"], float(run.height))
        files[out / f"person_{_safe_id(pid)}.csv"] = table_csv(cols)
        pq_data = parquet_bytes(cols)
        have_pq = pq_data is not None
        if pq_data is not None:
            files[out / f"person_{_safe_id(pid)}.parquet"] = pq_data
        s = summarize(pid, cols, angle_names)
        if metric:
            sc = scales[pid]
            s.update(sc)
            ok = sc["m_per_px"] is not None
            s["peak_speed_m_s"] = _nan_stat(np.max, cols["speed_m_s"]) if ok else None
            s["distance_m"] = float(cols["distance_m"][-1]) if ok and len(cols["distance_m"]) else None
        if rep_names:
            s["reps"] = {}
            for name in rep_names:
                col = ANGLES[name][0]
                r = count_reps(cols["time"], cols[col], thresholds, min_range=min_range)
                s[f"{name}_reps"] = r["count"]
                s[f"{name}_reps_low_deg"] = r["low_deg"]
                s[f"{name}_reps_high_deg"] = r["high_deg"]
                s["reps"][name] = r
        summaries.append(s)
        if opensim:
            for fname, data in _opensim_files(run, pid, cols, scales.get(pid, {}).get("m_per_px"),
                                              angle_names).items():
                files[out / fname] = data
    if combined:
        both = people_table(tables)
        files[out / "people.csv"] = table_csv(both)
        pq_data = parquet_bytes(both) if kept else None
        if pq_data is not None:
            files[out / "people.parquet"] = pq_data
    if rep_names:
        files[out / "reps.csv"] = reps_csv(summaries)
    doc = {"source": str(src), "model": run.model, "parts": list(run.parts), "frames": int(len(run.times)),
           "width": run.width, "height": run.height,
           "smooth": smooth, "cutoff_hz": cutoff_hz if smooth == "butterworth" else None,
           "min_frames": min_frames, "skipped_tracks": len(ids) - len(kept),
           "units": "m" if metric else "px",
           "person_height": None if heights is None else {("default" if k is None else k): v
                                                          for k, v in heights.items()},
           "calibrate": None if cal is None else list(cal),
           "angles": plot_angles, "reps_angles": rep_names,
           "reps_thresholds": None if thresholds is None else list(thresholds),
           "reps_min_range_deg": min_range if rep_names and thresholds is None else None,
           "opensim": bool(opensim), "people": summaries}
    files[out / "summary.csv"] = summary_csv(summaries)
    files[out / "summary.json"] = (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode("utf-8")
    made_report = False
    if report:
        from livepose.analysis.report import SKIP_NOTE, build_report

        extra = build_report(out, src, tables, doc, _safe_id, video=video, log=log)
        if extra is None:
            log(SKIP_NOTE)
        else:
            files.update(extra)
            made_report = True
    src_real = os.path.realpath(src)
    for p in files:
        if os.path.realpath(p) == src_real:
            raise InputError(f"{p}: output would overwrite the input {src}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create folder ({exc.strerror or exc})") from None
    for p, data in files.items():
        write_bytes_atomic(p, data)
    if have_pq is False:
        log("note: Parquet skipped (pyarrow is not installed; pip install pyarrow)")
    return {"people": summaries, "skipped": len(ids) - len(kept), "parquet": bool(have_pq),
            "report": made_report, "files": [str(p) for p in files], "frames": int(len(run.times))}
