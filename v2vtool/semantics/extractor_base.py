"""The extractor interface every semantic kind implements: `Extractor(frame) -> Detection`.

Its own module (no model code, no renderer) so that the extractor modules (extractors.py,
edges.py, segmentation.py, ...) depend on it and never on each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v2vtool.io.keypoints import Frame


@dataclass
class Detection:
    """One frame's result. keypoints: people found ([] = nobody); semantic: (H, W, 3) uint8
    (pose), (H, W) uint8 (face sketch, edges, class ids); mask: (H, W) uint8 0/255 or None."""

    keypoints: Frame
    semantic: np.ndarray
    mask: np.ndarray | None = None


class Extractor:
    """Base: `__call__(frame) -> Detection`. Keypoint kinds split it into `detect` (model) and
    `render` (keypoints -> map) so callers can smooth keypoints in between."""

    kind: str = ""
    name: str = ""
    version: str = ""
    has_keypoints: bool = True
    settings: dict

    def detect(self, rgb: np.ndarray) -> tuple[Frame, np.ndarray | None]:
        """(H, W, 3) uint8 RGB -> (people, mask or None)."""
        raise NotImplementedError

    def render(self, keypoints: Frame, size: tuple[int, int]) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, rgb: np.ndarray) -> Detection:
        keypoints, mask = self.detect(rgb)
        return Detection(keypoints, self.render(keypoints, (rgb.shape[1], rgb.shape[0])), mask)

    def describe(self) -> dict:
        return {"extractor": self.name, "extractor_version": self.version,
                "settings": dict(self.settings)}

    def close(self) -> None:
        pass

    def __enter__(self) -> "Extractor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
