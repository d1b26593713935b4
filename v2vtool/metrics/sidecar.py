"""Driving poses in the generated video's pixel frame, from `v2v synthesize`'s sidecar.

The synthesizer maps the driver onto the model frame (person-centred crop when data.crop) and
may retarget it to the examples' body; the pose error must compare against the pose the model
was actually driven with. `synthesis_driving_poses` rebuilds that mapping with the synthesis
module's own functions (make_fit, prepare_examples, fit_retarget) from the sidecar's config,
examples and driver, then scales to the output size.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from v2vtool.io.keypoints import main_person


def find_sidecar(generated: str | os.PathLike) -> dict | None:
    """OUT.json next to OUT.mp4 (format v2v-synthesis/1), else None."""
    p = Path(generated)
    cand = p.with_suffix(".json") if p.suffix else p.parent / f"{p.name}.json"
    if not cand.is_file():
        return None
    try:
        d = json.loads(cand.read_text())
    except (ValueError, RecursionError):
        return None
    if not isinstance(d, dict) or not str(d.get("format", "")).startswith("v2v-synthesis/"):
        return None
    return d


def synthesis_view(sidecar: dict, driver_frames: list, driver_size: tuple[int, int]):
    """The synthesizer's driver -> model-frame mapping, rebuilt: (view, retarget mapper | None,
    model size (w, h), output size (w, h), notes)."""
    from v2vtool.config import Config
    from v2vtool.semantics.kinds import get_kind
    from v2vtool.synthesis.stream import REFERENCE_FRAMES, make_fit, prepare_examples

    cfg = Config.from_dict(sidecar["config"])
    g = cfg.generator
    spec = get_kind(g.kind)
    size = g.size
    good = [[main_person(f)] for f in driver_frames if spec.has_detection(f)]
    fit = make_fit(g.kind, cfg.data, driver_size, size, good[:REFERENCE_FRAMES])
    notes = [f"driver geometry mapped like the synthesizer (model frame {size}, crop "
             f"{cfg.data.crop})"]
    mapper = None
    if (sidecar.get("retarget") or {}).get("applied"):
        from v2vtool.synthesis.sources import load_examples

        ex = load_examples(sidecar["examples"], g.kind)
        prep = prepare_examples(g, [e.image for e in ex], [e.keypoints for e in ex],
                                data=cfg.data)
        mapper = spec.fit_retarget(prep.keypoints,
                                   [fit.keypoints(f) for f in good[:REFERENCE_FRAMES]])
        notes.append("driving poses retargeted to the examples' body, as in synthesis"
                     if mapper is not None else "retargeting could not be rebuilt")
    out_size = tuple((sidecar.get("output") or {}).get("size") or size)
    return fit, mapper, size, out_size, notes


def synthesis_driving_poses(sidecar: dict, driver_frames: list, driver_size: tuple[int, int]
                            ) -> tuple[list[np.ndarray | None], tuple[int, int], list[str]]:
    """Per driver frame the (25, 3) pose the model was driven with, in output pixels, the output
    size (w, h), and notes. driver_frames: keypoint Frames in pixels of driver_size."""
    from v2vtool.config import Config
    from v2vtool.semantics.kinds import get_kind

    spec = get_kind(Config.from_dict(sidecar["config"]).generator.kind)
    fit, mapper, size, out_size, notes = synthesis_view(sidecar, driver_frames, driver_size)
    s = np.array([out_size[0] / size[0], out_size[1] / size[1], 1], np.float32)
    poses = []
    for f in driver_frames:
        if not spec.has_detection(f):
            poses.append(None)
            continue
        kp = fit.keypoints([main_person(f)])
        if mapper is not None:
            kp = [mapper(p) for p in kp]
        poses.append(np.asarray(kp[0].pose, np.float32) * s)
    return poses, out_size, notes
