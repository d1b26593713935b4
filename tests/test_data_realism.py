"""data/realism.py: photo backdrops and camera looks for procedural training samples."""
import numpy as np

from v2vtool.data.realism import PHOTOS, Backdrop, Camera, composite, photo


def test_backdrops_are_redistributable_photos_at_the_asked_size():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        bd = Backdrop.sample(rng)
        seen.add(bd.name)
        img = bd.image((48, 64))
        assert img.shape == (64, 48, 3) and img.dtype == np.uint8 and img.std() > 3
    assert seen <= set(PHOTOS) and len(seen) > 3
    assert Backdrop.sample(np.random.default_rng(5)) == Backdrop.sample(np.random.default_rng(5))


def test_composite_keeps_the_person_and_replaces_the_rest():
    frame = np.full((32, 32, 3), 200, np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    back = photo("coffee")[:32, :32]
    out = composite(frame, mask, back)
    assert (out[12:20, 12:20] == 200).all()  # inside the person
    assert np.array_equal(out[:4, :4], back[:4, :4])  # far from it


def test_camera_is_deterministic_per_frame_and_degrades():
    img = photo("astronaut")[:64, :64]
    cam = Camera(blur=1.0, noise=0.02, jpeg=40, seed=3)
    a, b = cam(img, 0), cam(img, 0)
    assert np.array_equal(a, b) and not np.array_equal(a, cam(img, 1))  # noise per frame
    assert np.abs(a.astype(int) - img).mean() > 1
    sharp = np.abs(np.diff(img.astype(float), axis=1)).mean()
    assert np.abs(np.diff(Camera(1.2, 0, 0, 0)(img, 0).astype(float), axis=1)).mean() < sharp
    assert np.array_equal(Camera(0, 0, 0, 0)(img, 0), img)


def test_a_sampled_camera_always_changes_something():
    rng = np.random.default_rng(1)
    cams = [Camera.sample(rng) for _ in range(64)]
    assert all(c.blur or c.noise or c.jpeg for c in cams)
    assert {bool(c.blur) for c in cams} == {True, False}  # each effect is optional
