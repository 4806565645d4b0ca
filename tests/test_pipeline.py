"""`dvc repro` of the whole pipeline, tiny step counts, in a scratch copy of the repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_repo, venv_env

# Small enough to run every stage in seconds; every model still takes real steps.
TINY = {
    "data": {"toy_train": 512, "toy_test": 256},
    "net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]},
    "train": {"log_every": 2, "snapshots": 2},
    "gan": {"steps": 4},
    "wgan": {"steps": 4, "n_critic": 2},
    "avb": {"steps": 4},
    "vae": {"steps": 4},
    "eval": {"n_samples": 150, "sliced_samples": 200, "sliced_projections": 10, "snapshot_samples": 50,
             "inception": {"enabled": False}, "classifier": {"features": 8, "epochs": 1},
             "loglik": {"samples": 4, "max_points": 20}},
}


def set_params(repo: Path, overrides: dict) -> None:
    path = repo / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    for key, val in overrides.items():
        raw[key] = raw[key] | val if isinstance(val, dict) and isinstance(raw.get(key), dict) else val
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def dvc(repo: Path, *args: str) -> str:
    res = subprocess.run(["dvc", *args], cwd=repo, env=venv_env(), capture_output=True, text=True)
    assert res.returncode == 0, f"dvc {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def stale_stages(repo: Path) -> set[str]:
    out = json.loads(dvc(repo, "status", "--json"))
    return set(out)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    set_params(repo, TINY)
    dvc(repo, "repro")
    return repo


def test_repro_trains_every_model_on_the_defaults(repo: Path):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for ds in params["datasets"]:
        assert (repo / "data" / "prepared" / ds / "meta.json").exists()
        for model in ("gan", "wgan", "avb", "vae"):
            assert (repo / "models" / ds / f"{model}.pt").exists()
            status = json.loads((repo / "metrics" / "train" / ds / f"{model}.json").read_text())
            assert status["status"] == "ok" and status["steps"] == 4
            header = (repo / "logs" / ds / f"{model}.csv").read_text().splitlines()[0]
            assert header.startswith("step,seconds,")
    assert (repo / "dvc.lock").exists()


def test_nothing_changed_means_nothing_reruns(repo: Path):
    assert stale_stages(repo) == set()


def test_changing_clip_invalidates_only_wgan_training_and_what_follows(repo: Path):
    set_params(repo, {"clip": 0.02})
    stale = stale_stages(repo)
    subprocess.run(["git", "checkout", "params.yaml"], cwd=repo, check=True, capture_output=True)
    set_params(repo, TINY)
    trains = {s for s in stale if s.startswith("train_")}
    assert trains == {"train_wgan@ring8", "train_wgan@digits"}
    assert not any(s.startswith(("prepare", "train_gan", "train_avb", "train_vae")) for s in stale)
