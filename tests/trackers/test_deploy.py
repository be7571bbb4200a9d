"""ONNX export and the onnxruntime backend: parity with PyTorch, cv2.TrackerNano, bad input."""

from __future__ import annotations

import json
import re
import shutil

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="pip install 'rgbtfuse[onnx]'")

from deploy_helpers import NANO_V2, REPO, seeded_fusion_weights, seeded_pysot_weights, track_side_by_side  # noqa: E402

from rgbtfuse.cli import main  # noqa: E402
from rgbtfuse.data import load_sequence  # noqa: E402
from rgbtfuse.errors import ExportError, WeightsError  # noqa: E402
from rgbtfuse.fusion import available_fusions, build_fusion  # noqa: E402
from rgbtfuse.trackers.builder import build_model, build_tracker  # noqa: E402
from rgbtfuse.trackers.deploy.export import export_tracker, fusion_onnx  # noqa: E402
from rgbtfuse.trackers.deploy.runtime import OnnxSiameseModel, build_onnx_tracker  # noqa: E402
from rgbtfuse.trackers.tracker.crop import to_tensor  # noqa: E402

# float32 kernels of onnxruntime and oneDNN sum in different orders: ~1e-6 relative measured,
# the bound is 1e-4 relative (to the largest PyTorch value of each output)
REL = 1e-4
# boxes of two float32 implementations of one network; the bound
PX = 0.5


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _check_random_crops(folder, config, weights, fusion_weights=None, mode=None, seed=7) -> None:
    """Runtime outputs vs the PyTorch model on crops the export never saw."""
    onnx_model = OnnxSiameseModel(folder, device="cpu", threads=1)
    model = build_model(config, weights, fusion_weights, mode)
    rng = np.random.default_rng(seed)
    manifest = onnx_model.manifest
    e, i = manifest["track"]["exemplar_size"], manifest["track"]["instance_size"]
    crops = {k: to_tensor(rng.integers(0, 256, (s, s, 3), dtype=np.uint8)) for k, s in (("zr", e), ("zi", e), ("xr", i), ("xi", i))}
    use_rgb, use_ir = model.mode in ("rgb", "fused"), model.mode in ("ir", "fused")
    z = (crops["zr"] if use_rgb else None, crops["zi"] if use_ir else None)
    x = (crops["xr"] if use_rgb else None, crops["xi"] if use_ir else None)
    with torch.no_grad():
        model.template(*z)
        ref = model.track(*x)
    onnx_model.template(*z)
    got = onnx_model.track(*x)
    assert set(got) == set(ref)
    for k in ref:
        assert _rel(got[k], ref[k]) <= REL, k


@pytest.fixture(scope="module")
def v2_exports(tmp_path_factory):
    """Exported NanoTrack v2 folders: rgb, fused l1, fused rfn (seeded initial weights)."""
    from conftest import shared_path

    weights = shared_path(NANO_V2)
    root = tmp_path_factory.mktemp("v2")
    rfn_cfg = REPO / "experiments/nanotrack_v2_rfn.yaml"
    rfn_weights = seeded_fusion_weights(rfn_cfg, weights, root / "rfn_seeded.pth")
    cases = {
        "rgb": (REPO / "experiments/nanotrack_v2.yaml", None, "rgb"),
        "l1": (REPO / "experiments/nanotrack_v2_l1.yaml", None, "fused"),
        "rfn": (rfn_cfg, rfn_weights, "fused"),
    }
    out = {}
    for name, (cfg, fw, mode) in cases.items():
        export_tracker(cfg, weights, root / name, fusion_weights=fw, mode=mode)
        out[name] = (root / name, cfg, weights, fw, mode)
    return out


@pytest.mark.parametrize("case", ["rgb", "l1", "rfn"])
def test_nanotrack_v2_export_equals_pytorch_on_random_crops(v2_exports, case):
    folder, cfg, weights, fw, mode = v2_exports[case]
    _check_random_crops(folder, cfg, weights, fw, mode)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["opset"] >= 17 and manifest["mode"] == mode
    assert manifest["track"]["stride"] == 16 and manifest["track"]["penalty_k"] == pytest.approx(0.15)
    names = [i["name"] for i in manifest["branches"]["search"]["inputs"]]
    assert names == (["x_rgb"] if mode == "rgb" else ["x_rgb", "x_ir"]) + ["zf"]
    assert all(v <= REL for v in manifest["verification"].values())


