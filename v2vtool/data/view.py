"""The view: how a driver's frame maps onto the model frame and onto the output, in one place.

`person_view` is the synthesizer's driver -> model mapping (and every caller that must line up
with it: the benchmark, `v2v evaluate`, the figures): the training pipeline's person-centred
crop (`data.augment.make_view`) at data.crop_scale x body height for kinds with a body when
data.crop, else the full frame, resized to the model's (W, H).

`ViewRecord` is that view on record (the synthesis sidecar's "view"): the framing mode, the
driver's frame size, the crop box in driver pixels, the model size, the output size and the
placement (model px -> output px):
  - "crop" framing: the output is the model frame resized to the output size;
  - "full" framing: the output is the driver's frame (its aspect and framing) at the output
    size, with the model frame placed back into the crop box.
All affines are (2, 3) float64 in pixel-centre coordinates (cv2's convention: a pixel centre x
scales as (x + 0.5) s - 0.5).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v2vtool.config import DataConfig
from v2vtool.data.augment import View, make_view
from v2vtool.errors import UserError
from v2vtool.io.keypoints import Frame
from v2vtool.semantics.kinds import get_kind

REFERENCE_FRAMES = 15  # driver frames (with detections) that define its body / face reference
FRAMINGS = ("full", "crop")


def person_view(kind: str, data: DataConfig, src_size: tuple[int, int],
                model_size: tuple[int, int], frames: list[Frame] | None) -> View:
    """The training pipeline's view (`make_view`, no flip): a person-centred crop at
    data.crop_scale x body height over `frames` (body-keypoint kinds, data.crop) or the full
    frame, resized to model_size (w, h)."""
    return make_view(src_size, model_size, frames if get_kind(kind).body else None,
                     crop=data.crop, crop_scale=data.crop_scale, flip=False)


def scale_affine(src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """(2, 3): a pixel of a (w, h) frame -> the same place in that frame resized to dst."""
    sx, sy = dst_size[0] / src_size[0], dst_size[1] / src_size[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]], np.float64)


def compose(*affines: np.ndarray) -> np.ndarray:
    """compose(a, b, c) = a after b after c (c applied first), all (2, 3)."""
    out = np.eye(3)
    for a in affines:
        out = out @ np.vstack([a, [0, 0, 1]])
    return out[:2]


def invert(affine: np.ndarray) -> np.ndarray:
    return np.linalg.inv(np.vstack([affine, [0, 0, 1]]))[:2]


def full_output_size(driver_size: tuple[int, int], max_height: int) -> tuple[int, int]:
    """The driver's (w, h), scaled down to max_height when taller, sides made even (H.264)."""
    w, h = driver_size
    if h > max_height:
        w, h = w * max_height / h, max_height
    w, h = max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)
    return w, h


@dataclass(frozen=True)
class ViewRecord:
    """The synthesizer's view on record (module docstring)."""

    framing: str  # "full" | "crop"
    driver_size: tuple[int, int]  # (w, h) of the driver's frame (keypoint pixels)
    crop: View  # crop box in driver px -> the model's (w, h)
    output_size: tuple[int, int]  # (w, h) of the written frames

    @property
    def model_size(self) -> tuple[int, int]:
        return self.crop.out_w, self.crop.out_h

    def placement(self) -> np.ndarray:
        """(2, 3): a model pixel -> its place in the output frame."""
        if self.framing == "crop":
            return scale_affine(self.model_size, self.output_size)
        return compose(scale_affine(self.driver_size, self.output_size),
                       invert(self.crop.affine()))

    def driver_to_output(self) -> np.ndarray:
        """(2, 3): a driver pixel -> the output pixel that shows it."""
        if self.framing == "crop":
            return compose(self.placement(), self.crop.affine())
        return scale_affine(self.driver_size, self.output_size)

    def to_dict(self) -> dict:
        return {"framing": self.framing, "driver_size": list(self.driver_size),
                "crop_box": [int(v) for v in self.crop.box],
                "model_size": list(self.model_size), "output_size": list(self.output_size),
                "placement": [[round(float(v), 6) for v in row] for row in self.placement()]}

    @classmethod
    def from_dict(cls, d: dict, where: str = "sidecar") -> "ViewRecord":
        """The record back from `to_dict` (the placement is derived, not read); UserError
        naming `where` when a field is missing or malformed."""
        try:
            framing = d["framing"]
            if framing not in FRAMINGS:
                raise ValueError(f"framing {framing!r}")
            dw, dh = (int(v) for v in d["driver_size"])
            x0, y0, cw, ch = (int(v) for v in d["crop_box"])
            mw, mh = (int(v) for v in d["model_size"])
            ow, oh = (int(v) for v in d["output_size"])
            if min(dw, dh, cw, ch, mw, mh, ow, oh) <= 0:
                raise ValueError("sizes must be positive")
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where}: malformed \"view\" record ({exc})") from None
        return cls(framing, (dw, dh), View(x0, y0, cw, ch, mw, mh), (ow, oh))
