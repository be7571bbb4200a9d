"""Bad input, case by case: each gives one named ``rgbtfuse`` error, exit status 1, no traceback,
no code run from a file and nothing overwritten. The table in docs/reliability.md lists the same cases.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from rgbtfuse.checkpoint import read_checkpoint, trust_checkpoints
from rgbtfuse.cli import main
from rgbtfuse.errors import CheckpointError, ConfigError, InitBoxError, OutputError
from rgbtfuse.training.optim import OptimConfig
from rgbtfuse.training.trainer import LoopConfig, Trainer

REPO = Path(__file__).resolve().parents[2]
NANOTRACK = "weights/nanotrack/pretrained/nanotrackv2.pth"
LRRNET = "weights/lrrnet/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model"
BUS1 = "data/rgbt/vtuav_bus1"


class _Payload:
    """Unpickling this creates a marker folder: proof that a loader ran code from a checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.fixture
def evil(tmp_path) -> tuple[Path, Path]:
    """``(checkpoint, marker)``: a torch checkpoint that looks like a state dict and runs code when unpickled."""
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "epoch": _Payload(marker)}, path)
    return path, marker


def _refused(capsys, rc: int, path: Path, marker: Path) -> None:
    err = capsys.readouterr().err
    assert rc == 1, err
    assert not marker.exists(), "code from the checkpoint ran"
    assert str(path) in err and "refused" in err and "mkdir" in err  # names the file and the global
    assert "Traceback" not in err


# --- 1. checkpoints never run code ------------------------------------------------------------
def test_published_checkpoints_load_without_trust(shared):
    for rel in (NANOTRACK, "weights/nanotrack/pretrained/nanotrackv1.pth", "weights/nanotrack/pretrained/nanotrackv3.pth",
                LRRNET, "weights/didfuse/Encoder_weight_IJCAI.pkl", "weights/didfuse/Decoder_weight_IJCAI.pkl"):
        assert isinstance(read_checkpoint(shared(rel)), dict), rel


def test_read_checkpoint_refuses_a_global_and_trust_is_explicit(evil):
    path, marker = evil
    with pytest.raises(CheckpointError, match="mkdir"):
        read_checkpoint(path)
    assert not marker.exists()
    with trust_checkpoints():  # the opt-in really unpickles (and so runs the payload)
        read_checkpoint(path)
    assert marker.exists()


def test_fuse_refuses_a_malicious_checkpoint(tmp_path, evil, capsys):
    path, marker = evil
    for d in ("ir", "vi"):
        (tmp_path / d).mkdir()
        cv2.imwrite(str(tmp_path / d / "1.png"), np.full((32, 32), 90, np.uint8))
    rc = main(["fuse", "--model", "lrrnet", "--weights", str(path), "--ir", str(tmp_path / "ir"),
               "--vis", str(tmp_path / "vi"), "--out", str(tmp_path / "out"), "--no-progress"])
    _refused(capsys, rc, path, marker)


def test_weights_verify_refuses_a_malicious_checkpoint(evil, capsys):
    path, marker = evil
    rc = main(["weights", "verify", str(path)])
    _refused(capsys, rc, path, marker)


@pytest.mark.parametrize("option", ["--weights", "--fusion-weights"])
def test_track_refuses_a_malicious_checkpoint(tmp_path, shared, evil, capsys, option):
    path, marker = evil
    weights = str(path) if option == "--weights" else str(shared(NANOTRACK))
    extra = ["--fusion-weights", str(path)] if option == "--fusion-weights" else []
    rc = main(["track", "--config", str(REPO / "experiments/nanotrack_v2_l1.yaml"), "--weights", weights, *extra,
               "--sequence", str(shared(BUS1)), "--out", str(tmp_path / "out")])
    _refused(capsys, rc, path, marker)


def test_train_fusion_refuses_malicious_tracker_weights(tmp_path, evil, capsys):
    path, marker = evil
    rc = main(["train-fusion", "--config", str(REPO / "experiments/nanotrack_v2_rfn.yaml"), "--weights", str(path),
               "--out", str(tmp_path / "run"), "--device", "cpu"])
    _refused(capsys, rc, path, marker)


