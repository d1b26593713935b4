"""Frame timing: timestamps, VFR detection, mean rate, duration (io/timing.py)."""
from __future__ import annotations

import pytest

from v2vtool.io.timing import Timing


@pytest.mark.parametrize("stamps,nominal,vfr,fps,duration", [
    ([i / 30 for i in range(10)], 30.0, False, 30.0, 10 / 30),
    ([i * 0.033 + (0.001 if i % 2 else 0) for i in range(10)], 30.0, False, 30.0, None),
    ([0, 0.1, 0.2, 1.0, 1.1, 1.2, 2.0], 30.0, True, 6 / 2.0, 2.0 + 2.0 / 6),
    ([5.0, 5.04, 5.08, 5.12], 30.0, False, 25.0, 0.16),  # header says 30, frames say 25
    ([0.0], 24.0, False, 24.0, 1 / 24),
    ([0.3, 0.0, 0.1, 0.2], 10.0, False, 10.0, 0.4),  # decode order -> presentation order
])
def test_timing_from_stamps(stamps, nominal, vfr, fps, duration):
    t = Timing.from_stamps(stamps, nominal)
    assert t.times[0] == 0 and list(t.times) == sorted(t.times)
    assert t.vfr is vfr
    assert t.fps == pytest.approx(fps, rel=1e-6)
    if duration is not None:
        assert t.duration == pytest.approx(duration, rel=1e-6)


def test_missing_stamps_fall_back_to_the_rate():
    t = Timing.from_stamps([0.0, None, 0.2], 10.0)
    assert t.times == (0.0, 0.1, 0.2) and not t.vfr


def test_time_past_the_end_and_head():
    t = Timing((0.0, 0.1, 0.5), 10.0)
    assert t.vfr and t.fps == pytest.approx(4.0)
    assert t.time(2) == 0.5 and t.time(4) == pytest.approx(1.0)
    assert t.head(2).times == (0.0, 0.1) and t.head(5).times[-1] == pytest.approx(1.0)
    assert t.describe() == {"vfr": True, "fps": 4.0, "duration": 0.75, "frames": 3}
