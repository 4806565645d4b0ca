"""Data sets: 2D Gaussian mixtures, scikit-learn digits, MNIST / Fashion-MNIST.

Everything is turned into one in-memory tensor per split, in [-1, 1]
(images) or raw coordinates (2D), so that training draws batches by index on
the training device: no DataLoader and no per-image transforms in the loop.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from pipeline.config import DataParams
from pipeline.data.idx import IDX_FILES, IDX_SETS, DataError, describe_checks, load_idx_set


@dataclass(frozen=True)
class DataMeta:
    """What evaluation needs to know about a prepared data set."""

    name: str
    kind: str  # "points" (2D mixtures) or "images"
    shape: tuple[int, ...]  # one sample: (2,) or (C, H, W)
    n_train: int
    n_test: int
    levels: int = 0  # images: stored as uint8 in 0..levels; 0 for points
    centers: list[list[float]] = field(default_factory=list)  # mixtures: mode centres
    std: float = 0.0  # mixtures: per-axis standard deviation of each mode
    num_classes: int = 0  # images: number of labels

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DataMeta":
        d = dict(d)
        d["shape"] = tuple(d["shape"])
        return cls(**d)


@dataclass
class Prepared:
    """One prepared data set: storage-form tensors plus metadata."""

    meta: DataMeta
    train_x: Tensor  # float32 points, or uint8 images (N, C, H, W)
    test_x: Tensor
    train_y: Optional[Tensor] = None  # int64 labels (images only)
    test_y: Optional[Tensor] = None

    def tensors(self) -> dict[str, Tensor]:
        out = {"train_x": self.train_x, "test_x": self.test_x}
        if self.train_y is not None:
            out |= {"train_y": self.train_y, "test_y": self.test_y}
        return out


def to_model_space(x: Tensor, meta: DataMeta) -> Tensor:
    """Storage form -> what the nets see: images in [-1, 1], points unchanged."""
    if meta.kind == "images":
        return x.float().mul_(2.0 / meta.levels).sub_(1.0)
    return x.float()


def to_unit_interval(x: Tensor) -> Tensor:
    """Model-space images [-1, 1] -> [0, 1] (what FID's Inception expects)."""
    return ((x + 1) / 2).clamp_(0, 1)


# --- 2D mixtures (Gulrajani et al. 2017 toy set; Lin et al. 2018, PacGAN, 2D-ring / 2D-grid) ----


def ring8_centers(radius: float) -> Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([radius * angles.cos(), radius * angles.sin()], 1).float()


def grid25_centers(spacing: float) -> Tensor:
    ticks = torch.arange(-2, 3, dtype=torch.float32) * spacing
    return torch.cartesian_prod(ticks, ticks)


def sample_mixture(centers: Tensor, std: float, n: int, generator: torch.Generator) -> Tensor:
    """n draws from the equal-weight mixture of N(c, std^2 I) over the centres c."""
    which = torch.randint(len(centers), (n,), generator=generator)
    return centers[which] + std * torch.randn(n, centers.shape[1], generator=generator)


def mixture_log_density(x: Tensor, centers: Tensor, std: float) -> Tensor:
    """log p(x) of the equal-weight isotropic Gaussian mixture: shape (N,)."""
    d = x.shape[-1]
    sq = torch.cdist(x.double(), centers.double()) ** 2
    log_comp = -sq / (2 * std**2) - d * math.log(std) - 0.5 * d * math.log(2 * math.pi)
    return (torch.logsumexp(log_comp, 1) - math.log(len(centers))).to(x.dtype)


def make_mixture(name: str, p: DataParams, seed: int) -> Prepared:
    if name == "ring8":
        centers, std = ring8_centers(p.ring_radius), p.ring_std
    else:
        centers, std = grid25_centers(p.grid_spacing), p.grid_std
    g = torch.Generator().manual_seed(seed)
    train = sample_mixture(centers, std, p.toy_train, g)
    test = sample_mixture(centers, std, p.toy_test, g)
    meta = DataMeta(name, "points", (2,), len(train), len(test), centers=centers.tolist(), std=std)
    return Prepared(meta, train, test)


# --- scikit-learn digits (ships with the package: offline) -------------------------


def make_digits(p: DataParams, seed: int) -> Prepared:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()  # 1797 images, 8x8, integer intensities 0..16
    x = d.images.astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    xtr, xte, ytr, yte = train_test_split(
        x, d.target, test_size=p.test_fraction, random_state=seed, stratify=d.target
    )
    meta = DataMeta("digits", "images", (1, 8, 8), len(xtr), len(xte), levels=16, num_classes=10)
    return Prepared(meta, torch.from_numpy(xtr), torch.from_numpy(xte), torch.from_numpy(ytr).long(),
                    torch.from_numpy(yte).long())


def make_idx_dataset(name: str, p: DataParams, download_dir: Path,
                     note: Callable[[str], None] = lambda _: None) -> Prepared:
    """MNIST / Fashion-MNIST from `p.root`, else torchvision's download into `download_dir`."""
    files = load_idx_set(name, p, download_dir)
    note(describe_checks(name, files))
    xtr, ytr, xte, yte = (files[stem].array for stem in IDX_FILES)
    meta = DataMeta(name, "images", (1, 28, 28), len(xtr), len(xte), levels=255, num_classes=10)
    return Prepared(meta, torch.from_numpy(xtr.copy())[:, None], torch.from_numpy(xte.copy())[:, None],
                    torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64)))


