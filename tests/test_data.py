"""Data sets: deterministic, the right shapes, and MNIST from raw IDX files."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.data import datasets as D
from pipeline.data import idx

from .conftest import section_with, shipped_with


def data_params(**keys):
    """params.yaml's data: section with `keys` on top."""
    return section_with("data", **keys)


def test_mixtures_are_deterministic_and_centred():
    p = data_params(toy_train=4000, toy_test=500)
    a, b = D.make_mixture("ring8", p, seed=3), D.make_mixture("ring8", p, seed=3)
    torch.testing.assert_close(a.train_x, b.train_x)
    assert not torch.equal(a.train_x, D.make_mixture("ring8", p, seed=4).train_x)
    centers = torch.tensor(a.meta.centers)
    assert centers.shape == (8, 2)
    torch.testing.assert_close(centers.norm(dim=1), torch.full((8,), p.ring_radius))
    # every sample sits near some mode, at the configured spread
    d = torch.cdist(a.train_x, centers).min(1).values
    assert d.max().item() < 6 * p.ring_std
    grid = D.make_mixture("grid25", p, seed=0)
    assert len(grid.meta.centers) == 25 and grid.meta.std == p.grid_std
    assert grid.train_x.shape == (4000, 2) and grid.test_x.shape == (500, 2)


def test_mixture_log_density_integrates_to_one():
    centers, std = D.ring8_centers(1.0), 0.1
    xs = torch.linspace(-1.6, 1.6, 321)
    grid = torch.cartesian_prod(xs, xs)
    mass = D.mixture_log_density(grid, centers, std).exp().sum() * (xs[1] - xs[0]) ** 2
    assert mass.item() == pytest.approx(1.0, abs=1e-3)


def test_digits_split_is_stratified_and_deterministic():
    p = data_params(test_fraction=0.2)
    a, b = D.make_digits(p, 0), D.make_digits(p, 0)
    assert torch.equal(a.train_x, b.train_x)
    assert a.meta.n_train + a.meta.n_test == 1797 and a.meta.n_test == 360
    assert a.train_x.shape[1:] == (1, 8, 8) and a.train_x.dtype == torch.uint8
    assert torch.bincount(a.test_y).min().item() >= 35  # every class held out
    x = D.to_model_space(a.train_x, a.meta)
    assert x.min().item() == -1.0 and x.max().item() == 1.0


def _write_idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">i4").tobytes()
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path: Path, gz: bool):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "f", arr, gz)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "f"), arr)


def test_read_idx_rejects_garbage_and_truncation(tmp_path: Path):
    (tmp_path / "bad").write_bytes(b"not an idx file")
    with pytest.raises(D.DataError, match="not an unsigned-byte IDX"):
        idx.read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "t", np.zeros((4, 4)), gz=False)
    (tmp_path / "t").write_bytes((tmp_path / "t").read_bytes()[:-3])
    with pytest.raises(D.DataError, match="truncated"):
        idx.read_idx(tmp_path / "t")


def test_mnist_from_a_folder_of_the_original_files(mnist_dir: Path, tmp_path: Path):
    p = data_params(root=str(mnist_dir), download=False)
    m = D.prepare("mnist", p, 0, tmp_path / "dl")
    assert m.train_x.shape == (60000, 1, 28, 28) and m.test_x.shape == (10000, 1, 28, 28)
    assert m.train_y.shape == (60000,) and set(m.test_y.unique().tolist()) == set(range(10))
    assert m.meta.levels == 255 and m.train_x.dtype == torch.uint8
    assert not (tmp_path / "dl").exists()  # no download attempted


def test_mnist_uncompressed_files_are_accepted(mnist_dir: Path, tmp_path: Path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for stem in idx.IDX_FILES:
        with gzip.open(mnist_dir / f"{stem}.gz") as f, open(flat / stem, "wb") as out:
            shutil.copyfileobj(f, out)
    m = D.prepare("mnist", data_params(root=str(flat), download=False), 0, tmp_path / "dl")
    assert m.meta.n_train == 60000


def test_mnist_regzipped_files_are_accepted(mnist_dir: Path, tmp_path: Path):
    """The check is over the decompressed content: another gzip's bytes are the same data."""
    f = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    before = f.read_bytes()
    f.write_bytes(gzip.compress(gzip.decompress(before), compresslevel=1, mtime=0))
    assert f.read_bytes() != before
    m = D.prepare("mnist", data_params(root=str(mnist_dir), download=False), 0, tmp_path / "dl")
    assert m.meta.n_test == 10000


def test_mnist_with_one_changed_byte_is_refused_naming_file_and_digest(mnist_dir: Path, tmp_path: Path):
    f = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(f.read_bytes()))
    raw[8 + 5] = (raw[8 + 5] + 1) % 10  # one label, still a valid digit
    f.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(D.DataError) as e:
        D.prepare("mnist", data_params(root=str(mnist_dir), download=False), 0, tmp_path / "dl")
    msg = str(e.value)
    assert str(f) in msg and hashlib.sha256(bytes(raw)).hexdigest()[:16] in msg
    assert idx.PUBLISHED_SHA256["mnist"]["t10k-labels-idx1-ubyte"][:16] in msg
    assert "differs from the published MNIST file" in msg and "header says 10000 items" in msg
    assert "\n" not in msg