def _image_fusion_cfg(tmp_path: Path, shared, **data) -> Path:
    cfg = {"recipe": "didfuse", "out": str(tmp_path / "run"), "device": "cpu",
           "data": {"root": str(shared("data/fusion/tno40")), "size": 32, "limit": 2, **data},
           "train": {"batch_size": 2, "seed": 1, "steps": 2, "checkpoint_every": 1, "log_every": 1, "tensorboard": False}}
    path = tmp_path / "didfuse.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_image_fusion_resume_refuses_a_malicious_checkpoint(tmp_path, shared, evil, capsys):
    path, marker = evil
    (tmp_path / "run").mkdir()
    os.replace(path, tmp_path / "run" / "checkpoint.pth")
    rc = main(["train-image-fusion", "--config", str(_image_fusion_cfg(tmp_path, shared)), "--resume"])
    _refused(capsys, rc, tmp_path / "run" / "checkpoint.pth", marker)


@pytest.mark.slow
def test_train_fusion_resume_refuses_a_malicious_checkpoint(tmp_path, shared, evil, capsys):
    path, marker = evil
    cfg = yaml.safe_load((REPO / "experiments/nanotrack_v2_rfn.yaml").read_text())
    cfg["train"] = {"weights": str(shared(NANOTRACK)), "steps": 2, "batch_size": 2, "tensorboard": False}
    cfg["data"] = {"sources": [{"dataset": "pairs", "root": str(shared("data/fusion/flir_train180"))}],
                   "cache_dir": str(tmp_path / "cache"), "pairs": {"neg": 0.0}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "run").mkdir()
    os.replace(path, tmp_path / "run" / "checkpoint.pth")
    rc = main(["train-fusion", "--config", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "run"), "--resume", "--device", "cpu"])
    _refused(capsys, rc, tmp_path / "run" / "checkpoint.pth", marker)


# --- 2. fuse never overwrites inputs; ambiguous pairs -----------------------------------------
@pytest.fixture
def pair_folders_(tmp_path) -> tuple[Path, Path]:
    ir, vi = tmp_path / "data" / "ir", tmp_path / "data" / "vi"
    for d, v in ((ir, 200), (vi, 60)):
        d.mkdir(parents=True)
        cv2.imwrite(str(d / "10.png"), np.full((32, 32), v, np.uint8))
    return ir, vi


