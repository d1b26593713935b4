"""Framing: the model's frames (the person view, at the model's resolution) -> written frames.

- `CropFraming` (``--framing crop``; the default for keypoint-only drivers): the model's person
  view resized to the output size, as v2v synthesize always wrote it.
- `FullFraming` (``--framing full``; the default for drivers with pictures): the driver's
  framing and aspect at the output size. The person view is scaled up from the model's
  resolution into the driver's crop box (`data.view.ViewRecord.placement`) and blended over a
  background plate computed once per video:
    * examples that share the driver's camera (same frame size, the synthesizer's
      `background_aligned`): the examples' own frames, each example's person (its keypoints'
      body mask, dilated) cut out; a pixel hidden in one example is taken from the next that
      sees it, and what none sees is inpainted (`data.inpaint`);
    * otherwise: the first example (the model's background plate too) placed so that its
      person-centred crop coincides with the driver's crop, its person cut out, and everything
      it does not cover (past its frame) inpainted: an extension, never bars or stripes.
  Blend: for kinds with a body the model's pixels are used where the driven person is: the
  body mask of the keypoints the model was driven with (after retargeting), dilated by
  PERSON_MARGIN x the model height and feathered over as much again, and faded out over
  FEATHER x the model size at crop edges inside the frame. The rest of the crop comes from the
  full-resolution plate, so the background stays sharp instead of showing the model's low
  resolution, and both show the same scene, so the seam is soft. Kinds without a body (and
  views that cover the whole frame) place the whole model frame (no plate needed).
Per frame the cost is the scale-up and blend of the person's box only (cv2 warps on a region of
interest); the plate and everything per example are computed once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
import torch

from v2vtool.data.inpaint import inpaint
from v2vtool.data.view import ViewRecord, compose, invert, scale_affine
from v2vtool.io.keypoints import Frame, main_person
from v2vtool.synthesis.outputs import attention_panel, resize_to, selection_panel

PERSON_MARGIN = 0.06  # dilation of the driven body mask (x model height) before feathering
FEATHER = 0.06  # fade at crop edges inside the frame (x model width / height)
EXAMPLE_MARGIN = 0.06  # dilation of an example's own body mask before it is cut out


@dataclass
class Framed:
    """One written frame and how it was blended."""

    image: np.ndarray  # (H_out, W_out, 3) uint8
    alpha: np.ndarray | None = None  # (h, w) model-px weight of the model's pixels (full)


def body_mask(frame: Frame | None, size: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 in [0, 1]: the main person's soft body mask (semantics.prior) from a
    keypoint Frame in pixels of `size` (w, h); zeros when nobody is there."""
    from v2vtool.semantics.prior import body_occupancy

    w, h = size
    person = main_person(frame) if frame else None
    if person is None or (person.pose[:, 2] > 0).sum() < 2:
        return np.zeros((h, w), np.float32)
    kp = torch.from_numpy(np.ascontiguousarray(person.pose, np.float32))[None]
    stride = 2 if w % 2 == 0 and h % 2 == 0 else 1
    return body_occupancy(kp, h, w, stride)[0, 0].numpy()


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel)


class CropFraming:
    """The model's person view resized to the output size (module docstring)."""

    blend = "resize"
    background = None

    def __init__(self, record: ViewRecord, example_views: list[np.ndarray]):
        self.record = record
        self.size = record.output_size
        self.model_examples = example_views  # K x (h, w, 3) at the model's resolution

    def frame(self, f) -> Framed:
        return Framed(resize_to(f.image, self.size))

    def semantic(self, semantic: np.ndarray | None) -> np.ndarray | None:
        return resize_to(semantic, self.size)

    def example(self, k: int) -> np.ndarray:
        return resize_to(self.model_examples[k], self.size)

    def attention(self, f, framed: Framed) -> np.ndarray:
        """The attention-map panel at the model's resolution (as before framing existed)."""
        if f.selection is not None:
            return selection_panel(self.model_examples, f.selection, f.image)
        return attention_panel(self.model_examples, f.attention)


