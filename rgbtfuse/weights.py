"""Registry of the published checkpoints rgbtfuse loads as-is: where they come from, how to check them.

Each :class:`WeightsEntry` records the authors' download location, the file's sha256 when it could be
computed from the published file (``None`` otherwise) and its :class:`KeyFormat` — key count, parameter
count and a few characteristic keys with their shapes — so that a file can be identified by its hash,
or failing that by its keys (:func:`identify`). :func:`download` fetches a file with ``urllib``, checks
it, and moves it into place atomically: a failed or corrupt download leaves nothing behind.

>>> from rgbtfuse.weights import identify
>>> identify("Encoder_weight_IJCAI.pkl")[0].entry.name  # doctest: +SKIP
'didfuse_encoder'
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rgbtfuse.atomic import atomic_path
from rgbtfuse.errors import CheckpointError, WeightsError

_CHUNK = 1 << 20
# older PyTorch versions did not save this BatchNorm buffer; it carries no weights
_IGNORED_SUFFIX = "num_batches_tracked"


@dataclass(frozen=True)
class KeyFormat:
    """What a checkpoint's state_dict looks like once unwrapped (``num_batches_tracked`` not counted)."""

    container: str
    num_keys: int
    num_params: int
    signature: Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class WeightsEntry:
    """One published checkpoint file.

    ``url`` is a direct download (``None`` when the authors only publish a Google Drive folder or a Baidu
    share, see ``page``); ``member`` names the file inside a zip archive at ``url``.
    """

    name: str
    model: str
    filename: str
    page: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    member: str | None = None
    keys: KeyFormat | None = None
    notes: str = ""
    #: path inside the rgbtfuse package of a file this project trained and ships (with a manifest)
    bundled: str | None = None

    @property
    def bundled_path(self) -> Path | None:
        return None if self.bundled is None else Path(__file__).resolve().parent / self.bundled


@dataclass
class Match:
    """How well a file fits one registry entry."""

    entry: WeightsEntry
    by: str  # "sha256" or "keys"
    num_keys: int = 0
    num_params: int = 0
    missing: list[str] = field(default_factory=list)  # signature keys absent from the file
    mismatched: list[str] = field(default_factory=list)  # signature keys with another shape

    @property
    def fits(self) -> bool:
        if self.by == "sha256":
            return True
        fmt = self.entry.keys
        return (
            fmt is not None and not self.missing and not self.mismatched
            and self.num_keys == fmt.num_keys and self.num_params == fmt.num_params
        )

    @property
    def score(self) -> float:
        fmt = self.entry.keys
        if self.by == "sha256":
            return 2.0
        if fmt is None:
            return 0.0
        found = len(fmt.signature) - len(self.missing) - len(self.mismatched)
        return found / len(fmt.signature) + (1.0 if self.fits else 0.0)


WEIGHTS: dict[str, WeightsEntry] = {}


def register_weights(entry: WeightsEntry) -> WeightsEntry:
    WEIGHTS[entry.name] = entry
    return entry


def get_weights(name: str) -> WeightsEntry:
    if name not in WEIGHTS:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(sorted(WEIGHTS))}")
    return WEIGHTS[name]


def resolve_weights(name_or_path: str | Path) -> Path:
    """An existing file as it is, or the shipped file of a bundled registry entry named so."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    entry = WEIGHTS.get(str(name_or_path))
    if entry is not None and entry.bundled_path is not None:
        if not entry.bundled_path.is_file():
            raise WeightsError(f"{name_or_path}: bundled file {entry.bundled_path} is missing from this installation")
        return entry.bundled_path
    bundled = sorted(n for n, e in WEIGHTS.items() if e.bundled)
    raise CheckpointError(f"{name_or_path}: file not found (and not a bundled weights name: {', '.join(bundled)})")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def match_keys(state_dict: Mapping, entry: WeightsEntry) -> Match:
    """Compare an unwrapped state_dict with ``entry``'s key format."""
    kept = {k: v for k, v in state_dict.items() if not k.endswith(_IGNORED_SUFFIX)}
    match = Match(entry, "keys", len(kept), sum(math.prod(v.shape) for v in kept.values()))
    for key, shape in (entry.keys.signature if entry.keys else {}).items():
        if key not in kept:
            match.missing.append(key)
        elif tuple(kept[key].shape) != tuple(shape):
            match.mismatched.append(f"{key}: file {tuple(kept[key].shape)} vs expected {tuple(shape)}")
    return match


