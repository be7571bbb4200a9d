"""Quality network (AFAT-style QPN) of mode decision: training with the tracker frozen, use in
``decision``, and the acceptance — on held-out generated scenes it predicts the branches' IoU
better than the training-free quality."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch

from rgbtfuse.errors import CheckpointError, ConfigError, OutputError
from rgbtfuse.trackers.builder import build_tracker, load_experiment
from rgbtfuse.trackers.models.quality import QualityNet, load_qpn
from rgbtfuse.trackers.models.siamese import BRANCHES
from rgbtfuse.trackers.tracker.base import Proposal
from rgbtfuse.trackers.tracker.decision import DecisionConfig
from rgbtfuse.trackers.tracker.evidence import EvidenceBuilder
from rgbtfuse.training.quality import (
    ClipDataset,
    predict,
    train_quality,
)
from rgbtfuse.training.quality_data import rollout, synthetic_sources
from tests.conftest import REPO_ROOT

DEMO_FUSION = str(REPO_ROOT / "rgbtfuse/demo/weights/gate_fusion.pth")
FRAMES = 40
TRAIN_SEEDS, HELD_OUT_SEEDS = [4000, 4015], [4100, 4107]  # disjoint: held-out scenes never trained on


def _experiment(**decision) -> dict:
    """The demo model (filter bank + gate, no tracker weights needed) with a small quality: section."""
    cfg = copy.deepcopy(load_experiment(REPO_ROOT / "experiments/demo_filterbank_qpn.yaml"))
    cfg["decision"] = {"rule": "quality", "quality": "peak_apce", "consensus": True, **decision}
    cfg["quality"] = {
        "data": {"synthetic": {"seeds": TRAIN_SEEDS, "frames": FRAMES}, "policies": ["free"], "clip": 32},
        "train": {"steps": 150, "batch_size": 16, "seed": 0, "checkpoint_every": 50, "log_every": 10},
        "optimizer": {"name": "adam", "lr": 3.0e-3, "schedule": "cosine", "warmup_steps": 10},
        "val": {"synthetic": {"seeds": HELD_OUT_SEEDS}, "policies": ["free"]},
    }
    return cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """One small QPN run (the acceptance run); the other tests reuse its folder and evidence."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("qpn") / "run"
    t0 = time.perf_counter()
    summary = train_quality(_experiment(), out, fusion_weights=DEMO_FUSION, log=lambda _: None)
    return {"out": out, "summary": summary, "seconds": time.perf_counter() - t0}


def test_trained_qpn_beats_training_free_quality_on_held_out_scenes(trained):
    """Acceptance: on held-out scenes (other seeds) the QPN's predicted IoU correlates better with
    the true IoU than the training-free peak·APCE·consensus, and picks the best branch more often."""
    m = trained["summary"]["eval"]
    assert m["frames"] == (HELD_OUT_SEEDS[1] - HELD_OUT_SEEDS[0] + 1) * (FRAMES - 1)
    assert m["decisive_frames"] >= 20, m  # enough frames where the choice matters to compare on
    qpn, free = m["qpn"], m["training_free"]
    assert qpn["pearson"] > free["pearson"], m
    assert qpn["choice_accuracy"] > free["choice_accuracy"], m
    assert trained["summary"]["loss_last"] < trained["summary"]["loss_first"]
    assert trained["seconds"] < 120, trained["seconds"]  # ~40 s on one free core; slack for a loaded machine


def test_outputs_and_log(trained):
    out = trained["out"]
    for name in ("qpn.pth", "checkpoint.pth", "log.csv", "eval.json"):
        assert (out / name).is_file(), name
    assert not (out / ".lock").exists()
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss,mse,mae,rank") and rows[-1].startswith("150,")
    net, meta = load_qpn(str(out / "qpn.pth"))
    assert meta["score_size"] == 17 and meta["model_class"] == "FilterBankSiamese" and isinstance(net, QualityNet)
    assert meta["training_free_quality"] == "training-free peak_apce + consensus"