@pytest.mark.parametrize("where", ["data/ir", "data/ir/sub", "data"])
def test_fuse_out_equal_inside_or_containing_an_input_is_refused(pair_folders_, shared, capsys, where):
    ir, vi = pair_folders_
    before = (ir / "10.png").read_bytes()
    out = ir.parents[1] / where
    rc = main(["fuse", "--model", "lrrnet", "--weights", str(shared(LRRNET)), "--ir", str(ir), "--vis", str(vi),
               "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "--out" in err and "overwrite inputs" in err
    assert (ir / "10.png").read_bytes() == before


def test_fuse_ambiguous_pairs_are_listed(pair_folders_, shared, tmp_path, capsys):
    ir, vi = pair_folders_
    cv2.imwrite(str(ir / "10.jpg"), np.full((32, 32), 10, np.uint8))
    rc = main(["fuse", "--model", "lrrnet", "--weights", str(shared(LRRNET)), "--ir", str(ir), "--vis", str(vi),
               "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "ambiguous" in err and "10.png" in err and "10.jpg" in err
    assert not (tmp_path / "out").exists()


# --- 3. training runs: lock, no silent overwrite, resume checks every setting ------------------
class _Data(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, key):
        g = torch.Generator().manual_seed(key[0])
        return torch.randn(3, generator=g)


def _trainer(out: Path, lr: float = 0.1, steps: int = 4, config: dict | None = None) -> Trainer:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)

    def loss(batch):
        value = model(batch).pow(2).mean()
        return value, {"loss": value.item()}

    loop = LoopConfig(steps=steps, batch_size=4, seed=0, checkpoint_every=2, log_every=1, tensorboard=False)
    return Trainer(model, loss, _Data(), out, loop, OptimConfig(lr=lr), torch.device("cpu"), config_snapshot=config)


def test_a_second_run_into_a_locked_out_fails_naming_the_first(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tmp_path.joinpath("run").mkdir()
        tmp_path.joinpath("run", ".lock").write_text(f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}", "started": "x"}}')
        with pytest.raises(OutputError, match=f"pid {holder.pid}"):
            _trainer(tmp_path / "run").run()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and the next run takes it over (and releases it)
    assert len(_trainer(tmp_path / "run").run()) == 4
    assert not (tmp_path / "run" / ".lock").exists()


def test_a_finished_run_is_not_overwritten_without_force(tmp_path):
    first = _trainer(tmp_path / "run").run()
    with pytest.raises(OutputError, match="--resume .* --force"):
        _trainer(tmp_path / "run").run()
    assert [h["loss"] for h in _trainer(tmp_path / "run").run(force=True)] == [h["loss"] for h in first]


def test_resume_lists_every_changed_setting(tmp_path):
    _trainer(tmp_path / "run", config={"loss": {"w_ir": 6.0}, "train": {"log_every": 1}}).run()
    changed = _trainer(tmp_path / "run", lr=0.2, steps=6, config={"loss": {"w_ir": 3.0, "new": 1}, "train": {"log_every": 5}})
    with pytest.raises(CheckpointError) as info:
        changed.run(resume=True)
    msg = str(info.value)
    for key in ("optim.lr", "loop.steps", "config.loss.w_ir", "config.loss.new"):
        assert key in msg
    assert "log_every" not in msg  # logging does not change the loss sequence


# --- 9. named errors instead of crashes -------------------------------------------------------
def test_track_sub_pixel_init_box(tmp_path, shared, capsys):
    rc = main(["track", "--config", str(REPO / "experiments/nanotrack_v2_l1.yaml"), "--weights", str(shared(NANOTRACK)),
               "--sequence", str(shared(BUS1)), "--out", str(tmp_path / "out"), "--init", "195,31,0.001,0.001"])
    err = capsys.readouterr().err
    assert rc == 1 and "smaller than one pixel" in err and "Traceback" not in err


def test_tracker_init_refuses_a_box_below_one_pixel():
    from rgbtfuse.trackers.builder import build_tracker

    tracker = build_tracker(str(REPO / "rgbtfuse/demo/model.yaml"), None, None, mode="fused", device="cpu")
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(InitBoxError, match="0.2x0.2"):
        tracker.init(frame, frame, (10, 10, 0.2, 0.2))


@pytest.mark.parametrize("key,value", [("penalty_k", "high"), ("instance_size", 255.5), ("lr", True), ("stride", 0)])
def test_track_options_are_type_checked_at_load(key, value):
    from rgbtfuse.trackers.tracker.base import TrackConfig

    with pytest.raises(ConfigError, match=f"track.{key}"):
        TrackConfig.from_dict({key: value})


def test_train_image_fusion_negative_size(tmp_path, shared, capsys):
    rc = main(["train-image-fusion", "--config", str(_image_fusion_cfg(tmp_path, shared, size=-5))])
    err = capsys.readouterr().err
    assert rc == 1 and "data.size" in err


def test_fuse_one_pixel_images(tmp_path, shared, capsys):
    for d in ("ir", "vi"):
        (tmp_path / d).mkdir()
        cv2.imwrite(str(tmp_path / d / "1.png"), np.full((1, 1), 90, np.uint8))
    rc = main(["fuse", "--model", "lrrnet", "--weights", str(shared(LRRNET)), "--ir", str(tmp_path / "ir"),
               "--vis", str(tmp_path / "vi"), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and str(tmp_path / "ir" / "1.png") in err and "1x1" in err


def test_fuse_disk_full_is_a_named_error(tmp_path, shared, capsys, monkeypatch):
    for d in ("ir", "vi"):
        (tmp_path / d).mkdir()
        cv2.imwrite(str(tmp_path / d / "1.png"), np.full((16, 16), 90, np.uint8))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("rgbtfuse.atomic.os.fsync", full)
    rc = main(["fuse", "--model", "lrrnet", "--weights", str(shared(LRRNET)), "--ir", str(tmp_path / "ir"),
               "--vis", str(tmp_path / "vi"), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "no space left" in err and "1.png" in err


def test_training_checkpoint_on_a_full_disk_is_a_named_error(tmp_path, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("rgbtfuse.atomic.os.fsync", full)
    with pytest.raises(OutputError, match="no space left"):
        _trainer(tmp_path / "run").run()


def test_read_only_out_is_a_named_error(tmp_path, monkeypatch):
    # simulated: the tests may run as root, for whom permission bits do not apply
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("rgbtfuse.atomic.tempfile.mkstemp", read_only)
    with pytest.raises(OutputError, match="(?i)read-only"):
        _trainer(tmp_path / "run").run()


def test_out_being_a_file(tmp_path, shared, capsys):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        _trainer(tmp_path / "afile").run()
    for d in ("ir", "vi"):
        (tmp_path / d).mkdir()
        cv2.imwrite(str(tmp_path / d / "1.png"), np.full((16, 16), 90, np.uint8))
    rc = main(["fuse", "--model", "lrrnet", "--weights", str(shared(LRRNET)), "--ir", str(tmp_path / "ir"),
               "--vis", str(tmp_path / "vi"), "--out", str(tmp_path / "afile"), "--no-progress"])
    assert rc == 1 and "not a folder" in capsys.readouterr().err


# --- 11. threads ------------------------------------------------------------------------------
def test_threads_default_and_validation(capsys):
    from rgbtfuse.runtime import DEFAULT_THREADS, set_threads

    before = torch.get_num_threads()
    try:
        assert set_threads() == DEFAULT_THREADS == torch.get_num_threads()
        with pytest.raises(ConfigError, match="--threads"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)
    rc = main(["fuse", "--model", "lrrnet", "--weights", "x", "--ir", "x", "--vis", "x", "--out", "y", "--threads", "0"])
    assert rc == 1 and "--threads must be at least 1" in capsys.readouterr().err


# --- 4. LMDB cache: truncation and bit flips ---------------------------------------------------
@pytest.fixture
def cache(tmp_path) -> Path:
    from test_lmdb_cache import _vot_sequence

    from rgbtfuse.data.lmdb_cache import build_cache

    _vot_sequence(tmp_path / "data")
    build_cache("vot-rgbt", tmp_path / "data", tmp_path / "out", progress=False)
    return tmp_path / "out"


def _prepare(*args: str) -> subprocess.CompletedProcess:
    # a subprocess: a SIGBUS must show as a signal exit status, not kill the test run
    return subprocess.run([sys.executable, "-m", "rgbtfuse", "prepare", *args, "--quiet"], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_truncated_lmdb_is_reported_and_rebuilt(cache):
    data = cache / "crops.lmdb" / "data.mdb"
    with open(data, "r+b") as fh:
        fh.truncate(data.stat().st_size // 3)
    verify = _prepare("--out", str(cache), "--verify")
    assert verify.returncode == 1 and "truncated" in verify.stderr and str(data) in verify.stderr, verify
    rebuilt = _prepare("--dataset", "vot-rgbt", "--root", str(cache.parent / "data"), "--out", str(cache))
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = _prepare("--out", str(cache), "--verify")
    assert again.returncode == 0 and '"crops": 10' in again.stdout, again


def test_bit_flipped_crop_is_found_by_verify(cache):
    from rgbtfuse.data.lmdb_cache import iter_keys

    key, value = next((k, v) for k, v in iter_keys(cache) if k.endswith(b"/rgb"))
    data = cache / "crops.lmdb" / "data.mdb"
    blob = bytearray(data.read_bytes())
    at = blob.find(value) + len(value) // 2  # a pixel in the middle of the crop
    assert at > len(value) // 2
    blob[at] ^= 0x10
    data.write_bytes(bytes(blob))
    verify = _prepare("--out", str(cache), "--verify")
    assert verify.returncode == 1 and "checksum" in verify.stderr and key.decode().rsplit("/", 2)[0] in verify.stderr, verify


# --- 8. TraX server: bad regions and frames are error replies, the session goes on ---------------
def test_trax_server_rejects_bad_regions_and_frames(tmp_path):
    from test_vot_trax import Session, require_trax
    from vot_synth import make_sequence

    from rgbtfuse.data.vot_writer import write_vot_sequence
    from rgbtfuse.demo import FUSION_WEIGHTS, MODEL_CONFIG

    require_trax()
    from trax.region import Polygon, Rectangle

    seq = make_sequence(tmp_path / "raw", "seq", frames=4)
    folder = write_vot_sequence(seq, tmp_path / "vot", anchor_every=4)
    frames = [{"color": folder / "color" / f"{i:08d}.png", "ir": folder / "ir" / f"{i:08d}.png"} for i in range(1, 5)]
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not a png")
    small_ir = tmp_path / "small_ir.png"
    ir = cv2.imread(str(frames[1]["ir"]))
    cv2.imwrite(str(small_ir), cv2.resize(ir, (ir.shape[1] // 2, ir.shape[0] // 2)))

    s = Session("--config", str(MODEL_CONFIG), "--fusion-weights", str(FUSION_WEIGHTS), "--device", "cpu")
    box = tuple(float(v) for v in seq.boxes[0])
    for bad, reason in ((Rectangle.create(10, 10, 0.2, 0.2), "smaller than one pixel"),
                        (Polygon.create([(10, 10), (20, 20), (30, 30), (20, 20)]), "zero area")):
        region, props = s.init(frames[0], bad)
        assert reason in props["error"] and region.bounds() == pytest.approx((0, 0, 0, 0))
    s.init(frames[0], Rectangle.create(*box))
    for frame, reason in (({"color": tmp_path / "gone.png", "ir": frames[1]["ir"]}, "gone.png"),
                          ({"color": corrupt, "ir": frames[1]["ir"]}, "corrupt.png"),
                          ({"color": frames[1]["color"], "ir": small_ir}, "size mismatch")):
        region, props = s.frame(frame)
        assert reason in props["error"] and region.bounds() == pytest.approx((0, 0, 0, 0))
    region, props = s.frame(frames[2])  # the session goes on
    assert "confidence" in props and region.bounds()[2] > 0
    assert s.close() == 0


# --- 7. non-ASCII paths are refused up front by convert and vot init -----------------------------
def test_convert_refuses_non_ascii_sequence_and_destination(tmp_path, shared, capsys):
    src = tmp_path / "bus1_é"
    src.symlink_to(shared(BUS1), target_is_directory=True)
    rc = main(["convert", "--from", "vtuav", "--to", "vot", str(src), str(tmp_path / "vot")])
    err = capsys.readouterr().err
    assert rc == 1 and "non-ASCII" in err and "bus1_é" in err
    rc = main(["convert", "--from", "vtuav", "--to", "vot", str(shared(BUS1)), str(tmp_path / "vöt")])
    err = capsys.readouterr().err
    assert rc == 1 and "non-ASCII" in err and "vöt" in err
    assert not (tmp_path / "vot").exists() and not (tmp_path / "vöt").exists()


def test_vot_init_refuses_non_ascii_sequences(tmp_path, capsys):
    seqs = tmp_path / "séquences"
    (seqs / "a").mkdir(parents=True)
    (seqs / "a" / "groundtruth.txt").write_text("1,1,5,5\n")
    (seqs / "list.txt").write_text("a\n")
    rc = main(["vot", "init", "--workspace", str(tmp_path / "ws"), "--stack", "short", "--sequences", str(seqs),
               "--tracker", "oracle"])
    err = capsys.readouterr().err
    assert rc == 1 and "non-ASCII" in err and "séquences" in err


# --- 6. sparse ground truth on the toolkit's stock reset-based experiment: refused at init --------
def test_vot_init_refuses_the_stock_supervised_experiment_on_sparse_ground_truth(tmp_path, shared, capsys):
    sequences = tmp_path / "sequences"
    assert main(["convert", "--from", "vtuav", "--to", "vot", str(shared(BUS1)), str(sequences), "--link"]) == 0
    stock = tmp_path / "stock_reset.yaml"
    stock.write_text("title: stock\nexperiments:\n  reset:\n    type: supervised\n    skip_initialize: 5\n")
    capsys.readouterr()
    rc = main(["vot", "init", "--workspace", str(tmp_path / "ws"), "--stack", str(stock),
               "--sequences", str(sequences), "--tracker", "oracle"])
    err = capsys.readouterr().err
    assert rc == 1 and "90 frames have no ground truth" in err and "groundtruth.txt" in err
    assert "rgbtfuse.trackers.vot.analysis.SupervisedExperiment" in err  # the way out is named
    assert not (tmp_path / "ws" / "config.yaml").exists()
    # rgbtfuse's reset stack handles unannotated frames (run end to end in tests/vot/test_vot_sparse.py)
    assert main(["vot", "init", "--workspace", str(tmp_path / "ws"), "--stack", "vot2019-rgbtir-reset",
                 "--sequences", str(sequences), "--tracker", "oracle"]) == 0