def identify(path: str | Path) -> list[Match]:
    """Registry entries ``path`` may be, best first: one ``sha256`` match, or key-format matches.

    Key-format matches are listed when at least one characteristic key is present; an empty list means
    the file is not a checkpoint of any registered format.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: file not found")
    digest = sha256_file(path)
    exact = [Match(e, "sha256") for e in WEIGHTS.values() if e.sha256 == digest]
    if exact:
        return exact
    if path.suffix == ".onnx":
        return []
    try:
        state_dict = _read_state_dict(path)
    except CheckpointError as exc:
        raise WeightsError(f"{path}: not a known file (sha256 {digest}) and not a readable checkpoint ({exc})") from exc
    matches = [match_keys(state_dict, e) for e in WEIGHTS.values() if e.keys is not None]
    return sorted((m for m in matches if m.score > 0), key=lambda m: -m.score)


def download(name: str, directory: str | Path, progress: bool = True, force: bool = False) -> Path:
    """Download registry entry ``name`` into ``directory`` and check it; returns the file's path.

    The file is checked against its sha256 when one is recorded, otherwise against its key format;
    on any failure nothing is left in ``directory``. An existing file that passes the same check is
    kept; one that does not is only replaced with ``force``.
    """
    entry = get_weights(name)
    if entry.bundled_path is not None:
        raise WeightsError(f"{name} ships with rgbtfuse ({entry.bundled_path}); pass the name to --fusion-weights")
    if entry.url is None:
        raise WeightsError(
            f"{name} has no direct download; get {entry.filename} from {entry.page} "
            f"and check it with `rgbtfuse weights verify PATH`"
        )
    dest = Path(directory) / entry.filename
    if dest.exists() and not force:
        try:
            _check_file(entry, dest)
        except WeightsError as exc:
            raise WeightsError(f"{dest} already exists and is not {name} ({exc}); remove it or use --force") from exc
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        if entry.member is None:
            _fetch(entry.url, tmp, progress)
        else:
            with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{Path(entry.filename).name}.") as scratch:
                archive = Path(scratch) / "archive.zip"
                _fetch(entry.url, archive, progress)
                _extract_member(archive, entry.member, tmp, entry.url)
        try:
            _check_file(entry, tmp)
        except WeightsError as exc:
            raise WeightsError(f"{entry.url}: {exc}; nothing was written") from exc
    return dest


def _fetch(url: str, out: Path, progress: bool) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(out, "wb") as fh:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    fh.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WeightsError(f"download of {url} failed: {exc}") from exc


def _extract_member(archive: Path, member: str, out: Path, url: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if Path(n).name == member]
            if not names:
                raise WeightsError(f"{url}: archive has no {member} (contents: {', '.join(zf.namelist()[:10])})")
            with zf.open(names[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    except zipfile.BadZipFile as exc:
        raise WeightsError(f"{url}: not a valid zip archive ({exc})") from exc


def _check_file(entry: WeightsEntry, path: Path) -> None:
    """Raise :class:`WeightsError` unless ``path`` has ``entry``'s sha256 (or, without one, its key format)."""
    if entry.sha256 is not None:
        digest = sha256_file(path)
        if digest != entry.sha256:
            raise WeightsError(f"sha256 {digest} does not match the published {entry.sha256}")
        return
    if entry.keys is not None:
        try:
            state_dict = _read_state_dict(path)
        except CheckpointError as exc:
            raise WeightsError(f"not a readable checkpoint ({exc})") from exc
        match = match_keys(state_dict, entry)
        if not match.fits:
            raise WeightsError(f"not {entry.name}'s key format: {describe(match)}")


