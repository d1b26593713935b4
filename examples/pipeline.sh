#!/usr/bin/env bash
# The whole v2vtool pipeline on data anyone can regenerate, as documentation and a smoke test:
#   data synth (training identities) -> extract (pose from a real video file) -> train (tiny,
#   a couple of minutes) -> synthesize (held-out identity, K=2) -> evaluate (vs exact truth).
# Usage: examples/pipeline.sh [WORKDIR] [TRAIN_MINUTES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-pipeline-out}"
minutes="${2:-2}"
mkdir -p "$work"

# 1. A small procedural training set (disjoint from the examples' held-out identity).
v2v data synth --out "$work/data" --identities 24 --clips-per-identity 2 --frames 24 \
    --size 64 --seed 7 --test-identities 4 --overwrite

# 2. Pose extraction (mediapipe) from a video file: the driver of the synthesis below.
v2v extract "$here/driver.mp4" --kind pose --out "$work/extracted" --overwrite

# 3. Train the tiny preset at 64x64 for a couple of minutes on the CPU.
rm -rf "$work/run"
v2v train --data "$work/data" --preset tiny --out "$work/run" --minutes "$minutes" \
    --set generator.height=64 --set generator.width=64 --set train.threads=1 \
    --set train.single_frame_steps=200 --set train.seq_double_every=200 --set loss.l1=10

# 4. Synthesize the held-out identity (front + back examples) following the extracted driver.
v2v synthesize --examples "$here/target_front.png" "$here/target_back.png" \
    --driver "$work/extracted/driver" --out "$work/out.mp4" --checkpoint "$work/run" \
    --no-retarget --attention-maps "$work/attention.mp4"

# 5. Score it against the exact truth (the identity rendered with the driver's motion).
v2v evaluate --generated "$work/out.mp4" --real "$here/truth" --driver "$here/driver" \
    --json "$work/metrics.json"
echo "pipeline done: $work/out.mp4, $work/metrics.json"
