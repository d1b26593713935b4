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


# The keypoint validator: every value read from a keypoint file passes here. Coordinates are
# pixels (a little outside the frame is normal; beyond MAX_COORD is garbage, e.g. 1e12 that
# would overflow the renderer); confidences are in [0, 1].
MAX_COORD = 1e5


def _numbers(values, where: str, what: str) -> np.ndarray:
    """A flat JSON list of numbers -> float32 array, or a one-line UserError."""
    if not isinstance(values, (list, tuple)):
        raise UserError(f"{where}: {what} must be a list of numbers, got "
                        f"{type(values).__name__}")
    for v in values:
        if type(v) not in (int, float):  # bool, str, None, nested lists: not a coordinate
            raise UserError(f"{where}: {what} holds {v!r} ({type(v).__name__}), expected numbers")
    try:
        arr = np.asarray(values, np.float64)
    except OverflowError:  # an integer beyond float range
        raise UserError(f"{where}: {what} holds a number too large to be a coordinate") from None
    if not np.isfinite(arr).all():
        raise UserError(f"{where}: {what} holds NaN or infinite values")
    return arr


def _check_points(arr: np.ndarray, where: str, what: str) -> np.ndarray:
    """(N, 3) x, y, confidence: coordinates within +-MAX_COORD px, confidence in [0, 1]."""
    if np.abs(arr[:, :2]).max(initial=0) > MAX_COORD:
        raise UserError(f"{where}: {what} has a coordinate of {np.abs(arr[:, :2]).max():g} px "
                        f"(beyond +-{MAX_COORD:g}: not pixel coordinates)")
    conf = arr[:, 2]
    if conf.size and (conf.min() < 0 or conf.max() > 1):
        raise UserError(f"{where}: {what} has a confidence outside [0, 1] "
                        f"({conf.min():g}..{conf.max():g})")
    return arr.astype(np.float32)


def _part(values, n: int, where: str, what: str = "keypoints") -> np.ndarray:
    if values is None:
        return _empty(n)
    arr = _numbers(values, where, what)
    if arr.size == 0:
        return _empty(n)
    if arr.size % 3 != 0:
        raise UserError(f"{where}: {what}: list of length {arr.size} is not a multiple of 3 "
                        "(x, y, confidence per point)")
    arr = _check_points(arr.reshape(-1, 3), where, what)
    if arr.shape[0] != n:  # tolerate other layouts by padding / truncating to ours
        out = _empty(n)
        m = min(n, arr.shape[0])
        out[:m] = arr[:m]
        return out
    return arr


def frame_from_dict(obj: dict, where: str = "keypoints") -> Frame:
    """Parse (and validate) one OpenPose frame object ``{"version":..,"people":[...]}``."""
    if not isinstance(obj, dict) or "people" not in obj:
        raise UserError(f"{where}: not an OpenPose keypoint object (no 'people' key)")
    people_list = obj["people"]
    if people_list is None:
        people_list = []
    if not isinstance(people_list, list):
        raise UserError(f"{where}: 'people' must be a list, got {type(people_list).__name__}")
    people = []
    for i, p in enumerate(people_list):
        if not isinstance(p, dict):
            raise UserError(f"{where}: people[{i}] must be an object, got {type(p).__name__}")
        people.append(Person(*(_part(p.get(k), n, where, f"people[{i}].{k}")
                               for k, n in PARTS.items())))
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
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise UserError(f"{path}: not valid JSON ({_short(exc)})") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a JSON file") from None


def read_openpose_json(path: str | os.PathLike) -> Frame:
    path = Path(path)
    return frame_from_dict(_read_json(path), str(path))


def write_openpose_json(path: str | os.PathLike, frame: Frame) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(frame_to_dict(frame)))


