"""Retargeting: normalise a driver's keypoints to the target's body (pose) or face (face).

Pose (BODY_25): a tall driver must not stretch a short target. Given body statistics of the
target (from the K example images) and of the driver (from its first detected frames):
  1. global scale s = sum of the target's major limb lengths / the driver's (limbs both have),
  2. position: x' = s * (x - a_driver_ref) + a_target, with a = the neck (root joint), so the
     driver's per-frame translation relative to its first frames is preserved (scaled by s)
     while the body starts where the target stands in the examples,
  3. limb proportions: the skeleton is rebuilt down the kinematic tree from the neck; each
     bone keeps the driver's direction and takes length s * L_driver * r, r = (L_target /
     L_driver) / s clipped to [1/1.5, 1.5]; hands follow their wrist, the face its nose.
Face (68 iBUG points + 2 pupils): the driver's landmarks are expressed as a displacement
from its reference shape and applied to the target's face (the paper's "driving landmarks
normalised to the reference face"): x'_t = T + s * (D_t - D_ref) with s the ratio of face
sizes (inter-ocular and eye-to-mouth distances).
All coordinates are pixels in one common frame (the model's resolution); missing points
(confidence 0) stay missing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from v2vtool.io.keypoints import BODY_25_FLIP, Frame, Person, main_person

log = logging.getLogger(__name__)

NECK, NOSE, MIDHIP, RWRIST, LWRIST = 1, 0, 8, 4, 7
# Kinematic tree of BODY_25 rooted at the neck, parents before children.
POSE_TREE = (
    (1, 0), (0, 15), (15, 17), (0, 16), (16, 18),
    (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (10, 11), (11, 22), (22, 23), (11, 24),
    (8, 12), (12, 13), (13, 14), (14, 19), (19, 20), (14, 21),
)
# Bones that define body size (torso, shoulders, hips, arms, legs, head).
SIZE_BONES = ((1, 8), (1, 0), (1, 2), (1, 5), (8, 9), (8, 12), (2, 3), (5, 6),
              (9, 10), (12, 13), (10, 11), (13, 14))
RATIO_CLIP = 1.5
MIN_CONF = 0.05
# Face: eye corners and mouth corners used for size.
R_EYE, L_EYE, MOUTH = slice(36, 42), slice(42, 48), slice(48, 60)


def _found(a: np.ndarray) -> np.ndarray:
    return a[:, 2] > MIN_CONF


def bone_lengths(pose: np.ndarray) -> dict[tuple[int, int], float]:
    """Lengths of the tree's bones present in one (25, 3) pose (missing bones are absent)."""
    ok = _found(pose)
    out = {}
    for a, b in POSE_TREE:
        if ok[a] and ok[b]:
            out[(a, b)] = float(np.linalg.norm(pose[b, :2] - pose[a, :2]))
    return out


def _mirror(a: int, b: int) -> tuple[int, int]:
    return BODY_25_FLIP[a], BODY_25_FLIP[b]


@dataclass(frozen=True)
class BodyStats:
    """Robust body statistics over one or more poses: median bone lengths + root position."""

    bones: dict  # (parent, child) -> length in px (missing bones filled from the mirror side)
    anchor: np.ndarray  # (2,) neck position (median)

    @classmethod
    def from_poses(cls, poses: list[np.ndarray]) -> "BodyStats | None":
        """Median over poses (25, 3); None when no pose has a neck."""
        per_bone: dict[tuple[int, int], list[float]] = {}
        anchors = []
        for pose in poses:
            for bone, length in bone_lengths(pose).items():
                per_bone.setdefault(bone, []).append(length)
            if pose[NECK, 2] > MIN_CONF:
                anchors.append(pose[NECK, :2])
        if not anchors:
            return None
        bones = {b: float(np.median(v)) for b, v in per_bone.items()}
        for a, b in POSE_TREE:  # a missing left bone takes the right one's length, and v.v.
            m = _mirror(a, b)
            if (a, b) not in bones and m in bones:
                bones[(a, b)] = bones[m]
        return cls(bones, np.median(np.stack(anchors), axis=0).astype(np.float32))

    @property
    def size(self) -> float:
        return float(sum(self.bones.get(b, 0.0) for b in SIZE_BONES))


def body_scale(target: BodyStats, driver: BodyStats) -> float:
    """s = sum of target size bones / sum of the driver's, over bones both have (1 if none)."""
    common = [b for b in SIZE_BONES if b in target.bones and b in driver.bones
              and driver.bones[b] > 1e-3]
    if not common:
        log.warning("retarget: driver and target share no measurable bones; scale left at 1")
        return 1.0
    return float(sum(target.bones[b] for b in common) / sum(driver.bones[b] for b in common))