def _read_state_dict(path: Path) -> dict:
    from rgbtfuse.checkpoint import (  # torch only when a file is read
        extract_state_dict,
        read_checkpoint,
    )

    return extract_state_dict(read_checkpoint(path), source=str(path))


def describe(match: Match) -> str:
    """One line on how a file fits ``match.entry`` (counts, missing / mis-shaped characteristic keys)."""
    if match.by == "sha256":
        return "identical to the published file (sha256)"
    fmt = match.entry.keys
    assert fmt is not None
    if match.fits:
        return f"same key format ({fmt.num_keys} keys / {fmt.num_params:,} parameters; not the published bytes)"
    parts = [f"{match.num_keys} keys / {match.num_params:,} parameters (expected {fmt.num_keys} / {fmt.num_params:,})"]
    if match.missing:
        parts.append("missing keys: " + ", ".join(match.missing))
    if match.mismatched:
        parts.append("wrong shapes: " + "; ".join(match.mismatched))
    return "; ".join(parts)


# --- the published checkpoints -------------------------------------------------------------------
# sha256/size computed from the files in the authors' repositories (git blob ids checked against them);
# key formats read from the published files or, where not available here, from a state_dict of the
# authors' network classes built with the configuration of their test scripts.

_NESTFUSE_REPO = "https://github.com/hli1221/imagefusion-nestfuse"
_NESTFUSE_RAW = f"{_NESTFUSE_REPO}/raw/a8ac170ad6ae7037c9da33ccf511c88893d0c31b"
_RFN_REPO = "https://github.com/hli1221/imagefusion-rfn-nest"
_RFN_RAW = f"{_RFN_REPO}/raw/76e4e0500a3d818068f31942d7d5ed874c36c37b"
_LRR_REPO = "https://github.com/hli1221/imagefusion-LRRNet"
_LRR_RAW = f"{_LRR_REPO}/raw/e489fc325ea6acb9b7327b1de2c0cc4a09172ba4"
_DID_REPO = "https://github.com/Zhaozixiang1228/IVIF-DIDFuse"
_DID_RAW = f"{_DID_REPO}/raw/5f287300dce7cbc90b9e08e6872455af6baa279f"
_PYSOT_ZOO = "https://github.com/STVIR/pysot/blob/master/MODEL_ZOO.md"
_PYSOT_BAIDU = "https://pan.baidu.com/s/1GB9-aTtjG57SebraVoBfuQ (extraction code j9yb)"
_NANO_PAGE = "https://github.com/HonglinChu/SiamTrackers/tree/master/NanoTrack"
_NANO_RAW = "https://github.com/HonglinChu/SiamTrackers/raw/248663fde6bf7c40190cf10ee396d5662919ecd3/NanoTrack/models"

_NEST_AUTOENCODER = KeyFormat(
    "state_dict", 44, 2_732_761,
    {"conv0.conv2d.weight": (16, 1, 1, 1), "DB4_0.denseblock.1.conv2d.weight": (208, 80, 1, 1),
     "DB1_3.denseblock.0.conv2d.weight": (152, 304, 3, 3), "conv_out.conv2d.weight": (1, 64, 1, 1)},
)

