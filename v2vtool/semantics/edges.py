"""Edge maps: Canny edges of the frame (no model), the semantic input of the "edges" kind."""
from __future__ import annotations

import cv2
import numpy as np

from v2vtool.semantics.extractor_base import Detection, Extractor


class EdgeExtractor(Extractor):
    """Canny on the Gaussian-blurred gray frame -> (H, W) uint8 0/255 edge map.

    Thresholds are fixed (not image adaptive) so that a clip's frames are treated alike.
    """

    kind = "edges"
    name = "opencv-canny"
    has_keypoints = False

    def __init__(self, low: int = 100, high: int = 200, blur: int = 3):
        self.low, self.high, self.blur = low, high, blur
        self.version = cv2.__version__
        self.settings = {"low": low, "high": high, "blur": blur}

    def __call__(self, rgb: np.ndarray) -> Detection:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if self.blur > 1:
            gray = cv2.GaussianBlur(gray, (self.blur, self.blur), 0)
        return Detection([], cv2.Canny(gray, self.low, self.high), None)
