"""The semantic-kind registry: one record per kind of semantic input, the only place a kind is
described. Config (channels), the CLI (`--kind` choices), clip dirs (how maps are stored and
read back), the dataset, the synthesizer and the sample grids all ask this record.

    get_kind("pose").channels()           # 3: network input channels
    get_kind("pose").keypoints            # True: maps are rendered from keypoints.jsonl
    get_kind("face").render(frame, (w, h))
    get_extractor("edges")                # a fresh Extractor (semantics/extractor_base.py)

Adding a kind (e.g. DensePose) = one new module with its `Extractor` (and its renderer when it
has keypoints) + one `SemanticKind(...)` entry in `KINDS` below. Nothing else switches on a
kind's name.

The record's callables import their modules when called, so importing this registry stays
cheap (the CLI builds its choices from it without loading torch or mediapipe).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from v2vtool.errors import UserError


@dataclass(frozen=True)
class SemanticKind:
    """One kind of semantic input. Stored maps are semantics/*.png of a clip dir."""

    name: str
    summary: str  # one line for help texts
    stored_channels: int  # channels of a stored map: 3 (RGB image) or 1 (gray image / class ids)
    extractor: Callable[..., Any]  # (static=False, **options) -> Extractor
    one_hot: bool = False  # stored maps hold class ids; network input = one-hot over n_classes
    input_mode: str = "rgb"  # how its sources are decoded: "rgb" frames or "ids" (label maps)
    keypoints: bool = False  # maps are rendered from keypoints (keypoints.jsonl, drivers)
    renderer: Callable[..., Any] | None = None  # (frame, size (w, h), scale) -> map (keypoints)
    found: Callable[[Any], bool] | None = None  # frame -> has what the model needs (keypoints)
    retarget: Callable[..., Any] | None = None  # (target frames, driver frames) -> mapper | None
    body: bool = False  # BODY_25 body keypoints: person-centred crop, face boxes from the head
    subject: str = ""  # what its detector finds, for messages ("person", "face")

    def channels(self, n_classes: int = 20) -> int:
        """Channels of the network input (one-hot kinds: n_classes)."""
        return n_classes if self.one_hot else self.stored_channels

    def to_tensor(self, semantic, n_classes: int = 20):
        """Stored / rendered map (H, W[, 3]) uint8 -> network input (C, H, W) float in [0, 1]."""
        from v2vtool.semantics.render import map_to_tensor

        return map_to_tensor(semantic, n_classes if self.one_hot else None)

    def render(self, frame, size: tuple[int, int], scale: tuple[float, float] = (1.0, 1.0)):
        """Keypoint `Frame` -> map at size (w, h) (keypoint kinds only)."""
        if self.renderer is None:
            raise ValueError(f"kind {self.name!r} is not rendered from keypoints")
        return self.renderer(frame, size, scale)

    def has_detection(self, frame) -> bool:
        """Whether a keypoint frame has what a model of this kind needs (maps: always)."""
        return self.found is None or bool(self.found(frame))

    def fit_retarget(self, target_frames: list, driver_frames: list):
        """A Person -> Person map normalising the driver to the examples, or None."""
        return None if self.retarget is None else self.retarget(target_frames, driver_frames)

    def create_extractor(self, static: bool = False, **options):
        return self.extractor(static=static, **options)


# ---- the built-in kinds' callables (imported on call: see the module docstring) -------------

def _pose_extractor(static: bool = False, **options):
    from v2vtool.semantics.extractors import PoseExtractor

    return PoseExtractor(static=static, **options)


def _face_extractor(static: bool = False, **options):
    from v2vtool.semantics.extractors import FaceExtractor

    return FaceExtractor(static=static, **options)


def _edge_extractor(static: bool = False, **options):
    from v2vtool.semantics.edges import EdgeExtractor

    return EdgeExtractor(**options)  # stateless: `static` changes nothing


def _label_map_importer(static: bool = False, **options):
    from v2vtool.semantics.segmentation import LabelMapImporter

    return LabelMapImporter(**options)


def _render_pose(frame, size, scale=(1.0, 1.0)):
    from v2vtool.semantics.render import render_pose

    return render_pose(frame, size, scale)


def _render_face(frame, size, scale=(1.0, 1.0)):
    from v2vtool.semantics.render import render_face

    return render_face(frame, size, scale)


def _body_found(frame) -> bool:
    from v2vtool.semantics.retarget import body_found

    return body_found(frame)


def _face_found(frame) -> bool:
    from v2vtool.semantics.retarget import face_found

    return face_found(frame)


def _pose_retarget(target_frames, driver_frames):
    from v2vtool.semantics.retarget import fit_pose_retarget

    return fit_pose_retarget(target_frames, driver_frames)


def _face_retarget(target_frames, driver_frames):
    from v2vtool.semantics.retarget import fit_face_retarget

    return fit_face_retarget(target_frames, driver_frames)


KINDS: dict[str, SemanticKind] = {k.name: k for k in (
    SemanticKind("pose", "body pose (BODY_25 + hands + face, mediapipe) as a coloured limb map",
                 stored_channels=3, extractor=_pose_extractor, keypoints=True,
                 renderer=_render_pose, found=_body_found, retarget=_pose_retarget, body=True,
                 subject="person"),
    SemanticKind("face", "68 face landmarks + pupils (mediapipe) as a 1-channel sketch",
                 stored_channels=1, extractor=_face_extractor, keypoints=True,
                 renderer=_render_face, found=_face_found, retarget=_face_retarget,
                 subject="face"),
    SemanticKind("edges", "Canny edges of the frame (1 channel)", stored_channels=1,
                 extractor=_edge_extractor),
    SemanticKind("segmentation", "8-bit label maps of class ids, one-hot for the networks",
                 stored_channels=1, extractor=_label_map_importer, one_hot=True,
                 input_mode="ids"),
)}


def get_kind(name: str) -> SemanticKind:
    """The record of a kind; UserError naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise UserError(f"unknown semantic kind {name!r} (expected one of "
                        f"{', '.join(KINDS)})") from None


def get_extractor(kind: str, static: bool = False, **options):
    """A new extractor for `kind`. static: every frame is an unrelated image (mediapipe
    static_image_mode; use for single images). options go to the extractor's constructor
    (e.g. hands_face=False for pose). Extractors own model graphs: `close()` them (or `with`)."""
    return get_kind(kind).create_extractor(static=static, **options)
