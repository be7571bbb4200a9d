"""Dataset-level reading: the sequences of a dataset root, in the order of its list file.

``open_dataset("gtot", root)`` lists the sequences (``SequencesName.txt`` when the root has one,
else every sub-folder in GTOT's layout) and loads each on access. A root that is itself one
sequence of the layout (e.g. a single VTUAV sequence) is a one-sequence dataset; VT821/VT1000
and pair folders are one static sequence of still images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rgbtfuse.data import readers
from rgbtfuse.data.sequence import Sequence, load_sequence
from rgbtfuse.errors import DatasetLayoutError
from rgbtfuse.imageio import natural_key


@dataclass(frozen=True)
class DatasetSpec:
    layout: str  # sequence reader name
    is_sequence: Callable[[Path], bool]
    list_files: tuple[str, ...] = ()  # sequence lists looked for in the root, first found wins
    root_is_sequence: bool = False  # the dataset root itself is the (static) sequence
    expected: str = ""  # layout description for error messages


DATASETS: dict[str, DatasetSpec] = {
    "gtot": DatasetSpec("gtot", readers._is_gtot, ("SequencesName.txt",), expected="<seq>/v/, <seq>/i/, <seq>/groundTruth_v.txt"),
    "rgbt234": DatasetSpec(
        "rgbt234", readers._is_visible_infrared, ("SequencesName.txt", "attr_txt/SequencesName.txt"),
        expected="<seq>/visible/, <seq>/infrared/, <seq>/visible.txt",
    ),
    "lasher": DatasetSpec(
        "lasher", readers._is_visible_infrared, ("lashertest.txt", "testingsetList.txt", "trainingsetList.txt"),
        expected="<seq>/visible/, <seq>/infrared/, <seq>/init.txt",
    ),
    "vot-rgbt": DatasetSpec("vot-rgbt", readers._is_vot, ("list.txt",), expected="<seq>/color/, <seq>/ir/, <seq>/groundtruth.txt"),
    "vtuav": DatasetSpec("vtuav", readers._is_vtuav, expected="<seq>/rgb/, <seq>/ir/, <seq>/rgb.txt"),
    "vt821": DatasetSpec("vt821", readers._is_vt, root_is_sequence=True, expected="RGB/, T/, GT/"),
    "vt1000": DatasetSpec("vt1000", readers._is_vt, root_is_sequence=True, expected="RGB/, T/, GT/"),
    "pairs": DatasetSpec("pairs", readers._is_pairs, root_is_sequence=True, expected="ir/, vi/"),
}


def available_datasets() -> list[str]:
    return sorted(DATASETS)


def _read_list(path: Path, root: Path) -> list[str]:
    names = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        name = line.strip()
        if not name:
            continue
        if not (root / name).is_dir():
            raise DatasetLayoutError(f"{path}:{lineno}: sequence folder {root / name} not found")
        names.append(name)
    if not names:
        raise DatasetLayoutError(f"{path}: empty sequence list")
    return names


class RGBTDataset:
    """The sequences of one dataset root; ``dataset[name]`` / iteration load them on demand."""

    def __init__(self, name: str, root: str | Path, list_file: str | Path | None = None):
        if name not in DATASETS:
            raise DatasetLayoutError(f"unknown dataset {name!r}; available: {', '.join(available_datasets())}")
        self.name, self.root, self.spec = name, Path(root), DATASETS[name]
        if not self.root.is_dir():
            raise DatasetLayoutError(f"{self.root}: not a folder")
        self.list_file: Path | None = None
        if self.spec.root_is_sequence or (list_file is None and self.spec.is_sequence(self.root)):
            if not self.spec.is_sequence(self.root):
                raise DatasetLayoutError(f"{self.root}: expected {self.spec.expected} for {name}")
            self.names, self._base = [self.root.name], self.root.parent
            return
        self._base = self.root
        if list_file is None:
            list_file = next((self.root / f for f in self.spec.list_files if (self.root / f).is_file()), None)
        if list_file is not None:
            self.list_file = Path(list_file)
            if not self.list_file.is_file():
                raise DatasetLayoutError(f"{self.list_file}: sequence list not found")
            self.names = _read_list(self.list_file, self.root)
        else:
            self.names = sorted(
                (d.name for d in self.root.iterdir() if d.is_dir() and self.spec.is_sequence(d)), key=natural_key
            )
        if not self.names:
            raise DatasetLayoutError(
                f"{self.root}: no {name} sequences; expected {self.spec.expected} under it"
                + (f" (or a list file: {', '.join(self.spec.list_files)})" if self.spec.list_files else "")
            )

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, name: str) -> Sequence:
        if name not in self.names:
            raise DatasetLayoutError(f"{self.root}: no sequence {name!r} in {self.name}")
        return load_sequence(self._base / name, self.spec.layout)

    def __iter__(self) -> Iterator[Sequence]:
        return (self[n] for n in self.names)


def open_dataset(name: str, root: str | Path, list_file: str | Path | None = None) -> RGBTDataset:
    """Sequences of dataset ``name`` under ``root`` (``list_file`` overrides the dataset's list)."""
    return RGBTDataset(name, root, list_file)