@pytest.mark.slow
@pytest.mark.parametrize("case", ["rgb", "l1", "rfn"])
def test_nanotrack_v2_onnxruntime_tracks_bus1_as_pytorch(v2_exports, shared, case):
    folder, cfg, weights, fw, mode = v2_exports[case]
    seq = load_sequence(shared("data/rgbt/vtuav_bus1"))
    pytorch = build_tracker(cfg, weights, fw, mode, device="cpu")
    onnx = build_onnx_tracker(folder, mode=mode, device="cpu", threads=1)
    ref, got = track_side_by_side([pytorch, onnx], seq, range(len(seq)), tuple(seq.boxes[0]), mode)
    assert len(ref) == len(seq) - 1
    assert np.abs(ref - got).max() < PX


@pytest.mark.slow
def test_rgb_export_runs_in_cv2_tracker_nano_as_the_published_pair(v2_exports, shared):
    if not hasattr(cv2, "TrackerNano_create"):
        pytest.skip("this OpenCV has no TrackerNano")
    folder = v2_exports["rgb"][0]
    manifest = json.loads((folder / "manifest.json").read_text())
    published = shared("weights/nanotrack/nanotrackv2")
    pairs = [
        (published / "nanotrack_backbone_sim.onnx", published / "nanotrack_head_sim.onnx"),
        (folder / manifest["opencv"]["backbone"], folder / manifest["opencv"]["neckhead"]),
    ]
    seq = load_sequence(shared("data/rgbt/vtuav_bus1"))
    runs = []
    for backbone, head in pairs:
        params = cv2.TrackerNano_Params()
        params.backbone, params.neckhead = str(backbone), str(head)
        tracker = cv2.TrackerNano_create(params)
        boxes = []
        for i in range(len(seq)):
            frame = cv2.imread(str(seq.rgb_frames[i]))
            if i == 0:
                tracker.init(frame, tuple(int(v) for v in seq.boxes[0]))
            else:
                ok, box = tracker.update(frame)
                assert ok
                boxes.append(box)
        runs.append(np.asarray(boxes, float))
    assert len(runs[0]) == len(seq) - 1
    assert np.abs(runs[0] - runs[1]).max() < PX


def test_opencv_pair_has_the_published_inputs_and_outputs(v2_exports, shared):
    onnx = pytest.importorskip("onnx")
    folder = v2_exports["rgb"][0]
    published = shared("weights/nanotrack/nanotrackv2")

    def io(path):
        g = onnx.load(str(path)).graph
        return [(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim]) for v in (*g.input, *g.output)]

    assert io(folder / "nanotrack_backbone.onnx") == io(published / "nanotrack_backbone_sim.onnx")
    assert io(folder / "nanotrack_head.onnx") == io(published / "nanotrack_head_sim.onnx")


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_nanotrack_v1_v3_export_equals_pytorch(tmp_path, shared, version):
    weights = shared(f"weights/nanotrack/pretrained/nanotrack{version}.pth")
    cfg = REPO / f"experiments/nanotrack_{version}.yaml"
    export_tracker(cfg, weights, tmp_path)
    _check_random_crops(tmp_path, cfg, weights)


@pytest.mark.slow
def test_siamrpn_mobilev2_fused_export_tracks_bus1_as_pytorch(tmp_path, shared):
    cfg = REPO / "experiments/siamrpn_mobilev2_l234_l1.yaml"
    weights = seeded_pysot_weights("siamrpn_mobilev2_l234_dwxcorr", tmp_path / "model.pth")
    manifest = export_tracker(cfg, weights, tmp_path / "onnx")
    assert [o["name"] for o in manifest["branches"]["template"]["outputs"]] == [
        f"{h}_kernel{lvl}" for lvl in (2, 3, 4) for h in ("cls", "loc")
    ]
    _check_random_crops(tmp_path / "onnx", cfg, weights)
    seq = load_sequence(shared("data/rgbt/vtuav_bus1"))
    pytorch = build_tracker(cfg, weights, device="cpu")
    onnx = build_onnx_tracker(tmp_path / "onnx", device="cpu", threads=1)
    ref, got = track_side_by_side([pytorch, onnx], seq, range(len(seq)), tuple(seq.boxes[0]), "fused")
    assert np.abs(ref - got).max() < PX


