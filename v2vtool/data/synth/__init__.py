"""Procedural multi-identity dancers: the benchmark with exact ground truth (`v2v data synth`).

appearance.py (who: body, clothes, background) -> motion.py (how they dance: BODY_25 + face
keypoints) -> rasterize.py (keypoints + appearance -> frame, mask) -> dataset.py (clip dirs +
manifest; `render_identity` for any motion).
"""
from v2vtool.data.synth.appearance import Identity, render_background, sample_identity
from v2vtool.data.synth.dataset import (
    dance_keypoints,
    generate_dataset,
    load_identity,
    read_manifest,
    render_identity,
    render_motion_clip,
)
from v2vtool.data.synth.motion import FPS, view_of

__all__ = ["Identity", "FPS", "dance_keypoints", "generate_dataset", "load_identity", "read_manifest",
           "render_background", "render_identity", "render_motion_clip", "sample_identity",
           "view_of"]