for _entry in (
    WeightsEntry(
        "nestfuse_1e2", "nestfuse", "nestfuse_1e2.model", _NESTFUSE_REPO, f"{_NESTFUSE_RAW}/models/nestfuse_1e2.model",
        keys=_NEST_AUTOENCODER, notes="NestFuse auto-encoder used in the paper (SSIM weight 1e2)",
    ),
    WeightsEntry(
        "nestfuse_1e2_deep_super", "nestfuse (deep supervision)", "nestfuse_1e2_deep_super.model", _NESTFUSE_REPO,
        f"{_NESTFUSE_RAW}/models/nestfuse_1e2_deep_super.model",
        keys=KeyFormat("state_dict", 48, 2_732_891, {
            "conv0.conv2d.weight": (16, 1, 1, 1), "DB1_3.denseblock.0.conv2d.weight": (152, 304, 3, 3),
            "conv1.conv2d.weight": (1, 64, 1, 1), "conv3.conv2d.weight": (1, 64, 1, 1)}),
        notes="deep-supervision variant (three 1x1 output convs instead of conv_out)",
    ),
    WeightsEntry(
        "rfn_nest_autoencoder", "rfn_nest", "nestfuse_gray_1e2.model", _RFN_REPO, f"{_RFN_RAW}/models/nestfuse.zip",
        member="nestfuse_gray_1e2.model", keys=_NEST_AUTOENCODER,
        notes="RFN-Nest encoder/decoder (same key format as nestfuse_1e2); inside models/nestfuse.zip",
    ),
    WeightsEntry(
        "rfn_nest_rfn", "rfn_nest", "Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model", _RFN_REPO,
        f"{_RFN_RAW}/models/rfn_twostage.zip", member="Final_epoch_2_alpha_700_wir_6.0_wvi_3.0_ssim_vi.model",
        keys=KeyFormat("state_dict", 48, 4_791_488, {
            "fusion_block1.conv_fusion.conv2d.weight": (64, 128, 3, 3),
            "fusion_block1.bottelblock.0.conv2d.weight": (64, 128, 1, 1),
            "fusion_block4.conv_ir.conv2d.weight": (208, 208, 3, 3),
            "fusion_block4.bottelblock.2.conv2d.weight": (208, 208, 3, 3)}),
        notes="RFN-Nest residual fusion networks (4 scales); inside models/rfn_twostage.zip",
    ),
    WeightsEntry(
        "lrrnet", "lrrnet", "final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model", _LRR_REPO,
        f"{_LRR_RAW}/model/final_lrr_net_lam2_1.5_wir_3.0_lam3_gram_2000_epoch_4_block_4.model",
        sha256="1de9dd8dee9b650ce69c74ea53e3b9a6b749222f1059a689aabf28f68ee63e29", size=218_515,
        keys=KeyFormat("state_dict", 52, 49_204, {
            "get_ls1.lamj": (1, 256), "get_ls1.conv_W00.conv2d.weight": (256, 1, 3, 3),
            "get_ls2.lrrblock0.conv_Wdtz.conv2d.weight": (256, 1, 3, 3),
            "decoder.conv_ReL.conv2d.weight": (1, 2, 3, 3), "decoder.conv_ReH.conv2d.weight": (1, 2, 3, 3)}),
        notes="LRRNet with 4 LLRR blocks (the paper's model)",
    ),
    WeightsEntry(
        "didfuse_encoder", "didfuse", "Encoder_weight_IJCAI.pkl", _DID_REPO, f"{_DID_RAW}/Models/Encoder_weight_IJCAI.pkl",
        sha256="4d84a4e64e58469d3d4591f83c6683ead3e422498519db99bb617cb29d268471", size=454_838,
        keys=KeyFormat("{'weight': state_dict, 'epoch': 120}", 26, 112_450, {
            "cov1.cov1.1.weight": (64, 1, 3, 3), "cov2.cov2.1.weight": (64,),
            "cov3.cov3.1.weight": (64,), "cov4.cov4.1.weight": (64,)}),
        notes="DIDFuse encoder; pass the folder holding both DIDFuse files to --weights",
    ),
    WeightsEntry(
        "didfuse_decoder", "didfuse", "Decoder_weight_IJCAI.pkl", _DID_REPO, f"{_DID_RAW}/Models/Decoder_weight_IJCAI.pkl",
        sha256="c6974e2a7c66ab579a77bacb086023237a229e769d459783bad8ff43e52e9986", size=600_772,
        keys=KeyFormat("{'weight': state_dict, 'epoch': 120}", 20, 149_255, {
            "cov5.cov5.0.weight": (64, 128, 3, 3), "cov6.cov6.0.weight": (64, 128, 3, 3),
            "cov7.cov7.1.weight": (1, 128, 3, 3)}),
        notes="DIDFuse decoder; pass the folder holding both DIDFuse files to --weights",
    ),
    WeightsEntry(
        "siamrpn_r50_l234_dwxcorr", "siamrpn_r50_l234", "model.pth",
        f"{_PYSOT_ZOO} (Google Drive https://drive.google.com/open?id=1Q4-1563iPwV6wSf_lBHDj5CPFiGSlEPG; {_PYSOT_BAIDU})",
        keys=KeyFormat("state_dict", 384, 54_014_496, {
            "backbone.conv1.weight": (64, 3, 7, 7), "backbone.layer4.2.conv3.weight": (2048, 512, 1, 1),
            "neck.downsample4.downsample.0.weight": (256, 2048, 1, 1), "rpn_head.cls_weight": (3,),
            "rpn_head.rpn2.cls.conv_kernel.0.weight": (256, 256, 3, 3),
            "rpn_head.rpn4.loc.head.3.weight": (20, 256, 1, 1)}),
        notes="pysot SiamRPN++ ResNet-50 (VOT); 458 keys with num_batches_tracked",
    ),
    WeightsEntry(
        "siamrpn_mobilev2_l234_dwxcorr", "siamrpn_mobilev2_l234", "model.pth",
        f"{_PYSOT_ZOO} (Google Drive https://drive.google.com/open?id=1JB94pZTvB1ZByU-qSJn4ZAIfjLWE5EBJ; {_PYSOT_BAIDU})",
        keys=KeyFormat("state_dict", 377, 11_205_258, {
            "backbone.layer0.0.weight": (44, 3, 3, 3), "backbone.layer7.0.conv.0.weight": (1344, 224, 1, 1),
            "neck.downsample4.downsample.0.weight": (256, 448, 1, 1),
            "rpn_head.rpn2.cls.conv_kernel.0.weight": (256, 256, 3, 3),
            "rpn_head.rpn4.loc.head.3.weight": (20, 256, 1, 1)}),
        notes="pysot SiamRPN++ MobileNetV2; 450 keys with num_batches_tracked",
    ),
    WeightsEntry(
        "nanotrack_v1", "nanotrack_v1", "nanotrackv1.pth", _NANO_PAGE, f"{_NANO_RAW}/pretrained/nanotrackv1.pth",
        sha256="2a24bbfd1163a7692ab22100336a54de55dde12301b7d8ae7a4e745fb10b09a3", size=2_475_634,
        keys=KeyFormat("{'epoch', 'state_dict', 'optimizer'}", 199, 298_478, {
            "backbone.features.0.0.weight": (16, 3, 3, 3), "ban_head.corr_pw.CA_layer.fc1.weight": (64, 64, 1, 1),
            "ban_head.cls_logits.0.weight": (2, 128, 1, 1), "ban_head.bbox_pred.0.weight": (4, 96, 1, 1)}),
    ),
    WeightsEntry(
        "nanotrack_v2", "nanotrack_v2", "nanotrackv2.pth", _NANO_PAGE, f"{_NANO_RAW}/pretrained/nanotrackv2.pth",
        sha256="938a320c560fd8c8d6a148a76a072bca29c529ce16591c9a2157859ee0ecc5e1", size=2_095_829,
        keys=KeyFormat("{'epoch', 'state_dict', 'optimizer'}", 257, 345_742, {
            "backbone.features.0.0.weight": (16, 3, 3, 3), "ban_head.cls_pw_tower.0.weight": (64, 1, 3, 3),
            "ban_head.cls_pred.0.weight": (2, 96, 1, 1), "ban_head.bbox_pred.0.weight": (4, 96, 1, 1)}),
    ),
    WeightsEntry(
        "nanotrack_v3", "nanotrack_v3", "nanotrackv3.pth", _NANO_PAGE, f"{_NANO_RAW}/pretrained/nanotrackv3.pth",
        sha256="4f0d25108385a67bdec5fa01ca37c74acb72343b53996dd645fe18b86e512e69", size=3_498_955,
        keys=KeyFormat("{'epoch', 'state_dict', 'optimizer'}", 374, 563_670, {
            "backbone.features.0.0.weight": (16, 3, 3, 3), "backbone.features.9.conv.0.weight": (288, 48, 1, 1),
            "ban_head.down_cls.0.weight": (96, 160, 1, 1), "ban_head.down_reg.0.weight": (96, 160, 1, 1)}),
    ),
):
    register_weights(_entry)

