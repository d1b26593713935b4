"""CPU ms/frame of each extraction stage, for `python benchmarks/extract.py --parts`.

Each stage runs alone over the same decoded frames (one thread): decoding, the downscale the
pose model sees, mediapipe graphs built from Holistic's parts (what each part costs), today's
Holistic + selfie segmentation, FaceMesh, the PNG writers (Pillow at compress_level=1, as
before, and io/png.py), rendering, smoothing and the keypoints JSON line.
"""
from __future__ import annotations

import io
import json
import time
from typing import Callable

import numpy as np


def _ms(fn: Callable[[int], object], n: int) -> float:
    fn(0)
    t = time.process_time()
    for i in range(n):
        fn(i)
    return 1000 * (time.process_time() - t) / n


def _graph(face: bool, hands_every_frame: bool, mask: bool):
    """A SolutionBase running the pose graph's parts (hands ungated, as Holistic runs them)."""
    from mediapipe.python.solution_base import SolutionBase

    from v2vtool.semantics import pose_graph as g
    text = g.GRAPH + (g.MASK_OUTPUT if mask else "") + (g.FACE_NODES if face else "")
    side = {"model_complexity": 1, "smooth_landmarks": True, "enable_segmentation": mask,
            "smooth_segmentation": True, "use_prev_landmarks": True}
    if face:
        side["refine_face_landmarks"] = True
    if hands_every_frame:
        text += HANDS_NODE
    return SolutionBase(graph_config=text, side_inputs=side)


HANDS_NODE = """
output_stream: "LEFT_HAND_LANDMARKS:left_hand_landmarks"
output_stream: "RIGHT_HAND_LANDMARKS:right_hand_landmarks"
node {
  calculator: "HandLandmarksLeftAndRightCpu"
  input_stream: "IMAGE:full_image"
  input_stream: "POSE_LANDMARKS:pose_landmarks"
  output_stream: "LEFT_HAND_LANDMARKS:left_hand_landmarks"
  output_stream: "RIGHT_HAND_LANDMARKS:right_hand_landmarks"
}
"""


def stage_costs(frames: list, kinds: list[str], clip=None) -> dict[str, float]:
    import cv2
    from PIL import Image

    from v2vtool.io.keypoints import frame_to_dict
    from v2vtool.io.png import encode_png
    from v2vtool.semantics.extractors import _mediapipe, _readonly
    from v2vtool.semantics.kinds import get_extractor
    from v2vtool.semantics.pose_graph import detection_size
    from v2vtool.semantics.smoothing import SmoothingSettings, smooth_keypoints
    n = len(frames)
    h, w = frames[0].shape[:2]
    frames = [_readonly(f) for f in frames]
    out: dict[str, float] = {}
    if clip is not None:
        from v2vtool.io.video import open_video
        with open_video(clip) as r:
            t, k = time.process_time(), 0
            for _ in r:
                k += 1
            out["decode + RGB (PyAV)"] = 1000 * (time.process_time() - t) / k
    small_size = detection_size((w, h), 640)
    smalls = [_readonly(cv2.resize(f, small_size, interpolation=cv2.INTER_AREA))
              if small_size != (w, h) else f for f in frames]
    if small_size != (w, h):
        out[f"downscale to {small_size[0]}x{small_size[1]} (INTER_AREA)"] = _ms(
            lambda i: cv2.resize(frames[i], small_size, interpolation=cv2.INTER_AREA), n)
    mp = _mediapipe()
    if "pose" in kinds:
        for name, (face, hands, mask) in {
                "graph: pose": (False, False, False),
                "graph: pose + segmentation": (False, False, True),
                "graph: pose + seg. + face from pose": (True, False, True),
                "graph: pose + seg. + face + hands every frame": (True, True, True)}.items():
            g = _graph(face, hands, mask)
            inputs = (lambda i: {"image": smalls[i], "full_image": frames[i]}) if face else (
                lambda i: {"image": smalls[i]})
            out[name] = _ms(lambda i: g.process(inputs(i)), n)
            g.close()
        with mp.solutions.holistic.Holistic(refine_face_landmarks=True) as m:
            out["today: Holistic (full frame)"] = _ms(lambda i: m.process(frames[i]), n)
        with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as m:
            out["today: selfie segmentation (full frame)"] = _ms(
                lambda i: m.process(frames[i]), n)
        with get_extractor("pose") as ex:
            out["pose extractor detect (fast path, all of it)"] = _ms(
                lambda i: ex.detect(frames[i]), n)
            dets = [ex.detect(f)[0] for f in frames]
            out["render_pose"] = _ms(lambda i: ex.render(dets[i], (w, h)), n)
            sem = ex.render(dets[n // 2], (w, h))
    if "face" in kinds:
        with mp.solutions.face_mesh.FaceMesh(refine_landmarks=True) as m:
            out["FaceMesh (refine)"] = _ms(lambda i: m.process(frames[i]), n)
        with get_extractor("face") as ex:
            out["face extractor detect"] = _ms(lambda i: ex.detect(frames[i]), n)
            dets = [ex.detect(f)[0] for f in frames]
            out["render_face"] = _ms(lambda i: ex.render(dets[i], (w, h)), n)
            if "pose" not in kinds:
                sem = ex.render(dets[n // 2], (w, h))

    def pil(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="png", compress_level=1)
        return buf.getvalue()
    out["PNG frame, Pillow compress_level=1 (before)"] = _ms(lambda i: pil(frames[i]), n)
    out["PNG frame, io/png (now)"] = _ms(lambda i: encode_png(frames[i]), n)
    out["PNG semantic map, io/png"] = _ms(lambda i: encode_png(sem), n)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:, w // 4: 3 * w // 4] = 255
    out["PNG mask, io/png"] = _ms(lambda i: encode_png(mask), n)
    out["keypoints JSON line"] = _ms(lambda i: json.dumps(frame_to_dict(dets[i])), n)
    for name, s in (("smoothing: centred (now)", SmoothingSettings()),
                    ("smoothing: one-euro (before)", SmoothingSettings(method="one-euro"))):
        t = time.process_time()
        for _ in smooth_keypoints(((d, None) for d in dets), h, 30.0, s):
            pass
        out[name] = 1000 * (time.process_time() - t) / n
    return {k: round(v, 3) for k, v in out.items()}