@pytest.mark.slow
def test_siamrpn_r50_export_equals_pytorch(tmp_path):
    cfg = REPO / "experiments/siamrpn_r50_l234_add.yaml"
    weights = seeded_pysot_weights("siamrpn_r50_l234_dwxcorr", tmp_path / "model.pth")
    export_tracker(cfg, weights, tmp_path / "onnx")
    _check_random_crops(tmp_path / "onnx", cfg, weights)


@pytest.mark.parametrize("fusion", ["nuclear", "sca_nuclear"])
def test_non_exportable_fusion_is_named(tmp_path, fusion):
    cfg = {
        "model": {"type": "nanotrack", "backbone": {"type": "mobilenetv3_small"}, "head": {"type": "ban_v2", "in_channels": 48}},
        "fusion": {"name": "nuclear"} if fusion == "nuclear" else {"name": "sca", "pooling": "nuclear"},
    }
    with pytest.raises(ExportError, match=r"fusion '(nuclear|sca)' \((NuclearNormFusion|SpatialChannelAttentionFusion).*svdvals"):
        export_tracker(cfg, None, tmp_path)
    assert not (tmp_path / "manifest.json").exists()


def test_model_folder_with_missing_or_altered_file_is_refused(v2_exports, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(v2_exports["l1"][0], folder)
    OnnxSiameseModel(folder, device="cpu")  # intact
    data = bytearray((folder / "search.onnx").read_bytes())
    data[-1] ^= 1
    (folder / "search.onnx").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"search\.onnx: sha256 .* altered"):
        OnnxSiameseModel(folder, device="cpu")
    (folder / "search.onnx").unlink()
    with pytest.raises(WeightsError, match=r"search\.onnx: listed in manifest\.json but missing"):
        build_onnx_tracker(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"manifest\.json: not valid JSON"):
        build_onnx_tracker(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(WeightsError, match=r"manifest\.json: not found"):
        build_onnx_tracker(folder)


def test_mode_must_match_the_export(v2_exports):
    with pytest.raises(Exception, match="exported for mode 'rgb'"):
        build_onnx_tracker(v2_exports["rgb"][0], mode="fused")


def test_export_command(tmp_path, shared, capsys):
    weights = shared(NANO_V2)
    code = main(["export", "--config", str(REPO / "experiments/nanotrack_v2.yaml"), "--weights", str(weights), "--out", str(tmp_path)])
    assert code == 0
    assert "nanotrack [rgb] exported" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "manifest.json", "nanotrack_backbone.onnx", "nanotrack_head.onnx", "search.onnx", "template.onnx",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "experiments/nanotrack_v2_l1.yaml").read_text().replace("name: l1", "name: nuclear").replace("window: 1", ""))
    assert main(["export", "--config", str(bad), "--weights", str(weights), "--out", str(tmp_path / "x")]) == 1
    assert "fusion 'nuclear' (NuclearNormFusion, scale 0) cannot be exported" in capsys.readouterr().err


def test_trax_server_runs_an_exported_model(v2_exports, tmp_path):
    from vot_synth import make_sequence

    from rgbtfuse.data.vot_writer import write_vot_sequence
    from rgbtfuse.trackers.vot.frame_trackers import load_onnx_tracker
    from tests.vot.test_vot_trax import Session, require_trax

    require_trax()
    from trax.region import Rectangle

    seq = make_sequence(tmp_path / "raw", "seq", frames=6)
    folder = write_vot_sequence(seq, tmp_path / "vot", anchor_every=3)
    frames = [{"color": folder / "color" / f"{i:08d}.png", "ir": folder / "ir" / f"{i:08d}.png"} for i in range(1, 7)]
    model = v2_exports["l1"][0]
    local = load_onnx_tracker(model, device="cpu")
    box = tuple(float(v) for v in seq.boxes[0])
    local.init(frames[0], box)
    expected = [local.track(f)[0] for f in frames[1:]]
    s = Session("--model", str(model), "--device", "cpu")
    assert s.client.channels == ["color", "ir"]
    s.init(frames[0], Rectangle.create(*box))
    got = [s.frame(f)[0].bounds() for f in frames[1:]]
    assert s.close() == 0
    # the TraX reply carries the box as float32 values
    assert np.abs(np.asarray(got) - np.asarray(expected)).max() < 1e-3


