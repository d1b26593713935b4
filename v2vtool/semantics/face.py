"""Face landmarks: mediapipe FaceMesh (468 + 10 iris points) -> the 68-point iBUG/dlib layout + 2
pupils (OpenPose's 70-point face), rendered as the paper's face sketch by `render_face`.

Index mapping (iBUG index -> FaceMesh index). "Right" is the subject's right (image left in
an unmirrored frame), as in iBUG and OpenPose. Chosen as the mesh vertices nearest to the
iBUG definitions (verified by overlaying both on carphone frames):

    jaw 0-16        (right ear -> chin 8 -> left ear) along the face oval, every ~1.4th vertex
    right brow 17-21 (outer -> inner) and left brow 22-26 (inner -> outer): the upper brow line
    nose bridge 27-30 (between the eyes -> tip); nostrils 31-35 (right -> left, under the nose)
    right eye 36-41 and left eye 42-47: corners + two upper and two lower lid points each
    outer lips 48-59 (right corner, upper lip to the left corner, lower lip back)
    inner lips 60-67 (same order, inner contour)
    pupils 68 (right), 69 (left): the iris centres 468 and 473 (refine_landmarks=True)

Confidence: FaceMesh gives no per-point score; a detected face's points get 1.0 (0 if they
fall outside the frame), a frame without a face gets no person (OpenPose's "people": []).
"""
from __future__ import annotations

import numpy as np

FACEMESH_TO_IBUG68 = (
    # jaw 0-16
    127, 234, 132, 58, 136, 150, 176, 148, 152, 377, 400, 379, 365, 288, 361, 454, 356,
    # right brow 17-21, left brow 22-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30, nostrils 31-35
    168, 197, 5, 4, 98, 97, 2, 326, 327,
    # right eye 36-41, left eye 42-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips 48-59
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # inner lips 60-67
    78, 81, 13, 311, 308, 402, 14, 178,
)
IRIS_CENTRES = (468, 473)  # right pupil (68), left pupil (69)
FACEMESH_TO_OPENPOSE70 = FACEMESH_TO_IBUG68 + IRIS_CENTRES
assert len(FACEMESH_TO_IBUG68) == 68 and len(set(FACEMESH_TO_IBUG68)) == 68


def in_frame(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,) bool: points inside the (w, h) frame."""
    w, h = size
    return (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)


def landmarks_array(landmarks, size: tuple[int, int],
                    indices: tuple[int, ...] | None = None) -> np.ndarray:
    """A mediapipe NormalizedLandmarkList -> (N, 3) float32 of pixel x, y, visibility.

    Landmarks are normalised to the image the model saw, so `size` is the (w, h) of the frame
    they are wanted in (the full-resolution frame when the model saw a downscaled copy).
    indices: only these landmarks, in this order (faster than all 478 of a face mesh)."""
    w, h = size
    lm = landmarks.landmark
    pts = lm if indices is None else [lm[i] for i in indices]
    return np.array([(p.x * w, p.y * h, p.visibility) for p in pts], np.float32)


def face70_from_landmarks(landmarks, size: tuple[int, int]) -> np.ndarray:
    """A FaceMesh NormalizedLandmarkList (468 or 478 points) -> (70, 3) OpenPose face in the
    (w, h) frame `size`; reads only the 70 landmarks it needs."""
    if len(landmarks.landmark) < 478:
        return facemesh_to_face70(landmarks_array(landmarks, size), size)
    face = landmarks_array(landmarks, size, FACEMESH_TO_OPENPOSE70)
    face[:, 2] = in_frame(face[:, :2], size).astype(np.float32)
    face[face[:, 2] == 0, :2] = 0
    return face


def facemesh_to_face70(mesh: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(468 or 478, >=2) mesh points in pixels -> (70, 3) OpenPose face (x, y, conf).

    Without the 10 iris points (refine off) the pupils are the eye-corner midpoints.
    """
    face = np.zeros((70, 3), np.float32)
    face[:68, :2] = mesh[list(FACEMESH_TO_IBUG68), :2]
    if mesh.shape[0] >= 478:
        face[68:, :2] = mesh[list(IRIS_CENTRES), :2]
    else:
        face[68, :2] = face[[36, 39], :2].mean(0)
        face[69, :2] = face[[42, 45], :2].mean(0)
    face[:, 2] = in_frame(face[:, :2], size).astype(np.float32)
    face[face[:, 2] == 0, :2] = 0
    return face
