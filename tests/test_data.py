"""Data sets: deterministic, the right shapes, and MNIST from raw IDX files."""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import data as D
from pipeline.config import DataParams


def test_mixtures_are_deterministic_and_centred():
    p = DataParams(toy_train=4000, toy_test=500)
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
    p = DataParams(test_fraction=0.2)
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
    np.testing.assert_array_equal(D.read_idx(tmp_path / "f"), arr)


def test_read_idx_rejects_garbage_and_truncation(tmp_path: Path):
    (tmp_path / "bad").write_bytes(b"not an idx file")
    with pytest.raises(D.DataError, match="not an unsigned-byte IDX"):
        D.read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "t", np.zeros((4, 4)), gz=False)
    (tmp_path / "t").write_bytes((tmp_path / "t").read_bytes()[:-3])
    with pytest.raises(D.DataError, match="truncated"):
        D.read_idx(tmp_path / "t")


def test_mnist_from_a_folder_of_the_original_files(mnist_dir: Path, tmp_path: Path):
    p = DataParams(root=str(mnist_dir), download=False)
    m = D.prepare("mnist", p, 0, tmp_path / "dl")
    assert m.train_x.shape == (60000, 1, 28, 28) and m.test_x.shape == (10000, 1, 28, 28)
    assert m.train_y.shape == (60000,) and set(m.test_y.unique().tolist()) == set(range(10))
    assert m.meta.levels == 255 and m.train_x.dtype == torch.uint8
    assert not (tmp_path / "dl").exists()  # no download attempted


def test_mnist_uncompressed_files_are_accepted(mnist_dir: Path, tmp_path: Path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for stem in D.IDX_FILES:
        with gzip.open(mnist_dir / f"{stem}.gz") as f, open(flat / stem, "wb") as out:
            shutil.copyfileobj(f, out)
    m = D.prepare("mnist", DataParams(root=str(flat), download=False), 0, tmp_path / "dl")
    assert m.meta.n_train == 60000


def test_mnist_md5_mismatch_is_refused(mnist_dir: Path, tmp_path: Path):
    f = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes()), mtime=0))  # same content, other bytes
    with pytest.raises(D.DataError, match="md5 .* differs from the published"):
        D.prepare("mnist", DataParams(root=str(mnist_dir), download=False), 0, tmp_path / "dl")


def test_missing_files_error_names_the_four_files_and_the_folder(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(D.DataError) as e:
        D.prepare("fashion_mnist", DataParams(root=str(empty), download=False), 0, tmp_path / "dl")
    msg = str(e.value)
    for stem in D.IDX_FILES:
        assert f"{stem}.gz" in msg
    assert str(empty) in msg and "data.root" in msg and "\n" not in msg


def test_prepare_stage_fails_cleanly_and_writes_nothing(tmp_path: Path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from stages.__main__ import app

    raw = {"data": {"root": str(tmp_path / "nowhere"), "download": False}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["prepare", "--dataset", "mnist"])
    assert res.exit_code == 2
    assert "cannot load the data set" in res.output
    assert not (tmp_path / "data" / "prepared").exists()


def test_save_load_prepared_round_trip(tmp_path: Path):
    d = D.make_digits(DataParams(), 0)
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
