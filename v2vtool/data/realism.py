"""Making procedural training frames look like camera footage (domain randomisation, Tobin et al.
2017): real photographs behind the dancer, and a camera's blur, noise and compression.

Both act on one training sample at a time, with parameters drawn once per sample (a sample is
one camera and one scene): every frame of the sample — examples and targets alike — gets the
same backdrop and the same camera, so the model learns to carry the look of the examples over,
not to invent one.

- `Backdrop`: a random crop (scale, position, mirror, tint for the gray photos, brightness) of
  one of the redistributable photographs that scikit-image ships (public domain or CC0, see
  `PHOTOS`), composited behind the person with the clip's person mask (feathered by a pixel).
- `Camera`: Gaussian blur (sigma 0.3-1.2 px), sensor noise (std 0.5-3 % of the range, fresh
  per frame) and JPEG compression (quality 35-95), each with probability 1/2, at least one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

# scikit-image's bundled photographs that may be redistributed (their docstrings): astronaut and
# rocket are public domain; camera, coffee, chelsea, brick, grass and gravel are CC0.
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "brick", "grass", "gravel")


@functools.lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """One of `PHOTOS` as (H, W, 3) uint8 RGB (gray photos repeated over the channels)."""
    from skimage import data

    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; one of {', '.join(PHOTOS)}")
    img = np.asarray(getattr(data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


@dataclass(frozen=True)
class Backdrop:
    """A photo crop behind the person: which photo, crop box (fractions), mirror, RGB gain."""

    name: str
    box: tuple[float, float, float]  # x0, y0 (fractions of the photo), side (fraction of min side)
    mirror: bool
    gain: tuple[float, float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Backdrop":
        side = float(rng.uniform(0.35, 1.0))
        x0, y0 = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
        tint = rng.uniform(0.75, 1.25, 3) * rng.uniform(0.7, 1.2)
        return cls(PHOTOS[int(rng.integers(len(PHOTOS)))], (x0, y0, side), bool(rng.random() < 0.5),
                   tuple(float(g) for g in tint))

    def image(self, size: tuple[int, int]) -> np.ndarray:
        """The backdrop at (w, h) (aspect kept by cropping; resampled smoothly)."""
        src = photo(self.name)
        ph, pw = src.shape[:2]
        w, h = size
        side = self.box[2] * min(ph, pw)
        cw, ch = (side, side * h / w) if w >= h else (side * w / h, side)
        cw, ch = min(cw, pw), min(ch, ph)
        x0 = self.box[0] * (pw - cw)
        y0 = self.box[1] * (ph - ch)
        crop = src[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
        out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR)
        if self.mirror:
            out = out[:, ::-1]
        return np.clip(out * np.float32(self.gain), 0, 255).astype(np.uint8)


def composite(frame: np.ndarray, person: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """frame (H, W, 3) uint8, person (H, W) mask (0 / 255), backdrop (H, W, 3) -> the person
    over the backdrop (mask feathered by about a pixel: no jagged outline)."""
    alpha = cv2.GaussianBlur((person > 127).astype(np.float32), (3, 3), 0.8)[..., None]
    return (alpha * frame + (1 - alpha) * backdrop).round().astype(np.uint8)


@dataclass(frozen=True)
class Camera:
    """Blur sigma (px, 0 = none), noise std (fraction of 255, 0 = none), JPEG quality (0 = none),
    and the seed of the per-frame noise."""

    blur: float
    noise: float
    jpeg: int
    seed: int

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Camera":
        on = rng.random(3) < 0.5
        if not on.any():  # a camera look is at least one of them
            on[rng.integers(3)] = True
        blur = float(rng.uniform(0.3, 1.2)) if on[0] else 0.0
        noise = float(rng.uniform(0.005, 0.03)) if on[1] else 0.0
        jpeg = int(rng.integers(35, 96)) if on[2] else 0
        return cls(blur, noise, jpeg, int(rng.integers(2**31)))

    def __call__(self, frame: np.ndarray, index: int) -> np.ndarray:
        """(H, W, 3) uint8 -> the same frame as this camera would record it (frame `index` of
        the sample draws its own noise)."""
        out = frame
        if self.blur > 0:
            out = cv2.GaussianBlur(out, (0, 0), self.blur)
        if self.noise > 0:
            rng = np.random.default_rng([self.seed, index])
            noisy = out + rng.normal(0, 255 * self.noise, out.shape).astype(np.float32)
            out = np.clip(noisy, 0, 255).round().astype(np.uint8)
        if self.jpeg:
            ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
        return out
