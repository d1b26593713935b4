"""Keypoint prior flows: dense backward flows from a target frame to source frames, computed
analytically from keypoints (no learning, no gradient). The flow nets learn a residual on top.

Convention (``v2vtool.models.warp``): ``warp(source, flow)[p] = source[p + flow[p]]``, so a prior
flow maps each pixel p of the TARGET frame to the place p + flow(p) in the SOURCE frame (an
example, or the previous frame) that shows the same point of the body.

pose (BODY_25, 25 joints): PoseWarp-style per-part similarity transforms.
  - every body part (torso, head, upper/lower limbs, feet) gets the least-squares similarity
    (rotation, scale, translation; a reflection is allowed for the torso and head, so a back view
    maps onto a front view) that carries the part's joints in the target onto the same joints in
    the source;
  - every target pixel is softly assigned to the parts by its distance to the part's bones
    (capsules whose radius scales with the target's torso length), with a fixed occlusion order
    (forearms over upper arms over legs over head over torso) and a background class far from
    the body: flow(p) = sum_parts w_part(p) (A_part p - p) (background: zero flow);
  - a part whose joints are missing in the target or the source gets a zero flow (identity).
face (68 iBUG landmarks): piecewise-affine over a fixed triangulation of the landmarks plus 8
  frame-border points (the border maps to itself, so the background stays put); any missing
  landmark gives a zero flow.

Besides the flows, `PosePrior` returns what a network needs to judge them: the target's soft
body occupancy and, per source, per-pixel cues (the part fit was reflected, its residual, the
part was missing). Soft assignments are evaluated on a grid ``stride`` times coarser and the
flow is upsampled bilinearly (an affine field is smooth; the residual net sharpens part edges).
All functions are batched: no Python loop over the batch, the sources or the pixels.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------- pose parts
# (name, joints that fit the transform, bones (joint pairs) that form its region,
#  radius in torso lengths, occlusion priority: higher is drawn on top)
POSE_PARTS: tuple[tuple[str, tuple[int, ...], tuple[tuple[int, int], ...], float, float], ...] = (
    ("torso", (1, 2, 5, 8, 9, 12),
     ((1, 8), (2, 9), (5, 12), (2, 5), (9, 12), (2, 12), (5, 9)), 0.20, 0.0),
    ("head", (0, 1, 15, 16, 17, 18),
     ((1, 0), (0, 15), (0, 16), (15, 17), (16, 18), (17, 18), (1, 17), (1, 18)), 0.33, 0.3),
    ("r_thigh", (9, 10), ((9, 10),), 0.20, 0.4),
    ("l_thigh", (12, 13), ((12, 13),), 0.20, 0.4),
    ("r_shin", (10, 11), ((10, 11),), 0.16, 0.5),
    ("l_shin", (13, 14), ((13, 14),), 0.16, 0.5),
    ("r_foot", (11, 22, 24), ((11, 22), (11, 24), (22, 24)), 0.12, 0.6),
    ("l_foot", (14, 19, 21), ((14, 19), (14, 21), (19, 21)), 0.12, 0.6),
    ("r_upper_arm", (2, 3), ((2, 3),), 0.15, 0.8),
    ("l_upper_arm", (5, 6), ((5, 6),), 0.15, 0.8),
    ("r_forearm", (3, 4), ((3, 4),), 0.13, 0.9),
    ("l_forearm", (6, 7), ((6, 7),), 0.13, 0.9),
)
HAND_EXTENSION = 0.4  # forearm bones reach this fraction of their length past the wrist (hand)
BACKGROUND_LOGIT = -1.0  # a pixel is background once (d / r)^2 > priority + 1
SHARPNESS = 8.0  # softmax temperature of the part assignment (background weight e^-8 inside)
POSE_CUES = 3  # per-source cue channels: reflected, fit residual, part missing


def _part_tables():
    fit_len = max(len(p[1]) for p in POSE_PARTS)
    fit = torch.full((len(POSE_PARTS), fit_len), -1, dtype=torch.long)
    bones, owner, ext = [], [], []
    for i, (_, joints, segs, _, _) in enumerate(POSE_PARTS):
        fit[i, :len(joints)] = torch.tensor(joints)
        for a, b in segs:
            bones.append((a, b))
            owner.append(i)
            ext.append(HAND_EXTENSION if (a, b) in ((3, 4), (6, 7)) else 0.0)
    radius = torch.tensor([p[3] for p in POSE_PARTS])
    priority = torch.tensor([p[4] for p in POSE_PARTS])
    return fit, torch.tensor(bones), torch.tensor(owner), torch.tensor(ext), radius, priority


_FIT, _BONES, _BONE_PART, _BONE_EXT, _RADIUS, _PRIORITY = _part_tables()


def _found(kp: torch.Tensor) -> torch.Tensor:
    return kp[..., 2] > 0


def torso_length(kp: torch.Tensor) -> torch.Tensor:
    """(..., 25, 3) -> (...) body scale in px: neck-midhip distance, else 0.3 x the found joints'
    height, else 1 (nobody)."""
    ok = _found(kp)
    neck_hip = (kp[..., 1, :2] - kp[..., 8, :2]).norm(dim=-1)
    y = kp[..., 1].masked_fill(~ok, float("nan"))
    height = (torch.nan_to_num(y, nan=-1e9).amax(-1) - torch.nan_to_num(y, nan=1e9).amin(-1))
    height = torch.where(ok.sum(-1) >= 2, height, torch.zeros_like(height))
    scale = torch.where(ok[..., 1] & ok[..., 8] & (neck_hip > 1e-3), neck_hip, 0.3 * height)
    return scale.clamp_min(1.0)


def _similarity(src: torch.Tensor, dst: torch.Tensor, w: torch.Tensor, allow_reflection: torch.Tensor):
    """Weighted least-squares 2-D similarity dst ~ A [src; 1] for batched point sets.

    src, dst (N, M, 2); w (N, M) in {0, 1}; allow_reflection (N,) bool.
    Returns A (N, 2, 3), valid (N,) (>= 2 points with spread), reflected (N,), residual (N,)
    (mean squared error of the fit, px^2). Complex form: b = z a (rotation + scale) or
    b = z conj(a) (with a reflection), z = sum(conj(a) b) / sum |a|^2 resp. sum(a b) / sum |a|^2.
    """
    n = w.sum(-1)
    ws = w / n.clamp_min(1)[:, None]
    ms = (ws[..., None] * src).sum(1)
    md = (ws[..., None] * dst).sum(1)
    a = torch.complex(src[..., 0] - ms[:, None, 0], src[..., 1] - ms[:, None, 1]) * w
    b = torch.complex(dst[..., 0] - md[:, None, 0], dst[..., 1] - md[:, None, 1]) * w
    var = (a.abs() ** 2).sum(-1)
    valid = (n >= 2) & (var > 1e-6)
    var = var.clamp_min(1e-6)
    z_rot = (a.conj() * b).sum(-1) / var
    z_ref = (a * b).sum(-1) / var
    res_rot = ((b - z_rot[:, None] * a).abs() ** 2).sum(-1)
    res_ref = ((b - z_ref[:, None] * a.conj()).abs() ** 2).sum(-1)
    reflected = allow_reflection & (res_ref < 0.5 * res_rot)  # clearly better, not a tie
    z = torch.where(reflected, z_ref, z_rot)
    c, s = z.real, z.imag
    sign = torch.where(reflected, -1.0, 1.0)  # reflection: conj flips the y component of a
    lin = torch.stack([torch.stack([c, -s * sign], -1), torch.stack([s, c * sign], -1)], -2)
    t = md - (lin @ ms[..., None])[..., 0]
    mat = torch.cat([lin, t[..., None]], -1)
    residual = torch.where(reflected, res_ref, res_rot) / n.clamp_min(1)
    eye = torch.eye(2, 3, dtype=mat.dtype, device=mat.device).expand_as(mat)
    return torch.where(valid[:, None, None], mat, eye), valid, reflected & valid, residual * valid


def part_transforms(target: torch.Tensor, sources: torch.Tensor):
    """Per-part backward transforms target px -> source px.

    target (B, 25, 3), sources (B, K, 25, 3) -> A (B, K, P, 2, 3), valid, reflected (B, K, P)
    bool, residual (B, K, P) (fit error in torso lengths^2 of the target). Invalid parts
    (fewer than 2 joints found on both sides) get the identity.
    """
    b, k = sources.shape[:2]
    p, m = _FIT.shape
    idx = _FIT.to(target.device).clamp_min(0)
    tgt = target[:, idx]  # (B, P, M, 3)
    src = sources[:, :, idx]  # (B, K, P, M, 3)
    tgt = tgt[:, None].expand(b, k, p, m, 3)
    w = (_found(tgt) & _found(src) & (_FIT.to(target.device) >= 0)).float()
    allow = torch.tensor([len(part[1]) >= 3 for part in POSE_PARTS], device=target.device)
    mat, valid, refl, res = _similarity(tgt[..., :2].reshape(-1, m, 2), src[..., :2].reshape(-1, m, 2),
                                        w.reshape(-1, m), allow.repeat(b * k))
    scale = torso_length(target)[:, None, None] ** 2
    return (mat.reshape(b, k, p, 2, 3), valid.reshape(b, k, p), refl.reshape(b, k, p),
            res.reshape(b, k, p) / scale)


def _grid(height: int, width: int, stride: int, device) -> torch.Tensor:
    """(h*w, 2) pixel coordinates (x, y) of the centres of stride x stride blocks."""
    off = (stride - 1) / 2
    ys = torch.arange(0, height, stride, device=device, dtype=torch.float32) + off
    xs = torch.arange(0, width, stride, device=device, dtype=torch.float32) + off
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx.flatten(), gy.flatten()), -1)


def part_weights(target: torch.Tensor, height: int, width: int, stride: int = 1) -> torch.Tensor:
    """Soft assignment of every pixel to the target's parts and the background.

    target (B, 25, 3) -> (B, P + 1, h, w) summing to 1 over P + 1 (last = background), on the grid
    of ``stride`` x ``stride`` block centres (h = ceil(H / stride)).
    """
    bsz = target.shape[0]
    dev = target.device
    pts = _grid(height, width, stride, dev)  # (N, 2)
    bones = _BONES.to(dev)
    a, b = target[:, bones[:, 0], :2], target[:, bones[:, 1], :2]  # (B, S, 2)
    ok = _found(target)[:, bones[:, 0]] & _found(target)[:, bones[:, 1]]
    b = b + _BONE_EXT.to(dev)[None, :, None] * (b - a)
    ab = b - a
    # squared distance of every pixel to every bone segment, with x / y kept apart (no
    # (B, S, N, 2) temporaries): t = clamp((p - a).ab / |ab|^2), d2 = |p - a - t ab|^2
    px, py = pts[:, 0], pts[:, 1]
    apx = px[None, None] - a[..., 0:1]  # (B, S, N)
    apy = py[None, None] - a[..., 1:2]
    len2 = (ab * ab).sum(-1).clamp_min(1e-6)[..., None]
    t = ((apx * ab[..., 0:1] + apy * ab[..., 1:2]) / len2).clamp_(0, 1)
    d2 = (apx - t * ab[..., 0:1]).square_() + (apy - t * ab[..., 1:2]).square_()
    d2 = d2.masked_fill(~ok[..., None], float("inf"))
    n_parts = len(POSE_PARTS)
    part_d2 = torch.full((bsz, n_parts, pts.shape[0]), float("inf"), device=dev)
    part_d2 = part_d2.scatter_reduce(1, _BONE_PART.to(dev)[None, :, None].expand_as(d2), d2,
                                     reduce="amin")
    r = _RADIUS.to(dev)[None, :, None] * torso_length(target)[:, None, None]
    logits = _PRIORITY.to(dev)[None, :, None] - part_d2 / r ** 2  # -inf for absent parts
    logits = torch.cat([logits, torch.full_like(logits[:, :1], BACKGROUND_LOGIT)], 1)
    w = torch.softmax(SHARPNESS * logits, dim=1)
    h, wd = -(-height // stride), -(-width // stride)
    return w.reshape(bsz, n_parts + 1, h, wd)


def _upsample(x: torch.Tensor, height: int, width: int, stride: int) -> torch.Tensor:
    if stride == 1:
        return x
    if height % stride or width % stride:
        raise ValueError(f"prior grid stride {stride} must divide the frame size {width}x{height}")
    # block centres sit at stride * i + (stride - 1) / 2: exactly align_corners=False sampling
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)


def _half(x: torch.Tensor, height: int, width: int, stride: int) -> torch.Tensor:
    """A map on the stride grid -> half resolution (H/2, W/2)."""
    if stride == 2:
        return x
    if stride == 1:
        return F.avg_pool2d(x, 2)
    return F.interpolate(x, size=(height // 2, width // 2), mode="bilinear", align_corners=False)


def _fp32(fn):
    """Pixel coordinates stay fp32: no gradient, autocast (bf16 matmuls) off inside."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.no_grad(), torch.autocast("cpu", enabled=False), \
                torch.autocast("cuda", enabled=False):
            return fn(*args, **kwargs)
    return wrapper


