"""The mediapipe extractors (pose, face); created through the kind registry
(`v2vtool.semantics.kinds.get_extractor(kind)`), called on one frame.

    pose          mediapipe Holistic's parts (BlazePose body, model_complexity=1, + hands + face
                  mesh; semantics/pose_graph.py) -> BODY_25 + hands + 70-point face (see
                  semantics/pose.py, semantics/face.py); person mask from the pose model's
                  segmentation; rendered by `render_pose`.
    face          mediapipe FaceMesh (refine_landmarks: iris) -> 68 iBUG points + 2 pupils;
                  rendered by `render_face` (the paper's face sketch).
    edges         Canny (semantics/edges.py).
    segmentation  label-map import (semantics/segmentation.py).
The `Extractor` base class and its `Detection` result live in semantics/extractor_base.py.

An extractor keeps tracking state between calls (video mode: mediapipe tracks landmarks from
the previous frame); `static=True` treats every frame as an unrelated image. Extractors own
mediapipe graphs: `close()` them (or use `with`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading

import numpy as np

from v2vtool.io.keypoints import Frame, Person
from v2vtool.semantics.extractor_base import Extractor
from v2vtool.semantics.render import render_face, render_pose

log = logging.getLogger(__name__)


class _NativeStderrMute:
    """Points fd 2 at /dev/null while any thread is inside (reference counted, so threads that
    overlap restore the real stderr only when the last one leaves). fd 2 is process-wide, so
    this one instance (`quiet_native_stderr`) is too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: int | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                try:
                    sys.stderr.flush()
                    saved = os.dup(2)
                except (OSError, ValueError):
                    saved = None
                if saved is not None:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, 2)
                    os.close(devnull)
                self._saved = saved
            self._depth += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None


_MUTE = _NativeStderrMute()


def quiet_native_stderr():
    """Silence the C++ log lines (TFLite / absl warnings) that mediapipe writes straight to fd 2
    around graph start and `process` calls (they can't be turned off from Python in 0.10.21);
    they are shown when debug logging is on (`v2v --debug`). Costs a few syscalls per call."""
    return contextlib.nullcontext() if log.isEnabledFor(logging.DEBUG) else _MUTE


def _mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ info logs
    with quiet_native_stderr():
        import mediapipe as mp
    return mp


def _readonly(rgb: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(rgb)
    rgb.flags.writeable = False  # lets mediapipe wrap the buffer without a copy
    return rgb


class FaceExtractor(Extractor):
    """mediapipe FaceMesh -> one person with the 70-point face (pose and hands empty)."""

    kind = "face"
    name = "mediapipe-facemesh"

    def __init__(self, static: bool = False, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5):
        mp = _mediapipe()
        self.version = mp.__version__
        self.settings = {"static_image_mode": static, "refine_landmarks": True,
                         "max_num_faces": 1, "min_detection_confidence": min_detection_confidence,
                         "min_tracking_confidence": min_tracking_confidence,
                         "mapping": "FACEMESH_TO_OPENPOSE70"}
        with quiet_native_stderr():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence)
            # warm up: the first run logs from C++; a blank frame leaves no tracking state
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))

    def detect(self, rgb: np.ndarray) -> tuple[Frame, None]:
        from v2vtool.semantics.face import face70_from_landmarks
        size = (rgb.shape[1], rgb.shape[0])
        with quiet_native_stderr():
            res = self._mesh.process(_readonly(rgb))
        if not res.multi_face_landmarks:
            return [], None
        return [Person(face=face70_from_landmarks(res.multi_face_landmarks[0], size))], None

    def render(self, keypoints: Frame, size: tuple[int, int]) -> np.ndarray:
        return render_face(keypoints, size)

    def close(self) -> None:
        self._mesh.close()