def test_one_run_per_out_and_exact_resume(trained, tmp_path, monkeypatch):
    """An existing run is refused without --resume/--force; a run interrupted after its step-20
    checkpoint and resumed ends with the same weights as an uninterrupted one (cached evidence)."""
    import shutil

    from rgbtfuse.training import quality as Q

    with pytest.raises(OutputError, match="--resume"):
        train_quality(_experiment(), trained["out"], fusion_weights=DEMO_FUSION, log=lambda _: None)
    cfg = _experiment()
    cfg["quality"]["train"].update(steps=40, checkpoint_every=20)
    cfg["quality"]["val"] = None
    runs = {}
    for name in ("whole", "resumed"):
        shutil.copytree(trained["out"] / "evidence", tmp_path / name / "evidence")  # no rollouts again
    train_quality(cfg, tmp_path / "whole", fusion_weights=DEMO_FUSION, log=lambda _: None)
    calls = {"n": 0}
    original = Q.QualityLoss.__call__

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 26:
            raise KeyboardInterrupt  # killed between checkpoints
        return original(self, batch)

    monkeypatch.setattr(Q.QualityLoss, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_quality(cfg, tmp_path / "resumed", fusion_weights=DEMO_FUSION, log=lambda _: None)
    monkeypatch.setattr(Q.QualityLoss, "__call__", original)
    assert not (tmp_path / "resumed" / ".lock").exists()
    train_quality(cfg, tmp_path / "resumed", fusion_weights=DEMO_FUSION, resume=True, log=lambda _: None)
    for name in ("whole", "resumed"):
        runs[name] = load_qpn(str(tmp_path / name / "qpn.pth"))[0].state_dict()
    for key, value in runs["whole"].items():
        assert torch.equal(value, runs["resumed"][key]), key
    rows = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [str(s) for s in range(10, 41, 10)]


def test_decision_uses_the_qpn_and_matches_the_offline_prediction(trained):
    """Mode decision with quality: qpn follows the network's predicted IoU; re-running its trajectory
    offline (replay) gives the same evidence and predictions, and init resets the LSTM state."""
    weights = str(trained["out"] / "qpn.pth")
    cfg = _experiment(quality="qpn", quality_weights=weights)
    tracker = build_tracker(cfg, None, DEMO_FUSION, mode="decision", device="cpu")
    assert tracker.quality_source == f"qpn {weights}"
    source = next(synthetic_sources({"frames": FRAMES}, [HELD_OUT_SEEDS[0]]))
    runs = []
    for _ in range(2):  # twice: the second run must not remember the first (state reset at init)
        rgb, ir = source.frame(0)
        tracker.init(rgb, ir, tuple(source.boxes[0]))
        runs.append([tracker.track(*source.frame(i)) for i in range(1, len(source))])
    assert [o["q_rgb"] for o in runs[0]] == [o["q_rgb"] for o in runs[1]]
    outs = runs[0]
    followed = [o["branch"] for o in outs]
    q = np.array([[o[f"q_{b}"] for b in BRANCHES] for o in outs])
    assert ((q >= 0) & (q <= 1)).all()
    for o, row in zip(outs, q):  # the followed branch has the highest predicted IoU (ties to fused)
        assert o["quality"] == row.max() and (o["branch"] == "fused" or row[BRANCHES.index(o["branch"])] > row[2])
    free_tracker = build_tracker(_experiment(), None, DEMO_FUSION, mode="decision", device="cpu")
    replayed = rollout(free_tracker, source, "free", replay=followed)
    net, _ = load_qpn(weights)
    # offline = one LSTM pass over the whole sequence, online = one step per frame: same numbers
    # up to float32 rounding of the batched matmuls
    np.testing.assert_allclose(predict(net, replayed), q, atol=1e-5)


def test_rollouts_are_cached_and_reproducible(trained):
    tracker = build_tracker(_experiment(), None, DEMO_FUSION, mode="decision", device="cpu")
    source = next(synthetic_sources({"frames": FRAMES}, [TRAIN_SEEDS[0]]))
    fresh = rollout(tracker, source, "free")
    spec_files = sorted((trained["out"] / "evidence").glob(f"synthetic_{TRAIN_SEEDS[0]}__free__*.npz"))
    assert len(spec_files) == 1
    with np.load(spec_files[0]) as cached:
        for key in ("maps", "scalars", "iou", "followed"):
            np.testing.assert_array_equal(cached[key], fresh[key])
    # the oracle follows the branch with the highest true IoU on every frame (ties go to fused)
    oracle = rollout(tracker, source, "oracle")
    best = oracle["iou"].max(axis=1)
    assert all(oracle["iou"][t, f] == best[t] for t, f in enumerate(oracle["followed"]))


def test_evidence_shifts_the_peak_to_the_origin():
    """AFAT's shift: the current map's peak at index (0, 0), the previous map moved with it."""
    size = 5
    builder = EvidenceBuilder(size)

    def proposal(peak: tuple[int, int]) -> Proposal:
        m = np.zeros((size, size))
        m[peak] = 0.9
        return Proposal(np.array([50.0, 50.0]), np.array([20.0, 10.0]), 0.9, m.ravel(), int(np.ravel_multi_index(peak, m.shape)))

    builder.frame({"rgb": proposal((1, 1)), "ir": proposal((1, 1)), "fused": None}, np.array([50.0, 50.0]), np.array([20.0, 10.0]))
    maps, scalars = builder.frame({"rgb": proposal((3, 2)), "ir": proposal((1, 1)), "fused": None}, np.array([50.0, 50.0]), np.array([20.0, 10.0]))
    assert maps[0, 0, 0, 0] == pytest.approx(0.9) and maps[0, 0].sum() == pytest.approx(0.9)
    assert maps[0, 1, (1 - 3) % size, (1 - 2) % size] == pytest.approx(0.9)  # the previous peak, relative to the current one
    assert (maps[2] == 0).all() and (scalars[2] == 0).all()  # no proposal: no evidence, valid flag 0
    assert scalars[0, -1] == 1 and scalars[0, 3] == pytest.approx(1.0)  # rgb and ir boxes agree


def test_config_errors(trained, tmp_path):
    with pytest.raises(ConfigError, match="quality_weights"):
        DecisionConfig.from_dict({"quality": "qpn"})
    with pytest.raises(ConfigError, match="quality: qpn"):
        DecisionConfig.from_dict({"quality_weights": "x.pth"})
    with pytest.raises(ConfigError, match="not found"):
        build_tracker(_experiment(quality="qpn", quality_weights=str(tmp_path / "none.pth")), None, DEMO_FUSION, mode="decision")
    # a QPN trained for another score-map size is refused
    net, meta = load_qpn(str(trained["out"] / "qpn.pth"))
    from rgbtfuse.atomic import atomic_torch_save
    from rgbtfuse.trackers.models.quality import qpn_file

    other = tmp_path / "other.pth"
    atomic_torch_save(qpn_file(net, {**meta, "score_size": 16}), other)
    with pytest.raises(CheckpointError, match="16x16"):
        build_tracker(_experiment(quality="qpn", quality_weights=str(other)), None, DEMO_FUSION, mode="decision")
    bad = copy.deepcopy(_experiment())
    bad["quality"]["data"]["policies"] = ["sometimes"]
    with pytest.raises(ConfigError, match="policies"):
        train_quality(bad, tmp_path / "bad", fusion_weights=DEMO_FUSION)


def test_clip_dataset_is_keyed_and_masks_frames_without_boxes():
    t, s = 10, 5
    data = {
        "maps": np.random.default_rng(0).random((t, 3, 2, s, s)).astype(np.float16),
        "scalars": np.zeros((t, 3, 7), np.float32),
        "iou": np.full((t, 3), 0.5),
        "has_gt": np.arange(t) % 2 == 0,
        "valid": np.ones((t, 3), bool),
    }
    ds = ClipDataset([("a", data)], clip=16)
    a, b = ds[(0, 7)], ds[(0, 7)]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["maps"].shape == (16, 3, 2, s, s)
    assert a["mask"][:t].sum() == 3 * 5 and a["mask"][t:].sum() == 0  # padding and box-less frames masked
    net = QualityNet()
    pred, _ = net(a["maps"][None], a["scalars"][None])
    assert pred.shape == (1, 16, 3)


def test_bundled_experiment_yamls_track_with_their_qpn(monkeypatch):
    """experiments/*_qpn.yaml name the bundled QPNs (paths relative to the repository root) and
    make decision use them; the weights fit their tracker (meta checked at load)."""
    monkeypatch.chdir(REPO_ROOT)
    tracker = build_tracker("experiments/demo_filterbank_qpn.yaml", None, DEMO_FUSION, device="cpu")
    assert tracker.mode == "decision" and tracker.qpn is not None
    assert tracker.quality_source == "qpn demo_filterbank_qpn"
    source = next(synthetic_sources({"frames": 12, "degrade": None}, [HELD_OUT_SEEDS[0]]))
    tracker.init(*source.frame(0), tuple(source.boxes[0]))
    outs = [tracker.track(*source.frame(i)) for i in range(1, 12)]
    assert all(o["valid"] and o["branch"] in BRANCHES for o in outs)
    _, meta = load_qpn("rgbtfuse/trained/nanotrack_v2_dfat_l1_qpn.pth")
    assert meta["score_size"] == 16 and meta["model_type"] == "nanotrack" and meta["fusion"] == "l1"


def test_cli_train_quality_resumes_a_finished_run_and_prints_the_comparison(trained, tmp_path, capsys):
    """The thin command: parse, call train_quality, print the QPN path and the held-out table."""
    import yaml

    from rgbtfuse.cli import main

    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(_experiment()))
    code = main(["train-quality", "--config", str(config), "--out", str(trained["out"]), "--fusion-weights", DEMO_FUSION, "--resume", "--threads", "1"])
    assert code == 0
    text = capsys.readouterr().out
    assert f"QPN: {trained['out'] / 'qpn.pth'}" in text and "| qpn |" in text and "| training_free |" in text
    assert "training-free baseline: training-free peak_apce + consensus" in text
    assert main(["train-quality", "--config", str(config), "--out", str(trained["out"]), "--fusion-weights", DEMO_FUSION]) == 1  # needs --resume/--force


