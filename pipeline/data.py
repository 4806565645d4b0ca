"""Data sets: 2D Gaussian mixtures, scikit-learn digits, MNIST / Fashion-MNIST.

Everything is turned into one in-memory tensor per split, in [-1, 1]
(images) or raw coordinates (2D), so that training draws batches by index on
the training device: no DataLoader and no per-image transforms in the loop.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .config import DataParams


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


# --- MNIST / Fashion-MNIST from raw IDX files ----------------------------------------

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(RuntimeError):
    """A data set that cannot be read; the message says what to do."""


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (LeCun's MNIST format), gzipped or not.

    Header: two zero bytes, a type code (0x08 = uint8), the number of dims,
    then one big-endian int32 per dim.
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: truncated ({data.size} bytes of data, header says {int(np.prod(dims))})")
    return data.reshape(tuple(int(d) for d in dims))


def _published_md5(name: str) -> dict[str, str]:
    """md5 of the gzipped originals, as torchvision publishes them."""
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    return {fname: md5 for fname, md5 in cls.resources}


def _find_idx(folder: Path, stem: str) -> Optional[Path]:
    # Accept the layout users actually have: flat, or torchvision's <Name>/raw/.
    for base in (folder, folder / "MNIST" / "raw", folder / "FashionMNIST" / "raw", folder / "raw"):
        for cand in (base / f"{stem}.gz", base / stem):
            if cand.is_file():
                return cand
    return None


def read_idx_folder(folder: Path, name: str) -> tuple[np.ndarray, ...]:
    """The four IDX arrays from `folder`; md5-checked when they are the gzipped originals."""
    folder = Path(folder)
    paths = [_find_idx(folder, stem) for stem in IDX_FILES]
    missing = [stem for stem, p in zip(IDX_FILES, paths) if p is None]
    if missing:
        raise DataError(f"{name}: {folder} lacks {', '.join(missing)} (.gz or uncompressed)")
    md5 = _published_md5(name)
    for path in paths:
        if path.name in md5:
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            if digest != md5[path.name]:
                raise DataError(f"{path}: md5 {digest} differs from the published {md5[path.name]}; "
                                "the file is corrupt or not the original")
    return tuple(read_idx(p) for p in paths)


def make_idx_dataset(name: str, p: DataParams, download_dir: Path) -> Prepared:
    """MNIST / Fashion-MNIST from `p.root`, else torchvision's download into `download_dir`."""
    tried = []
    arrays = None
    if p.root:
        try:
            arrays = read_idx_folder(Path(p.root), name)
        except DataError as e:
            tried.append(str(e))
    if arrays is None and p.download:
        try:
            arrays = _download(name, download_dir)
        except Exception as e:  # any network / mirror failure: report it with the rest
            tried.append(f"torchvision download into {download_dir} failed: {type(e).__name__}: {e}")
    elif arrays is None:
        tried.append("download disabled (data.download: false)")
    if arrays is None:
        where = p.root or "<data.root not set>"
        raise DataError(
            f"{name}: cannot load the data set. Put the four IDX files {', '.join(f + '.gz' for f in IDX_FILES)} "
            f"in a folder and set data.root to it (now: {where}). Tried: " + " | ".join(tried)
        )
    xtr, ytr, xte, yte = arrays
    meta = DataMeta(name, "images", (1, 28, 28), len(xtr), len(xte), levels=255, num_classes=10)
    return Prepared(meta, torch.from_numpy(xtr.copy())[:, None], torch.from_numpy(xte.copy())[:, None],
                    torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64)))


def _download(name: str, root: Path) -> tuple[np.ndarray, ...]:
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    train = cls(str(root), train=True, download=True)
    test = cls(str(root), train=False, download=True)
    return train.data.numpy(), train.targets.numpy(), test.data.numpy(), test.targets.numpy()


def prepare(name: str, p: DataParams, seed: int, download_dir: Path) -> Prepared:
    """Build one data set deterministically from params and seed."""
    if name in ("ring8", "grid25"):
        return make_mixture(name, p, seed)
    if name == "digits":
        return make_digits(p, seed)
    if name in ("mnist", "fashion_mnist"):
        return make_idx_dataset(name, p, download_dir)
    raise DataError(f"unknown data set {name!r}")


class BatchSampler:
    """Random batches drawn by index from a tensor that already lives on the device.

    Indices are drawn `chunk` batches at a time so the loop makes one RNG call
    per chunk instead of one per step.
    """

    def __init__(self, data: Tensor, batch_size: int, generator: torch.Generator, chunk: int = 256):
        if len(data) < 1:
            raise ValueError("empty training set")
        self.data, self.batch_size, self.gen, self.chunk = data, batch_size, generator, chunk
        self._idx: Optional[Tensor] = None
        self._pos = chunk

    def __call__(self) -> Tensor:
        if self._pos == self.chunk:
            self._idx = torch.randint(len(self.data), (self.chunk, self.batch_size), generator=self.gen,
                                      device=self.gen.device).to(self.data.device)
            self._pos = 0
        batch = self.data[self._idx[self._pos]]
        self._pos += 1
        return batch


def save_prepared(folder: Path, d: Prepared) -> None:
    """`folder/data.pt` (tensors) and `folder/meta.json`, each written atomically."""
    from . import io

    io.save_torch(Path(folder) / "data.pt", d.tensors())
    io.write_json(Path(folder) / "meta.json", d.meta.to_dict())


def load_prepared(folder: Path) -> Prepared:
    from . import io

    folder = Path(folder)
    if not (folder / "meta.json").exists():
        raise DataError(f"{folder}: no prepared data (run `dvc repro` or `python -m stages prepare`)")
    t = io.load_torch(folder / "data.pt")
    return Prepared(DataMeta.from_dict(io.read_json(folder / "meta.json")), t["train_x"], t["test_x"],
                    t.get("train_y"), t.get("test_y"))
