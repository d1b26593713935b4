"""The mediapipe extractors (pose, face); created through the kind registry
(`v2vtool.semantics.kinds.get_extractor(kind)`), called on one frame.

    pose          mediapipe Holistic (BlazePose body, model_complexity=1, + hands + face mesh)
                  -> BODY_25 + hands + 70-point face (see semantics/pose.py, semantics/face.py);
                  person mask from mediapipe selfie segmentation; rendered by `render_pose`.
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
        from v2vtool.semantics.face import facemesh_to_face70, landmarks_array
        size = (rgb.shape[1], rgb.shape[0])
        with quiet_native_stderr():
            res = self._mesh.process(_readonly(rgb))
        if not res.multi_face_landmarks:
            return [], None
        mesh = landmarks_array(res.multi_face_landmarks[0], size)
        return [Person(face=facemesh_to_face70(mesh, size))], None

    def render(self, keypoints: Frame, size: tuple[int, int]) -> np.ndarray:
        return render_face(keypoints, size)

    def close(self) -> None:
        self._mesh.close()


class PoseExtractor(Extractor):
    """mediapipe Holistic (or Pose with `hands_face=False`) -> BODY_25 (+ hands, face), mask.

    The person mask comes from mediapipe selfie segmentation (general model), run only on frames
    where a body was found (others get an all-zero mask); `mask=False` skips it entirely.
    """

    kind = "pose"

    def __init__(self, static: bool = False, hands_face: bool = True, mask: bool = True,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        mp = _mediapipe()
        self.version = mp.__version__
        self.hands_face, self.use_mask = hands_face, mask
        self.name = "mediapipe-holistic" if hands_face else "mediapipe-pose"
        self.settings = {"static_image_mode": static, "model_complexity": 1,
                         "hands_face": hands_face, "refine_face_landmarks": hands_face,
                         "mask": "selfie_segmentation(model_selection=0) > 0.5" if mask else None,
                         "min_detection_confidence": min_detection_confidence,
                         "min_tracking_confidence": min_tracking_confidence,
                         "mapping": "BODY25_FROM_BLAZEPOSE", "min_visibility": None}
        from v2vtool.semantics.pose import MIN_VISIBILITY
        self.settings["min_visibility"] = MIN_VISIBILITY
        kw = dict(static_image_mode=static, model_complexity=1,
                  min_detection_confidence=min_detection_confidence,
                  min_tracking_confidence=min_tracking_confidence)
        with quiet_native_stderr():
            if hands_face:
                self._model = mp.solutions.holistic.Holistic(refine_face_landmarks=True, **kw)
            else:
                self._model = mp.solutions.pose.Pose(**kw)
            self._seg = (mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
                         if mask else None)
            blank = np.zeros((64, 64, 3), np.uint8)
            self._model.process(blank)  # warm up quietly (blank: no tracking state left)
            if self._seg is not None:
                self._seg.process(blank)

    def detect(self, rgb: np.ndarray) -> tuple[Frame, np.ndarray | None]:
        from v2vtool.semantics.face import facemesh_to_face70, landmarks_array
        from v2vtool.semantics.pose import blazepose_to_body25, hand21
        size = (rgb.shape[1], rgb.shape[0])
        rgb = _readonly(rgb)
        with quiet_native_stderr():
            res = self._model.process(rgb)
        if res.pose_landmarks is None:
            mask = np.zeros(rgb.shape[:2], np.uint8) if self._seg is not None else None
            return [], mask
        person = Person(pose=blazepose_to_body25(landmarks_array(res.pose_landmarks, size), size))
        if self.hands_face:
            if res.face_landmarks is not None:
                person.face = facemesh_to_face70(landmarks_array(res.face_landmarks, size), size)
            for attr, side in (("left_hand_landmarks", "hand_left"),
                               ("right_hand_landmarks", "hand_right")):
                lm = getattr(res, attr)
                if lm is not None:
                    setattr(person, side, hand21(landmarks_array(lm, size), size))
        mask = None
        if self._seg is not None:
            with quiet_native_stderr():
                prob = self._seg.process(rgb).segmentation_mask
            mask = np.where(prob > 0.5, 255, 0).astype(np.uint8)
        return [person], mask

    def render(self, keypoints: Frame, size: tuple[int, int]) -> np.ndarray:
        return render_pose(keypoints, size)

    def close(self) -> None:
        self._model.close()
        if self._seg is not None:
            self._seg.close()
