"""Keypoint files in OpenPose's JSON layout: per-frame files and a one-file JSON-lines form.

A frame is a list of `Person`s. Each part is a float32 array (N, 3) of (x, y, confidence) in
pixels of the frame it was detected on; confidence 0 means "not found" (x = y = 0).
Body: BODY_25 order (25 points). Face: 68 iBUG/dlib points + 2 pupils (70). Hands: 21 each.
Files written by OpenPose (any version, with or without extra keys) load unchanged.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from v2vtool.errors import UserError
from v2vtool.io.atomic import atomic_path

OPENPOSE_VERSION = 1.3
PARTS = {  # OpenPose key -> number of points
    "pose_keypoints_2d": 25,
    "face_keypoints_2d": 70,
    "hand_left_keypoints_2d": 21,
    "hand_right_keypoints_2d": 21,
}

BODY_25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
# Left/right swap of BODY_25 indices (for horizontal flips).
BODY_25_FLIP = (0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24,
                19, 20, 21)


def _empty(n: int) -> np.ndarray:
    return np.zeros((n, 3), np.float32)


@dataclass
class Person:
    """One person's keypoints; arrays are (N, 3) float32 of x, y, confidence."""

    pose: np.ndarray = field(default_factory=lambda: _empty(25))
    face: np.ndarray = field(default_factory=lambda: _empty(70))
    hand_left: np.ndarray = field(default_factory=lambda: _empty(21))
    hand_right: np.ndarray = field(default_factory=lambda: _empty(21))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"pose_keypoints_2d": self.pose, "face_keypoints_2d": self.face,
                "hand_left_keypoints_2d": self.hand_left,
                "hand_right_keypoints_2d": self.hand_right}

    def transformed(self, scale: float | np.ndarray, offset: np.ndarray) -> "Person":
        """x' = x * scale + offset for found points (confidence > 0); missing stay at 0."""
        def t(a: np.ndarray) -> np.ndarray:
            out = a.copy()
            found = out[:, 2] > 0
            out[found, :2] = out[found, :2] * scale + offset
            return out
        return Person(t(self.pose), t(self.face), t(self.hand_left), t(self.hand_right))


Frame = list  # list[Person]; an empty list is a frame with nobody detected


def _part(values, n: int, where: str) -> np.ndarray:
    if values is None or len(values) == 0:
        return _empty(n)
    arr = np.asarray(values, np.float32)
    if arr.ndim != 1 or arr.size % 3 != 0:
        raise UserError(f"{where}: keypoint list of length {arr.size} is not a multiple of 3")
    arr = arr.reshape(-1, 3)
    if arr.shape[0] != n:  # tolerate other layouts by padding / truncating to ours
        out = _empty(n)
        m = min(n, arr.shape[0])
        out[:m] = arr[:m]
        return out
    return arr


def frame_from_dict(obj: dict, where: str = "keypoints") -> Frame:
    """Parse one OpenPose frame object ``{"version":..,"people":[...]}``."""
    if not isinstance(obj, dict) or "people" not in obj:
        raise UserError(f"{where}: not an OpenPose keypoint object (no 'people' key)")
    people = []
    for p in obj["people"] or []:
        people.append(Person(*(_part(p.get(k), n, where) for k, n in PARTS.items())))
    return people


def frame_to_dict(frame: Frame) -> dict:
    def flat(a: np.ndarray) -> list[float]:
        return [round(float(v), 3) for v in a.reshape(-1)]
    people = []
    for person in frame:
        entry = {"person_id": [-1]}
        for key, arr in person.arrays().items():
            entry[key] = flat(arr)
        for key in ("pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d",
                    "hand_right_keypoints_3d"):
            entry[key] = []
        people.append(entry)
    return {"version": OPENPOSE_VERSION, "people": people}


def _read_json(path: Path):
    """A whole JSON file; UserError naming the file when it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None


def read_openpose_json(path: str | os.PathLike) -> Frame:
    path = Path(path)
    return frame_from_dict(_read_json(path), str(path))


def write_openpose_json(path: str | os.PathLike, frame: Frame) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(frame_to_dict(frame)))


def read_openpose_dir(folder: str | os.PathLike) -> list[Frame]:
    """Per-frame OpenPose files (``*_keypoints.json`` or ``*.json``), in name order."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise UserError(f"{folder}: no OpenPose .json files")
    return [read_openpose_json(f) for f in files]


def iter_jsonl(path: str | os.PathLike) -> Iterator[Frame]:
    """Stream frames from a keypoints.jsonl file (one OpenPose object per line)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with path.open() as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            yield frame_from_dict(obj, f"{path}:{lineno}")


def read_jsonl(path: str | os.PathLike) -> list[Frame]:
    return list(iter_jsonl(path))


def write_jsonl(path: str | os.PathLike, frames: Iterable[Frame]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for frame in frames:
            fh.write(json.dumps(frame_to_dict(frame)) + "\n")


def read_dlib68(path: str | os.PathLike) -> Frame:
    """A dlib-style landmark file: a JSON list of 68 [x, y] pairs (or [] for no face)."""
    path = Path(path)
    pts = _read_json(path)
    if not pts:
        return []
    arr = np.asarray(pts, np.float32)
    if arr.shape != (68, 2):
        raise UserError(f"{path}: expected 68 [x, y] pairs, got shape {arr.shape}")
    face = _empty(70)
    face[:68, :2] = arr
    face[:68, 2] = 1.0
    # pupils (68, 69) as the eye centres: right eye 36-41, left eye 42-47
    face[68] = [*arr[36:42].mean(0), 1.0]
    face[69] = [*arr[42:48].mean(0), 1.0]
    return [Person(face=face)]


def main_person(frame: Frame) -> Person | None:
    """The person with the most confident keypoints (None if nobody)."""
    if not frame:
        return None
    return max(frame, key=lambda p: float(p.pose[:, 2].sum() + p.face[:, 2].sum()))
