"""The pose detector: mediapipe Holistic's own parts, wired so that a frame costs less.

mediapipe Holistic (model_complexity=1) runs, on every frame, the pose landmark model, the
face mesh on a face crop found from the pose, and for each hand a re-crop and the hand model,
and we ran selfie segmentation beside it for the person mask. Measured per 256x256 frame on
this machine (benchmarks/extract.py --parts): pose ~20 ms, face from pose ~5 ms, hands
~12-15 ms even when no hand is in the picture (Holistic only skips a hand whose wrist
visibility is below 0.1, and a wrist outside the frame is often above it), selfie
segmentation ~4.5 ms. So this graph, built from the same registered subgraphs:

  - takes the person mask from the pose model's own segmentation output (~1 ms more than
    pose alone) instead of a second segmentation network;
  - runs the hands (a second graph, HandLandmarksLeftAndRightCpu) only on frames where one
    of a hand's pose points (wrist, pinky, index, thumb) lies inside the frame; elsewhere no
    hand can be stored anyway (points outside the frame are saved as missing);
  - runs the pose model on a downscaled copy of a large frame (`detect_size`: longest side,
    the landmarks are normalised so they map back to full resolution exactly) while the face
    and hand crops are cut from the full-resolution frame, so small faces keep their detail.

Pose and face landmarks are those of Holistic (same subgraphs, same side packets and
thresholds; identical output for the same input image, see tests/test_extract_fast.py). The
pose extractor turns mediapipe's causal landmark filter off (`smooth_landmarks`): it lags,
and extraction smooths afterwards without lag.
"""
from __future__ import annotations

import numpy as np