@dataclass
class PriorFlow:
    """Prior flows from one target frame to K sources, and what a network needs to judge them."""

    flow: torch.Tensor  # (B, K, 2, H, W) px, target -> source k
    occupancy: torch.Tensor  # (B, 1, H, W) soft body mask of the target (1 = body)
    # (B, K, POSE_CUES, H/2, W/2), at half resolution (what the selection net reads):
    # reflected / fit residual / part missing
    cues: torch.Tensor


@_fp32
def pose_prior(target: torch.Tensor, sources: torch.Tensor, height: int, width: int,
               stride: int = 2, background: torch.Tensor | None = None) -> PriorFlow:
    """target (B, 25, 3), sources (B, K, 25, 3) BODY_25 in px -> `PriorFlow` at (H, W).

    background (B, K, 2, 3): where the static scene of the target frame is in each source
    (target px -> source px; None: in the same place, a zero flow), the background class's
    transform. Nobody in the target: the background flow everywhere, zero occupancy.
    """
    target, sources = target.float(), sources.float()
    w = part_weights(target, height, width, stride)  # (B, P+1, h, w)
    mat, valid, refl, res = part_transforms(target, sources)
    b, k, p = valid.shape
    h, wd = w.shape[-2:]
    pts = _grid(height, width, stride, target.device)  # (N, 2)
    eye = torch.eye(2, 3, device=mat.device)
    bg = eye.expand(b, k, 1, 2, 3) if background is None else background.float()[:, :, None]
    # flow(p) = sum_parts w_part(p) (A_part [p; 1] - p) = G(p) [p; 1] with G(p) = sum w (A - [I 0])
    # over the parts and the background: one (6K x P+1) @ (P+1 x N) matmul per item instead of a
    # displacement per part and pixel
    rel = torch.cat([mat, bg], 2) - eye  # (B, K, P + 1, 2, 3)
    parts = w.flatten(2)  # (B, P + 1, N)
    g = torch.bmm(rel.permute(0, 1, 3, 4, 2).reshape(b, k * 6, p + 1), parts
                  ).reshape(b, k, 2, 3, -1)
    flow = (g[:, :, :, 0] * pts[:, 0] + g[:, :, :, 1] * pts[:, 1] + g[:, :, :, 2])
    flow = flow.reshape(b * k, 2, h, wd)
    cue = torch.stack([refl.float(), res.clamp(max=1.0), (~valid).float()], -1)  # (B, K, P, 3)
    cues = torch.bmm(cue.permute(0, 1, 3, 2).reshape(b, k * POSE_CUES, p), parts[:, :p])
    cues = _half(cues.reshape(b * k, POSE_CUES, h, wd), height, width, stride)
    occ = 1 - w[:, p:]
    return PriorFlow(_upsample(flow, height, width, stride).reshape(b, k, 2, height, width),
                     _upsample(occ, height, width, stride),
                     cues.reshape(b, k, POSE_CUES, height // 2, width // 2))


@_fp32
def affine_flow(transform: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 2, 3) target px -> source px affine maps as backward flows (B, 2, H, W)."""
    pts = _grid(height, width, 1, transform.device)  # (N, 2)
    homog = torch.cat([pts, torch.ones_like(pts[:, :1])], -1)  # (N, 3)
    flow = homog @ transform.float().transpose(1, 2) - pts  # (B, N, 2)
    return flow.transpose(1, 2).reshape(-1, 2, height, width)


@_fp32
def body_occupancy(keypoints: torch.Tensor, height: int, width: int, stride: int = 2) -> torch.Tensor:
    """(B, 25, 3) -> (B, 1, H, W) soft body mask of a pose in its own frame (1 = body)."""
    w = part_weights(keypoints.float(), height, width, stride)
    return _upsample(1 - w[:, -1:], height, width, stride)


# ---------------------------------------------------------------------------------- face
FACE_POINTS = 68


@functools.lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """(T, 3) vertex indices: a fixed Delaunay triangulation of a canonical 68-point face plus 8
    frame-border points (indices 68..75: corners and edge midpoints of the unit square)."""
    import cv2

    from v2vtool.semantics.face import face_template

    face = face_template()[:FACE_POINTS] * np.array([1.0, -1.0])  # person's left = image right
    face = 0.2 + 0.6 * (face - face.min(0)) / np.ptp(face, 0).max()  # inside the unit square
    pts = np.concatenate([face, _border_unit()], 0) * 1000.0
    sub = cv2.Subdiv2D((-100, -100, 1200, 1200))
    for x, y in pts:
        sub.insert((float(x), float(y)))
    key = {(round(float(np.float32(x)), 1), round(float(np.float32(y)), 1)): i
           for i, (x, y) in enumerate(pts)}
    tris = []
    for t in sub.getTriangleList():
        ids = [key.get((round(float(t[j]), 1), round(float(t[j + 1]), 1))) for j in (0, 2, 4)]
        if None not in ids:  # drop triangles touching Subdiv2D's outer virtual vertices
            tris.append(sorted(ids))
    return np.array(sorted(tris), np.int64)


def _border_unit() -> np.ndarray:
    return np.array([[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1], [0.5, 1], [0, 1], [0, 0.5]],
                    np.float64)


def _with_border(kp: torch.Tensor, height: int, width: int,
                 background: torch.Tensor | None = None) -> torch.Tensor:
    """(..., >=68, 3) -> (..., 76, 2): the landmarks + the 8 frame-border points (moved by the
    background transform (..., 2, 3) when given: where the target's frame border is in a source)."""
    border = torch.tensor(_border_unit(), dtype=kp.dtype, device=kp.device)
    border = border * torch.tensor([width - 1, height - 1], dtype=kp.dtype, device=kp.device)
    border = border.expand(*kp.shape[:-2], 8, 2)
    if background is not None:
        bg = background.to(kp.dtype)
        border = border @ bg[..., :2].transpose(-1, -2) + bg[..., None, :, 2]
    return torch.cat([kp[..., :FACE_POINTS, :2], border], -2)


@_fp32
def face_prior(target: torch.Tensor, sources: torch.Tensor, height: int, width: int,
               stride: int = 2, background: torch.Tensor | None = None) -> PriorFlow:
    """target (B, >=68, 3), sources (B, K, >=68, 3) iBUG landmarks in px -> `PriorFlow`.

    Piecewise affine: a target pixel inside triangle t with barycentric coordinates (l0, l1, l2)
    samples the source at l0 v0' + l1 v1' + l2 v2'. Where triangles fold over, the first one
    containing the pixel wins. The frame border maps to itself, or through `background`
    (B, K, 2, 3) (see `pose_prior`). cues: only the "missing" channel is used (landmarks absent).
    Missing landmarks: a zero flow.
    """
    target, sources = target.float(), sources.float()
    b, k = sources.shape[:2]
    dev = target.device
    tris = torch.as_tensor(face_triangles(), device=dev)  # (T, 3)
    tv = _with_border(target, height, width)[:, tris]  # (B, T, 3, 2)
    sv = _with_border(sources, height, width, background)[:, :, tris]  # (B, K, T, 3, 2)
    pts = _grid(height, width, stride, dev)  # (N, 2)
    # barycentric coordinates of every pixel in every target triangle: (B, T, N, 3)
    v0, v1, v2 = tv[:, :, 0], tv[:, :, 1], tv[:, :, 2]
    e1, e2 = v1 - v0, v2 - v0
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]  # (B, T)
    rel = pts[None, None] - v0[:, :, None]  # (B, T, N, 2)
    inv = 1.0 / torch.where(det.abs() > 1e-6, det, torch.ones_like(det))
    l1 = (rel[..., 0] * e2[..., 1, None] - rel[..., 1] * e2[..., 0, None]) * inv[..., None]
    l2 = (e1[..., 0, None] * rel[..., 1] - e1[..., 1, None] * rel[..., 0]) * inv[..., None]
    lam = torch.stack([1 - l1 - l2, l1, l2], -1)
    inside = (lam.amin(-1) >= -1e-4) & (det.abs() > 1e-6)[..., None]  # (B, T, N)
    first = torch.where(inside.any(1), inside.float().argmax(1), -1)  # (B, N) triangle per pixel
    tri = first.clamp_min(0)
    lam_p = torch.gather(lam, 1, tri[:, None, :, None].expand(-1, 1, -1, 3))[:, 0]  # (B, N, 3)
    src_v = torch.gather(sv, 2, tri[:, None, :, None, None].expand(b, k, -1, 3, 2))  # (B,K,N,3,2)
    mapped = (lam_p[:, None, ..., None] * src_v).sum(-2)  # (B, K, N, 2)
    disp = mapped - pts[None, None]
    ok_t = _found(target)[:, :FACE_POINTS].all(-1)  # (B,)
    ok_s = _found(sources)[..., :FACE_POINTS].all(-1)  # (B, K)
    keep = (ok_t[:, None] & ok_s)[..., None, None] & (first >= 0)[:, None, :, None]
    disp = disp * keep
    h, wd = -(-height // stride), -(-width // stride)
    flow = disp.permute(0, 1, 3, 2).reshape(b * k, 2, h, wd)
    face_tris = torch.as_tensor((face_triangles() < FACE_POINTS).all(1), device=dev)
    occ = (inside & face_tris[None, :, None]).any(1).float() * ok_t[:, None]  # inside the face
    missing = (~(ok_t[:, None] & ok_s)).float()[..., None, None, None]
    cues = torch.zeros(b, k, POSE_CUES, height // 2, width // 2, device=dev)
    cues[:, :, 2:3] = missing.expand(b, k, 1, height // 2, width // 2)
    return PriorFlow(_upsample(flow, height, width, stride).reshape(b, k, 2, height, width),
                     _upsample(occ.reshape(b, 1, h, wd), height, width, stride), cues)
