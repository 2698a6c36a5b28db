"""livepose: real-time multi-person pose estimation and tracking with OpenPose-style ONNX networks.

    import cv2, livepose
    estimator = livepose.PoseEstimator()          # bundled network, warmed up
    poses, times = estimator(cv2.imread("photo.jpg"))
    print(len(poses), poses.to_coco17().xy)

Nothing heavy happens at import: sessions are created and kernels compiled by the objects.
"""

__version__ = "0.1.0"

# Public names are imported on first use (PEP 562), so `import livepose` stays light and the
# command line can set OpenCV's logging before OpenCV loads.
_EXPORTS = {
    "ModelCard": "livepose.card", "load_card": "livepose.card",
    "OPENPOSE_RULES": "livepose.settings", "TFPOSE_RULES": "livepose.settings", "DecodeConfig": "livepose.settings",
    "RunConfig": "livepose.settings", "ModelSettings": "livepose.settings", "CaptureSettings": "livepose.settings",
    "OutputSettings": "livepose.settings", "TrackerConfig": "livepose.settings", "SettingError": "livepose.settings",
    "SuppressSettings": "livepose.settings", "SUPPRESS_OFF": "livepose.settings",
    "InputError": "livepose.errors", "LiveposeError": "livepose.errors", "ModelError": "livepose.errors",
    "OutputError": "livepose.errors",
    "PoseEstimator": "livepose.estimator", "StageTimes": "livepose.estimator",
    "COCO17_NAMES": "livepose.types", "Letterbox": "livepose.types", "NetOutput": "livepose.types",
    "Poses": "livepose.types", "Frame": "livepose.types", "FrameResult": "livepose.types",
    "PoseStream": "livepose.pipeline", "open_source": "livepose.capture",
    "open": ("livepose.build", "open_stream"), "run": ("livepose.build", "run"),
    "StageTimings": "livepose.types", "People": "livepose.types",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module, attr = _EXPORTS[name] if isinstance(_EXPORTS[name], tuple) else (_EXPORTS[name], name)
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'livepose' has no attribute {name!r}")


__all__ = sorted(_EXPORTS) + ["__version__"]
