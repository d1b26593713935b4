"""Evaluation metrics: pure functions over numpy frames ((H, W, 3) uint8 RGB) and keypoints.

- `table`: THE metric table (one row per score; `v2v evaluate` and the benchmark both run it)
- `reconstruction`: psnr, ssim (scikit-image), l1
- `masked`: person_psnr (inside the true person mask), ghost_l1 (outside it, dilated)
- `drift`: PSNR per quarter of a video, and last - first quarter
- `perceptual`: LPIPS with torchvision's AlexNet backbone (`v2vtool.io.pretrained`)
- `fid`: Frechet Inception Distance with pytorch-fid's InceptionV3 (`v2vtool.io.pretrained`)
- `temporal`: flow-warping error (OpenCV DIS flow on reference frames, masked L1)
- `pose`: pose error (mean joint distance at a reference resolution) + missing-joint rate

LPIPS and FID fetch their published weights file into the torch hub cache when it is missing
(checked against its SHA-256; never when offline or with `fetch=False`); a metric whose weights
are still missing raises `MetricUnavailable` whose message names the exact path to put it at.
"""
from __future__ import annotations

from v2vtool.metrics.common import MetricUnavailable
from v2vtool.metrics.pose import PoseErrorResult, pose_error
from v2vtool.metrics.reconstruction import l1, psnr, ssim
from v2vtool.metrics.temporal import WarpErrorResult, warp_error

__all__ = [
    "MetricUnavailable", "psnr", "ssim", "l1", "pose_error", "PoseErrorResult", "warp_error",
    "WarpErrorResult",
]
