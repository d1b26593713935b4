"""Keypoint smoothing: lag, jitter and error of raw / One-Euro (old default) / centred fits.

    python benchmarks/smoothing.py [--frames 150] [--json out.json]

Two real inputs; face landmarks from mediapipe FaceMesh (the `face` extractor, unsmoothed):

  carphone     tests/data/carphone_pristine.mp4, a real talking head (176x144, 120 frames),
               and the same clip upscaled to 640x480 (the issue's setting). No ground truth:
               reported are the lag (frames; the peak of the cross-correlation of smoothed
               against raw trajectories, `trajectory_lag`) and the jitter (mean absolute
               second difference, px/frame^2, `jitter`).
  astronaut    scikit-image's astronaut() (512x512), moved by a known sub-pixel translation
               (a slow sway, up to ~3 px/frame, plus a 5 Hz, 1.5 px shake like speech),
               encoded to H.264 (crf 28) and decoded, detected frame by frame. Ground truth
               per frame = each landmark's mean detected position with the known shift
               removed, plus the shift; reported too is the mean landmark error (px) against
               it, and the lag against the truth.

The pose kind is measured end to end on carphone 640x480 too (body points with confidence
>= 0.5): mediapipe's own causal landmark filter + One-Euro (the old default) against
unfiltered detections + centred fits (the new default), lag against the unfiltered detections.

Every smoother sees the same raw detections. Also reported: each centred fit's gain at 1-8 Hz
and noise factor (from its weights: how much real motion it keeps, how much white jitter it
leaves) and the smoothers' own cost (ms/frame, 137 face + body + hand points).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CARPHONE = ROOT / "tests" / "data" / "carphone_pristine.mp4"

from v2vtool.semantics.smoothing import (SmoothingSettings, jitter, smooth_keypoints,  # noqa: E402
                                         trajectory_lag)

CANDIDATES = {
    "raw": None,
    "one-euro (old default)": SmoothingSettings(method="one-euro"),
    "centred k=2 deg 2": SmoothingSettings(half_window=2, order=2),
    "centred k=3 deg 2": SmoothingSettings(half_window=3, order=2),
    "centred k=4 deg 4 (default)": SmoothingSettings(half_window=4, order=4),
    "centred k=6 deg 4": SmoothingSettings(half_window=6, order=4),
}


def face_detections(frames) -> list:
    """Unsmoothed face keypoints per frame (video mode: tracking on)."""
    from v2vtool.semantics.kinds import get_extractor
    with get_extractor("face") as ex:
        return [ex.detect(f)[0] for f in frames]


def trajectories(frames: list, n: int = 70) -> np.ndarray:
    """Frames of keypoints -> (T, 70, 2) face points, NaN where missing."""
    out = np.full((len(frames), n, 2), np.nan)
    for i, f in enumerate(frames):
        if len(f) == 1:
            ok = f[0].face[:, 2] > 0
            out[i, ok] = f[0].face[ok, :2]
    return out


def smoothed(raw: list, height: int, fps: float, settings: SmoothingSettings | None) -> list:
    if settings is None:
        return raw
    return [f for f, _ in smooth_keypoints(((f, None) for f in raw), height, fps, settings)]


def pose_pipelines(frames: list, fps: float) -> list[dict]:
    """Body points (confidence >= 0.5) of the pose kind, end to end: mediapipe's own landmark
    filter + One-Euro (the old default) against unfiltered detections + centred fits (the
    new default); lag against the unfiltered detections."""
    from v2vtool.semantics.kinds import get_extractor
    height = frames[0].shape[0]
    dets = {}
    for name, flt in (("unfiltered", False), ("mediapipe filter", True)):
        with get_extractor("pose", landmark_filter=flt) as ex:
            dets[name] = [ex.detect(f)[0] for f in frames]

    def body(fr: list) -> np.ndarray:
        out = np.full((len(fr), 25, 2), np.nan)
        for i, f in enumerate(fr):
            if len(f) == 1:
                ok = f[0].pose[:, 2] >= 0.5
                out[i, ok] = f[0].pose[ok, :2]
        return out
    raw = body(dets["unfiltered"])
    rows = []
    for name, key, settings in (
            ("unfiltered detections", "unfiltered", None),
            ("mediapipe filter", "mediapipe filter", None),
            ("mediapipe filter + one-euro (old default)", "mediapipe filter",
             SmoothingSettings(method="one-euro")),
            ("unfiltered + centred k=4 deg 4 (new default)", "unfiltered",
             SmoothingSettings())):
        traj = body(smoothed(dets[key], height, fps, settings))
        rows.append({"smoother": name, "lag_frames": round(trajectory_lag(raw, traj), 2),
                     "jitter_px": round(jitter(traj), 3)})
    return rows


def upscaled(frames: list, size: tuple[int, int]) -> list:
    import cv2
    return [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in frames]


def astronaut_motion(t: np.ndarray, fps: float) -> np.ndarray:
    """(T, 2) shift in px: a slow sway (peak ~3 px/frame) plus a 5 Hz, 1.5 px shake."""
    sec = t / fps
    x = 18 * np.sin(2 * np.pi * 0.8 * sec) + 1.5 * np.sin(2 * np.pi * 5.0 * sec)
    y = 10 * np.sin(2 * np.pi * 0.5 * sec + 1.0) + 1.5 * np.sin(2 * np.pi * 4.0 * sec + 0.5)
    return np.stack([x, y], 1)


def moving_astronaut(n: int, fps: float, work: Path) -> tuple[list, np.ndarray]:
    """The moving astronaut, through H.264 (crf 28) and back: real compression noise."""
    import cv2
    import skimage.data

    from v2vtool.io.video import VideoWriter, read_frames
    img = skimage.data.astronaut()
    shift = astronaut_motion(np.arange(n), fps)
    with VideoWriter(work / "astronaut.mp4", fps, crf=28, preset="veryfast") as w:
        for dx, dy in shift:
            w.write(cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), img.shape[1::-1],
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return read_frames(work / "astronaut.mp4"), shift


def evaluate(raw: list, height: int, fps: float, truth: np.ndarray | None = None) -> list[dict]:
    traj_raw = trajectories(raw)
    rows = []
    for name, settings in CANDIDATES.items():
        traj = trajectories(smoothed(raw, height, fps, settings))
        row = {"smoother": name, "lag_frames": round(trajectory_lag(traj_raw, traj), 2),
               "jitter_px": round(jitter(traj), 3)}
        if truth is not None:
            row["lag_vs_truth_frames"] = round(trajectory_lag(truth, traj), 2)
            row["error_px"] = round(float(np.nanmean(np.linalg.norm(traj - truth, axis=2))), 3)
        rows.append(row)
    return rows


def frequency_response(fps: float) -> dict[str, dict]:
    """Gain of each centred fit (interior frames) at 1-8 Hz and its noise factor (output std
    per unit of white input noise): how much real motion it keeps, how much jitter it leaves."""
    from v2vtool.semantics.smoothing import _fit_weights
    out = {}
    for name, s in CANDIDATES.items():
        if s is None or s.method != "centred":
            continue
        h = _fit_weights(-s.half_window, s.half_window, s.order)
        u = np.arange(-s.half_window, s.half_window + 1)
        gains = {f"{f} Hz": round(float(abs((h * np.exp(-2j * np.pi * f / fps * u)).sum())), 2)
                 for f in (1, 2, 3, 4, 5, 6, 8)}
        out[name] = {"noise_factor": round(float(np.sqrt((h ** 2).sum())), 3), **gains}
    return out


def smoother_cost(raw: list, height: int, fps: float) -> dict[str, float]:
    from v2vtool.io.keypoints import Person
    full = [[Person(pose=np.ones((25, 3), np.float32), face=f[0].face,
                    hand_left=np.ones((21, 3), np.float32),
                    hand_right=np.ones((21, 3), np.float32))] if f else f for f in raw]
    out = {}
    for name, settings in CANDIDATES.items():
        if settings is None:
            continue
        t = time.process_time()
        smoothed(full, height, fps, settings)
        out[name] = round(1000 * (time.process_time() - t) / len(full), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150, help="frames of the moving astronaut")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    from v2vtool.io.video import open_video, read_frames
    console = Console(stderr=True)
    with open_video(CARPHONE) as r:
        fps = r.fps
    small = read_frames(CARPHONE)
    results = {}
    for name, frames in (("carphone 176x144", small),
                         ("carphone 640x480", upscaled(small, (640, 480)))):
        raw = face_detections(frames)
        results[name] = evaluate(raw, frames[0].shape[0], fps)
        speed = np.nanmean(np.linalg.norm(np.diff(trajectories(raw), axis=0), axis=2))
        results[name + " motion"] = {"mean_speed_px_per_frame": round(float(speed), 2)}
    results["carphone 640x480 pose (body, conf >= 0.5)"] = pose_pipelines(
        upscaled(small, (640, 480)), fps)
    with tempfile.TemporaryDirectory() as tmp:
        frames, shift = moving_astronaut(args.frames, fps, Path(tmp))
    raw = face_detections(frames)
    traj = trajectories(raw)
    rest = np.nanmean(traj - shift[:, None], axis=0)  # where each landmark is, unshifted
    truth = rest[None] + shift[:, None]
    results["astronaut 512x512 moving"] = evaluate(raw, 512, fps, truth)
    results["smoother ms/frame"] = smoother_cost(raw, 512, fps)
    results["frequency response at %.2f fps" % fps] = frequency_response(fps)
    load = os.getloadavg()
    for name, rows in results.items():
        if isinstance(rows, dict) and name.startswith("frequency"):
            rows = [{"smoother": k, **v} for k, v in rows.items()]
        if not isinstance(rows, list):
            continue
        table = Table(title=f"{name} (load {load[0]:.1f})")
        for col in rows[0]:
            table.add_column(col, justify="left" if col == "smoother" else "right")
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)
    out = {"benchmark": "smoothing", "loadavg": load, "fps": fps, **results}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