GRAPH = """
input_stream: "IMAGE:image"
input_side_packet: "MODEL_COMPLEXITY:model_complexity"
input_side_packet: "SMOOTH_LANDMARKS:smooth_landmarks"
input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
input_side_packet: "SMOOTH_SEGMENTATION:smooth_segmentation"
input_side_packet: "USE_PREV_LANDMARKS:use_prev_landmarks"
output_stream: "POSE_LANDMARKS:pose_landmarks"
node {
  calculator: "PoseLandmarkCpu"
  input_stream: "IMAGE:image"
  output_stream: "LANDMARKS:pose_landmarks"
  output_stream: "SEGMENTATION_MASK:segmentation_mask"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "SMOOTH_LANDMARKS:smooth_landmarks"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
  input_side_packet: "SMOOTH_SEGMENTATION:smooth_segmentation"
  input_side_packet: "USE_PREV_LANDMARKS:use_prev_landmarks"
}
"""
MASK_OUTPUT = """
output_stream: "SEGMENTATION_MASK:segmentation_mask"
"""
FACE_NODES = """
input_stream: "FULL_IMAGE:full_image"
input_side_packet: "REFINE_FACE_LANDMARKS:refine_face_landmarks"
output_stream: "FACE_LANDMARKS:face_landmarks"
node {
  calculator: "SplitNormalizedLandmarkListCalculator"
  input_stream: "pose_landmarks"
  output_stream: "face_landmarks_from_pose"
  options { [mediapipe.SplitVectorCalculatorOptions.ext] { ranges { begin: 0 end: 11 } } }
}
node {
  calculator: "FaceLandmarksFromPoseCpu"
  input_stream: "IMAGE:full_image"
  input_stream: "FACE_LANDMARKS_FROM_POSE:face_landmarks_from_pose"
  output_stream: "FACE_LANDMARKS:face_landmarks"
  input_side_packet: "REFINE_LANDMARKS:refine_face_landmarks"
}
"""
HANDS_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "POSE_LANDMARKS:pose_landmarks"
output_stream: "LEFT_HAND_LANDMARKS:left_hand_landmarks"
output_stream: "RIGHT_HAND_LANDMARKS:right_hand_landmarks"
node {
  calculator: "HandLandmarksLeftAndRightCpu"
  input_stream: "IMAGE:image"
  input_stream: "POSE_LANDMARKS:pose_landmarks"
  output_stream: "LEFT_HAND_LANDMARKS:left_hand_landmarks"
  output_stream: "RIGHT_HAND_LANDMARKS:right_hand_landmarks"
}
"""
# Holistic's option names (the node names follow from the subgraph types, as in Holistic)
DETECTION_THRESHOLD = ("poselandmarkcpu__posedetectioncpu__TensorsToDetectionsCalculator"
                       ".min_score_thresh")
TRACKING_THRESHOLD = ("poselandmarkcpu__poselandmarkbyroicpu__"
                      "tensorstoposelandmarksandsegmentation__ThresholdingCalculator.threshold")
HAND_POINTS = ((15, 17, 19, 21), (16, 18, 20, 22))  # BlazePose: wrist, pinky, index, thumb


def detection_size(size: tuple[int, int], longest: int | None) -> tuple[int, int]:
    """(w, h) of the copy the pose model sees: `size` scaled so its longest side is at most
    `longest` (unchanged if it already is, or if longest is None)."""
    w, h = size
    if longest is None or max(w, h) <= longest:
        return w, h
    s = longest / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def hands_in_frame(pose_xy: np.ndarray) -> bool:
    """pose_xy: (33, 2) normalised BlazePose landmarks. True when any hand point (wrist,
    pinky, index, thumb; either side) lies inside the frame."""
    pts = pose_xy[list(HAND_POINTS[0] + HAND_POINTS[1])]
    return bool(((pts >= 0) & (pts < 1)).all(axis=1).any())


class PoseGraph:
    """Pose (+ face from pose, + hands, + segmentation) for one video (tracking across calls).

    smooth_landmarks: mediapipe's own causal filter on the pose landmarks (Holistic's default,
    on); it trails moving joints by ~1.2 frames at 30 fps (benchmarks/smoothing.py).

    `process(small, full)` -> dict of mediapipe results: "pose", "face", "left_hand",
    "right_hand" (NormalizedLandmarkList or None) and "mask" ((h, w) float32 person
    probability at the size of `small`, or None). `small` is what the pose model sees,
    `full` the same frame at full resolution (the face and hands are cropped from it); pass
    the same array twice when no downscaling is wanted.
    """

    def __init__(self, static: bool = False, face: bool = True, hands: bool = True,
                 mask: bool = True, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth_landmarks: bool = True):
        from mediapipe.python.solution_base import SolutionBase
        side = {"model_complexity": 1, "smooth_landmarks": smooth_landmarks and not static,
                "enable_segmentation": mask, "smooth_segmentation": not static,
                "use_prev_landmarks": not static}
        outputs = ["pose_landmarks"]
        text = GRAPH
        if mask:
            text += MASK_OUTPUT
            outputs.append("segmentation_mask")
        if face:
            text += FACE_NODES
            side["refine_face_landmarks"] = True
            outputs.append("face_landmarks")
        self.face, self.mask = face, mask
        self._graph = SolutionBase(
            graph_config=text, side_inputs=side, outputs=outputs,
            calculator_params={DETECTION_THRESHOLD: min_detection_confidence,
                               TRACKING_THRESHOLD: min_tracking_confidence})
        self._hands = SolutionBase(graph_config=HANDS_GRAPH) if hands else None
        self.hand_calls = 0  # frames the hand models ran on (for benchmarks)

    def process(self, small: np.ndarray, full: np.ndarray) -> dict:
        inputs = {"image": small, "full_image": full} if self.face else {"image": small}
        res = self._graph.process(inputs)
        pose = res.pose_landmarks
        out = {"pose": pose, "face": getattr(res, "face_landmarks", None) if self.face else None,
               "left_hand": None, "right_hand": None,
               "mask": res.segmentation_mask if self.mask else None}
        if pose is not None:
            if self._hands is not None and hands_in_frame(_xy(pose)):
                self.hand_calls += 1
                hands = self._hands.process({"image": full, "pose_landmarks": pose})
                out["left_hand"] = hands.left_hand_landmarks
                out["right_hand"] = hands.right_hand_landmarks
            for lm in pose.landmark:  # as Holistic: presence is not part of the output
                lm.ClearField("presence")
        return out

    def close(self) -> None:
        self._graph.close()
        if self._hands is not None:
            self._hands.close()


def _xy(landmarks) -> np.ndarray:
    return np.array([(p.x, p.y) for p in landmarks.landmark], np.float32)