# NanoTrack's ONNX export (backbone + head); identified by hash only. The v2 pair is what cv2.TrackerNano loads.
for _version, _suffix, _files in (
    ("v1", "_sim", (("backbone", "f6fdf311bdc846510c2f9f0b2b8159c7e0cf5d80ed18c9079faeb32db460cba9", 767_819),
                    ("head", "4c987e5121cc400b6175f2168c30c84857864fe36d5e7a14df0c27e8e5b9540d", 392_202))),
    ("v2", "_sim", (("backbone", "530bdd0cd00f19afab79a863e71ba71e3312395a5dc9151af675082bdaaa2fc4", 1_056_849),
                    ("head", "0d8c0637be849f092cc7236cae02e55c8b9455ebe37ba50601d6115db4247cd9", 726_198))),
    ("v3", "", (("backbone", "50be1320abf9384fd3479ea829f95e244cf3f3838190c5ab60c750fb8c1ce828", 1_431_635),
                ("head", "75357903be3f4817c965af16cb5a11fd32b1467f597a408405a98635ac63f61d", 1_183_740))),
):
    for _part, _sha, _size in _files:
        _file = f"nanotrack_{_part}{_suffix}.onnx"
        register_weights(WeightsEntry(
            f"nanotrack_{_version}_{_part}_onnx", f"nanotrack_{_version} (ONNX {_part})", f"nanotrack{_version}/{_file}", _NANO_PAGE,
            f"{_NANO_RAW}/nanotrack{_version}/{_file}", sha256=_sha, size=_size,
        ))