def read_openpose_dir(folder: str | os.PathLike) -> list[Frame]:
    """Per-frame OpenPose files (``*_keypoints.json`` or ``*.json``), in natural name order;
    an index missing from their numbering is an empty frame (one warning line)."""
    from v2vtool.io.sequence import list_sequence, warn_missing

    folder = Path(folder)
    seq = list_sequence(folder, (".json",))
    if not seq.files:
        raise UserError(f"{folder}: no OpenPose .json files")
    warn_missing(str(folder), seq.missing, "read as frames without a person (not closed up)")
    return [read_openpose_json(f) if f is not None else [] for f in seq.slots]


def iter_jsonl(path: str | os.PathLike) -> Iterator[Frame]:
    """Stream frames from a keypoints.jsonl file (one OpenPose object per line)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with path.open(encoding="utf-8") as fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError) as exc:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({_short(exc)})") from None
                yield frame_from_dict(obj, f"{path}:{lineno}")
        except UnicodeDecodeError:
            raise UserError(f"{path}:{lineno + 1}: not UTF-8 text") from None


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
    if isinstance(pts, list) and not pts:
        return []
    if not isinstance(pts, list) or len(pts) != 68 or not all(
            isinstance(p, list) and len(p) == 2 for p in pts):
        raise UserError(f"{path}: expected a list of 68 [x, y] pairs")
    xy = _numbers([v for p in pts for v in p], str(path), "landmarks").reshape(68, 2)
    arr = _check_points(np.concatenate([xy, np.ones((68, 1))], 1), str(path),
                        "landmarks")[:, :2]
    face = _empty(70)
    face[:68, :2] = arr
    face[:68, 2] = 1.0
    # pupils (68, 69) as the eye centres: right eye 36-41, left eye 42-47
    face[68] = [*arr[36:42].mean(0), 1.0]
    face[69] = [*arr[42:48].mean(0), 1.0]
    return [Person(face=face)]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def drop_implausible(frame: Frame, size: tuple[int, int]) -> tuple[Frame, int]:
    """Points more than one frame size outside a (w, h) frame -> missing joints.

    A found point (confidence > 0) with x outside [-w, 2w] or y outside [-h, 2h] is no
    detection of anything in the picture (a joint just off the edge is normal; -10,000 px on a
    128 px image is garbage that would smear the rendered maps and count as a detection): it
    becomes (0, 0, 0). People left with no found point are dropped. Returns (frame, number of
    points dropped); the frame is returned unchanged when nothing is dropped."""
    w, h = float(size[0]), float(size[1])
    dropped = 0
    people = []
    for person in frame:
        parts = []
        for a in (person.pose, person.face, person.hand_left, person.hand_right):
            bad = (a[:, 2] > 0) & ((a[:, 0] < -w) | (a[:, 0] > 2 * w) |
                                   (a[:, 1] < -h) | (a[:, 1] > 2 * h))
            if bad.any():
                a = a.copy()
                a[bad] = 0.0
                dropped += int(bad.sum())
            parts.append(a)
        if any((a[:, 2] > 0).any() for a in parts):
            people.append(Person(*parts))
        elif not any((a[:, 2] > 0).any() for a in person.arrays().values()):
            people.append(person)  # nobody found before either: kept as it was
    return (people, dropped) if dropped else (frame, 0)


class ImplausibleCounter:
    """`drop_implausible` over a stream of frames of one (w, h) frame, counting what it drops
    (`points`, `frames`) for the reports (meta.json, the synthesize sidecar, import)."""

    def __init__(self, size: tuple[int, int]):
        self.size = (int(size[0]), int(size[1]))
        self.points = 0
        self.frames = 0

    def __call__(self, frame: Frame) -> Frame:
        frame, n = drop_implausible(frame, self.size)
        self.points += n
        self.frames += int(n > 0)
        return frame


def main_person(frame: Frame) -> Person | None:
    """The person with the most confident keypoints (None if nobody)."""
    if not frame:
        return None
    return max(frame, key=lambda p: float(p.pose[:, 2].sum() + p.face[:, 2].sum()))
