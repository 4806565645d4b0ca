"""MNIST / Fashion-MNIST from raw IDX files: which files, from which folder, and whether they
are the published ones. Torch-free (numpy, gzip, hashlib), so that DVC's `sources` stage, which
hashes the files under data.root on every `dvc repro`, starts in a fraction of a second.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from pipeline.config import DataParams

# --- MNIST / Fashion-MNIST from raw IDX files ----------------------------------------

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IDX_SETS = ("mnist", "fashion_mnist")
_TITLE = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
_SPLIT_SIZE = {"train": 60_000, "t10k": 10_000}  # both data sets: images (N, 28, 28), labels (N,) in 0..9

# Folders under data.root that may hold a data set, most specific first: torchvision's <Class>/raw/
# names the data set, so it wins when several hold a complete set. The other data set's folder is
# never a candidate: Fashion-MNIST has MNIST's file names and shapes, so nothing else tells them apart.
_SUBFOLDERS = {"mnist": ("MNIST/raw", ".", "raw"), "fashion_mnist": ("FashionMNIST/raw", ".", "raw")}

# sha256 of the *decompressed* IDX bytes of the published files: the content, whichever gzip (or
# none) wraps it. MNIST's were computed from the originals whose .gz md5 equals torchvision's
# `MNIST.resources`. Fashion-MNIST's could not be computed offline: None, so its files are accepted
# by the .gz md5 of torchvision's `FashionMNIST.resources`, else by header and label range only (the
# notice says which). Fill them in from a verified download to make that check as strict as MNIST's.
PUBLISHED_SHA256: dict[str, dict[str, Optional[str]]] = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": dict.fromkeys(IDX_FILES),
}
_GZIP_MAGIC = b"\x1f\x8b"


class DataError(RuntimeError):
    """A data set that cannot be read; the message says what to do."""


@dataclass(frozen=True)
class IdxFile:
    """One accepted IDX file: where it was read, its array, and which check accepted it."""

    path: Path
    array: np.ndarray
    check: str


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (LeCun's MNIST format), gzipped or not."""
    return parse_idx(_idx_bytes(Path(path).read_bytes(), path), path)


def _idx_bytes(blob: bytes, path: Path) -> bytes:
    """The IDX bytes of a file's content: gunzipped when it is gzip, else as they are."""
    if blob[:2] != _GZIP_MAGIC:
        return blob
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError) as e:  # BadGzipFile is an OSError; a cut-off stream is an EOFError
        raise DataError(f"{path}: broken gzip stream ({e})") from None


def parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """IDX bytes -> array.

    Header: two zero bytes, a type code (0x08 = uint8), the number of dims,
    then one big-endian int32 per dim.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated (the header is cut off)")
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    if (dims < 0).any():
        raise DataError(f"{path}: negative dimension in the header {tuple(dims.tolist())}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: truncated ({data.size} bytes of data, header says {int(np.prod(dims))})")
    return data.reshape(tuple(int(d) for d in dims))


def _published_md5(name: str) -> dict[str, str]:
    """md5 of the gzipped originals, as torchvision publishes them (file name -> md5)."""
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    return {fname: md5 for fname, md5 in cls.resources}


def _files_in(folder: Path) -> dict[str, Path]:
    """stem -> file, for the IDX files present in `folder` (the .gz when both forms are there)."""
    found = {}
    for stem in IDX_FILES:
        path = next((c for c in (folder / f"{stem}.gz", folder / stem) if c.is_file()), None)
        if path is not None:
            found[stem] = path
    return found


def idx_files(root: Path, name: str) -> dict[str, Path]:
    """The four files of `name` under `root`, all from ONE folder.

    Looked up per data set and never mixed across folders: with a torchvision root holding both
    MNIST/raw and FashionMNIST/raw, a per-file search could train Fashion-MNIST on MNIST, or build
    one data set from two copies.
    """
    root = Path(root)
    lacking = []
    for sub in _SUBFOLDERS[name]:
        folder = root / sub
        found = _files_in(folder)
        if len(found) == len(IDX_FILES):
            return found
        if folder.is_dir():
            missing = [stem for stem in IDX_FILES if stem not in found]
            lacking.append(f"{folder} lacks " + ("all four" if len(missing) == 4 else ", ".join(missing)))
    subs = ", ".join(s for s in _SUBFOLDERS[name] if s != ".")
    raise DataError(f"no folder holds all four IDX files {', '.join(f + '.gz' for f in IDX_FILES)} "
                    f"(.gz or uncompressed, all from one folder; looked in {root} and its {subs}): "
                    + ("; ".join(lacking) or f"{root} is not a folder"))


def _identify(blob: bytes, digest: str, stem: str, other_than: str) -> Optional[str]:
    """The data set whose published `stem` this file is, other than `other_than`; None if none."""
    for name in IDX_SETS:
        if name == other_than:
            continue
        if PUBLISHED_SHA256[name][stem] == digest:
            return _TITLE[name]
        if blob[:2] == _GZIP_MAGIC and _published_md5(name).get(f"{stem}.gz") == hashlib.md5(blob).hexdigest():
            return _TITLE[name]
    return None


def _header_says(raw: bytes) -> str:
    """What a file's IDX header claims, for a refusal message."""
    try:
        n, *rest = parse_idx(raw, Path("?")).shape
    except DataError:
        return "not a readable unsigned-byte IDX file"
    return f"header says {n} items" + (f" of {'x'.join(map(str, rest))}" if rest else "")


