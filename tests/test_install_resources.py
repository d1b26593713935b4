"""Finding the shipped weights/ and examples/ (v2vtool.resources): the order searched, the
explicit overrides, and one clear line naming every place when nothing is found."""
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from v2vtool import resources
from v2vtool.cli import app
from v2vtool.resources import ENV_WEIGHTS, ResourceNotFound, find_examples, find_weights

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_places(tmp_path, monkeypatch):
    """A source tree and two install prefixes under tmp_path; nothing in them yet."""
    src, pre1, pre2 = tmp_path / "src", tmp_path / "prefix1", tmp_path / "prefix2"
    monkeypatch.setattr(resources, "source_root", lambda: src)
    monkeypatch.setattr(resources, "_prefixes", lambda: [pre1, pre2])
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    return src, pre1, pre2


def test_a_clone_finds_its_own_weights_and_examples(monkeypatch):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    assert find_weights("default") == ROOT / "weights" / "default"
    assert find_weights("keypoints") == ROOT / "weights" / "keypoints"
    assert find_examples() == ROOT / "examples"


def test_source_tree_first_then_installed_prefixes(fake_places):
    src, pre1, pre2 = fake_places
    installed = pre2 / "share" / "v2vtool" / "weights" / "default"
    installed.mkdir(parents=True)
    assert find_weights("default") == installed
    (pre1 / "share" / "v2vtool" / "weights" / "default").mkdir(parents=True)
    assert find_weights("default") == pre1 / "share" / "v2vtool" / "weights" / "default"
    (src / "weights" / "default").mkdir(parents=True)
    assert find_weights("default") == src / "weights" / "default"
    (pre2 / "share" / "v2vtool" / "examples").mkdir(parents=True)
    assert find_examples() == pre2 / "share" / "v2vtool" / "examples"


def test_nothing_found_names_every_place_searched(fake_places):
    src, pre1, pre2 = fake_places
    with pytest.raises(ResourceNotFound) as err:
        find_weights("default")
    msg = str(err.value)
    assert "\n" not in msg
    for place in (src / "weights" / "default",
                  pre1 / "share" / "v2vtool" / "weights" / "default",
                  pre2 / "share" / "v2vtool" / "weights" / "default"):
        assert str(place) in msg
    assert ENV_WEIGHTS in msg
    with pytest.raises(ResourceNotFound, match="examples"):
        find_examples()


def test_explicit_weights_are_the_only_place_searched(fake_places, tmp_path, monkeypatch):
    src, _, _ = fake_places
    (src / "weights" / "default").mkdir(parents=True)  # would be found without the override
    mine = tmp_path / "mine"
    monkeypatch.setenv(ENV_WEIGHTS, str(mine))
    with pytest.raises(ResourceNotFound) as err:  # no silent fallback to the source tree
        find_weights("default")
    assert str(mine / "default") in str(err.value) and str(src) not in str(err.value)
    (mine / "default").mkdir(parents=True)
    assert find_weights("default") == mine / "default"
    other = tmp_path / "other"
    (other / "default").mkdir(parents=True)
    assert find_weights("default", other) == other / "default"  # argument beats the variable


def test_installed_prefixes_include_the_environment(monkeypatch):
    import sysconfig

    prefixes = resources._prefixes()
    assert Path(sysconfig.get_path("data")) in prefixes and Path(sys.prefix) in prefixes


def test_synthesize_without_checkpoint_and_no_weights_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path / "nowhere"))
    res = CliRunner().invoke(app, ["synthesize", "--examples",
                                   str(ROOT / "examples" / "target_front.png"), "--driver",
                                   str(ROOT / "examples" / "driver"), "--out",
                                   str(tmp_path / "o.mp4")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and str(tmp_path / "nowhere" / "default") in res.output
    assert not (tmp_path / "o.mp4").exists()


def test_demo_weights_option_is_honoured(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--weights",
                                   str(tmp_path / "w")])
    assert res.exit_code == 2, res.output
    assert str(tmp_path / "w" / "default") in res.output and not (tmp_path / "d").exists()


def test_keypoint_net_missing_is_a_skipped_metric_not_a_crash(tmp_path, monkeypatch):
    from v2vtool.metrics.common import MetricUnavailable
    from v2vtool.metrics.keypoint_net import load_keypoint_estimator

    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path))
    with pytest.raises(MetricUnavailable, match=str(tmp_path / "keypoints")):
        load_keypoint_estimator()
    monkeypatch.setenv(ENV_WEIGHTS, str(ROOT / "weights"))
    assert load_keypoint_estimator().path == ROOT / "weights" / "keypoints"
