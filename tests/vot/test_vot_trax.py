"""The TraX server in one process: repeated initialisation, polygons, malformed regions, the oracle."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading

import pytest
from vot_synth import make_sequence

from rgbtfuse.data.vot_writer import write_vot_sequence
from tests.conftest import REPO_ROOT


def require_trax():
    if importlib.util.find_spec("trax") is None:
        reason = "vot-trax is not installed (pip install 'rgbtfuse[vot]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — CI=true requires it")
        pytest.skip(reason)


class Session:
    """A TraX client talking to ``python -m rgbtfuse.trackers.vot.trax_server ARGS`` over pipes."""

    def __init__(self, *args: str):
        from trax.client import Client

        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "rgbtfuse.trackers.vot.trax_server", *args], cwd=REPO_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.watchdog = threading.Timer(60, self.proc.kill)  # a hang fails the test instead of blocking it
        self.watchdog.start()
        self.log: list[str] = []  # lines the server printed outside the protocol
        self.client = Client(stream=(self.proc.stdin.fileno(), self.proc.stdout.fileno()), log=self.log.append)

    def images(self, frame: dict):
        from trax.image import FileImage

        return {channel: FileImage.create(str(path)) for channel, path in frame.items()}

    def init(self, frame: dict, region):
        objects, _ = self.client.initialize(self.images(frame), [(region, {})], {})
        return objects[0]

    def frame(self, frame: dict):
        objects, _ = self.client.frame(self.images(frame), {}, [])
        return objects[0]

    def close(self) -> int:
        self.client.quit()
        code = self.proc.wait(timeout=30)
        self.watchdog.cancel()
        return code


@pytest.fixture(scope="module")
def vot_sequence(tmp_path_factory):
    root = tmp_path_factory.mktemp("trax")
    seq = make_sequence(root / "raw", "seq", frames=8)
    folder = write_vot_sequence(seq, root / "vot", anchor_every=4)
    frames = [{"color": folder / "color" / f"{i:08d}.png", "ir": folder / "ir" / f"{i:08d}.png"} for i in range(1, 9)]
    return seq, frames


def test_static_session_survives_reinit_and_malformed_regions(vot_sequence):
    require_trax()
    from trax.region import Polygon, Rectangle

    _, frames = vot_sequence
    s = Session("--builtin", "static")
    assert s.client.channels == ["color", "ir"]
    region, props = s.init(frames[0], Rectangle.create(10, 20, 30, 40))
    assert region.bounds() == pytest.approx((10, 20, 30, 40))
    region, props = s.frame(frames[1])
    assert region.bounds() == pytest.approx((10, 20, 30, 40)) and float(props["confidence"]) == 1.0
    # a second initialisation in the same process
    pid = s.proc.pid
    s.init(frames[2], Rectangle.create(50, 60, 12, 14))
    assert s.frame(frames[3])[0].bounds() == pytest.approx((50, 60, 12, 14))
    # polygon -> axis-aligned box, pysot's +1 convention
    s.init(frames[0], Polygon.create([(10, 20), (40, 20), (40, 50), (10, 50)]))
    assert s.frame(frames[1])[0].bounds() == pytest.approx((10, 20, 31, 31))
    # malformed regions: an error reply, and the session goes on
    for bad in (Rectangle.create(5, 5, 0, 0), Polygon.create([(1, 1), (1, 1), (1, 1)])):
        region, props = s.init(frames[0], bad)
        assert "error" in props and region.bounds() == pytest.approx((0, 0, 0, 0))
        region, props = s.frame(frames[1])
        assert props.get("error") == "not initialised"
    s.init(frames[4], Rectangle.create(1, 2, 3, 4))
    assert s.frame(frames[5])[0].bounds() == pytest.approx((1, 2, 3, 4))
    assert s.proc.pid == pid and s.proc.poll() is None
    assert s.close() == 0


def test_oracle_session_reports_ground_truth_and_single_channel(vot_sequence):
    require_trax()
    from trax.region import Rectangle

    seq, frames = vot_sequence
    s = Session("--builtin", "oracle", "--channels", "ir")
    assert s.client.channels == ["ir"]
    ir_only = [{"ir": f["ir"]} for f in frames]
    s.init(ir_only[0], Rectangle.create(*seq.boxes[0]))
    for i in (1, 5, 7):
        assert s.frame(ir_only[i])[0].bounds() == pytest.approx(tuple(seq.boxes[i]), abs=1e-3)
    # backward run: re-initialise at the end and step back
    s.init(ir_only[7], Rectangle.create(*seq.boxes[7]))
    assert s.frame(ir_only[6])[0].bounds() == pytest.approx(tuple(seq.boxes[6]), abs=1e-3)
    assert s.close() == 0


def test_server_reports_a_bad_experiment_yaml(tmp_path):
    missing = tmp_path / "missing.yaml"
    proc = subprocess.run([sys.executable, "-m", "rgbtfuse.trackers.vot.trax_server", "--config", str(missing)],
                          check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert proc.returncode == 1 and "experiment yaml not found" in proc.stderr
