"""Reading photos safely: any image OpenCV decodes becomes 8-bit BGR, anything else one clear error."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np

from livepose.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".ppm", ".pgm", ".pbm")
MAX_PIXELS = 20000 * 20000


def _truncation(data: np.ndarray) -> str | None:
    """Name the problem when a JPEG or PNG stream is cut short (OpenCV only warns about it)."""
    head = bytes(data[:8])
    if head[:3] == b"\xff\xd8\xff":
        tail = bytes(data[-4096:])
        if b"\xff\xd9" not in tail:
            return "truncated JPEG (no end-of-image marker)"
    elif head == b"\x89PNG\r\n\x1a\n":
        if b"IEND" not in bytes(data[-64:]):
            return "truncated PNG (no IEND chunk)"
    return None


def to_bgr8(image: np.ndarray, where: str = "image") -> np.ndarray:
    """Grayscale, BGRA, 16-bit or float images to contiguous 8-bit BGR (h, w, 3)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise InputError(f"{where}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif not (image.ndim == 3 and image.shape[2] == 3):
        raise InputError(f"{where}: unsupported image shape {image.shape}")
    return np.ascontiguousarray(image)


def _shown(path) -> str:
    """A path as it can be printed (bytes that are not UTF-8 shown as escapes)."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def check_name(path: str | Path, what: str = "file") -> None:
    """InputError when the file system cannot even look the name up (too long, a loop of links)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP):
            raise InputError(f"{_shown(path)}: {exc.strerror.lower()} (the {what}'s name)") from None


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as 8-bit BGR, or raise InputError naming the file and the problem."""
    path = Path(path)
    check_name(path, "image")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if not path.is_file():  # reading a FIFO would wait forever
        raise InputError(f"{_shown(path)}: not a regular file (a pipe, device or socket); give an image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if data.size == 0:
        raise InputError(f"{path}: empty file")
    problem = _truncation(data)
    if problem:
        raise InputError(f"{path}: {problem}")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can decode")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise InputError(f"{path}: image of {image.shape[1]}x{image.shape[0]} pixels is too large")
    return to_bgr8(image, str(path))


def _listed(path: Path) -> bool:
    """An image of a folder: an image suffix, a regular file, not hidden (dot-files, and the ``._*``
    AppleDouble files of a folder copied from a Mac, are never frames)."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand folders (their images in name order, hidden files left out); files are kept as given,
    whatever their suffix."""
    out: list[Path] = []
    for p in map(Path, paths):
        try:
            folder = p.is_dir()
        except OSError:  # a name the file system refuses: read_image says so
            folder = False
        if folder:
            out.extend(sorted(q for q in p.iterdir() if _listed(q)))
        else:
            out.append(p)
    return out
