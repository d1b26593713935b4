"""Dance motion: an articulated 3D stick figure (BODY_25 joints + a 70-point face) driven by
smooth joint-angle trajectories (tempo, bounces, steps, sways, arm waves, turns), projected
orthographically into the frame.

Body frame: x = the person's left, y = up, z = forward (where the person faces). The body turns
by `yaw` about the vertical axis: yaw 0 faces the camera (front), +-90 side, 180 back. Camera
coordinates after the turn: x' = x cos(yaw) + z sin(yaw) (image right), z' = -x sin(yaw) +
z cos(yaw) (towards the camera). Keypoints are pixel coordinates of a size x size frame.

Visibility rules (what a detector could see): the 70 face points exist only while the face
is towards the camera (|yaw| < FACE_MAX_YAW); Nose and each eye only while they face the
camera; ears are always reported (they define the head centre for the renderer).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v2vtool.data.synth.appearance import Identity
from v2vtool.io.keypoints import Person

FPS = 15.0
FACE_MAX_YAW = 60.0  # degrees
# Fixed foot geometry (body units) shared with the renderer.
ANKLE_H, HEEL_BACK, FOOT_LEN, TURNOUT = 0.03, 0.02, 0.075, np.deg2rad(8.0)
NECK_LEN = 0.03
EAR_R, NOSE_R, EYE_R = 0.85, 0.92, 0.86  # fractions of the head radius


def view_of(yaw_deg: float) -> str:
    """front |yaw| <= 45, back |yaw| >= 135, side otherwise."""
    a = abs((yaw_deg + 180.0) % 360.0 - 180.0)
    return "front" if a <= 45.0 else "back" if a >= 135.0 else "side"


def _face_template() -> np.ndarray:
    """(70, 2) iBUG-68 + 2 pupils in head-radius units, x = person's left, y = up."""
    pts = []
    for i in range(17):  # jaw, from the person's right (-x) round the chin to the left
        th = np.pi - i / 16 * np.pi
        pts.append((0.8 * np.cos(th), 0.12 - 0.82 * np.sin(th)))
    for x0, x1 in ((-0.6, -0.15), (0.15, 0.6)):  # brows
        for x in np.linspace(x0, x1, 5):
            pts.append((x, 0.4 + 0.06 * (1 - ((x - (x0 + x1) / 2) / 0.25) ** 2)))
    for y in np.linspace(0.28, -0.06, 4):  # nose bridge
        pts.append((0.0, y))
    for x in np.linspace(-0.17, 0.17, 5):  # nostrils
        pts.append((x, -0.14 - 0.04 * (1 - abs(x) / 0.17)))
    for cx, order in ((-0.33, (np.pi, 0.75 * np.pi, 0.25 * np.pi, 0.0, -0.25 * np.pi,
                                -0.75 * np.pi)),
                      (0.33, (np.pi, 0.75 * np.pi, 0.25 * np.pi, 0.0, -0.25 * np.pi,
                              -0.75 * np.pi))):
        for th in order:  # eye contour: corner, two top, corner, two bottom
            pts.append((cx + 0.13 * np.cos(th), 0.18 + 0.055 * np.sin(th)))
    for th in np.linspace(np.pi, -np.pi, 13)[:12]:  # outer lips from the right corner
        pts.append((0.28 * np.cos(th), -0.42 + 0.11 * np.sin(th)))
    for th in np.linspace(np.pi, -np.pi, 9)[:8]:  # inner lips
        pts.append((0.18 * np.cos(th), -0.42 + 0.04 * np.sin(th)))
    pts += [(-0.33, 0.18), (0.33, 0.18)]  # pupils
    return np.asarray(pts, np.float64) * 0.85


FACE_TEMPLATE = _face_template()


def smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Dance:
    """Parameters of one clip's dance (all from the clip's random generator)."""

    tempo: float  # beats per second
    turn_dir: float  # +1 / -1
    n_turns: int
    holds: tuple  # fraction of each quarter-turn spent holding still
    weights: tuple  # relative durations of the quarter-turns
    wobble: float
    bounce: float
    knee0: float
    step: float
    side_step: float
    sway: float
    lean: float
    drift: float
    arms: tuple  # two arm styles (dicts) cross-faded over the clip
    phase: float

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def sample_dance(rng: np.random.Generator, frames: int) -> Dance:
    u = lambda lo, hi: float(round(rng.uniform(lo, hi), 4))  # noqa: E731
    n_turns = max(1, int(round(frames / FPS / 6.0)))
    n = 4 * n_turns

    def arm_style() -> dict:
        return {"a0": u(0.2, 1.5), "aA": u(0.2, 0.9), "f0": u(-0.2, 0.7), "fA": u(0.0, 0.6),
                "e0": u(0.1, 1.1), "eA": u(0.0, 1.3), "ma": float(rng.choice([0.5, 1.0])),
                "mf": float(rng.choice([0.5, 1.0])), "alt": float(rng.choice([0.0, np.pi])),
                "ph": u(0, 2 * np.pi)}
    return Dance(
        tempo=u(1.2, 2.1), turn_dir=float(rng.choice([-1.0, 1.0])), n_turns=n_turns,
        holds=tuple(u(0.15, 0.5) for _ in range(n)),
        weights=tuple(u(0.7, 1.3) for _ in range(n)), wobble=u(0.0, 12.0),
        bounce=u(0.1, 0.45), knee0=u(0.05, 0.3), step=u(0.1, 0.5), side_step=u(0.0, 0.3),
        sway=u(0.0, 0.03), lean=u(0.0, 0.15), drift=u(0.0, 0.08),
        arms=(arm_style(), arm_style()), phase=u(0, 2 * np.pi),
    )