def prepare(name: str, p: DataParams, seed: int, download_dir: Path,
            note: Callable[[str], None] = lambda _: None) -> Prepared:
    """Build one data set deterministically from params and seed; `note` hears how files were checked."""
    if name in ("ring8", "grid25"):
        return make_mixture(name, p, seed)
    if name == "digits":
        return make_digits(p, seed)
    if name in IDX_SETS:
        return make_idx_dataset(name, p, download_dir, note)
    raise DataError(f"unknown data set {name!r}")


class BatchSampler:
    """Random batches drawn by index from a tensor that already lives on the device.

    Indices are drawn `chunk` batches at a time so the loop makes one RNG call
    per chunk instead of one per step. `rows`: the rows of each drawn batch to return, all of
    them, or on torchrun this process's slice of the global batch that every process draws alike
    from the same seeded generator (pipeline/training/distributed.py).
    """

    def __init__(self, data: Tensor, batch_size: int, generator: torch.Generator, chunk: int = 256,
                 rows: slice = slice(None)):
        if len(data) < 1:
            raise ValueError("empty training set")
        self.data, self.batch_size, self.gen, self.chunk, self.rows = data, batch_size, generator, chunk, rows
        self._idx: Optional[Tensor] = None
        self._pos = chunk

    def __call__(self) -> Tensor:
        if self._pos == self.chunk:
            self._idx = torch.randint(len(self.data), (self.chunk, self.batch_size), generator=self.gen,
                                      device=self.gen.device).to(self.data.device)
            self._pos = 0
        batch = self.data[self._idx[self._pos, self.rows]]
        self._pos += 1
        return batch

    def state_dict(self) -> dict:
        """Where the sampler is: its generator's state alone would restart the drawn chunk, so the
        chunk and the position in it go along (a resumed run then draws the same batches)."""
        return {"generator": self.gen.get_state(), "idx": self._idx, "pos": self._pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["generator"])
        self._idx = None if state["idx"] is None else state["idx"].to(self.data.device)
        self._pos = state["pos"]


def save_prepared(folder: Path, d: Prepared) -> None:
    """`folder/data.pt` (tensors) and `folder/meta.json`, each written atomically."""
    from pipeline import io

    io.save_torch(Path(folder) / "data.pt", d.tensors())
    io.write_json(Path(folder) / "meta.json", d.meta.to_dict())


def load_prepared(folder: Path) -> Prepared:
    from pipeline import io

    folder = Path(folder)
    if not (folder / "meta.json").exists():
        raise DataError(f"{folder}: no prepared data (run `dvc repro` or `python -m stages prepare`)")
    t = io.load_torch(folder / "data.pt")
    return Prepared(DataMeta.from_dict(io.read_json(folder / "meta.json")), t["train_x"], t["test_x"],
                    t.get("train_y"), t.get("test_y"))