def test_track_command_with_the_onnxruntime_backend(v2_exports, shared, tmp_path, capsys):
    seq = shared("data/rgbt/vtuav_bus1")
    folder, cfg, weights, _, _ = v2_exports["l1"]
    args = ["track", "--sequence", str(seq), "--threads", "1", "--device", "cpu"]
    assert main([*args, "--backend", "onnxruntime", "--model", str(folder), "--out", str(tmp_path / "ort")]) == 0
    assert main([*args, "--config", str(cfg), "--weights", str(weights), "--out", str(tmp_path / "pt")]) == 0
    capsys.readouterr()
    ort_boxes = np.loadtxt(tmp_path / "ort/boxes.txt", delimiter=",")
    pt_boxes = np.loadtxt(tmp_path / "pt/boxes.txt", delimiter=",")
    assert np.isfinite(ort_boxes).all() and ort_boxes.shape == pt_boxes.shape
    assert np.abs(ort_boxes - pt_boxes).max() < PX
    assert json.loads((tmp_path / "ort/summary.json").read_text())["mode"] == "fused"
    # the backends' options do not mix
    assert main([*args, "--backend", "onnxruntime", "--config", str(cfg), "--out", str(tmp_path / "x")]) == 1
    assert "--backend onnxruntime takes --model" in capsys.readouterr().err


#: fusion rules with no ONNX operator for their nuclear-norm pooling (SVD / eigenvalues)
NOT_EXPORTABLE = {"nuclear", "nuclear_norm", "attention_nuclear"}


@pytest.mark.parametrize("name", available_fusions())
def test_every_fusion_module_exports_or_is_named(name):
    import onnxruntime as ort

    torch.manual_seed(0)
    module = build_fusion(name, 48).eval()
    gen = torch.Generator().manual_seed(1)
    rgb, ir = (torch.randn(1, 48, 16, 16, generator=gen) for _ in range(2))
    if name in NOT_EXPORTABLE:
        with pytest.raises(ExportError, match=re.escape(f"fusion '{name}' ({type(module).__name__}, scale 0) cannot be exported") + ".*svdvals"):
            fusion_onnx(name, module, rgb, ir)
        return
    data = fusion_onnx(name, module, rgb, ir)
    rgb2, ir2 = (torch.randn(1, 48, 16, 16, generator=gen) for _ in range(2))  # not the traced inputs
    with torch.no_grad():
        ref = module(rgb2, ir2)
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"rgb": rgb2.numpy(), "ir": ir2.numpy()})[0]
    assert _rel(torch.from_numpy(got), ref) <= REL


def test_benchmark_runner_with_onnxruntime_equals_pytorch(v2_exports, tmp_path):
    """``rgbtfuse test --backend onnxruntime`` goes through the same runner; boxes within 0.5 px
    of the PyTorch run on bus1 (the acceptance bound for deployment)."""
    from conftest import shared_path

    folder, cfg, weights, _, mode = v2_exports["l1"]
    common = ["--mode", mode, "--dataset", "vtuav", "--root", str(shared_path("data/rgbt/vtuav_bus1")), "--threads", "1"]
    assert main(["test", "--backend", "onnxruntime", "--model", str(folder), *common, "--out", str(tmp_path / "ort")]) == 0
    assert main(["test", "--config", str(cfg), "--weights", str(weights), *common, "--out", str(tmp_path / "pt")]) == 0
    ort = np.loadtxt(tmp_path / "ort" / "vtuav_bus1.txt", delimiter=",")
    pt = np.loadtxt(tmp_path / "pt" / "vtuav_bus1.txt", delimiter=",")
    assert ort.shape == pt.shape == (101, 4)
    assert np.abs(ort - pt).max() <= 0.5


def test_benchmark_runner_backend_options_are_checked(tmp_path, capsys):
    assert main(["test", "--backend", "onnxruntime", "--config", "x.yaml", "--dataset", "vot", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "--model DIR" in capsys.readouterr().err