def yaw_at(d: Dance, t: float, duration: float) -> float:
    """Degrees. Quarter turns with holds, starting and ending facing the camera."""
    w = np.asarray(d.weights) / np.sum(d.weights) * duration
    edges = np.concatenate([[0.0], np.cumsum(w)])
    k = int(np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(w) - 1))
    tau = (t - edges[k]) / w[k]
    h = d.holds[k]
    frac = smoothstep((tau - h) / (1.0 - h))
    wob = d.wobble * np.sin(2 * np.pi * d.tempo * 0.5 * t + d.phase)
    return float(d.turn_dir * 90.0 * (k + frac) + wob)


def _dir(side: float, abd, flex) -> np.ndarray:
    """Unit limb direction: abduction in the frontal plane, flexion forwards (radians)."""
    return np.array([side * np.sin(abd) * np.cos(flex), -np.cos(abd) * np.cos(flex),
                     np.sin(flex)])


def _bend(d: np.ndarray, angle, towards: np.ndarray) -> np.ndarray:
    p = towards - np.dot(towards, d) * d
    p /= max(np.linalg.norm(p), 1e-9)
    return np.cos(angle) * d + np.sin(angle) * p


def pose_3d(app: Identity, d: Dance, t: float, duration: float) -> tuple[dict, float]:
    """Joint positions (body frame, before the turn) at time t (seconds), and the yaw."""
    wb = 2 * np.pi * d.tempo * t  # one cycle per beat
    blend = float(smoothstep((t / max(duration, 1e-6) - 0.3) / 0.4))
    J: dict[str, np.ndarray] = {}
    lean = d.lean * np.sin(wb / 2 + d.phase + 0.5)
    mid = np.array([d.sway * np.sin(wb / 2 + d.phase), 0.0, 0.0])
    up = np.array([np.sin(lean), np.cos(lean), 0.0])
    lat = np.array([np.cos(lean), -np.sin(lean), 0.0])
    J["MidHip"], J["Neck"] = mid, mid + up * app.torso_len
    hc = J["Neck"] + up * (NECK_LEN + app.head_r)
    J["head"] = hc
    J["RShoulder"] = J["Neck"] - lat * app.shoulder_w / 2
    J["LShoulder"] = J["Neck"] + lat * app.shoulder_w / 2
    for name, side in (("R", -1.0), ("L", 1.0)):
        ph = 0.0 if side < 0 else 1.0
        vals = {}
        for key in ("a", "f", "e"):
            acc = 0.0
            for wgt, st in ((1 - blend, d.arms[0]), (blend, d.arms[1])):
                m = st["ma"] if key == "a" else st["mf"] if key == "f" else 1.0
                osc = np.sin(wb * m + st["ph"] + ph * st["alt"] + (0.7 if key != "a" else 0))
                if key == "e":
                    acc += wgt * (st["e0"] + st["eA"] * (0.5 + 0.5 * osc))
                else:
                    acc += wgt * (st[key + "0"] + st[key + "A"] * osc)
            vals[key] = acc
        du = _dir(side, np.clip(vals["a"], 0.0, 2.7), np.clip(vals["f"], -0.5, 1.2))
        J[name + "Elbow"] = J[name + "Shoulder"] + du * app.upper_arm
        df = _bend(du, np.clip(vals["e"], 0.0, 2.3), np.array([0.0, 0.7, 0.7]))
        J[name + "Wrist"] = J[name + "Elbow"] + df * app.forearm
    for name, side in (("R", -1.0), ("L", 1.0)):
        stepph = np.sin(wb / 2 + (0.0 if side < 0 else np.pi))
        lift = max(0.0, stepph)
        flex = d.step * lift
        abd = d.side_step * (0.5 + 0.5 * np.sin(wb / 2 + d.phase + (0 if side < 0 else np.pi)))
        knee = d.knee0 + d.bounce * (0.5 - 0.5 * np.cos(wb)) + 1.6 * d.step * lift
        hip = mid + np.array([side * app.hip_w / 2, 0.0, 0.0])
        dt = _dir(side, abd, flex)
        kn = hip + dt * app.thigh
        ds = _bend(dt, knee, np.array([0.0, 0.0, -1.0]))
        an = kn + ds * app.shin
        fwd = np.array([side * np.sin(TURNOUT), 0.0, np.cos(TURNOUT)])
        medial = np.array([-side, 0.0, 0.0]) * 0.012
        sole = an + np.array([0.0, -ANKLE_H, 0.0])
        J[name + "Hip"], J[name + "Knee"], J[name + "Ankle"] = hip, kn, an
        J[name + "Heel"] = sole - fwd * HEEL_BACK
        J[name + "BigToe"] = sole + fwd * FOOT_LEN + medial
        J[name + "SmallToe"] = sole + fwd * FOOT_LEN * 0.85 - medial
    ground = min(J[k][1] for k in ("RHeel", "LHeel", "RBigToe", "LBigToe", "RSmallToe",
                                   "LSmallToe"))
    for k in J:
        J[k] = J[k] - np.array([0.0, ground, 0.0])
    return J, yaw_at(d, t, duration)