class PoseExtractor(Extractor):
    """BODY_25 (+ hands, face) and a person mask from mediapipe's pose, face-mesh and hand
    models (model_complexity=1), wired by semantics/pose_graph.py: Holistic's landmarks, the
    mask from the pose model's segmentation output (> 0.5), the hand models only on frames
    where a hand can be in the picture. `hands_face=False`: body only; `mask=False`: no mask.

    detect_size: the pose model sees the frame downscaled so that its longest side is at most
    this (None: never); landmarks come back in full-resolution pixels, and the face and hands
    are cropped from the full-resolution frame. Frames without a body get an all-zero mask.
    landmark_filter: mediapipe's own causal smoothing of the body landmarks (Holistic's
    default). Off by default: it trails moving joints by ~1.2 frames, and extraction smooths
    afterwards with zero-lag fits (semantics/smoothing.py); per-frame users (the pose-error
    metric) get unfiltered detections.
    """

    kind = "pose"

    def __init__(self, static: bool = False, hands_face: bool = True, mask: bool = True,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 detect_size: int | None = 640, landmark_filter: bool = False):
        mp = _mediapipe()
        from v2vtool.semantics.pose import MIN_VISIBILITY
        from v2vtool.semantics.pose_graph import PoseGraph
        self.version = mp.__version__
        self.hands_face, self.use_mask, self.detect_size = hands_face, mask, detect_size
        self.name = "mediapipe-holistic" if hands_face else "mediapipe-pose"
        self.settings = {"static_image_mode": static, "model_complexity": 1,
                         "hands_face": hands_face, "refine_face_landmarks": hands_face,
                         "hands": "when a wrist/hand point is in the frame" if hands_face
                         else None,
                         "mask": "pose model segmentation > 0.5" if mask else None,
                         "detect_size": detect_size,
                         "smooth_landmarks": landmark_filter and not static,
                         "min_detection_confidence": min_detection_confidence,
                         "min_tracking_confidence": min_tracking_confidence,
                         "mapping": "BODY25_FROM_BLAZEPOSE", "min_visibility": MIN_VISIBILITY}
        with quiet_native_stderr():
            self._graph = PoseGraph(static=static, face=hands_face, hands=hands_face,
                                    mask=mask, min_detection_confidence=min_detection_confidence,
                                    min_tracking_confidence=min_tracking_confidence,
                                    smooth_landmarks=landmark_filter)
            blank = _readonly(np.zeros((64, 64, 3), np.uint8))
            self._graph.process(blank, blank)  # warm up quietly (blank: no tracking state left)

    def detect(self, rgb: np.ndarray) -> tuple[Frame, np.ndarray | None]:
        import cv2

        from v2vtool.semantics.face import face70_from_landmarks, landmarks_array
        from v2vtool.semantics.pose import blazepose_to_body25, hand21
        from v2vtool.semantics.pose_graph import detection_size
        h, w = rgb.shape[:2]
        size = (w, h)
        full = _readonly(rgb)
        small_size = detection_size(size, self.detect_size)
        small = full if small_size == size else _readonly(
            cv2.resize(full, small_size, interpolation=cv2.INTER_AREA))
        with quiet_native_stderr():
            res = self._graph.process(small, full)
        if res["pose"] is None:
            return [], (np.zeros((h, w), np.uint8) if self.use_mask else None)
        # landmarks are normalised: scaling by the full size maps them back exactly
        person = Person(pose=blazepose_to_body25(landmarks_array(res["pose"], size), size))
        if res["face"] is not None:
            person.face = face70_from_landmarks(res["face"], size)
        for key, side in (("left_hand", "hand_left"), ("right_hand", "hand_right")):
            if res[key] is not None:
                setattr(person, side, hand21(landmarks_array(res[key], size), size))
        return [person], (_mask(res["mask"], size) if self.use_mask else None)

    def render(self, keypoints: Frame, size: tuple[int, int]) -> np.ndarray:
        return render_pose(keypoints, size)

    def close(self) -> None:
        self._graph.close()


def _mask(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h', w') float32 person probability -> (H, W) uint8 0/255 (> 0.5) at size (W, H);
    upscaled as 8-bit (bilinear) when the model saw a smaller copy."""
    import cv2
    p8 = cv2.convertScaleAbs(prob, alpha=255.0)  # saturating float -> uint8
    if (p8.shape[1], p8.shape[0]) != size:
        p8 = cv2.resize(p8, size, interpolation=cv2.INTER_LINEAR)
    return cv2.threshold(p8, 127, 255, cv2.THRESH_BINARY)[1]
