"""The prepare/train stages end to end in a scratch folder (no DVC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from pipeline import io
from stages.__main__ import app

TINY = {
    "data": {"toy_train": 256, "toy_test": 128},
    "net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]},
    "train": {"log_every": 3, "snapshots": 2},
    "wgan": {"steps": 6, "n_critic": 2},
    "gan": {"steps": 6},
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["prepare", "--dataset", "ring8"])
    assert res.exit_code == 0, res.output
    return tmp_path


def train(*args: str):
    res = CliRunner().invoke(app, ["train", *args, "--no-progress"])
    assert res.exit_code == 0, res.output
    return res


def test_train_writes_checkpoint_log_and_status(workdir: Path):
    train("wgan", "--dataset", "ring8")
    status = json.loads((workdir / "metrics/train/ring8/wgan.json").read_text())
    assert status["status"] == "ok" and status["steps"] == 6 and status["inner_steps"] == 12
    log = (workdir / "logs/ring8/wgan.csv").read_text().splitlines()
    assert log[0] == "step,seconds,critic_loss,w_estimate,g_loss" and len(log) == 3
    ckpt = io.load_torch(workdir / "models/ring8/wgan.pt")  # weights_only=True
    assert ckpt["model"] == "wgan" and ckpt["config"]["clip"] == 0.01
    assert [s["step"] for s in ckpt["snapshots"]] == [3, 6]
    assert not list(workdir.rglob("*.tmp"))  # atomic writes leave no temp files


def test_same_seed_same_weights(workdir: Path):
    train("gan", "--dataset", "ring8")
    a = io.load_torch(workdir / "models/ring8/gan.pt")["state"]
    train("gan", "--dataset", "ring8")
    b = io.load_torch(workdir / "models/ring8/gan.pt")["state"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_divergence_is_recorded_not_hidden(workdir: Path):
    raw = yaml.safe_load((workdir / "params.yaml").read_text())
    raw["vae"] = {"steps": 50, "lr": 1e30}  # blows up within a few steps
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    res = train("vae", "--dataset", "ring8")
    assert "recorded as diverged" in res.output and "at generator step" in res.output
    status = json.loads((workdir / "metrics/train/ring8/vae.json").read_text())
    assert status["status"] == "diverged" and status["steps"] < 50
    assert "became" in status["message"]
