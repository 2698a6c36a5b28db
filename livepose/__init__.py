"""livepose: real-time multi-person pose estimation and tracking with OpenPose-style ONNX networks.

    import cv2, livepose
    estimator = livepose.PoseEstimator()          # bundled network, warmed up
    poses, times = estimator(cv2.imread("photo.jpg"))
    print(len(poses), poses.to_coco17().xy)

Nothing heavy happens at import: sessions are created and kernels compiled by the objects.
"""

__version__ = "0.1.0"

from livepose.card import ModelCard, load_card
from livepose.config import OPENPOSE_RULES, TFPOSE_RULES, DecodeConfig
from livepose.errors import InputError, LiveposeError, ModelError, OutputError
from livepose.estimator import PoseEstimator, StageTimes
from livepose.types import COCO17_NAMES, Letterbox, NetOutput, Poses

__all__ = [
    "COCO17_NAMES", "DecodeConfig", "InputError", "Letterbox", "LiveposeError", "ModelCard", "ModelError",
    "NetOutput", "OPENPOSE_RULES", "OutputError", "PoseEstimator", "Poses", "StageTimes", "TFPOSE_RULES",
    "load_card", "__version__",
]
