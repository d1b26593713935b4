"""Training augmentation: person-centred crop, horizontal flip with left/right swap, colour jitter.

All geometric augmentation of one training sample goes through one `View`: a crop box in the
source frame (possibly reaching outside it; padded by edge replication in training, by the
inpainted extension of the frame for synthesis inputs) resized to the training size, then an
optional horizontal flip. Frames, stored semantic maps and keypoints are mapped
with the same `View`, so rendered skeletons line up with the pixels exactly (cv2 pixel-centre
convention: a source pixel centre x maps to (x - x0 + 0.5) * W / cw - 0.5).

The random parameters of a sample are drawn once (examples and targets share them), from a
numpy Generator the dataset derives from (seed, step, rank, index) — so a sample is a pure
function of its key (exact resume, any number of DataLoader workers).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from v2vtool.io.keypoints import BODY_25_FLIP, Frame, Person

# iBUG 68-point face (+2 pupils) left/right permutation for horizontal flips.
FACE_70_FLIP = tuple(
    list(range(16, -1, -1))                       # jaw 0..16 reversed
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows 17..21 <-> 26..22
    + [27, 28, 29, 30]                            # nose bridge
    + [35, 34, 33, 32, 31]                        # nostrils
    + [45, 44, 43, 42, 47, 46]                    # right eye 36..41 <- left eye
    + [39, 38, 37, 36, 41, 40]                    # left eye 42..47 <- right eye
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65]            # inner lips
    + [69, 68]                                    # pupils
)


@dataclass(frozen=True)
class View:
    """Crop box (x0, y0, cw, ch) in source pixels -> (W, H) output, then optional flip."""

    x0: int
    y0: int
    cw: int
    ch: int
    out_w: int
    out_h: int
    flip: bool = False

    @property
    def scale(self) -> tuple[float, float]:
        return self.out_w / self.cw, self.out_h / self.ch

    def _crop(self, img: np.ndarray, border: int, value) -> np.ndarray:
        h, w = img.shape[:2]
        x0, y0, x1, y1 = self.x0, self.y0, self.x0 + self.cw, self.y0 + self.ch
        pad = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
        if any(pad):
            img = cv2.copyMakeBorder(img, *pad, border, value=value)
            x0, x1, y0, y1 = x0 + pad[2], x1 + pad[2], y0 + pad[0], y1 + pad[0]
        return img[y0:y1, x0:x1]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The crop box (x0, y0, cw, ch) in source pixels."""
        return self.x0, self.y0, self.cw, self.ch

    def affine(self) -> np.ndarray:
        """(2, 3) float64: a source pixel -> its place in this view's output (no flip; pixel
        centres: x -> (x - x0 + 0.5) W / cw - 0.5)."""
        if self.flip:
            raise ValueError("affine: flipped views are not supported")
        sx, sy = self.scale
        return np.array([[sx, 0, (0.5 - self.x0) * sx - 0.5],
                         [0, sy, (0.5 - self.y0) * sy - 0.5]], np.float64)

    def covers(self, size: tuple[int, int]) -> bool:
        """Whether the crop box contains the whole source frame of `size` (w, h)."""
        return (self.x0 <= 0 and self.y0 <= 0 and self.x0 + self.cw >= size[0]
                and self.y0 + self.ch >= size[1])

    def inside(self, size: tuple[int, int]) -> bool:
        """Whether the crop box lies within a source frame of `size` (w, h)."""
        return (self.x0 >= 0 and self.y0 >= 0 and self.x0 + self.cw <= size[0]
                and self.y0 + self.ch <= size[1])

    def image(self, img: np.ndarray, outside: str = "replicate") -> np.ndarray:
        """(h, w, 3) uint8 frame -> (H, W, 3) uint8 (area / linear resampling). Where the box
        runs past the frame: outside="replicate" repeats the edge pixels (training), "inpaint"
        fills it from the frame by `data.inpaint` (no replicated stripes: synthesis inputs)."""
        if outside == "inpaint" and not self.inside((img.shape[1], img.shape[0])):
            from v2vtool.data.inpaint import inpaint

            out = inpaint(self._crop(img, cv2.BORDER_CONSTANT, 0),
                          self._crop(np.zeros(img.shape[:2], np.uint8), cv2.BORDER_CONSTANT, 1))
        elif outside in ("replicate", "inpaint"):
            out = self._crop(img, cv2.BORDER_REPLICATE, 0)
        else:
            raise ValueError(f"image: outside={outside!r} (replicate or inpaint)")
        if out.shape[1] != self.out_w or out.shape[0] != self.out_h:
            shrink = out.shape[1] > self.out_w
            out = cv2.resize(out, (self.out_w, self.out_h),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return np.ascontiguousarray(out[:, ::-1]) if self.flip else out

    def label(self, img: np.ndarray, fill: int = 0) -> np.ndarray:
        """Stored semantic map / mask -> training size with nearest-neighbour resampling."""
        out = self._crop(img, cv2.BORDER_CONSTANT, fill)
        if out.shape[1] != self.out_w or out.shape[0] != self.out_h:
            out = cv2.resize(out, (self.out_w, self.out_h), interpolation=cv2.INTER_NEAREST)
        return np.ascontiguousarray(out[:, ::-1]) if self.flip else out

    def map_to(self, other: "View") -> np.ndarray:
        """(2, 3) affine: a pixel of this view's output -> the pixel of `other`'s output that
        shows the same source pixel (two crops of frames from one camera; no flips)."""
        if self.flip or other.flip:
            raise ValueError("map_to: flipped views are not supported")
        a = np.zeros((2, 3), np.float32)
        for axis, (x0, c, n, ox0, oc, on) in enumerate(
                ((self.x0, self.cw, self.out_w, other.x0, other.cw, other.out_w),
                 (self.y0, self.ch, self.out_h, other.y0, other.ch, other.out_h))):
            # out -> source: s = (m + 0.5) c / n + x0 - 0.5; source -> other: (s - ox0 + 0.5) on / oc - 0.5
            scale = (c / n) * (on / oc)
            a[axis, axis] = scale
            a[axis, 2] = (0.5 * c / n + x0 - ox0) * (on / oc) - 0.5
        return a

    def keypoints(self, frame: Frame) -> Frame:
        """Keypoints in source pixels -> output pixels (with left/right swap when flipped)."""
        sx, sy = self.scale
        out = []
        for p in frame:
            scale = np.array([sx, sy], np.float32)
            offset = np.array([(0.5 - self.x0) * sx - 0.5, (0.5 - self.y0) * sy - 0.5],
                              np.float32)
            q = p.transformed(scale, offset)
            if self.flip:
                q = flip_person(q, self.out_w)
            out.append(q)
        return out


def flip_person(p: Person, width: int) -> Person:
    """Mirror a person horizontally in an image of `width` px; swap left/right parts."""
    def mirror(a: np.ndarray, perm=None) -> np.ndarray:
        b = a.copy()
        found = b[:, 2] > 0
        b[found, 0] = (width - 1) - b[found, 0]
        return b[list(perm)] if perm is not None else b

    face_perm = FACE_70_FLIP if p.face.shape[0] == 70 else None
    return Person(pose=mirror(p.pose, BODY_25_FLIP), face=mirror(p.face, face_perm),
                  hand_left=mirror(p.hand_right), hand_right=mirror(p.hand_left))


def body_box(frame: Frame) -> tuple[float, float, float] | None:
    """(centre x, centre y, height) of the main (tallest) person's found BODY_25 joints."""
    best = None
    for p in frame:
        pts = p.pose[p.pose[:, 2] > 0.05, :2]
        if len(pts) < 2:
            continue
        lo, hi = pts.min(0), pts.max(0)
        height = float(hi[1] - lo[1])
        if best is None or height > best[2]:
            best = (float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2, height)
    return best


def make_view(src_size: tuple[int, int], out_size: tuple[int, int], frames: list[Frame] | None,
              crop: bool, crop_scale: float, flip: bool) -> View:
    """Person-centred crop (crop_scale x the median body height, output aspect) or full frame.

    The box is shared by all frames of a sample (mean body centre over `frames`), so the
    virtual camera does not jitter within a training window. Full frame when cropping is off
    or nobody is found.
    """
    w, h = src_size
    out_w, out_h = out_size
    boxes = [b for b in (body_box(f) for f in frames or []) if b is not None] if crop else []
    if not boxes:
        return View(0, 0, w, h, out_w, out_h, flip)
    cx = float(np.mean([b[0] for b in boxes]))
    cy = float(np.mean([b[1] for b in boxes]))
    bh = float(np.median([b[2] for b in boxes]))
    ch = max(8, int(round(crop_scale * max(bh, 1.0))))
    cw = max(8, int(round(ch * out_w / out_h)))
    return View(int(round(cx - cw / 2)), int(round(cy - ch / 2)), cw, ch, out_w, out_h, flip)


@dataclass(frozen=True)
class ColorJitter:
    """Brightness / contrast / saturation / per-channel gain, shared by all frames of a sample."""

    brightness: float = 0.0
    contrast: float = 1.0
    saturation: float = 1.0
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @classmethod
    def sample(cls, rng: np.random.Generator, strength: float) -> "ColorJitter":
        if strength <= 0:
            return cls()
        u = lambda: float(rng.uniform(-strength, strength))  # noqa: E731
        return cls(u(), 1 + u(), 1 + u(), (1 + u() / 2, 1 + u() / 2, 1 + u() / 2))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., 3, H, W) in [-1, 1] -> same shape, clamped to [-1, 1]."""
        if self == ColorJitter():
            return x
        y = (x + 1) / 2
        y = y * torch.tensor(self.gains, dtype=y.dtype).view(3, 1, 1)
        gray = (0.299 * y[..., 0:1, :, :] + 0.587 * y[..., 1:2, :, :] + 0.114 * y[..., 2:3, :, :])
        y = gray + (y - gray) * self.saturation
        mean = gray.mean(dim=(-3, -2, -1), keepdim=True)
        y = mean + (y - mean) * self.contrast + self.brightness
        return (y.clamp(0, 1) * 2 - 1)


def to_tensor_image(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 127.5 - 1.0
