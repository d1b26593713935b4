"""What `v2v evaluate` reads from `v2v synthesize`'s sidecar: the view and the driving poses.

The synthesizer maps the driver onto the model frame (person-centred crop when data.crop),
may retarget it to the examples' body, and writes either that crop ("crop" framing) or the
driver's whole frame ("full" framing). The sidecar records the view (`data.view.ViewRecord`:
framing, crop box in driver px, model and output size) and, when retargeting was applied, the
examples' keypoints in model px; so the real frames can be framed and the pose error compared
against the pose the model was actually driven with, without re-running any of synthesis.
Sidecars written before the view was recorded get it recomputed from the driver's keypoints
with the same function the synthesizer uses (`data.view.person_view`), with a warning.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from v2vtool.config import Config
from v2vtool.data.view import REFERENCE_FRAMES, ViewRecord, person_view
from v2vtool.io.keypoints import frame_from_dict, main_person
from v2vtool.semantics.kinds import get_kind

log = logging.getLogger(__name__)

OLD_SIDECAR = ("the synthesis sidecar has no view record (written by an older v2vtool): the crop "
               "box was recomputed from the driver's keypoints")


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
    d["_path"] = str(cand)  # for messages; not part of the file
    return d


def recorded_view(sidecar: dict) -> ViewRecord | None:
    """The sidecar's view record, or None for sidecars written before it existed."""
    d = sidecar.get("view")
    if d is None:
        return None
    return ViewRecord.from_dict(d, sidecar.get("_path", "sidecar"))


def recomputed_view(sidecar: dict, driver_frames: list, driver_size: tuple[int, int]
                    ) -> ViewRecord:
    """An old sidecar's view, rebuilt from the driver's keypoints like the synthesizer built it
    (crop framing: old sidecars were all crop framed)."""
    cfg = Config.from_dict(sidecar["config"])
    g = cfg.generator
    spec = get_kind(g.kind)
    good = [[main_person(f)] for f in driver_frames if spec.has_detection(f)]
    fit = person_view(g.kind, cfg.data, driver_size, g.size, good[:REFERENCE_FRAMES])
    out_size = tuple((sidecar.get("output") or {}).get("size") or g.size)
    return ViewRecord("crop", tuple(driver_size), fit, out_size)


def resolve_view(sidecar: dict, driver_frames: list | None,
                 driver_size: tuple[int, int] | None) -> tuple[ViewRecord | None, list[str]]:
    """(the synthesizer's view, notes): the sidecar's record; for an old sidecar recomputed (a
    warning) from driver_frames, keypoint Frames in pixels of driver_size (None: the driver size
    the sidecar records), or None without driver frames."""
    record = recorded_view(sidecar)
    if record is not None:
        return record, [f"view from the synthesis sidecar: {record.framing} framing, crop box "
                        f"{list(record.crop.box)} in driver px, model {record.model_size}"]
    if driver_frames is None:
        return None, []
    g = Config.from_dict(sidecar["config"]).generator
    size = driver_size or tuple((sidecar.get("driver") or {}).get("size") or g.size)
    log.warning(OLD_SIDECAR)
    return recomputed_view(sidecar, driver_frames, size), [OLD_SIDECAR]


def retarget_mapper(sidecar: dict, record: ViewRecord, driver_frames: list
                    ) -> tuple[object | None, list[str]]:
    """The synthesizer's retargeting (None when not applied), rebuilt from the examples'
    keypoints the sidecar records and the driver's first frames with a detection."""
    retarget = sidecar.get("retarget") or {}
    if not retarget.get("applied"):
        return None, []
    spec = get_kind(Config.from_dict(sidecar["config"]).generator.kind)
    examples = retarget.get("example_keypoints")
    mapper = None
    if examples:
        where = f"{sidecar.get('_path', 'sidecar')}: retarget.example_keypoints"
        targets = [frame_from_dict(d, where) for d in examples]
        good = [[main_person(f)] for f in driver_frames if spec.has_detection(f)]
        mapper = spec.fit_retarget(targets, [record.crop.keypoints(f)
                                             for f in good[:REFERENCE_FRAMES]])
    return mapper, ["driving poses retargeted to the examples' body, as in synthesis"
                    if mapper is not None else "retargeting could not be rebuilt (the sidecar "
                    "records no example keypoints): the raw driving poses are used"]


def synthesis_driving_poses(sidecar: dict, record: ViewRecord, driver_frames: list
                            ) -> tuple[list[np.ndarray | None], list[str]]:
    """Per driver frame the (25, 3) pose the model was driven with, in the output pixels of
    `record` (the synthesizer's view), and notes. driver_frames: keypoint Frames in driver
    pixels."""
    spec = get_kind(Config.from_dict(sidecar["config"]).generator.kind)
    mapper, notes = retarget_mapper(sidecar, record, driver_frames)
    place = record.placement()  # model px -> output px (axis-aligned)
    scale = np.array([place[0, 0], place[1, 1]], np.float32)
    offset = np.array([place[0, 2], place[1, 2]], np.float32)
    poses = []
    for f in driver_frames:
        if not spec.has_detection(f):
            poses.append(None)
            continue
        kp = record.crop.keypoints([main_person(f)])
        if mapper is not None:
            kp = [mapper(p) for p in kp]
        poses.append(np.asarray(kp[0].transformed(scale, offset).pose, np.float32))
    return poses, notes