BODY_ORDER = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
              "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
              "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")


def quantize(person: Person) -> Person:
    """Round like the keypoint file format does (`frame_to_dict`: round(float(v), 3), read
    back as float32), so frames rendered now match renders from the written files exactly."""
    def q(a: np.ndarray) -> np.ndarray:
        return np.asarray([round(v, 3) for v in a.reshape(-1).tolist()],
                          np.float32).reshape(a.shape)
    return Person(pose=q(person.pose), face=q(person.face) if person.face[:, 2].any()
                  else np.zeros((70, 3), np.float32))


def project(app: Identity, J: dict, yaw_deg: float, size: int, drift: float = 0.0) -> Person:
    """Body-frame joints -> BODY_25 + face keypoints in pixels (see visibility rules)."""
    psi = np.deg2rad(yaw_deg)
    cs, sn = np.cos(psi), np.sin(psi)
    total = app.torso_len + NECK_LEN + 2 * app.head_r + app.thigh + app.shin + ANKLE_H
    ppu = app.height * size / total
    cx, ground = size * (0.5 + drift), size * 0.93

    def img(p: np.ndarray) -> tuple[float, float, float]:
        x = p[0] * cs + p[2] * sn
        z = -p[0] * sn + p[2] * cs
        return cx + x * ppu, ground - p[1] * ppu, z

    hc, r = J["head"], app.head_r
    J = dict(J)
    lat, fwd = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    J["REar"], J["LEar"] = hc - lat * EAR_R * r, hc + lat * EAR_R * r
    J["Nose"] = hc + fwd * NOSE_R * r + np.array([0, -0.2 * r, 0])
    eye_dir = lambda side: np.array([side * 0.35, 0.15, 0.85])  # noqa: E731
    J["REye"] = hc + eye_dir(-1) * EYE_R * r
    J["LEye"] = hc + eye_dir(1) * EYE_R * r
    pose = np.zeros((25, 3), np.float32)
    for i, name in enumerate(BODY_ORDER):
        x, y, _ = img(J[name])
        conf = 1.0
        if name == "Nose":
            conf = float(cs > -0.1)
        elif name in ("REye", "LEye"):
            ed = eye_dir(-1 if name == "REye" else 1)
            conf = float(-ed[0] * sn + ed[2] * cs > 0.2)
        pose[i] = (x, y, conf)
    face = np.zeros((70, 3), np.float32)
    if abs((yaw_deg + 180.0) % 360.0 - 180.0) < FACE_MAX_YAW:
        fx, fy = FACE_TEMPLATE[:, 0], FACE_TEMPLATE[:, 1]
        fz = np.sqrt(np.clip(1 - fx ** 2 - fy ** 2, 0, None))
        pts = hc[None] + r * np.stack([fx, fy, fz], 1)
        for i, p in enumerate(pts):
            x, y, _ = img(p)
            face[i] = (x, y, 1.0)
    return quantize(Person(pose=pose, face=face))


def dance_clip(app: Identity, d: Dance, frames: int, size: int) -> tuple[list, list]:
    """Keypoints (list of Person) and yaw angles (degrees) of every frame."""
    duration = frames / FPS
    people, yaws = [], []
    for i in range(frames):
        t = i / FPS
        J, yaw = pose_3d(app, d, t, duration)
        drift = d.drift * np.sin(2 * np.pi * t / max(duration, 1e-6) + d.phase)
        people.append(project(app, J, yaw, size, drift))
        yaws.append(yaw)
    return people, yaws
