"""The MP4/MOV box probe: why a video file OpenCV refused is broken (truncated, unfinished)."""

from __future__ import annotations

from pathlib import Path


def _mp4_problem(path: Path) -> str | None:
    """Why an MP4/MOV file OpenCV refused is broken, when its box structure says so.

    A recording cut short (disk full, process killed, half a download) has its 'mdat' but
    not the 'moov' index that most writers put at the end, and no player can open it.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            pos, seen = 0, []
            while pos + 8 <= size and len(seen) < 64:
                f.seek(pos)
                header = f.read(16)
                box_size = int.from_bytes(header[:4], "big")
                kind = header[4:8]
                if box_size == 1 and len(header) >= 16:
                    box_size = int.from_bytes(header[8:16], "big")
                elif box_size == 0:
                    box_size = size - pos
                if box_size < 8 or not kind.isalnum() or (not seen and kind != b"ftyp"):
                    return None
                seen.append(kind)
                if pos + box_size > size:
                    if kind == b"moov" or b"moov" not in seen:
                        return "truncated MP4 (the file ends inside its data; the 'moov' index is missing)"
                    return None
                pos += box_size
    except OSError:
        return None
    if seen and b"moov" not in seen:
        return "unfinished MP4 (no 'moov' index: the recording was not closed properly)"
    return None
