"""Identity = appearance: body proportions, skin, hair, clothes (front differs from back) and a
background, all drawn from one random generator. Everything is plain JSON-able data so that the
dataset manifest can rebuild an identity exactly (`Identity.from_dict(a.to_dict()) == a`).

Lengths are in body units (standing height ~ 1); colours are RGB int triples; positions in the
background are fractions of the frame, so one identity renders at any size.
"""
from __future__ import annotations

import colorsys
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

HAIR_STYLES = ("short", "long", "bun", "ponytail", "afro", "bald")
PATTERNS = ("solid", "hstripes", "vstripes", "checks", "dots", "logo", "panel")
BOTTOMS = ("trousers", "shorts", "skirt")
WALL_TEXTURES = ("plain", "noise", "wallpaper", "bricks")
FLOOR_TEXTURES = ("plain", "planks", "tiles", "noise")
SKIN_TONES = ((255, 224, 196), (241, 194, 160), (224, 172, 125), (198, 134, 94),
              (160, 102, 66), (118, 74, 48), (92, 58, 38), (234, 190, 150))
HAIR_COLOURS = ((20, 18, 18), (58, 36, 24), (96, 62, 36), (150, 88, 42), (214, 176, 104),
                (170, 170, 170), (120, 40, 30), (40, 60, 150), (200, 80, 150))
SHOE_COLOURS = ((240, 240, 240), (25, 25, 25), (190, 40, 40), (110, 70, 40), (40, 90, 190))
TEX_W, TEX_H = 96, 128  # master resolution of clothing textures (u across, v down the torso)


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _jitter(rng: np.random.Generator, colour, amount: int = 12) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