def test_dataset_folders_roll_out_with_sparse_boxes(tmp_path):
    """quality.data.sequences: any readable sequence folder (here VOT layout); frames without a box
    still feed the LSTM but carry no target (has_gt False, IoU 0, masked in the clips)."""
    from rgbtfuse.data.synthetic import SceneConfig, write_vot_sequence
    from rgbtfuse.training.quality_data import folder_sources

    folder = write_vot_sequence(SceneConfig(seed=4200, frames=12, width=160, height=120), tmp_path / "seq")
    rows = (folder / "groundtruth.txt").read_text().splitlines()
    for i in (3, 5):
        rows[i] = "nan,nan,nan,nan"
    (folder / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    (source,) = list(folder_sources([str(folder)]))
    tracker = build_tracker(_experiment(), None, DEMO_FUSION, mode="decision", device="cpu")
    data = rollout(tracker, source, "fused")
    assert len(data["iou"]) == 11 and data["maps"].shape == (11, 3, 2, 17, 17)
    assert not data["has_gt"][[2, 4]].any() and data["has_gt"][[0, 1, 3]].all()  # frame i is row i - 1
    assert (data["iou"][[2, 4]] == 0).all() and (data["iou"][data["has_gt"]] > 0).any()
    assert (data["followed"] == BRANCHES.index("fused")).all()
    clip = ClipDataset([("seq", data)], clip=11)[(0, 0)]
    assert clip["mask"][[2, 4]].sum() == 0 and clip["mask"][[0, 1, 3]].sum() == 9