@dataclass(frozen=True)
class PoseRetarget:
    """Maps a driver Person onto the target's body (see module docstring)."""

    scale: float
    driver_anchor: np.ndarray  # (2,)
    target_anchor: np.ndarray  # (2,)
    ratios: dict  # bone -> proportion correction r (1 where unknown)

    @classmethod
    def fit(cls, target: BodyStats, driver: BodyStats, limbs: bool = True) -> "PoseRetarget":
        s = body_scale(target, driver)
        ratios = {}
        if limbs:
            for bone in POSE_TREE:
                lt, ld = target.bones.get(bone), driver.bones.get(bone)
                if lt and ld and ld > 1e-3:
                    ratios[bone] = float(np.clip(lt / (ld * s), 1 / RATIO_CLIP, RATIO_CLIP))
        return cls(s, driver.anchor, target.anchor, ratios)

    def _global(self, xy: np.ndarray) -> np.ndarray:
        return (xy - self.driver_anchor) * self.scale + self.target_anchor

    def __call__(self, person: Person) -> Person:
        src = person.pose
        ok = _found(src)
        out = src.copy()
        out[ok, :2] = self._global(src[ok, :2])
        if ok[NECK]:  # rebuild down the tree with corrected bone lengths
            placed = np.zeros(25, bool)
            placed[NECK] = True
            for a, b in POSE_TREE:
                if placed[a] and ok[b]:
                    r = self.ratios.get((a, b), 1.0)
                    out[b, :2] = out[a, :2] + (src[b, :2] - src[a, :2]) * self.scale * r
                    placed[b] = True

        def follow(part: np.ndarray, joint: int) -> np.ndarray:
            res = part.copy()
            f = _found(part)
            if not f.any():
                return res
            if ok[joint]:
                res[f, :2] = out[joint, :2] + (part[f, :2] - src[joint, :2]) * self.scale
            else:
                res[f, :2] = self._global(part[f, :2])
            return res

        return Person(out, follow(person.face, NOSE), follow(person.hand_left, LWRIST),
                      follow(person.hand_right, RWRIST))


def face_size(face: np.ndarray) -> float | None:
    """Inter-ocular + eye-to-mouth distance of a (70, 3) face, None if those points are missing."""
    ok = _found(face)
    if not (ok[R_EYE].all() and ok[L_EYE].all() and ok[MOUTH].all()):
        return None
    re, le, mo = face[R_EYE, :2].mean(0), face[L_EYE, :2].mean(0), face[MOUTH, :2].mean(0)
    return float(np.linalg.norm(le - re) + np.linalg.norm(mo - (re + le) / 2))


@dataclass(frozen=True)
class FaceRetarget:
    """x'_t = T + s * (D_t - D_ref): the driver's expression / motion on the target's face."""

    target: np.ndarray  # (70, 3) reference face of the target
    driver_ref: np.ndarray  # (70, 3) median face of the driver's first frames
    scale: float

    @classmethod
    def fit(cls, target_faces: list[np.ndarray], driver_faces: list[np.ndarray]
            ) -> "FaceRetarget | None":
        tgt = next((f for f in target_faces if face_size(f) is not None), None)
        drv = [f for f in driver_faces if face_size(f) is not None]
        if tgt is None or not drv:
            return None
        ref = np.median(np.stack(drv), axis=0).astype(np.float32)
        ref[:, 2] = np.min(np.stack(drv)[:, :, 2], axis=0)
        return cls(tgt, ref, face_size(tgt) / max(face_size(ref), 1e-3))

    def __call__(self, person: Person) -> Person:
        d = person.face
        ok = _found(d) & _found(self.target) & _found(self.driver_ref)
        out = np.zeros_like(d)
        out[ok, :2] = self.target[ok, :2] + (d[ok, :2] - self.driver_ref[ok, :2]) * self.scale
        out[ok, 2] = d[ok, 2]
        return Person(person.pose.copy(), out, person.hand_left.copy(), person.hand_right.copy())


def body_found(frame: Frame) -> bool:
    """Whether a frame has a body a pose model can be driven by (>= 2 BODY_25 joints)."""
    p = main_person(frame)
    return p is not None and int(_found(p.pose).sum()) >= 2


def face_found(frame: Frame) -> bool:
    """Whether a frame has a face a face model can be driven by (eyes and mouth found)."""
    p = main_person(frame)
    return p is not None and face_size(p.face) is not None


def _people(frames: list[Frame]) -> list[Person]:
    return [p for p in (main_person(f) for f in frames) if p is not None]


def fit_pose_retarget(target_frames: list[Frame], driver_frames: list[Frame]
                      ) -> "PoseRetarget | None":
    """Person -> Person normalising the driver's body to the target's, or None when it cannot
    be fitted. target_frames: the examples' keypoints; driver_frames: the driver's first
    detected frames; all in the same (model) pixel frame."""
    t = BodyStats.from_poses([p.pose for p in _people(target_frames)])
    d = BodyStats.from_poses([p.pose for p in _people(driver_frames)])
    if t is None or d is None:
        return None
    return PoseRetarget.fit(t, d)


def fit_face_retarget(target_frames: list[Frame], driver_frames: list[Frame]
                      ) -> "FaceRetarget | None":
    """Person -> Person moving the target's face by the driver's landmark motion (or None)."""
    return FaceRetarget.fit([p.face for p in _people(target_frames)],
                            [p.face for p in _people(driver_frames)])