# Fusion modules this project trained for NanoTrack v2 (tracker frozen); rgbtfuse/trained/manifest.json
# records the command, seed, git revision, data recipe and validation numbers of each.
for _module, _title in (
    ("rfn", "RFN residual on l1"), ("rfn_light", "reduced RFN residual on l1"),
    ("llrr", "LLRR residual on l1"), ("gate", "modality gate on l1 weights"),
):
    register_weights(WeightsEntry(
        f"nanotrack_v2_{_module}_track", f"nanotrack_v2 fusion ({_title})", f"nanotrack_v2_{_module}_track.pth",
        "this project: rgbtfuse/trained/manifest.json", bundled=f"trained/nanotrack_v2_{_module}_track.pth",
        notes=f"--config experiments/nanotrack_v2_{_module}_track.yaml --fusion-weights nanotrack_v2_{_module}_track",
    ))
# issue #16: the recipes with salient FLIR pseudo-targets, selected on generated + held-out FLIR still sequences
for _module, _title in (
    ("rfn", "RFN residual on l1"), ("llrr", "LLRR residual on l1"), ("gate", "modality gate on l1 weights"),
    ("rfn_gate", "RFN residual on a modality gate"), ("rfn_light_gate", "reduced RFN residual on a modality gate"),
    ("llrr_gate_gain", "LLRR as a bounded gain on a modality gate"),
    ("gate_reliability", "failure-aware modality gate on l1 weights"),
):
    _name = f"nanotrack_v2_{_module}_track_salient"
    register_weights(WeightsEntry(
        _name, f"nanotrack_v2 fusion ({_title}, salient pseudo-targets)", f"{_name}.pth",
        "this project: rgbtfuse/trained/manifest.json", bundled=f"trained/{_name}.pth",
        notes=f"--config experiments/{_name}.yaml --fusion-weights {_name}",
    ))

# AFAT-style quality networks this project trained on generated scenes (tracker frozen);
# rgbtfuse/trained/qpn_manifest.json records how (rgbtfuse train-quality)
for _name, _title in (("demo_filterbank_qpn", "the demo model"), ("nanotrack_v2_dfat_l1_qpn", "nanotrack_v2 + l1 fusion")):
    register_weights(WeightsEntry(
        _name, f"quality network (QPN) of {_title}", f"{_name}.pth", "this project: rgbtfuse/trained/qpn_manifest.json",
        bundled=f"trained/{_name}.pth", notes=f"decision: {{quality: qpn, quality_weights: {_name}}} (experiments/{_name}.yaml)",
    ))