def test_missing_files_error_names_the_four_files_and_the_folder(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(D.DataError) as e:
        D.prepare("fashion_mnist", data_params(root=str(empty), download=False), 0, tmp_path / "dl")
    msg = str(e.value)
    for stem in idx.IDX_FILES:
        assert f"{stem}.gz" in msg
    assert str(empty) in msg and "data.root" in msg and "\n" not in msg


def test_prepare_stage_fails_cleanly_and_writes_nothing(tmp_path: Path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from stages.__main__ import app

    raw = shipped_with({"data": {"root": str(tmp_path / "nowhere"), "download": False}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["prepare", "--dataset", "mnist"])
    assert res.exit_code == 2
    assert "cannot load the data set" in res.output
    assert not (tmp_path / "data" / "prepared").exists()


# --- which folder, which files: never mixed, never confused ----------------------------------


def _fake_fashion(folder: Path, train_labels: np.ndarray | None = None, gz: bool = False) -> Path:
    """Fashion-MNIST-shaped files (every pixel 7, labels i % 10): the real ones are not here."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {"train": np.arange(60000) % 10, "t10k": np.arange(10000) % 10}
    if train_labels is not None:
        labels["train"] = train_labels
    for split, n in (("train", 60000), ("t10k", 10000)):
        _write_idx(folder / f"{split}-images-idx3-ubyte", np.full((n, 28, 28), 7, np.uint8), gz=False)
        _write_idx(folder / (f"{split}-labels-idx1-ubyte" + (".gz" if gz else "")), labels[split], gz=gz)
    return folder


def _spy_reads(monkeypatch) -> list[Path]:
    """Every file the loader reads, in order."""
    reads: list[Path] = []
    real = idx.load_idx_file

    def spy(path, name, stem):
        reads.append(Path(path))
        return real(path, name, stem)

    monkeypatch.setattr(idx, "load_idx_file", spy)
    return reads


def test_torchvision_root_keeps_mnist_and_fashion_apart(mnist_dir: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "tv"
    shutil.copytree(mnist_dir, root / "MNIST" / "raw")
    _fake_fashion(root / "FashionMNIST" / "raw")
    reads = _spy_reads(monkeypatch)
    p = data_params(root=str(root), download=False)
    m = D.prepare("mnist", p, 0, tmp_path / "dl")
    assert {r.parent for r in reads} == {root / "MNIST" / "raw"}
    assert m.train_x.max().item() == 255  # real digits, not the constant fake
    reads.clear()
    notes: list[str] = []
    f = D.prepare("fashion_mnist", p, 0, tmp_path / "dl", note=notes.append)
    assert {r.parent for r in reads} == {root / "FashionMNIST" / "raw"}
    assert f.train_x.min().item() == f.train_x.max().item() == 7  # the fake, every pixel 7
    assert "header and label range only" in notes[0] and str(root / "FashionMNIST" / "raw") in notes[0]


def test_fashion_never_falls_back_to_the_mnist_folder(mnist_dir: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "tv"
    shutil.copytree(mnist_dir, root / "MNIST" / "raw")
    reads = _spy_reads(monkeypatch)
    with pytest.raises(D.DataError, match="no folder holds all four"):
        D.prepare("fashion_mnist", data_params(root=str(root), download=False), 0, tmp_path / "dl")
    assert reads == []


def test_mnist_files_in_a_flat_folder_are_not_fashion(mnist_dir: Path, tmp_path: Path):
    with pytest.raises(D.DataError, match="this is the published MNIST file, not Fashion-MNIST"):
        D.prepare("fashion_mnist", data_params(root=str(mnist_dir), download=False), 0, tmp_path / "dl")


def test_files_are_never_mixed_across_folders(mnist_dir: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "tv"
    shutil.copytree(mnist_dir, root / "MNIST" / "raw")
    (root / "raw").mkdir()
    shutil.move(root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz", root / "raw")
    reads = _spy_reads(monkeypatch)
    with pytest.raises(D.DataError) as e:
        D.prepare("mnist", data_params(root=str(root), download=False), 0, tmp_path / "dl")
    assert f"{root / 'MNIST' / 'raw'} lacks t10k-labels-idx1-ubyte" in str(e.value)
    assert f"{root / 'raw'} lacks train-images-idx3-ubyte" in str(e.value)
    assert reads == []


def test_the_data_set_folder_wins_over_a_flat_copy(mnist_dir: Path, tmp_path: Path, monkeypatch):
    root = tmp_path / "tv"
    shutil.copytree(mnist_dir, root / "MNIST" / "raw")
    for stem in idx.IDX_FILES:  # a complete flat set too, but not MNIST: never read
        (root / f"{stem}.gz").write_bytes(b"junk")
    reads = _spy_reads(monkeypatch)
    D.prepare("mnist", data_params(root=str(root), download=False), 0, tmp_path / "dl")
    assert {r.parent for r in reads} == {root / "MNIST" / "raw"}


def test_fashion_gz_matching_the_published_md5_is_named_in_the_note(tmp_path: Path, monkeypatch):
    folder = _fake_fashion(tmp_path / "f", gz=True)  # labels .gz, images uncompressed
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.glob("*.gz")}
    monkeypatch.setattr(idx, "_published_md5", lambda name: md5 if name == "fashion_mnist" else {})
    notes: list[str] = []
    D.prepare("fashion_mnist", data_params(root=str(folder), download=False), 0, tmp_path / "dl", note=notes.append)
    assert "train-labels-idx1-ubyte by the .gz md5 equal to torchvision's published one" in notes[0]
    assert "train-images-idx3-ubyte by header and label range only" in notes[0]


@pytest.mark.parametrize("labels, match", [
    (np.arange(60000) % 11, r"labels up to 10, expected 0\.\.9"),
    (np.arange(59999) % 10, r"labels of shape \(59999,\), expected \(60000,\)"),
])
def test_fashion_labels_out_of_range_or_miscounted_are_refused(tmp_path: Path, labels, match):
    folder = _fake_fashion(tmp_path / "f", train_labels=labels)
    with pytest.raises(D.DataError, match=match) as e:
        D.prepare("fashion_mnist", data_params(root=str(folder), download=False), 0, tmp_path / "dl")
    assert "train-labels-idx1-ubyte" in str(e.value) and "header and label range only" in str(e.value)


def test_refused_root_never_downloads(tmp_path: Path, monkeypatch):
    calls = []
    monkeypatch.setattr(idx, "_download", lambda *a: calls.append(a))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(D.DataError, match="no download is tried while data.root is set"):
        D.prepare("mnist", data_params(root=str(empty), download=True), 0, tmp_path / "dl")
    assert calls == []


@pytest.mark.parametrize("corrupt", [False, True])
def test_a_download_is_checked_like_a_folder(mnist_dir: Path, tmp_path: Path, monkeypatch, corrupt: bool):
    def fake_download(name, root):  # what torchvision leaves: <root>/MNIST/raw/*.gz
        shutil.copytree(mnist_dir, Path(root) / "MNIST" / "raw")
        if corrupt:
            (Path(root) / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"x"))

    monkeypatch.setattr(idx, "_download", fake_download)
    p = data_params(root=None, download=True)
    if corrupt:
        with pytest.raises(D.DataError, match="the download into .* was refused: .*train-labels-idx1-ubyte"):
            D.prepare("mnist", p, 0, tmp_path / "dl")
    else:
        assert D.prepare("mnist", p, 0, tmp_path / "dl").meta.n_train == 60000


def test_source_digests_follow_the_file_contents(mnist_dir: Path):
    p = data_params(root=str(mnist_dir), download=False)
    before = idx.source_digests("mnist", p)
    assert sorted(before) == sorted(str(mnist_dir / f"{s}.gz") for s in idx.IDX_FILES)
    assert idx.source_digests("mnist", p) == before  # same files, same digests
    f = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(f.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    f.write_bytes(gzip.compress(bytes(raw)))
    after = idx.source_digests("mnist", p)
    assert [k for k in before if before[k] != after[k]] == [str(f)]
    assert idx.source_digests("ring8", p) == {} and idx.source_digests("mnist", data_params()) == {}


def test_prepare_stage_sources_only_writes_just_the_digests(mnist_dir: Path, tmp_path: Path, monkeypatch):
    import json

    import yaml
    from typer.testing import CliRunner

    from stages.__main__ import app

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(shipped_with({"data": {"root": str(mnist_dir),
                                                                                    "download": False}})))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["prepare", "--dataset", "mnist", "--sources-only"])
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "data" / "sources" / "mnist.json").read_text())
    assert written == idx.source_digests("mnist", data_params(root=str(mnist_dir)))
    assert not (tmp_path / "data" / "prepared").exists()


def test_save_load_prepared_round_trip(tmp_path: Path):
    d = D.make_digits(data_params(), 0)
    D.save_prepared(tmp_path / "digits", d)
    e = D.load_prepared(tmp_path / "digits")
    assert e.meta == d.meta
    assert torch.equal(e.train_x, d.train_x) and torch.equal(e.test_y, d.test_y)


def test_batch_sampler_draws_rows_of_the_data():
    data = torch.arange(50.0).view(25, 2)
    s = D.BatchSampler(data, 8, torch.Generator().manual_seed(0), chunk=3)
    for _ in range(7):  # crosses chunk boundaries
        b = s()
        assert b.shape == (8, 2)
        assert torch.equal(b[:, 1] - b[:, 0], torch.ones(8))  # whole rows