class FullFraming:
    """The model's frames placed into the driver's framing (module docstring).

    record: the view on record (framing "full"); example_images: the K examples' source
    images; example_views: their `View`s (source px -> model px); example_people: each
    example's own person, (h, w) bool in its model px (None: map kinds, nothing to cut out);
    same_camera: the examples are frames of the driver's camera; body: the kind has a body
    (blend by the driven person's mask)."""

    def __init__(self, record: ViewRecord, example_images: list[np.ndarray], example_views: list,
                 example_people: list[np.ndarray] | None, same_camera: bool, body: bool):
        self.record = record
        self.size = record.output_size
        self.images = example_images
        self.views = example_views
        self.example_people = example_people
        self.same_camera = same_camera
        mw, mh = record.model_size
        self.place = record.placement()  # model px -> output px
        self.roi = self._roi()
        covers = record.crop.covers(record.driver_size)
        self.blend = "person" if body and not covers else "window"
        self.window = self._window()
        # a plate is needed wherever the model's frame is not used at full weight
        self.background = (None if self.blend == "window" and covers
                           else self._scene_plate())

    # ------------------------------------------------------------------ geometry (once)
    def _roi(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): output pixels whose centres the model frame covers (x1, y1
        exclusive)."""
        mw, mh = self.record.model_size
        ow, oh = self.size
        a = self.place
        lo_x, hi_x = sorted((a[0, 0] * -0.5 + a[0, 2], a[0, 0] * (mw - 0.5) + a[0, 2]))
        lo_y, hi_y = sorted((a[1, 1] * -0.5 + a[1, 2], a[1, 1] * (mh - 0.5) + a[1, 2]))
        return (max(0, math.ceil(lo_x)), max(0, math.ceil(lo_y)),
                min(ow, math.floor(hi_x) + 1), min(oh, math.floor(hi_y) + 1))

    def _window(self) -> np.ndarray:
        """(h, w) model-px weight: 1 inside, fading to 0 over FEATHER x the size at every crop
        edge that lies inside the output frame (edges at or past the frame's border stay 1)."""
        mw, mh = self.record.model_size
        c, (dw, dh) = self.record.crop, self.record.driver_size
        left, top, right, bottom = c.x0 > 0, c.y0 > 0, c.x0 + c.cw < dw, c.y0 + c.ch < dh
        fx, fy = max(1.0, FEATHER * mw), max(1.0, FEATHER * mh)
        xs, ys = np.arange(mw, dtype=np.float32) + 0.5, np.arange(mh, dtype=np.float32) + 0.5
        wx = np.ones(mw, np.float32)
        wy = np.ones(mh, np.float32)
        if left:
            wx = np.minimum(wx, xs / fx)
        if right:
            wx = np.minimum(wx, (mw - xs) / fx)
        if top:
            wy = np.minimum(wy, ys / fy)
        if bottom:
            wy = np.minimum(wy, (mh - ys) / fy)
        return np.clip(wy[:, None] * wx[None, :], 0, 1).astype(np.float32)

    def example_affine(self, k: int) -> np.ndarray:
        """(2, 3): an output pixel -> the pixel of example k's source image that shows the same
        place (same camera: the same frame pixel; else: aligned by the person-centred crops)."""
        to_driver = invert(scale_affine(self.record.driver_size, self.size))
        if self.same_camera:
            return to_driver
        return compose(invert(self.views[k].affine()), self.record.crop.affine(), to_driver)

    def _warp_example(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Example k in the output framing: ((H, W, 3) uint8, (H, W) bool where it has a
        source pixel)."""
        img, a = self.images[k], self.example_affine(k)
        r = math.sqrt(abs(np.linalg.det(a[:, :2])))  # source px per output px
        if r > 2:  # much smaller on output: area-downscale first (no aliasing)
            h, w = img.shape[:2]
            small = (max(1, round(w / r)), max(1, round(h / r)))
            a = compose(scale_affine((w, h), small), a)
            img = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(img, a, self.size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
        ones = np.ones(img.shape[:2], np.float32)
        valid = cv2.warpAffine(ones, a, self.size, flags=flags,
                               borderMode=cv2.BORDER_CONSTANT) > 0.999
        return warped, valid

    def _example_person(self, k: int) -> np.ndarray | None:
        """(H, W) bool: example k's own person (dilated) in the output framing."""
        if not self.example_people:
            return None
        mh = self.record.model_size[1]
        mask = _dilate(self.example_people[k].astype(np.uint8), round(EXAMPLE_MARGIN * mh))
        to_model = compose(self.views[k].affine(), self.example_affine(k))
        placed = cv2.warpAffine(mask.astype(np.float32), to_model, self.size,
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT)
        return placed > 0.01

    def _scene_plate(self) -> np.ndarray:
        """(H, W, 3) uint8: the scene behind the person in the output framing (docstring)."""
        ow, oh = self.size
        plate = np.zeros((oh, ow, 3), np.uint8)
        filled = np.zeros((oh, ow), bool)
        for k in range(len(self.images)) if self.same_camera else [0]:
            warped, valid = self._warp_example(k)
            person = self._example_person(k)
            if person is not None:
                valid &= ~person
            take = valid & ~filled
            plate[take] = warped[take]
            filled |= take
        return inpaint(plate, ~filled)

    @cached_property
    def _example_panels(self) -> list[np.ndarray]:
        panels = []
        for k in range(len(self.images)):
            warped, valid = self._warp_example(k)
            panels.append(inpaint(warped, ~valid))
        return panels

    # ------------------------------------------------------------------ per frame
    def alpha(self, f) -> np.ndarray:
        """(h, w) float32 model-px weight of the model's pixels in this frame."""
        if self.blend != "person":
            return self.window
        mw, mh = self.record.model_size
        occ = body_mask(f.driving, (mw, mh))
        r = max(1, round(PERSON_MARGIN * mh))
        mask = _dilate((occ > 0.05).astype(np.float32), r)
        soft = cv2.GaussianBlur(mask, (0, 0), r / 2)
        return soft * self.window

    def _warp_roi(self, src: np.ndarray, box: tuple[int, int, int, int], interp: int,
                  border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        x0, y0, x1, y1 = box
        a = self.place.copy()
        a[:, 2] -= (x0, y0)
        return cv2.warpAffine(src, a, (x1 - x0, y1 - y0), flags=interp, borderMode=border)

    def _box(self, alpha: np.ndarray) -> tuple[int, int, int, int] | None:
        """The output region where alpha > 0 (within the crop's region), or None."""
        if self.blend != "person":
            return self.roi
        ys, xs = np.nonzero(alpha > 1 / 512)
        if len(xs) == 0:
            return None
        a = self.place
        bx0 = math.floor(a[0, 0] * (xs.min() - 1) + a[0, 2])
        bx1 = math.ceil(a[0, 0] * (xs.max() + 1) + a[0, 2]) + 1
        by0 = math.floor(a[1, 1] * (ys.min() - 1) + a[1, 2])
        by1 = math.ceil(a[1, 1] * (ys.max() + 1) + a[1, 2]) + 1
        x0, y0, x1, y1 = self.roi
        box = (max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1))
        return box if box[2] > box[0] and box[3] > box[1] else None

    def frame(self, f) -> Framed:
        """The model frame f.image (h, w, 3) scaled up into the crop box and blended."""
        alpha = self.alpha(f)
        if self.background is None:  # the model's frame covers the output: place it
            return Framed(self._warp_roi(f.image, (0, 0, *self.size), cv2.INTER_CUBIC), alpha)
        out = self.background.copy()
        box = self._box(alpha)
        if box is None:
            return Framed(out, alpha)
        x0, y0, x1, y1 = box
        img = self._warp_roi(f.image, box, cv2.INTER_CUBIC)
        a = self._warp_roi(alpha, box, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
        out[y0:y1, x0:x1] = cv2.blendLinear(img, out[y0:y1, x0:x1], a, 1 - a)
        return Framed(out, alpha)

    def semantic(self, semantic: np.ndarray | None) -> np.ndarray | None:
        """A model-px semantic map placed on black in the output framing."""
        if semantic is None:
            return None
        ow, oh = self.size
        out = np.zeros((oh, ow) + semantic.shape[2:], semantic.dtype)
        x0, y0, x1, y1 = self.roi
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = self._warp_roi(semantic, self.roi, cv2.INTER_NEAREST,
                                               cv2.BORDER_CONSTANT).reshape(
                (y1 - y0, x1 - x0) + semantic.shape[2:])
        return out

    def example(self, k: int) -> np.ndarray:
        """Example k in the output framing (extended by inpainting where it has no source)."""
        return self._example_panels[k]

    def selection(self, selection: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """(K + 1, h, w) per-pixel example weights -> (K + 1, H, W) in the output framing: the
        model's choice where its pixels are used, the plate (last) elsewhere."""
        ow, oh = self.size
        k1 = selection.shape[0]
        out = np.zeros((k1, oh, ow), np.float32)
        out[-1] = 1
        x0, y0, x1, y1 = self.roi
        if x1 <= x0 or y1 <= y0:
            return out
        a = self._warp_roi(alpha, self.roi, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
        for i in range(k1):
            s = self._warp_roi(np.ascontiguousarray(selection[i], np.float32), self.roi,
                               cv2.INTER_LINEAR)
            out[i, y0:y1, x0:x1] = a * s + (1 - a) * out[i, y0:y1, x0:x1]
        return out

    def attention_maps(self, attention: np.ndarray | None) -> np.ndarray | None:
        """(K, h, w) attention over each example's model crop -> (K, H, W) over that example
        in the output framing (zero where the crop does not reach)."""
        if attention is None:
            return None
        mw, mh = self.record.model_size
        out = []
        for k, att in enumerate(np.asarray(attention, np.float32)):
            att = cv2.resize(att, (mw, mh), interpolation=cv2.INTER_LINEAR)
            to_model = compose(self.views[k].affine(), self.example_affine(k))
            out.append(cv2.warpAffine(att, to_model, self.size,
                                      flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                      borderMode=cv2.BORDER_CONSTANT))
        return np.stack(out)

    def attention(self, f, framed: Framed) -> np.ndarray:
        """The attention-map panel in the output framing: the K examples as framed here, and
        the output tinted by the chosen example (keypoint-prior models), or each example tinted
        by its attention."""
        panels = [self.example(k) for k in range(len(self.images))]
        if f.selection is not None:
            return selection_panel(panels, self.selection(f.selection, framed.alpha),
                                   framed.image)
        return attention_panel(panels, self.attention_maps(f.attention))


def example_people(keypoints: list[Frame] | None, size: tuple[int, int]
                   ) -> list[np.ndarray] | None:
    """Each example's own person in its model px ((h, w) bool): its keypoints' body mask (the
    keypoint prior's occupancy); None without keypoints."""
    if not keypoints:
        return None
    return [body_mask(f, size) > 0.05 for f in keypoints]


def make_framing(framing: str, synth, record: ViewRecord, example_images: list[np.ndarray]):
    """The framing of one synthesizer run (`synth.view` and `synth.background_aligned` set)."""
    ex = synth.examples
    if framing == "crop":
        return CropFraming(record, ex.images)
    people = None
    if synth.spec.body:  # the silhouettes the model uses (segmentation where there is one)
        people = ex.people or example_people(ex.keypoints, record.model_size)
    return FullFraming(record, example_images, ex.views, people,
                       synth.background_aligned, synth.spec.body)