@dataclass(frozen=True)
class Identity:
    """One synthetic person. See module docstring for units."""

    # body (units: standing height ~ 1)
    height: float = 0.8  # body height as a fraction of the frame height
    head_r: float = 0.065
    torso_len: float = 0.30
    shoulder_w: float = 0.23
    hip_w: float = 0.12
    torso_depth: float = 0.13
    upper_arm: float = 0.17
    forearm: float = 0.15
    thigh: float = 0.24
    shin: float = 0.23
    limb_r: float = 0.028
    # colours and styles
    skin: tuple = (224, 172, 125)
    hair_style: str = "short"
    hair: tuple = (20, 18, 18)
    top: tuple = (200, 40, 40)
    top2: tuple = (250, 250, 250)
    sleeves: str = "short"  # short | long
    front: str = "solid"
    back: str = "hstripes"
    logo: str = "circle"
    bottoms: str = "trousers"
    bottoms_colour: tuple = (40, 60, 120)
    shoes: tuple = (240, 240, 240)
    # background
    wall: tuple = (200, 200, 210)
    wall2: tuple = (150, 150, 170)
    wall_texture: str = "plain"
    floor_y: float = 0.7
    floor: tuple = (140, 110, 80)
    floor2: tuple = (100, 80, 60)
    floor_texture: str = "planks"
    objects: tuple = field(default_factory=tuple)  # dicts: kind, x, y, w, h, colour
    texture_seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["objects"] = [dict(o) for o in self.objects]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Identity":
        kw = {}
        for k, v in d.items():
            if k == "objects":
                kw[k] = tuple({kk: (tuple(vv) if isinstance(vv, list) else vv)
                               for kk, vv in o.items()} for o in v)
            elif isinstance(v, list):
                kw[k] = tuple(v)
            else:
                kw[k] = v
        return cls(**kw)


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw one identity. Front and back patterns always differ."""
    u = lambda lo, hi: float(round(rng.uniform(lo, hi), 4))  # noqa: E731
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    top_h = rng.uniform()
    top = _rgb(top_h, u(0.35, 0.9), u(0.35, 0.95))
    top2 = _rgb(top_h + rng.uniform(0.25, 0.75), u(0.1, 0.9), u(0.6, 1.0))
    front = pick(PATTERNS)
    back = pick(tuple(p for p in PATTERNS if p != front))
    bottoms_colour = pick(((40, 60, 120), (30, 30, 35), (190, 170, 120), (120, 120, 125),
                           _rgb(rng.uniform(), u(0.3, 0.8), u(0.25, 0.8))))
    wall_h = rng.uniform()
    objects = []
    for _ in range(int(rng.integers(1, 4))):
        left = bool(rng.integers(2))
        x = u(0.03, 0.22) if left else u(0.68, 0.85)
        kind = pick(("frame", "window", "lamp", "box", "plant"))
        objects.append({"kind": kind, "x": x, "y": u(0.12, 0.4), "w": u(0.1, 0.16),
                        "h": u(0.1, 0.2), "colour": _rgb(rng.uniform(), u(0.3, 0.9),
                                                          u(0.3, 0.9))})
    return Identity(
        height=u(0.72, 0.84), head_r=u(0.058, 0.072), torso_len=u(0.28, 0.32),
        shoulder_w=u(0.19, 0.27), hip_w=u(0.10, 0.15), torso_depth=u(0.11, 0.15),
        upper_arm=u(0.155, 0.18), forearm=u(0.14, 0.16), thigh=u(0.22, 0.26),
        shin=u(0.21, 0.25), limb_r=u(0.027, 0.037),
        skin=_jitter(rng, pick(SKIN_TONES), 8), hair_style=pick(HAIR_STYLES),
        hair=_jitter(rng, pick(HAIR_COLOURS), 10), top=top, top2=top2,
        sleeves=pick(("short", "long")), front=front, back=back,
        logo=pick(("circle", "star", "triangle", "ring", "bar")),
        bottoms=pick(BOTTOMS), bottoms_colour=_jitter(rng, bottoms_colour, 10),
        shoes=pick(SHOE_COLOURS),
        wall=_rgb(wall_h, u(0.05, 0.45), u(0.55, 0.95)),
        wall2=_rgb(wall_h + rng.uniform(-0.1, 0.1), u(0.05, 0.5), u(0.3, 0.8)),
        wall_texture=pick(WALL_TEXTURES), floor_y=u(0.6, 0.76),
        floor=_rgb(rng.uniform(0.02, 0.15), u(0.2, 0.6), u(0.3, 0.75)),
        floor2=_rgb(rng.uniform(), u(0.0, 0.4), u(0.15, 0.5)),
        floor_texture=pick(FLOOR_TEXTURES), objects=tuple(objects),
        texture_seed=int(rng.integers(2**31)),
    )


# ---------------------------------------------------------------- textures
def _shape(img: np.ndarray, kind: str, cx: float, cy: float, r: float, colour) -> None:
    s = 4
    P = lambda x, y: (int(round(x * 16)), int(round(y * 16)))  # noqa: E731
    if kind in ("circle", "ring"):
        cv2.circle(img, P(cx, cy), int(r * 16), colour, -1 if kind == "circle" else
                   max(1, int(r * 0.35)), cv2.LINE_AA, s)
    elif kind == "triangle":
        pts = np.array([P(cx, cy - r), P(cx + r, cy + 0.8 * r), P(cx - r, cy + 0.8 * r)])
        cv2.fillConvexPoly(img, pts, colour, cv2.LINE_AA, s)
    elif kind == "star":
        ang = np.arange(10) * np.pi / 5 - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        pts = np.array([P(cx + a * np.cos(t), cy + a * np.sin(t)) for t, a in zip(ang, rad)])
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA, s)
    else:  # bar
        cv2.rectangle(img, P(cx - r, cy - 0.35 * r), P(cx + r, cy + 0.35 * r), colour, -1,
                      cv2.LINE_AA, s)


def clothing_texture(app: Identity, side: str) -> np.ndarray:
    """(TEX_H, TEX_W, 4) uint8 RGBA pattern layer over the torso (alpha 0 = plain top colour).

    u runs across the torso as seen by the camera, v from the shoulders down to the hips.
    """
    kind = app.front if side == "front" else app.back
    rgba = np.zeros((TEX_H, TEX_W, 4), np.uint8)
    c = (*app.top2, 255)
    rng = np.random.default_rng([app.texture_seed, 0 if side == "front" else 1])
    if kind == "hstripes":
        period = int(rng.integers(14, 26))
        for y in range(int(rng.integers(0, period)), TEX_H, period):
            cv2.rectangle(rgba, (0, y), (TEX_W, y + period // 2 - 1), c, -1)
    elif kind == "vstripes":
        period = int(rng.integers(12, 22))
        for x in range(int(rng.integers(0, period)), TEX_W, period):
            cv2.rectangle(rgba, (x, 0), (x + period // 2 - 1, TEX_H), c, -1)
    elif kind == "checks":
        cell = int(rng.integers(12, 20))
        yy, xx = np.mgrid[0:TEX_H, 0:TEX_W]
        on = ((yy // cell) + (xx // cell)) % 2 == 0
        rgba[on] = c
    elif kind == "dots":
        step = int(rng.integers(14, 22))
        for j, y in enumerate(range(step // 2, TEX_H, step)):
            for x in range(step // 2 + (step // 2) * (j % 2), TEX_W, step):
                _shape(rgba, "circle", x, y, step * 0.28, c)
    elif kind == "logo":
        _shape(rgba, app.logo, TEX_W / 2, TEX_H * 0.36, TEX_W * 0.24, c)
    elif kind == "panel":  # a contrasting yoke across the chest / shoulder blades
        cv2.rectangle(rgba, (0, 0), (TEX_W, int(TEX_H * 0.3)), c, -1)
        cv2.rectangle(rgba, (0, int(TEX_H * 0.3)), (TEX_W, int(TEX_H * 0.36)),
                      (*app.top, 255), -1)
    return rgba


# ---------------------------------------------------------------- background
def _noise(seed: int, salt: int, w: int, h: int, cells: int = 16) -> np.ndarray:
    """Smooth value noise in [-1, 1], (h, w) float32, same pattern at every size."""
    grid = np.random.default_rng([seed, salt]).uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def render_background(app: Identity, size) -> np.ndarray:
    """(H, W, 3) uint8 for size = S (square) or (W, H): wall gradient + texture, floor with
    texture, a few objects (positions are fractions of W and H)."""
    W, H = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    S = min(W, H)
    fy = int(round(app.floor_y * H))
    t = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None, None]
    img = (np.asarray(app.wall, np.float32) * (1 - t) + np.asarray(app.wall2, np.float32) * t)
    img = np.repeat(img, W, axis=1)
    ft = np.clip((t - app.floor_y) / max(1e-3, 1 - app.floor_y), 0, 1)
    floor = np.asarray(app.floor, np.float32) * (1 - 0.5 * ft) + \
        np.asarray(app.floor2, np.float32) * 0.5 * ft
    img[fy:] = np.repeat(floor, W, axis=1)[fy:]
    if app.wall_texture == "noise":
        img[:fy] += 14 * _noise(app.texture_seed, 1, W, H)[:fy, :, None]
    if app.floor_texture == "noise":
        img[fy:] += 18 * _noise(app.texture_seed, 2, W, H)[fy:, :, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    sh, lw = 4, max(1, S // 128)
    P = lambda x, y: (int(round(x * W * 16)), int(round(y * H * 16)))  # noqa: E731
    dark = lambda c, f: tuple(int(v * f) for v in c)  # noqa: E731
    if app.wall_texture == "wallpaper":
        for x in np.arange(0.04, 1.0, 0.08):
            cv2.line(img, P(x, 0), P(x, app.floor_y), dark(app.wall, 0.9), lw, cv2.LINE_AA, sh)
    elif app.wall_texture == "bricks":
        for j, y in enumerate(np.arange(0.05, app.floor_y, 0.05)):
            cv2.line(img, P(0, y), P(1, y), dark(app.wall, 0.85), lw, cv2.LINE_AA, sh)
            for x in np.arange(0.05 * (j % 2), 1.0, 0.1):
                cv2.line(img, P(x, y - 0.05), P(x, y), dark(app.wall, 0.85), lw, cv2.LINE_AA, sh)
    if app.floor_texture == "planks":
        y, step = app.floor_y, 0.02
        while y < 1.0:
            cv2.line(img, P(0, y), P(1, y), dark(app.floor, 0.8), lw, cv2.LINE_AA, sh)
            step *= 1.35
            y += step
    elif app.floor_texture == "tiles":
        for x in np.arange(-1.0, 2.0, 0.12):
            cv2.line(img, P(0.5 + (x - 0.5) * 0.35, app.floor_y), P(x, 1.0),
                     dark(app.floor, 0.8), lw, cv2.LINE_AA, sh)
        y, step = app.floor_y, 0.03
        while y < 1.0:
            cv2.line(img, P(0, y), P(1, y), dark(app.floor, 0.8), lw, cv2.LINE_AA, sh)
            step *= 1.4
            y += step
    cv2.line(img, P(0, app.floor_y), P(1, app.floor_y), dark(app.wall2, 0.6), 2 * lw,
             cv2.LINE_AA, sh)
    for o in app.objects:
        x, y, w, h, c = o["x"], o["y"], o["w"], o["h"], tuple(o["colour"])
        if o["kind"] in ("frame", "window"):
            cv2.rectangle(img, P(x, y), P(x + w, y + h), c, -1, cv2.LINE_AA, sh)
            cv2.rectangle(img, P(x, y), P(x + w, y + h), dark(c, 0.5), 2 * lw, cv2.LINE_AA, sh)
            if o["kind"] == "window":
                cv2.line(img, P(x + w / 2, y), P(x + w / 2, y + h), dark(c, 0.5), lw,
                         cv2.LINE_AA, sh)
                cv2.line(img, P(x, y + h / 2), P(x + w, y + h / 2), dark(c, 0.5), lw,
                         cv2.LINE_AA, sh)
        elif o["kind"] == "lamp":
            cv2.circle(img, P(x + w / 2, y), int(w / 2.5 * S * 16), c, -1, cv2.LINE_AA, sh)
        else:  # box / plant standing on the floor line
            base = app.floor_y + 0.03
            if o["kind"] == "box":
                cv2.rectangle(img, P(x, base - h), P(x + w, base), c, -1, cv2.LINE_AA, sh)
                cv2.rectangle(img, P(x, base - h), P(x + w, base), dark(c, 0.6), lw,
                              cv2.LINE_AA, sh)
            else:
                cv2.rectangle(img, P(x + w * 0.25, base - 0.06), P(x + w * 0.75, base),
                              (150, 80, 50), -1, cv2.LINE_AA, sh)
                cv2.ellipse(img, P(x + w / 2, base - 0.06 - h / 3),
                            (int(w / 2 * S * 16), int(h / 3 * S * 16)), 0, 0, 360,
                            (40, 120, 50), -1, cv2.LINE_AA, sh)
    return img
