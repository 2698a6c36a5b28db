"""The `livepose` command.  The only module that reads argv, prints for the user or exits.

Exit codes (also in the README):
  0  everything worked
  1  a run-time problem that is not about inputs, model or outputs (e.g. an optional
     dependency missing, out of memory)
  2  bad usage, or an input that could not be read (other inputs were still processed)
  3  the model or its card is missing, corrupt or inconsistent, or a --backend/--precision/--providers
     asked for by name is not installed, did not load or is not supported here
  4  an output could not be written
  130 interrupted (Ctrl-C); outputs finished so far are complete
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Sequence

# OpenCV and FFmpeg print their own warnings (missing camera, damaged stream) besides our one
# clear line; quiet them unless the user asked otherwise.  Must happen before cv2 loads.
os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from livepose import __version__  # noqa: E402
from livepose import settings as S  # noqa: E402
from livepose.errors import InputError, LiveposeError  # noqa: E402

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_MODEL, EXIT_OUTPUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
#: --smoother names for files: zero-lag offline smoothing after the live run (livepose.track.offline)
OFFLINE_SMOOTHERS = ("offline", "offline-butterworth")
_default_showwarning = warnings.showwarning


def _size(text: str | None) -> tuple[int, int] | str | None:
    """--size: WxH (-1 in one of them keeps the aspect ratio) or auto; a wrong value is one
    SettingError line (exit 2), raised when the settings are made."""
    from livepose.preprocess import parse_size

    if text is None:
        return None
    if text.strip().lower() == S.AUTO_SIZE:
        return S.AUTO_SIZE
    try:
        return parse_size(text)
    except ValueError:
        raise S.SettingError(f"--size: must be WxH (e.g. 432x368; -1 in one of them keeps the aspect ratio; "
                             f"each side 16 to 4096, at most 4 MP) or auto; got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _endpoint(text: str) -> tuple[str, int, bool]:
    """'[HOST:]PORT' -> (host, port, host_given); IPv6 hosts in brackets: [::1]:8765."""
    host, given = "127.0.0.1", False
    port_text = text
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text[close + 1:].startswith(":"):
            raise argparse.ArgumentTypeError(f"expected [IPV6]:PORT, got {text!r}")
        host, port_text, given = text[1:close], text[close + 2:], True
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
        given = True
        if not host:
            raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT with a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535, got {port}")
    return host, port, given


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and decoding")
    g.add_argument("--model", type=Path, metavar="NAME|ONNX",
                   help="a bundled network by name (see livepose models; default: the first listed there) or an "
                        "ONNX file, whose card is the .json beside it")
    g.add_argument("--card", type=Path, metavar="JSON", help="model card, when not beside the model")
    g.add_argument("--size", metavar="WxH|auto",
                   help="network input size; -1 keeps the aspect ratio, e.g. -1x368 (default: the card's); "
                        "auto (livepose run on a file or folder): the smallest of the card's height, 1.5x and 2x "
                        "that finds as many people on a few sampled frames (small people in wide shots)")
    g.add_argument("--rules", choices=S.RULE_NAMES,
                   help="limb-grouping rules: OpenPose's or tf-pose-estimation's (default: the network's own, "
                        "its card's decode field, else OpenPose's)")
    g.add_argument("--upsample", metavar="F",
                   help="enlarge heatmaps and PAFs F times before decoding (default: the network's rules' "
                        "factor, 1 for OpenPose's); alone, on OpenPose's rules")
    g.add_argument("--providers", metavar="LIST",
                   help="ONNX Runtime execution providers in order, comma separated, e.g. "
                        "CUDAExecutionProvider,CPUExecutionProvider (default: TensorRT if its libraries load, "
                        "then CUDA, then CPU, as this ONNX Runtime build has them)")
    g.add_argument("--allow-fallback", action="store_true",
                   help="when a requested GPU provider cannot be loaded, continue on what did load (the start "
                        "line says so) instead of stopping with an error")
    g.add_argument("--threads", type=_positive_int, metavar="N", help="inference threads (default: all cores)")
    g.add_argument("--backend", choices=S.BACKENDS, default="auto",
                   help="inference engine: ONNX Runtime, or OpenVINO's runtime (pip install -e .[openvino]); "
                        "auto (default): ONNX Runtime with CUDA if available, else OpenVINO if installed, "
                        "else ONNX Runtime's CPU provider")
    g.add_argument("--precision", choices=S.PRECISIONS, default="auto",
                   help="arithmetic precision: fp16 runs the card's fp16 model (made by tools/convert_fp16.py; "
                        "meant for CUDA/TensorRT, where it also turns on TensorRT's fp16 kernels); bf16 needs "
                        "--backend openvino and a CPU with BF16; int8 runs the card's int8 model (NAME.int8.json "
                        "beside it, made by tools/quantize_int8.py; either backend); auto (default) picks the "
                        "fastest precision whose measured AP is within 0.01 of fp32")
    g.add_argument("--trt-cache", type=Path, metavar="DIR",
                   help="TensorRT engine and timing cache folder, created when needed; built engines are reused "
                        "by later runs (default: ~/.cache/livepose/tensorrt)")
    a = p.add_argument_group(
        "accuracy mode (files and photos; a live source runs one scale)",
        "the network runs at several input scales and on the mirror image; their heatmaps and PAFs are "
        "averaged before decoding (slower: see README, 'Accuracy mode')")
    a.add_argument("--accuracy", metavar="{" + ",".join(S.ACCURACY_MODES) + "}",
                   help="normal (default): one run per frame; high: scales "
                        + ",".join(f"{s:g}" for s in S.ACCURACY["high"].scales)
                        + (" and the mirror image" if S.ACCURACY["high"].flip else "") + ", the best AP measured")
    a.add_argument("--scales", metavar="LIST",
                   help="input scales, comma separated, e.g. 0.75,1,1.5 (1 is the input size; up to "
                        f"{S.MAX_SCALES}, each above 0 and at most 4); overrides --accuracy's")
    a.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="also run the mirror image (left and right swapped back by the card's 'flip' pairs); "
                        "--no-flip turns off --accuracy high's")
    s = p.add_argument_group(
        "false people (dropped after decoding, before tracking and scoring)",
        "on by default: weak partial skeletons (a head or a leg apart from its person), duplicates, "
        "implausible limbs (cut)")
    s.add_argument("--suppress", action=argparse.BooleanOptionalAction, default=True,
                   help="drop them (default); --no-suppress keeps every pose the decoder finds")
    s.add_argument("--min-person-score", metavar="S",
                   help="drop people whose score is below S, 0 to 1 (default "
                        f"{S.SuppressSettings().min_person_score:g}; 0 keeps every score); with --no-suppress, "
                        "the only rule on")


def _add_tracking_options(p: argparse.ArgumentParser) -> None:
    """Tracking options shared by ``run`` and the commands that run it per video."""
    g3 = p.add_argument_group("tracking")
    g3.add_argument("--no-track", action="store_true", help="no person ids, no smoothing (raw poses per frame)")
    g3.add_argument("--smoother", choices=S.SMOOTHERS + OFFLINE_SMOOTHERS, default="kalman",
                    help="keypoint smoothing of tracked people (default: kalman); offline (files only): zero lag, "
                         "the whole video is read first (network and Kalman tracker for the ids), then each "
                         "person's raw keypoints are smoothed forward and backward (RTS over the tracker's model; "
                         "offline-butterworth: zero-phase Butterworth, 6 Hz or a quarter of the frame rate), gaps up to 0.25 s filled, and the "
                         "outputs written (--video decodes the file again); not with the window or --ws/--osc/--udp")


def _add_carry_options(p: argparse.ArgumentParser) -> None:
    """--keyframe-every and --carry (run and eval-track): the network on every K-th frame only."""
    g = p.add_argument_group("network on every K-th frame (keypoints carried between: docs/outputs.md)")
    g.add_argument("--keyframe-every", metavar="K", default="1",
                   help="run the network on every K-th frame of a file only (default 1: every frame); the "
                        "frames between get the last result's keypoints carried by optical flow and fused into the "
                        "tracker as noisier measurements (outputs mark them: \"keyframe\", \"carried\"); about K "
                        "times the frames per second. A live source with K > 1: the network on the newest frame as "
                        "always, every other captured frame carried")
    g.add_argument("--carry", choices=S.CARRY_MODES, default="flow",
                   help="how the frames between network frames get keypoints: flow (optical flow, default), hold "
                        "(the last network keypoints), predict (the tracker's prediction alone); the last two are "
                        "baselines for measuring")


def carry_settings(args: argparse.Namespace) -> S.CarrySettings:
    """--keyframe-every K (a whole number of at least 1, else one line, exit 2) and --carry."""
    return S.CarrySettings(keyframe_every=S.keyframe_every(getattr(args, "keyframe_every", "1")),
                           carry_mode=getattr(args, "carry", "flow"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livepose",
        description="Real-time multi-person pose estimation with OpenPose-style networks (ONNX).",
        epilog="Run 'livepose COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"livepose {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error, print the traceback (may also come after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_img = sub.add_parser(
        "image", help="find people in photos; write annotated images and OpenPose JSON",
        description="Find every person in each photo. For photo.jpg, writes OUT/photo.jpg with the "
                    "skeletons drawn and OUT/photo_keypoints.json (OpenPose JSON 1.3). Prints one line "
                    "per photo.",
    )
    p_img.add_argument("inputs", nargs="+", metavar="PHOTO", help="image files or folders of images")
    p_img.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if needed)")
    p_img.add_argument("--no-image", action="store_true", help="write only the JSON, not the annotated image")
    p_img.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    _add_model_options(p_img)

    sub.add_parser(
        "models", help="list the bundled networks, with the AP and speed measured for each",
        description="The networks that ship with livepose (give one to --model by name): parts, limbs, default "
                    "input size, license, and the AP and milliseconds per frame the committed quality baseline "
                    "holds for each.",
    )

    p_eval = sub.add_parser(
        "eval", help="COCO keypoint AP of the pipeline on an annotated photo set",
        description="Run the photo pipeline over a COCO person_keypoints set; print AP, AP50, AP75, APm, "
                    "APl, AR (pycocotools) and per-stage median timings. An image that cannot be read is named "
                    "in one line and left out of the scores (its people are not counted as missed): the figures "
                    "are over the images read ('N of M images read; AP over those'), and the exit code is 2.",
    )
    p_eval.add_argument("--annotations", type=Path, required=True, metavar="JSON",
                        help="COCO person_keypoints annotation file")
    p_eval.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder holding the images")
    p_eval.add_argument("--json", type=Path, metavar="REPORT", help="write the report (metrics, timings) here")
    p_eval.add_argument("--results", type=Path, metavar="JSON",
                        help="write the COCO keypoint results here (default: REPORT with .results.json)")
    p_eval.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_model_options(p_eval)

    p_et = sub.add_parser(
        "eval-track", help="tracking quality on PoseTrack-style annotations (MOTA, IDF1, switches, jitter)",
        description="Run detection and tracking over an annotated frame sequence (COCO-style images and "
                    "annotations with track_id) and print MOTA, IDF1, identity switches, keypoint precision and "
                    "recall (PoseTrack's keypoint-distance matching) and the jitter of raw and smoothed keypoints "
                    "with the lag the smoothing adds.",
    )
    p_et.add_argument("--annotations", type=Path, required=True, metavar="JSON", help="PoseTrack-style annotations")
    p_et.add_argument("--frames", type=Path, required=True, metavar="DIR",
                      help="folder the annotations' file names are relative to")
    p_et.add_argument("--json", type=Path, metavar="REPORT", help="write the report here")
    p_et.add_argument("--fps", type=float, metavar="F", help="frame rate for timestamps (default: 25)")
    p_et.add_argument("--smoother", choices=S.SMOOTHERS + OFFLINE_SMOOTHERS, default="kalman",
                      help="keypoint smoothing (default: kalman); offline: the tracker runs with its Kalman filter, "
                           "then each track's raw keypoints are smoothed forward and backward (RTS over the same "
                           "model; offline-butterworth: zero-phase Butterworth) and short gaps filled, and the "
                           "scores are of those keypoints")
    p_et.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_carry_options(p_et)
    _add_model_options(p_et)

    p_run = sub.add_parser(
        "run", help="poses on video: a file, a folder of frames, a webcam or a stream",
        description="Find people in every frame of a video source and write any combination of outputs. "
                    "With no output option, the overlay window is shown.",
        epilog="examples:\n"
               "  livepose run match.mp4 --video out.mp4 --jsonl out.jsonl\n"
               "  livepose run 0                       # webcam 0, live window\n"
               "  livepose run rtsp://camera/stream --display\n"
               "  livepose run frames/ --openpose-json out_json/ --coco out_coco.json --csv out.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_run.add_argument("source", metavar="SOURCE",
                       help="video file, folder or glob of images (name order; hidden files, .name and the ._name "
                            "files of a folder copied from a Mac, are not frames; an image that cannot be read is "
                            "skipped with one line and the run ends with exit 2), webcam index (0, 1, ...) or "
                            "stream URL")
    g = p_run.add_argument_group("outputs (any combination)")
    g.add_argument("--video", type=Path, metavar="FILE", help="annotated video (.mp4, .mov, .avi or .mkv), same size and frame rate")
    g.add_argument("--jsonl", type=Path, metavar="FILE", help="JSON Lines, one object per frame, flushed as produced")
    g.add_argument("--openpose-json", type=Path, metavar="DIR",
                   help="OpenPose JSON files, <name>_<frame:012d>_keypoints.json")
    g.add_argument("--coco", type=Path, metavar="FILE", help="COCO keypoint results for the whole run")
    g.add_argument("--csv", type=Path, metavar="FILE",
                   help="long-form CSV: frame, time, person, keypoint, x, y, conf")
    g.add_argument("--display", action="store_true", help="show the overlay window (default when no other output)")
    g.add_argument("--no-display", action="store_true", help="never open a window")
    g.add_argument("--angles", nargs="?", const="", metavar="JOINTS",
                   help="on the --video and the window, write each person's joint flexion angles in degrees beside "
                        "the joints (0 straight, 90 a right angle; docs/analysis.md): knee, hip, elbow and shoulder "
                        "of each side, or the comma-separated JOINTS given, e.g. --angles knee,elbow")
    g.add_argument("--analyze", type=Path, metavar="DIR",
                   help="after the run, analyze it into DIR as 'livepose analyze RUN.jsonl --out DIR' does (needs "
                        "tracking): the --jsonl file, or DIR/poses.jsonl without --jsonl; also after Ctrl-C")
    gs = p_run.add_argument_group(
        "streaming to other programs (docs/streaming.md; never slows the run: slow receivers lose frames)")
    gs.add_argument("--ws", type=_endpoint, metavar="[HOST:]PORT",
                    help="WebSocket server with JSON per frame at ws://HOST:PORT/ws and a live viewer page at "
                         "http://HOST:PORT/ (host default 127.0.0.1; another host is reachable from other machines)")
    gs.add_argument("--ws-token", metavar="TOKEN",
                    help="WebSocket clients must give ?token=TOKEN (default: $LIVEPOSE_WS_TOKEN, the safer way: a "
                         "command line is visible to every local user; none)")
    gs.add_argument("--ws-frames", type=_positive_int, nargs="?", const=640, metavar="WIDTH",
                    help="also send the picture as JPEG, scaled to WIDTH pixels (default 640), to clients that ask")
    gs.add_argument("--osc", type=_endpoint, metavar="HOST:PORT",
                    help="send OSC bundles over UDP, one per frame (TouchDesigner, Max, Blender, Unity)")
    gs.add_argument("--osc-mode", choices=S.OSC_MODES, default="both",
                    help="OSC messages per person: one per keypoint, one array, or both (default)")
    gs.add_argument("--udp", type=_endpoint, metavar="HOST:PORT",
                    help="send one JSON datagram per frame over UDP (split by person when large)")
    _add_tracking_options(p_run)
    g2 = p_run.add_argument_group("source and progress")
    g2.add_argument("--realtime", action="store_true",
                    help="play a file at its frame rate as a live source (newest frame only, drops counted)")
    g2.add_argument("--max-frames", type=_positive_int, metavar="N", help="stop after N frames")
    g2.add_argument("--batch", type=_positive_int, default=1, metavar="N",
                    help="file sources: run the network on N consecutive frames at once (default 1); mostly "
                         "useful on a GPU, the results are the same; live sources always run one frame at a time")
    g2.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary; errors only")
    _add_carry_options(p_run)
    _add_model_options(p_run)
    p_an = sub.add_parser(
        "analyze", help="joint and segment angles, speeds and a summary per tracked person from a --jsonl run",
        description="Read a livepose --jsonl file (tracked people) and write, per person, DIR/person_<id>.csv "
                    "(and .parquet when pyarrow is installed): one row per frame with joint and segment angles, "
                    "keypoint positions and speeds, distance travelled; and DIR/summary.csv, DIR/summary.json; "
                    "then (with matplotlib) plots as PNG and one self-contained DIR/report.html; also "
                    "DIR/people.csv (+ .parquet: every person, one row per person and frame, an id column), "
                    "OpenSim files DIR/person_<id>.trc (markers) and .mot (angles), DIR/reps.csv with --reps. "
                    "Pixels unless --person-height or --calibrate gives a scale (then _m, _m_s columns too). "
                    "Conventions and columns: docs/analysis.md.",
    )
    p_an.add_argument("jsonl", type=Path, nargs="?", metavar="RUN.jsonl", help="a livepose run's JSON Lines output")
    p_an.add_argument("--out", type=Path, metavar="DIR", help="output folder (created if needed; required)")
    p_an.add_argument("--list-angles", action="store_true",
                      help="print the angle names (for --angles and --reps) with one line each, and exit")
    p_an.add_argument("--angles", metavar="NAMES",
                      help="comma list of angles shown in the plots and report.html, e.g. knee_right,elbow_left "
                           "(default: the 8 joint flexions; the tables, summaries and .mot keep every angle)")
    p_an.add_argument("--person-height", metavar="M | ID=M,...",
                      help="real height in meters: 1.80 for everyone, 3=1.80,7=1.65 per track id, 1.75,3=1.80 "
                           "with a default; each person's height in pixels is estimated from their segments "
                           "and adds metric columns (_m, _m_s)")
    p_an.add_argument("--calibrate", metavar="X1,Y1,X2,Y2,METERS",
                      help="two image points (pixels) and their real distance: one scale in meters per pixel for "
                           "the whole video (instead of --person-height)")
    p_an.add_argument("--reps", action="append", metavar="ANGLE",
                      help="count repetitions on this angle per person (repeatable or a comma list, e.g. "
                           "knee_right): an excursion from below LOW to above HIGH and back; reps.csv, summaries, "
                           "report")
    p_an.add_argument("--reps-thresholds", metavar="LOW,HIGH",
                      help="repetition thresholds in degrees (default: 30%% and 70%% of each person's range)")
    p_an.add_argument("--reps-min-range", type=float, default=20.0, metavar="DEG",
                      help="with the default thresholds, count nothing when the angle's range is under DEG "
                           "degrees (default: 20)")
    p_an.add_argument("--no-opensim", action="store_true",
                      help="do not write the OpenSim files person_<id>.trc and person_<id>.mot")
    p_an.add_argument("--min-frames", type=int, default=10, metavar="N",
                      help="leave out tracks present in fewer than N frames (default: 10)")
    p_an.add_argument("--smooth", choices=("rts", "butterworth", "none"), default="rts",
                      help="offline zero-lag smoothing of the keypoints before angles and speeds: rts (default: the "
                           "tracker's Kalman model run forward and backward), butterworth (zero-phase, --cutoff), "
                           "none (the file's keypoints)")
    p_an.add_argument("--cutoff", type=float, default=6.0, metavar="HZ",
                      help="Butterworth cutoff frequency in Hz, below half the frame rate (default: 6)")
    p_an.add_argument("--no-report", action="store_true",
                      help="tables only: no PNG plots, no report.html (these need matplotlib: "
                           "pip install livepose[analysis])")
    p_an.add_argument("--video", type=Path, default=None, metavar="VIDEO",
                      help="the run's video: trajectories.png is drawn over its middle frame "
                           "(default: a blank canvas of the frame size)")
    from livepose.batch.command import add_parser as _add_batch_parser  # argparse only: --help stays fast

    _add_batch_parser(sub, _add_model_options, _add_tracking_options, _add_carry_options)
    return parser


# -- arguments -> settings (the only translation between the two) ----------------------------
def model_settings(args: argparse.Namespace) -> S.ModelSettings:
    providers = tuple(p.strip() for p in args.providers.split(",") if p.strip()) if args.providers else None
    return S.ModelSettings(model=_path(args.model), card=_path(args.card), size=_size(args.size), backend=args.backend,
                           precision=args.precision, providers=providers or None, threads=args.threads,
                           allow_fallback=args.allow_fallback, trt_cache=_path(args.trt_cache))


def decode_settings(args: argparse.Namespace) -> S.DecodeConfig | None:
    """The rules --rules and --upsample name; None when neither is given (the network card's own)."""
    if args.rules is None and args.upsample is None:
        return None
    upsample = None
    if args.upsample is not None:
        try:
            upsample = int(args.upsample)
            return S.decode_rules(args.rules or "openpose", upsample)
        except (ValueError, S.SettingError):
            raise InputError(f"--upsample: must be a whole number 1 to 8; got {args.upsample!r}") from None
    return S.decode_rules(args.rules or "openpose", upsample)


def suppress_settings(args: argparse.Namespace) -> S.SuppressSettings:
    """The false people dropped after decoding: the default rules, or none (--no-suppress), with
    --min-person-score over either."""
    settings = S.SuppressSettings() if args.suppress else S.SUPPRESS_OFF
    if args.min_person_score is None:
        return settings
    try:
        return settings.with_(min_person_score=float(args.min_person_score))
    except (ValueError, S.SettingError):
        raise InputError(f"--min-person-score: must be a number from 0 to 1 (0 keeps every score); "
                         f"got {args.min_person_score!r}") from None


def augment_settings(args: argparse.Namespace) -> S.AugmentSettings:
    """The accuracy mode: the --accuracy preset, with --scales and --flip/--no-flip over it."""
    name = args.accuracy or "normal"
    if name not in S.ACCURACY:
        raise InputError(f"--accuracy: must be one of {', '.join(S.ACCURACY_MODES)}; got {name!r}")
    preset = S.ACCURACY[name]
    scales = preset.scales
    if args.scales is not None:
        try:
            scales = tuple(float(t) for t in args.scales.split(","))
            return S.AugmentSettings(scales=scales, flip=preset.flip if args.flip is None else args.flip)
        except (ValueError, S.SettingError):
            raise InputError(f"--scales: must be 1 to {S.MAX_SCALES} different numbers above 0 and at most 4, "
                             f"comma separated, e.g. 0.75,1,1.5; got {args.scales!r}") from None
    return S.AugmentSettings(scales=scales, flip=preset.flip if args.flip is None else args.flip)


def output_settings(args: argparse.Namespace) -> S.OutputSettings:
    if args.ws is None and (args.ws_frames is not None or args.ws_token):
        raise InputError("--ws-frames and --ws-token need --ws [HOST:]PORT")
    for option, target in (("--osc", args.osc), ("--udp", args.udp)):
        if target is not None and target[1] == 0:
            raise InputError(f"{option}: the receiver's port must be 1 to 65535, got 0")
    token = (args.ws_token or os.environ.get("LIVEPOSE_WS_TOKEN") or None) if args.ws is not None else None
    display = True if args.display else (False if args.no_display else None)
    return S.OutputSettings(
        video=_path(args.video), jsonl=_path(args.jsonl), openpose_json=_path(args.openpose_json),
        coco=_path(args.coco), csv=_path(args.csv), display=display,
        ws=None if args.ws is None else args.ws[:2], ws_token=token, ws_frames=args.ws_frames,
        osc=None if args.osc is None else args.osc[:2], osc_mode=args.osc_mode,
        udp=None if args.udp is None else args.udp[:2], angles=_angles(getattr(args, "angles", None)),
    )


def _angles(text: str | None) -> tuple[str, ...] | None:
    """--angles [JOINTS] -> the joints whose angles are drawn (None: not given)."""
    if text is None:
        return None
    from livepose.render_angles import parse_angle_joints

    try:
        return parse_angle_joints(text)
    except ValueError as exc:
        raise InputError(f"--angles: {exc}") from None


def processing_settings(args: argparse.Namespace) -> dict:
    """The RunConfig fields ``livepose run`` and ``livepose batch`` both take from their arguments:
    the network, decoding, tracking (an offline smoother runs on the live Kalman filter's ids),
    test-time augmentation, suppression and carrying."""
    return dict(
        model=model_settings(args),
        decode=decode_settings(args),
        track=S.TrackerConfig(smoother="kalman" if args.smoother in OFFLINE_SMOOTHERS else args.smoother),
        tracking=not args.no_track,
        augment=augment_settings(args),
        suppress=suppress_settings(args),
        carry=carry_settings(args),
    )


def run_config(args: argparse.Namespace) -> S.RunConfig:
    """The configuration of ``livepose run`` from its arguments."""
    return S.RunConfig(
        capture=S.CaptureSettings(source=args.source, realtime=args.realtime, max_frames=args.max_frames,
                                  batch=args.batch),
        outputs=output_settings(args),
        quiet=args.quiet,
        **processing_settings(args),
    )


def _path(value) -> str | None:
    return None if value is None else str(value)


def _estimator(args: argparse.Namespace, warm_up: bool = True):
    from livepose.build import build_estimator

    return build_estimator(model_settings(args), decode_settings(args), warm_up=warm_up,
                           augment=augment_settings(args), suppress=suppress_settings(args))


def _prepare_folder(path: Path) -> None:
    from livepose.sinks.files import prepare_folder  # imported late: `livepose --help` stays fast

    prepare_folder(path)


def cmd_image(args: argparse.Namespace) -> int:
    """Photos through the same stages (the estimator) and the same outputs as video frames."""
    from livepose.build import build_photo_outputs
    from livepose.images import list_images
    from livepose.runner import run_photos

    paths = list_images(args.inputs)
    if not paths:
        raise InputError(f"{', '.join(args.inputs)}: no images found")
    _prepare_folder(args.out)
    est = _estimator(args)
    outputs = build_photo_outputs(args.out, paths, images=not args.no_image)
    failed = 0
    for path, result, error in run_photos(est, paths, outputs):
        if error is not None:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
        elif not args.quiet:
            n = len(result.poses)
            print(f"{path}: {n} {'person' if n == 1 else 'people'}, {result.timings.total:.1f} ms", flush=True)
    if failed:
        print(f"error: {failed} of {len(paths)} images could not be read; the others were written to {args.out}",
              file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from livepose.eval import evaluate, load_coco_keypoints, require_pycocotools
    from livepose.formats import write_json_atomic

    require_pycocotools()
    results_path = args.results
    if results_path is None and args.json is not None:
        results_path = args.json.with_suffix(".results.json")
    for out in (args.json, results_path):
        if out is not None:
            _prepare_folder(out.parent if str(out.parent) else Path("."))
    total = len(load_coco_keypoints(args.annotations)["images"])
    est = _estimator(args)
    if not args.quiet:
        print(f"network: {est.describe()}", file=sys.stderr, flush=True)
        _warn_fallback(est)
    with tqdm(total=total, unit="img", disable=True if args.quiet else None, file=sys.stderr) as bar:
        report, results = evaluate(est, args.annotations, args.images,
                                   on_image=lambda name, n, ms: bar.update(1))
    for failure in report["failed_images"]:
        print(f"error: {failure}", file=sys.stderr)
    m, t = report["metrics"], report["timings_ms"]
    if report["failed_images"]:
        print(f"{report['num_images']} of {report['num_images_listed']} images read; AP over those, "
              f"{report['num_people_found']} people found")
    else:
        print(f"{report['num_images']} images, {report['num_people_found']} people found")
    print("  ".join(f"{k} {m[k]:.3f}" for k in ("AP", "AP50", "AP75", "APm", "APl", "AR")))
    print("median ms: " + "  ".join(f"{k} {v}" for k, v in t.items()))
    if results_path is not None:
        write_json_atomic(results_path, results)
        report["results"] = str(results_path)
    if args.json is not None:
        write_json_atomic(args.json, report)
    return EXIT_INPUT if report["failed_images"] else EXIT_OK


def cmd_eval_track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from livepose.eval import evaluate_tracking, load_posetrack, require_motmetrics
    from livepose.formats import write_json_atomic
    from livepose.track import PoseTracker

    require_motmetrics()
    carry = carry_settings(args)
    if args.fps is not None and not (math.isfinite(args.fps) and 0 < args.fps <= 1000):
        raise InputError(f"--fps: must be a number above 0 and at most 1000, got {args.fps:g}")
    if args.json is not None:
        _prepare_folder(args.json.parent if str(args.json.parent) else Path("."))
    total = len(load_posetrack(args.annotations)["images"])
    est = _estimator(args)
    offline = _offline_smoothing(args)
    live = "kalman" if offline is not None else args.smoother
    with tqdm(total=total, unit="frame", disable=True if args.quiet else None, file=sys.stderr) as bar:
        report, _ = evaluate_tracking(est, lambda: PoseTracker(est.card.parts, S.TrackerConfig(smoother=live)), args.annotations,
                                      args.frames, fps=args.fps, on_frame=lambda *a: bar.update(1), offline=offline,
                                      carry=carry if carry.active else None)
    for failure in report["failed_frames"]:
        print(f"error: {failure}", file=sys.stderr)
    for line in _track_report_lines(report):
        print(line)
    if args.json is not None:
        write_json_atomic(args.json, report)
    return EXIT_INPUT if report["failed_frames"] else EXIT_OK


def _offline_smoothing(args: argparse.Namespace):
    """--smoother offline / offline-butterworth: the livepose.track.offline.OfflineSmoothing, else None."""
    if args.smoother not in OFFLINE_SMOOTHERS:
        return None
    from livepose.track.offline import OfflineSmoothing

    return OfflineSmoothing.from_smoother(args.smoother)


def _track_report_lines(report: dict) -> list[str]:
    """The figures a person reads first, from evaluate_tracking's report."""
    m, kp, jit = report["metrics"], report["keypoints"]["smoothed"], report["jitter"]

    def f(v, fmt=".3f"):
        return format(v, fmt) if isinstance(v, (int, float)) and v is not None else str(v)

    return [
        f"{report['num_frames']} frames, {report['num_gt_people']} annotated people",
        f"MOTA {f(m['mota'])}  IDF1 {f(m['idf1'])}  switches {m['num_switches']}  "
        f"precision {f(m['precision'])}  recall {f(m['recall'])}",
        f"keypoints: precision {f(kp['precision'])}  recall {f(kp['recall'])}",
        f"jitter: raw {f(jit['raw_px'], '.2f')} px, smoothed"
        f"{' offline' if report.get('smoothing', {}).get('kind') == 'offline' else ''} {f(jit['smoothed_px'], '.2f')} px "
        f"(ratio {f(jit['ratio'], '.2f')}), lag {f(jit['lag_frames'], '.1f')} frames",
        "every person kept one id" if report.get("every_person_one_id") else
        "some people changed id: see gt_tracks in the report",
        *([f"the network ran on {report['network_frames']} of {report['num_frames']} frames"]
          if report.get("carry") else []),
        "median ms: " + "  ".join(f"{k} {v}" for k, v in report["timings_ms"].items()),
    ]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _warn_fallback(est) -> None:
    """Say so when a GPU provider did not load and the run goes on without it."""
    line = est.fallback_warning()
    if line:
        _warn(line)


def cmd_run(args: argparse.Namespace) -> int:
    from livepose.build import build
    from livepose.images import check_name

    config = run_config(args)
    if "://" not in args.source:  # a name the file system cannot look up is an input error (exit 2)
        check_name(args.source, "input")
    analysis = None
    if getattr(args, "analyze", None) is not None:  # checked before anything is opened; writes nothing
        from livepose.run_analyze import plan_analysis

        config, analysis = plan_analysis(args.analyze, config)
    quiet = args.quiet
    if config.outputs.angles and not (config.outputs.video or config.outputs.show_display):
        _warn("--angles draws on the --video and the window, and neither is open: nothing is drawn")
    offline = _offline_smoothing(args)
    if offline is not None:  # two passes: livepose.offline
        from livepose.offline import build_offline

        run = build_offline(config, offline, on_event=None if quiet else _warn, warn=_warn,
                            announce=None if quiet else _say)
    else:
        run = build(config, on_event=None if quiet else _warn, warn=_warn, announce=None if quiet else _say)
    summary = run.execute()
    if not quiet:
        # on stderr, with the progress: stdout stays clean for --jsonl /dev/stdout
        print(summary.line(), file=sys.stderr, flush=True)
        for sink in run.outputs:
            line = sink.summary()
            if line:
                print(line, file=sys.stderr, flush=True)
    for line in getattr(run.source, "warnings", ()):  # e.g. a header declaring more frames than the stream
        _warn(line)
    for line in getattr(run.source, "unreadable", ()):  # images of a folder skipped: one line each
        print(f"error: {line}", file=sys.stderr)
    code = EXIT_INTERRUPTED if summary.interrupted else EXIT_OK
    if summary.stopped_early:
        print(f"error: {summary.stopped_early}; outputs hold the {summary.frames} frames read", file=sys.stderr)
        code = EXIT_INPUT
    if analysis is not None:
        code = _analyze_run(analysis, code, quiet)
    return code


def _analyze_run(plan, code: int, quiet: bool) -> int:
    """--analyze: ``livepose analyze`` with its defaults on the run's JSONL; the run's exit code
    unless it is 0 and the analysis fails (one line; the run's outputs stay)."""
    import contextlib
    import io

    argv = ["analyze", str(plan.jsonl), "--out", str(plan.folder)]
    video = plan.video_now()
    if video is not None:
        argv += ["--video", str(video)]
    try:
        with contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext():
            analyzed = cmd_analyze(build_parser().parse_args(argv))
    except LiveposeError as exc:
        print(f"error: --analyze: {exc} (the run's outputs are complete)", file=sys.stderr)
        analyzed = exc.exit_code
    return code or analyzed


def cmd_batch(args: argparse.Namespace) -> int:
    """Many videos, each as ``run`` would (livepose.batch.command; docs/batch.md)."""
    from livepose.batch.command import cmd_batch as run_batch

    return run_batch(args)


def cmd_analyze(args: argparse.Namespace) -> int:
    from livepose.analysis.table import analyze

    if args.list_angles:
        from livepose.analysis.angles import ANGLES

        width = max(len(n) for n in ANGLES)
        for name, (column, text) in ANGLES.items():
            print(f"{name:<{width}}  {text} (column {column})")
        return EXIT_OK
    missing = [n for n, v in (("RUN.jsonl", args.jsonl), ("--out", args.out)) if v is None]
    if missing:
        print(f"error: livepose analyze: the following arguments are required: {', '.join(missing)}",
              file=sys.stderr)
        return EXIT_INPUT
    if args.min_frames < 1:
        print(f"error: --min-frames must be at least 1, not {args.min_frames}", file=sys.stderr)
        return EXIT_INPUT
    if not (args.reps_min_range >= 0 and math.isfinite(args.reps_min_range)):
        print(f"error: --reps-min-range must be a number of degrees, 0 or more, not {args.reps_min_range:g}",
              file=sys.stderr)
        return EXIT_INPUT
    result = analyze(args.jsonl, args.out, min_frames=args.min_frames, smooth=args.smooth, cutoff_hz=args.cutoff,
                     report=not args.no_report, video=args.video, person_height=args.person_height,
                     calibrate=args.calibrate, angles=args.angles, reps=args.reps,
                     reps_thresholds=args.reps_thresholds, reps_min_range=args.reps_min_range,
                     opensim=not args.no_opensim)
    people = result["people"]
    where = "tables, plots and report.html" if result.get("report") else "tables"
    print(f"{len(people)} {'person' if len(people) == 1 else 'people'} analyzed from {result['frames']} frames "
          f"({result['skipped']} short tracks left out); {where} in {args.out}", file=sys.stderr)
    for person in people:
        for angle, r in (person.get("reps") or {}).items():
            print(f"person {person['id']}: {r['count']} repetition{'' if r['count'] == 1 else 's'} on {angle}"
                  + (f" ({r['note']})" if r.get("note") else ""), file=sys.stderr)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from livepose.models import describe_networks

    for line in describe_networks():
        print(line)
    return EXIT_OK


def _split_argv(argv: Sequence[str]) -> tuple[list[str], bool]:
    """(argv for argparse, --debug given).  ``--size -1x368`` (as the README writes it) becomes
    ``--size=-1x368``: argparse takes a value starting with '-' for an option otherwise.
    ``--debug`` may come anywhere (before a ``--``)."""
    out: list[str] = []
    debug = False
    items = list(argv)
    i = 0
    while i < len(items):
        tok = items[i]
        if tok == "--":
            out.extend(items[i:])
            break
        if tok == "--debug":
            debug = True
        elif (tok in _DASH_VALUE_OPTIONS and i + 1 < len(items) and items[i + 1].startswith("-")
              and _DASH_VALUE.match(items[i + 1])):
            out.append(f"{tok}={items[i + 1]}")
            i += 1
        elif tok == "--angles" and i + 1 < len(items) and not _WORD_LIST.match(items[i + 1]):
            out.append("--angles=")  # `--angles clip.mp4`: the flag alone, clip.mp4 the source
        else:
            out.append(tok)
        i += 1
    return out, debug


# options whose value may start with '-': --size -1x368, --scales -1 (refused with its own line)
_DASH_VALUE_OPTIONS = ("--size", "--scales", "--min-person-score", "--keyframe-every")
_DASH_VALUE = re.compile(r"^-[0-9.]")
_WORD_LIST = re.compile(r"^[A-Za-z_]+(,[A-Za-z_]*)*$")  # what --angles JOINTS may be (knee,elbow)


def _signals():
    """Ctrl-C and SIGTERM raise KeyboardInterrupt from the start (exit 130), also when started as a
    background job from a script (whose SIGINT the shell ignores).  Returns the handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _term(signum, frame):
        raise KeyboardInterrupt

    try:
        return (signal.signal(signal.SIGINT, signal.default_int_handler), signal.signal(signal.SIGTERM, _term))
    except (ValueError, OSError):
        return None


def _restore_signals(previous) -> None:
    if previous is not None:
        for signum, handler in zip((signal.SIGINT, signal.SIGTERM), previous):
            try:
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            except (ValueError, OSError, TypeError):
                pass


def _own_warnings() -> tuple:
    from livepose.preprocess import NetSizeWarning

    return (NetSizeWarning,)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """livepose's own warnings (e.g. a network input scaled down) as one ``warning: ...`` line."""
    if issubclass(category, _own_warnings()):
        _warn(str(message))
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    argv, debug = _split_argv(sys.argv[1:] if argv is None else argv)
    debug = debug or os.environ.get("LIVEPOSE_DEBUG", "") not in ("", "0")
    previous = _signals()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _main(argv, debug)
    finally:
        _restore_signals(previous)


def _main(argv: list[str], debug: bool) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT
    handler = {"image": cmd_image, "eval": cmd_eval, "eval-track": cmd_eval_track, "run": cmd_run,
               "models": cmd_models, "analyze": cmd_analyze, "batch": cmd_batch}[args.command]
    try:
        return handler(args)
    except LiveposeError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return EXIT_INTERNAL
    except OSError as exc:
        if debug:
            traceback.print_exc()
        if exc.errno == errno.ENAMETOOLONG:
            name = exc.filename if exc.filename is not None else "a path"
            print(f"error: {name}: file name too long for the file system", file=sys.stderr)
            return EXIT_OUTPUT
        print(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # the last guard: never a traceback unless asked for
        if debug:
            traceback.print_exc()
        print(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