def _content_check(name: str, stem: str, path: Path, blob: bytes, raw: bytes) -> str:
    """Accept a file by its content, not by its gzip bytes (a re-gzipped or uncompressed copy of
    the published file is the same data); returns which check accepted it."""
    digest = hashlib.sha256(raw).hexdigest()
    want = PUBLISHED_SHA256[name][stem]
    if want is not None:
        if digest == want:
            return "content sha256 equal to the published file's"
        other = _identify(blob, digest, stem, name)
        raise DataError(f"{path}: content sha256 {digest[:16]}… differs from the published {_TITLE[name]} file "
                        f"({want[:16]}…); {_header_says(raw)}" + (f"; it is the published {other} file" if other else ""))
    if blob[:2] == _GZIP_MAGIC and hashlib.md5(blob).hexdigest() == _published_md5(name).get(f"{stem}.gz"):
        return "the .gz md5 equal to torchvision's published one"
    other = _identify(blob, digest, stem, name)
    if other:
        raise DataError(f"{path}: this is the published {other} file, not {_TITLE[name]}")
    return (f"header and label range only (not the published .gz, and no published digest of "
            f"{_TITLE[name]}'s decompressed content to compare with)")


def _check_shape(stem: str, path: Path, arr: np.ndarray, check: str) -> None:
    """Images (N, 28, 28) and labels (N,) in 0..9, N fixed per split: a train split's images and
    labels then agree in count, and a label outside 0..9 cannot reach the classifier."""
    split, kind = stem.split("-")[:2]
    n = _SPLIT_SIZE[split]
    want = (n, 28, 28) if kind == "images" else (n,)
    if arr.shape != want:
        raise DataError(f"{path}: {kind} of shape {arr.shape}, expected {want} as in the published {split} split "
                        f"(accepted so far by {check})")
    if kind == "labels" and arr.max(initial=0) > 9:
        raise DataError(f"{path}: labels up to {int(arr.max())}, expected 0..9 (accepted so far by {check})")


def load_idx_file(path: Path, name: str, stem: str) -> IdxFile:
    """Read one of the four files of `name`, refusing any content other than the published one."""
    blob = Path(path).read_bytes()
    raw = _idx_bytes(blob, path)
    check = _content_check(name, stem, path, blob, raw)
    arr = parse_idx(raw, path)
    _check_shape(stem, path, arr, check)
    return IdxFile(Path(path), arr, check)


def read_idx_folder(root: Path, name: str) -> dict[str, IdxFile]:
    """The four files of `name` from one folder under `root` (see `idx_files`), each checked."""
    return {stem: load_idx_file(path, name, stem) for stem, path in idx_files(root, name).items()}


def source_digests(name: str, p: DataParams) -> dict[str, str]:
    """sha256 of the bytes of each file `prepare` would read, by path: DVC's cue that a file under
    data.root changed (the `sources` stage writes it, `prepare` depends on it).

    Hashes the files as stored, not their decompressed content: cheap (the four MNIST .gz files in
    well under a second), and `prepare` checks the content itself. Empty for the data sets that read
    no files, and for a download (checked when it is made).
    """
    if name not in IDX_SETS or not p.root:
        return {}
    try:
        paths = idx_files(Path(p.root), name)
    except DataError as e:
        raise _root_refused(name, p.root, e) from None
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths.values()}


def _root_refused(name: str, root: str, e: DataError) -> DataError:
    return DataError(f"{name}: cannot load the data set from data.root ({root}); no download is tried "
                     f"while data.root is set: {e}")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def load_idx_set(name: str, p: DataParams, download_dir: Path) -> dict[str, IdxFile]:
    """The four checked files: from `p.root` when it is set, else from torchvision's download.

    A refused data.root is an error to fix, never a cue to download: a download would silently
    train on other files than the ones the user pointed at.
    """
    hint = f"put the four IDX files {', '.join(f + '.gz' for f in IDX_FILES)} in a folder and set data.root to it"
    if p.root:
        try:
            return read_idx_folder(Path(p.root), name)
        except DataError as e:
            raise _root_refused(name, p.root, e) from None
    if not p.download:
        raise DataError(f"{name}: cannot load the data set: data.root is not set and data.download is false; {hint}")
    try:
        _download(name, download_dir)
    except Exception as e:  # any network / mirror failure
        raise DataError(f"{name}: cannot load the data set: data.root is not set and torchvision's download "
                        f"into {download_dir} failed ({type(e).__name__}: {_one_line(e)}); {hint}") from None
    try:
        return read_idx_folder(download_dir, name)
    except DataError as e:
        raise DataError(f"{name}: cannot load the data set: the download into {download_dir} was refused: {e}") from None


def _download(name: str, root: Path) -> None:
    """torchvision's downloader: all four .gz files into root/<Class>/raw/ (it checks their md5).

    Only its smaller test split is parsed; the files are then read and checked like any other folder.
    """
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    cls(str(root), train=False, download=True)


def describe_checks(name: str, files: dict[str, IdxFile]) -> str:
    """One line: which folder was read and which check accepted each file."""
    folder = next(iter(files.values())).path.parent
    checks = {f.check for f in files.values()}
    how = (f"all four by {checks.pop()}" if len(checks) == 1
           else "; ".join(f"{stem} by {f.check}" for stem, f in files.items()))
    return f"{name}: read {folder}, accepted {how}"
