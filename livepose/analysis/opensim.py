"""OpenSim files per person (``livepose analyze``): markers as .trc, angles as .mot.

Both cover every line of the run from the person's first frame to their last (a uniform time
base, as OpenSim expects), including the frames where the person was not seen, which hold no
value.  See docs/analysis.md "OpenSim exports".

* ``person_<id>.trc`` (Track Row Column, tab-separated, ``PathFileType 4``): one marker per
  keypoint, named as the part.  X to the right, Y UP (the image y flipped: ``height - y``),
  Z = 0.  In meters (``Units m``) when the person has a scale (``--person-height``,
  ``--calibrate``), else in pixels with ``Units px`` (OpenSim's tools want m or mm: give a scale
  for them).  A keypoint not seen: three empty cells (OpenSim's TRCFileAdapter reads a blank as
  NaN).
* ``person_<id>.mot`` (OpenSim Storage, version 1, ``inDegrees=yes``): a ``time`` column then
  one column per angle (the table's angle columns), degrees; a missing angle is ``NaN``
  (OpenSim 4's STOFileAdapter reads it as NaN; OpenSim 3's GUI stops plotting at the first one).
"""

from __future__ import annotations

import math

import numpy as np


def _num(v: float) -> str:
    return f"{v:.6f}" if math.isfinite(v) else ""


def _rate(t: np.ndarray) -> float:
    """Frames per second: 1 / the mean step, over the steps within 1.5x the median (a dropped
    frame does not lower it; the mean undoes the rounding of the file's times)."""
    d = np.diff(np.asarray(t, float))
    d = d[d > 0]
    if not d.size:
        return 0.0
    d = d[d <= 1.5 * np.median(d)]
    return float(1.0 / np.mean(d))


def trc_bytes(name: str, times, parts, xy, scale: float | None, frame_height: float) -> bytes:
    """The .trc file for ``xy`` (T, K, 2) image pixels (NaN = not seen) at ``times`` (T,)."""
    t = np.asarray(times, float)
    xy = np.asarray(xy, float)
    n, k = xy.shape[:2]
    s = 1.0 if scale is None else float(scale)
    units = "px" if scale is None else "m"
    X = xy[..., 0] * s
    Y = (frame_height - xy[..., 1]) * s
    rate = _rate(t)
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate:.6g}\t{rate:.6g}\t{n}\t{k}\t{units}\t{rate:.6g}\t1\t{n}",
        "Frame#\tTime\t" + "\t".join(f"{p}\t\t" for p in parts),
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(k)),
    ]
    for r in range(n):
        cells = [str(r + 1), f"{t[r]:.6f}"]
        for j in range(k):
            x, y = X[r, j], Y[r, j]
            if math.isfinite(x) and math.isfinite(y):
                cells += [_num(x), _num(y), "0.000000"]
            else:
                cells += ["", "", ""]
        lines.append("\t".join(cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


def mot_bytes(name: str, times, angles: dict) -> bytes:
    """The .mot file: ``angles`` name -> (T,) degrees (NaN = missing) at ``times`` (T,)."""
    t = np.asarray(times, float)
    names = list(angles)
    lines = [name, "version=1", f"nRows={len(t)}", f"nColumns={len(names) + 1}", "inDegrees=yes",
             "Units are S.I. units (second, meters, Newtons, ...)", "Angles are in degrees.", "endheader",
             "\t".join(["time", *names])]
    cols = [np.asarray(angles[n], float) for n in names]
    for r in range(len(t)):
        lines.append("\t".join([f"{t[r]:.6f}", *(f"{c[r]:.6f}" if math.isfinite(c[r]) else "NaN" for c in cols)]))
    return ("\n".join(lines) + "\n").encode("utf-8")
