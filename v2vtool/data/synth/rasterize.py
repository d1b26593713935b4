"""Keypoints + appearance -> (frame, person mask). The picture is a function of the BODY_25 and
face keypoints alone (plus the identity), so an identity can be rendered exactly for any
driving motion (`render_identity`).

What the 2D keypoints tell the renderer:
- scale: pixels per body unit = |Neck - MidHip| / torso_len;
- the turn: cos(yaw) from the signed shoulder + hip widths, sin(yaw) from where the feet point
  (heel -> toes); together they pick front/back clothing patterns, where the face is, which
  side is near (far limbs are drawn first, behind the torso, and darker);
- the head centre is the midpoint of the ears; the face is drawn from the 70 face points,
  which exist only while the face is visible.
Drawing: OpenCV anti-aliased polygons / circles at 1/16 px precision, two-tone shading (a dark
rim and a lit core offset towards the upper left), a soft floor shadow. Deterministic bytes.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from v2vtool.data.synth.appearance import TEX_H, TEX_W, Identity, clothing_texture
from v2vtool.data.synth.motion import FOOT_LEN, HEEL_BACK, TURNOUT
from v2vtool.io.keypoints import Person

SHIFT, ONE = 4, 16.0
AA = cv2.LINE_AA
J = {n: i for i, n in enumerate((
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"))}


def _fix(p) -> tuple[int, int]:
    """Pixel coordinates -> OpenCV fixed point (1/16 px)."""
    return math.floor(float(p[0]) * ONE + 0.5), math.floor(float(p[1]) * ONE + 0.5)


@functools.lru_cache(maxsize=4096)
def _shade(c: tuple, f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(v * f)))) for v in c)


def _col(c, f: float = 1.0) -> tuple[int, int, int]:
    return _shade(tuple(int(v) for v in c), round(float(f), 4))


class Canvas:
    """An RGB frame and its person mask, drawn together (mask without anti-aliasing)."""

    def __init__(self, frame: np.ndarray):
        self.img = frame
        self.mask = np.zeros(frame.shape[:2], np.uint8)

    def circle(self, c, r: float, colour, mask: bool = True) -> None:
        rr = max(1, math.floor(r * ONE + 0.5))
        fc = _fix(c)
        cv2.circle(self.img, fc, rr, colour, -1, AA, SHIFT)
        if mask:
            cv2.circle(self.mask, fc, rr, 255, -1, cv2.LINE_8, SHIFT)

    def poly(self, pts, colour, mask: bool = True) -> None:
        arr = np.floor(np.asarray(pts, np.float64) * ONE + 0.5).astype(np.int32)
        cv2.fillPoly(self.img, [arr], colour, AA, SHIFT)
        if mask:
            cv2.fillPoly(self.mask, [arr], 255, cv2.LINE_8, SHIFT)

    def ellipse(self, c, axes, colour, mask: bool = True) -> None:
        ax = (max(1, int(round(axes[0] * ONE))), max(1, int(round(axes[1] * ONE))))
        cv2.ellipse(self.img, _fix(c), ax, 0, 0, 360, colour, -1, AA, SHIFT)
        if mask:
            cv2.ellipse(self.mask, _fix(c), ax, 0, 0, 360, 255, -1, cv2.LINE_8, SHIFT)

    def capsule(self, a, b, ra: float, rb: float, colour, mask: bool = True) -> None:
        ax, ay, bx, by = float(a[0]), float(a[1]), float(b[0]), float(b[1])
        dx, dy = bx - ax, by - ay
        n = math.hypot(dx, dy)
        fa, fb = _fix((ax, ay)), _fix((bx, by))
        rra, rrb = max(1, math.floor(ra * ONE + 0.5)), max(1, math.floor(rb * ONE + 0.5))
        quad = None
        if n > 1e-6:
            px, py = -dy / n * ONE, dx / n * ONE
            A, B = (ax * ONE, ay * ONE), (bx * ONE, by * ONE)
            quad = np.array([[A[0] + px * ra, A[1] + py * ra], [B[0] + px * rb, B[1] + py * rb],
                             [B[0] - px * rb, B[1] - py * rb], [A[0] - px * ra, A[1] - py * ra]])
            quad = np.floor(quad + 0.5).astype(np.int32)
        targets = ((self.img, colour, AA), (self.mask, 255, cv2.LINE_8)) if mask else \
            ((self.img, colour, AA),)
        for img, col, lt in targets:
            if quad is not None:
                cv2.fillConvexPoly(img, quad, col, lt, SHIFT)
            cv2.circle(img, fa, rra, col, -1, lt, SHIFT)
            cv2.circle(img, fb, rrb, col, -1, lt, SHIFT)

    def shaded_capsule(self, a, b, ra: float, rb: float, colour, light: float = 1.0) -> None:
        """Dark rim + lit core shifted towards the upper left: reads as a cylinder."""
        self.capsule(a, b, ra, rb, _col(colour, 0.72 * light))
        k = (ra + rb) / 2
        o1, o2 = -0.12 * k, -0.28 * k
        self.capsule((a[0] + o1, a[1] + o1), (b[0] + o1, b[1] + o1), ra * 0.8, rb * 0.8,
                     _col(colour, 0.88 * light), mask=False)
        self.capsule((a[0] + o2, a[1] + o2), (b[0] + o2, b[1] + o2), ra * 0.5, rb * 0.5,
                     _col(colour, light), mask=False)


class Renderer:
    """Renders one identity at one frame size; caches the background and textures."""

    def __init__(self, app: Identity, size: int, background: np.ndarray):
        self.app, self.size, self.bg = app, size, background
        total = app.torso_len + 0.03 + 2 * app.head_r + app.thigh + app.shin + 0.03
        tex_w = int(np.clip(app.shoulder_w / total * app.height * size * 1.3, 8, TEX_W))
        tex_h = int(round(tex_w * TEX_H / TEX_W))
        self.tex = {}
        for side in ("front", "back"):
            t = clothing_texture(app, side)
            self.tex[side] = cv2.resize(t, (tex_w, tex_h), interpolation=cv2.INTER_AREA)

    # ---------------------------------------------------------------- geometry
    def _geometry(self, pose: np.ndarray) -> dict:
        a = self.app
        P = lambda n: pose[J[n], :2].astype(np.float64)  # noqa: E731
        neck, mid = P("Neck"), P("MidHip")
        axis = neck - mid
        L = max(np.hypot(*axis), 1e-3)
        up = axis / L
        n = np.array([-up[1], up[0]])  # image-right when upright
        ppu = L / a.torso_len
        shp = float(np.dot(P("LShoulder") - P("RShoulder"), n))
        hip = float(np.dot(P("LHip") - P("RHip"), n))
        c = (shp + hip) / ((a.shoulder_w + a.hip_w) * ppu)
        foot = 0.0
        for s in ("L", "R"):
            toe = (P(s + "BigToe") + P(s + "SmallToe")) / 2
            foot += float(np.dot(toe - P(s + "Heel"), n))
        s_ = foot / (2 * np.cos(TURNOUT) * (0.925 * FOOT_LEN + HEEL_BACK) * ppu)
        norm = np.hypot(c, s_)
        c, s_ = (c / norm, s_ / norm) if norm > 1e-3 else (1.0, 0.0)
        return {"P": P, "neck": neck, "mid": mid, "up": up, "n": n, "ppu": ppu, "L": L,
                "shp": shp, "hip": hip, "c": c, "s": s_, "ua": a.limb_r * ppu}

    # ---------------------------------------------------------------- parts
    def _arm(self, cv: Canvas, g: dict, side: str, light: float) -> None:
        a, P, ua = self.app, g["P"], g["ua"]
        sh, el, wr = P(side + "Shoulder"), P(side + "Elbow"), P(side + "Wrist")
        sleeve = a.top if a.sleeves == "long" else a.skin
        cv.shaded_capsule(el, wr, ua * 0.9, ua * 0.78, sleeve, light)
        cv.shaded_capsule(sh, el, ua * 1.05, ua * 0.92, a.skin, light)
        if a.sleeves == "long":
            cv.shaded_capsule(sh, el, ua * 1.1, ua * 0.95, a.top, light)
        else:
            cv.shaded_capsule(sh, sh + (el - sh) * 0.5, ua * 1.2, ua * 1.1, a.top, light)
        d = wr - el
        d = d / max(np.hypot(*d), 1e-6)
        cv.circle(wr + d * ua * 0.5, ua * 0.95, _col(a.skin, 0.92 * light))

    def _leg(self, cv: Canvas, g: dict, side: str, light: float) -> None:
        a, P, ua = self.app, g["P"], g["ua"]
        hp, kn, an = P(side + "Hip"), P(side + "Knee"), P(side + "Ankle")
        heel = P(side + "Heel")
        toe = (P(side + "BigToe") + P(side + "SmallToe")) / 2
        legc = a.bottoms_colour if a.bottoms == "trousers" else a.skin
        cv.shaded_capsule(kn, an, ua * 1.15, ua * 0.95, legc, light)
        cv.shaded_capsule(hp, kn, ua * 1.45, ua * 1.15, legc, light)
        if a.bottoms == "shorts":
            cv.shaded_capsule(hp, hp + (kn - hp) * 0.55, ua * 1.6, ua * 1.35, a.bottoms_colour,
                              light)
        cv.capsule(an, heel, ua * 0.8, ua * 0.75, _col(a.shoes, 0.8 * light))
        cv.shaded_capsule(heel, toe, ua * 0.78, ua * 0.62, a.shoes, light)

    def _half(self, g: dict, proj: float, depth: float, pad: float) -> float:
        return 0.5 * np.hypot(proj, g["s"] * depth * g["ppu"]) + pad

    def _pelvis(self, cv: Canvas, g: dict) -> None:
        up, n, mid, ua = g["up"], g["n"], g["mid"], g["ua"]
        hh = self._half(g, g["hip"], self.app.torso_depth * 0.9, ua * 1.35)
        top, bot = mid + up * 0.2 * g["L"], mid - up * ua * 1.3
        cv.poly((top - n * hh, top + n * hh, bot + n * hh, bot - n * hh),
                _col(self.app.bottoms_colour, 0.9 if self.app.bottoms != "skirt" else 0.8))

    def _skirt(self, cv: Canvas, g: dict) -> None:
        P, up, n, mid, ua = g["P"], g["up"], g["n"], g["mid"], g["ua"]
        hh = self._half(g, g["hip"], self.app.torso_depth * 0.9, ua * 1.4)
        knees = (P("RKnee") + P("LKnee")) / 2
        bot = mid + (knees - mid) * 0.85
        spread = abs(float(np.dot(P("LKnee") - P("RKnee"), n))) / 2 + ua * 1.8
        bh = max(hh * 1.35, spread)
        top = mid + up * 0.12 * g["L"]
        col = self.app.bottoms_colour
        cv.poly((top - n * hh, top + n * hh, bot + n * bh, bot - n * bh), _col(col, 0.75))
        cv.poly((top - n * hh * 0.7, top + n * hh * 0.7, bot + n * bh * 0.75,
                 bot - n * bh * 0.75), col, mask=False)

    def _torso(self, cv: Canvas, g: dict) -> None:
        a, up, n, ua = self.app, g["up"], g["n"], g["ua"]
        ht = self._half(g, g["shp"], a.torso_depth, ua * 0.5)
        hb = self._half(g, g["hip"], a.torso_depth * 0.9, ua * 1.3)
        hw = 0.9 * min(ht, hb)
        P = g["P"]
        top = (P("RShoulder") + P("LShoulder")) / 2 + up * ua * 0.45
        bot = g["mid"] - up * ua * 0.4
        waist = top + (bot - top) * 0.62
        outline = (top - n * ht, top + n * ht, waist + n * hw, bot + n * hb, bot - n * hb,
                   waist - n * hw)
        cv.poly(outline, _col(a.top, 0.72))
        ctr = (top + bot) / 2
        off = np.array([-0.2, -0.15]) * ua
        cv.poly([ctr + (np.asarray(p) - ctr) * np.array([0.8, 0.9]) + off for p in outline],
                a.top, mask=False)
        c = g["c"]
        for side, wgt, sgn in (("front", (c - 0.3) / 0.35, 1.0), ("back", (-c - 0.3) / 0.35,
                                                                     -1.0)):
            wgt = float(np.clip(wgt, 0.0, 1.0))
            if wgt > 0 and (a.front if side == "front" else a.back) != "solid":
                centre = g["s"] * sgn * a.torso_depth / 2 * g["ppu"]
                half = 0.5 * abs(g["shp"]) + ua * 0.5
                self._pattern(cv, self.tex[side], outline, top + n * centre, bot + n * centre,
                              n, half, wgt)

    def _pattern(self, cv: Canvas, tex: np.ndarray, outline, top, bot, n, half: float,
                 weight: float) -> None:
        h, w = cv.img.shape[:2]
        pts = np.asarray(outline)
        x0, y0 = np.floor(pts.min(0)).astype(int) - 1
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        th, tw = tex.shape[:2]
        org = np.array([x0, y0], np.float64)
        src = np.float32([[0, 0], [tw, 0], [0, th]])
        dst = np.float32([top - n * half - org, top + n * half - org, bot - n * half - org])
        M = cv2.getAffineTransform(src, dst)
        warped = cv2.warpAffine(tex, M, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(inside, [np.array([_fix(p - org) for p in pts], np.int32)], 255, AA,
                     SHIFT)
        alpha = (warped[..., 3:].astype(np.float32) * inside[..., None]) * (weight / 65025.0)
        roi = cv.img[y0:y1, x0:x1]
        roi[:] = (roi * (1 - alpha) + warped[..., :3] * alpha + 0.5).astype(np.uint8)

    def _hair_back(self, cv: Canvas, g: dict, hc, r: float) -> None:
        a, s, down = self.app, g["s"], -g["up"]
        side = np.array([-s, 0.0])  # the back of the head, in image x
        if a.hair_style == "long":
            tip = hc + down * 0.5 * a.torso_len * g["ppu"] + side * r * 0.4
            cv.shaded_capsule(hc + side * 0.2 * r, tip, r * 1.02, r * 0.85, a.hair)
        elif a.hair_style == "ponytail":
            root = hc + side * 0.85 * r + np.array([0.0, -0.15 * r])
            cv.shaded_capsule(root, root + side * 0.45 * r + down * 1.3 * r, r * 0.32,
                              r * 0.2, a.hair)
        elif a.hair_style == "bun":
            cv.circle(hc + side * 0.55 * r + np.array([0.0, -0.78 * r]), r * 0.42,
                      _col(a.hair, 0.85))

    def _head(self, cv: Canvas, g: dict, face: np.ndarray, hc, r: float) -> None:
        a, s, c = self.app, g["s"], g["c"]
        cv.circle(hc, r, _col(a.skin, 0.8))
        cv.circle(hc + np.array([-0.15, -0.15]) * r, r * 0.78, a.skin, mask=False)
        if a.hair_style != "bald":
            big = a.hair_style == "afro"
            cap = hc + np.array([-s * 0.1 * r, -(0.22 if big else 0.08) * r])
            cv.circle(cap, r * (1.3 if big else 1.04), _col(a.hair, 0.8))
            cv.circle(cap + np.array([-0.12, -0.12]) * r, r * (1.05 if big else 0.8), a.hair,
                      mask=False)
            if c > -0.25:
                win = hc + np.array([s * 0.35 * r, 0.2 * r])
                axes = (0.72 * r * (0.4 + 0.6 * max(c, 0.0)), 0.75 * r)
                cv.ellipse(win, axes, a.skin, mask=False)
        if face[:, 2].max() > 0:
            self._face(cv, face, r)
        if c <= 0:
            self._hair_back(cv, g, hc, r)

    def _face(self, cv: Canvas, face: np.ndarray, r: float) -> None:
        a, img = self.app, cv.img
        lw = max(1, int(round(r / 9)))
        pts = lambda i, j: np.array([_fix(p) for p in face[i:j, :2]], np.int32)  # noqa: E731
        brow = _col(a.hair, 0.6)
        for i, j in ((17, 22), (22, 27)):
            cv2.polylines(img, [pts(i, j)], False, brow, lw, AA, SHIFT)
        cv2.polylines(img, [pts(27, 31)], False, _col(a.skin, 0.75), lw, AA, SHIFT)
        lip = _col((np.asarray(a.skin) * 0.6 + np.array([190, 60, 70]) * 0.4), 1.0)
        cv2.fillPoly(img, [pts(48, 60)], lip, AA, SHIFT)
        if r >= 9:  # eye whites only where they are more than a pixel or two
            for i, j in ((36, 42), (42, 48)):
                cv2.fillPoly(img, [pts(i, j)], (245, 245, 245), AA, SHIFT)
        for k in (68, 69):
            cv2.circle(img, _fix(face[k]), max(1, int(round(max(0.13 * r, 0.5) * ONE))),
                       (35, 30, 40), -1, AA, SHIFT)

    def _shadow(self, img: np.ndarray, g: dict) -> None:
        P, ppu = g["P"], g["ppu"]
        feet = np.stack([P(k) for k in ("LHeel", "RHeel", "LBigToe", "RBigToe")])
        cx, cy = feet[:, 0].mean(), feet[:, 1].max()
        ax, ay = 0.16 * ppu + abs(feet[:, 0].max() - feet[:, 0].min()) / 2, 0.025 * ppu
        h, w = img.shape[:2]
        x0, x1 = int(max(cx - ax - 2, 0)), int(min(cx + ax + 3, w))
        y0, y1 = int(max(cy - ay - 2, 0)), int(min(cy + ay + 3, h))
        if x1 <= x0 or y1 <= y0:
            return
        roi = img[y0:y1, x0:x1]
        dark = roi.copy()
        cv2.ellipse(dark, _fix((cx - x0, cy - y0)), (int(ax * ONE), max(1, int(ay * ONE))), 0,
                    0, 360, (0, 0, 0), -1, AA, SHIFT)
        roi[:] = cv2.addWeighted(roi, 0.6, dark, 0.4, 0)

    # ---------------------------------------------------------------- frame
    def render(self, person: Person | None) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 frame and (H, W) uint8 mask (0/255). None -> background only."""
        cv = Canvas(self.bg.copy())
        if person is None or person.pose[[J["Neck"], J["MidHip"]], 2].min() <= 0:
            return cv.img, cv.mask
        pose = person.pose
        g = self._geometry(pose)
        s, c = g["s"], g["c"]
        hc = (pose[J["REar"], :2] + pose[J["LEar"], :2]).astype(np.float64) / 2
        r = self.app.head_r * g["ppu"]
        self._shadow(cv.img, g)
        ops = []  # (depth key, tiebreak, draw)
        for side, z in (("L", -0.5 * s), ("R", 0.5 * s)):
            light = 1.0 - 0.45 * max(0.0, -z)
            ops.append((z, 0, lambda sd=side, li=light: self._leg(cv, g, sd, li)))
            ops.append((z + 0.3, 5, lambda sd=side, li=light: self._arm(cv, g, sd, li)))
        ops.append((0.0, 1, lambda: self._pelvis(cv, g)))
        ops.append((0.0, 2, lambda: self._torso(cv, g)))
        if self.app.bottoms == "skirt":
            ops.append((0.55, 3, lambda: self._skirt(cv, g)))
        neck_col = _col(self.app.skin, 0.85)
        ops.append((0.05, 4, lambda: cv.capsule(g["neck"], hc, g["ua"] * 0.85, g["ua"] * 0.85,
                                                neck_col)))
        if c > 0:
            ops.append((-1.0, 0, lambda: self._hair_back(cv, g, hc, r)))
        ops.append((1.2, 6, lambda: self._head(cv, g, person.face, hc, r)))
        for _, _, draw in sorted(ops, key=lambda o: (o[0], o[1])):
            draw()
        return cv.img, cv.mask
