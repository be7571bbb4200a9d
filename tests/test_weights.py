"""Weights registry: identification by hash and by keys, atomic checked download over file:// URLs."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
import torch

from rgbtfuse.cli import main
from rgbtfuse.errors import WeightsError
from rgbtfuse.weights import WEIGHTS, KeyFormat, WeightsEntry, download, identify

SHARED_FILES = {
    "weights/lrrnet/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model": "lrrnet",
    "weights/didfuse/Encoder_weight_IJCAI.pkl": "didfuse_encoder",
    "weights/didfuse/Decoder_weight_IJCAI.pkl": "didfuse_decoder",
    "weights/nanotrack/pretrained/nanotrackv1.pth": "nanotrack_v1",
    "weights/nanotrack/pretrained/nanotrackv2.pth": "nanotrack_v2",
    "weights/nanotrack/pretrained/nanotrackv3.pth": "nanotrack_v3",
    "weights/nanotrack/nanotrackv2/nanotrack_backbone_sim.onnx": "nanotrack_v2_backbone_onnx",
    "weights/nanotrack/nanotrackv3/nanotrack_head.onnx": "nanotrack_v3_head_onnx",
}


def _tiny_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 1, 1))
    return net.state_dict()


TINY_FORMAT = KeyFormat("state_dict", 8, 4 * 9 + 4 + 4 * 4 + 4 + 1, {"0.weight": (4, 1, 3, 3), "2.weight": (1, 4, 1, 1)})


@pytest.fixture
def registry():
    """Adds entries to the registry for one test, then restores it."""
    saved = dict(WEIGHTS)

    def add(entry: WeightsEntry) -> WeightsEntry:
        WEIGHTS[entry.name] = entry
        return entry

    yield add
    WEIGHTS.clear()
    WEIGHTS.update(saved)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("relative,name", sorted(SHARED_FILES.items()))
def test_published_files_are_identified_by_hash(shared, relative, name):
    matches = identify(shared(relative))
    assert [(m.entry.name, m.by) for m in matches] == [(name, "sha256")]


def test_published_key_formats_match_the_published_files(shared):
    # the recorded key counts/signatures must describe the real files, not just their hashes
    from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint
    from rgbtfuse.weights import match_keys

    for relative, name in SHARED_FILES.items():
        if relative.endswith(".onnx"):
            continue
        sd = extract_state_dict(read_checkpoint(shared(relative)))
        match = match_keys(sd, WEIGHTS[name])
        assert match.fits, (name, match.missing, match.mismatched, match.num_keys, match.num_params)


def test_resaved_checkpoint_is_identified_by_keys_and_broken_one_lists_missing(shared, tmp_path, capsys):
    from rgbtfuse.checkpoint import extract_state_dict, read_checkpoint

    sd = extract_state_dict(read_checkpoint(shared(next(iter(SHARED_FILES)))))
    resaved = tmp_path / "lrr.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, resaved)
    assert main(["weights", "verify", str(resaved)]) == 0
    assert "lrrnet" in capsys.readouterr().out

    del sd["decoder.conv_ReH.conv2d.weight"]
    sd["decoder.extra.weight"] = torch.zeros(3)
    broken = tmp_path / "broken.pth"
    torch.save(sd, broken)
    assert main(["weights", "verify", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "lrrnet" in out and "missing keys: decoder.conv_ReH.conv2d.weight" in out


def test_verify_rejects_a_file_that_is_no_checkpoint(tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    assert main(["weights", "verify", str(junk)]) == 1
    assert str(junk) in capsys.readouterr().err


def test_list_names_every_entry(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("nestfuse_1e2", "rfn_nest_autoencoder", "rfn_nest_rfn", "lrrnet", "didfuse_encoder",
                 "siamrpn_r50_l234_dwxcorr", "siamrpn_mobilev2_l234_dwxcorr", "nanotrack_v3"):
        assert name in out


def test_download_file_url_checks_sha256(registry, tmp_path):
    src = tmp_path / "src" / "tiny.pth"
    src.parent.mkdir()
    torch.save(_tiny_state_dict(), src)
    entry = registry(WeightsEntry("tiny", "tiny", "tiny.pth", "test", src.as_uri(), sha256=_sha(src), keys=TINY_FORMAT))
    dest_dir = tmp_path / "dl"
    path = download("tiny", dest_dir, progress=False)
    assert path == dest_dir / "tiny.pth" and path.read_bytes() == src.read_bytes()
    assert [m.entry.name for m in identify(path)] == ["tiny"]
    # present with the right hash: kept, not fetched again
    src.unlink()
    assert download(entry.name, dest_dir, progress=False) == path


def test_download_with_wrong_sha256_leaves_nothing(registry, tmp_path):
    src = tmp_path / "tiny.pth"
    torch.save(_tiny_state_dict(), src)
    registry(WeightsEntry("bad", "tiny", "tiny.pth", "test", src.as_uri(), sha256="0" * 64))
    dest_dir = tmp_path / "dl"
    with pytest.raises(WeightsError, match="sha256"):
        download("bad", dest_dir, progress=False)
    assert list(dest_dir.iterdir()) == []


def test_download_from_zip_member_and_key_check_without_sha(registry, tmp_path):
    ckpt = tmp_path / "tiny.model"
    torch.save(_tiny_state_dict(), ckpt)
    archive = tmp_path / "models.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(ckpt, "models/sub/tiny.model")
        zf.writestr("models/readme.txt", "x")
    registry(WeightsEntry("zipped", "tiny", "tiny.model", "test", archive.as_uri(), member="tiny.model", keys=TINY_FORMAT))
    path = download("zipped", tmp_path / "dl", progress=False)
    assert path.read_bytes() == ckpt.read_bytes()
    archive.unlink()  # already there and of the right key format: kept, not fetched again
    assert download("zipped", tmp_path / "dl", progress=False) == path
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(ckpt, "models/sub/tiny.model")

    # same archive, but the key format does not fit: rejected, nothing left
    wrong = KeyFormat("state_dict", 8, 61, {"0.weight": (8, 1, 3, 3)})
    registry(WeightsEntry("zipped_wrong", "tiny", "other.model", "test", archive.as_uri(), member="tiny.model", keys=wrong))
    with pytest.raises(WeightsError, match="0.weight"):
        download("zipped_wrong", tmp_path / "dl2", progress=False)
    assert list((tmp_path / "dl2").iterdir()) == []

    registry(WeightsEntry("no_member", "tiny", "x.model", "test", archive.as_uri(), member="x.model", keys=TINY_FORMAT))
    with pytest.raises(WeightsError, match="has no x.model"):
        download("no_member", tmp_path / "dl3", progress=False)
    assert list((tmp_path / "dl3").iterdir()) == []


def test_download_refuses_to_replace_a_different_file_unless_forced(registry, tmp_path, capsys):
    src = tmp_path / "tiny.pth"
    torch.save(_tiny_state_dict(), src)
    registry(WeightsEntry("tiny", "tiny", "tiny.pth", "test", src.as_uri(), sha256=_sha(src)))
    dest_dir = tmp_path / "dl"
    dest_dir.mkdir()
    (dest_dir / "tiny.pth").write_bytes(b"old")
    assert main(["weights", "download", "tiny", "--dir", str(dest_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "--force" in err and "sha256" in err and (dest_dir / "tiny.pth").read_bytes() == b"old"
    assert main(["weights", "download", "tiny", "--dir", str(dest_dir), "--no-progress", "--force"]) == 0
    assert (dest_dir / "tiny.pth").read_bytes() == src.read_bytes()


def test_download_of_missing_url_and_manual_entries_fail_clearly(registry, tmp_path):
    registry(WeightsEntry("gone", "tiny", "gone.pth", "test", (tmp_path / "nope.pth").as_uri(), sha256="0" * 64))
    with pytest.raises(WeightsError, match="download of .* failed"):
        download("gone", tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []
    with pytest.raises(WeightsError, match="drive.google.com"):
        download("siamrpn_r50_l234_dwxcorr", tmp_path / "dl", progress=False)
