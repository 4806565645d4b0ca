"""`dvc exp run -S clip=...` in a scratch copy: only WGAN retrains and is re-evaluated."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import copy_repo, venv_env

TINY = {
    "datasets": ["ring8"],
    "data": {"toy_train": 400, "toy_test": 200},
    "net": {"z_dim": 2, "g_hidden": [16], "d_hidden": [16]},
    "train": {"log_every": 5, "snapshots": 3},
    "eval": {"n_samples": 150, "sliced_samples": 200, "sliced_projections": 10, "snapshot_samples": 50,
             "inception": {"enabled": False}, "classifier": {"features": 8, "epochs": 1},
             "loglik": {"samples": 4, "max_points": 20}},
}


def _run(repo: Path, *cmd: str) -> str:
    done = subprocess.run(cmd, cwd=repo, env=venv_env(), capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.mark.slow  # about 2.5 minutes on the shared 2-core CPU: 16 DVC stages, each a fresh interpreter
def test_exp_run_clip_reruns_only_wgan(tmp_path: Path):
    repo = copy_repo(tmp_path / "repo")
    # DVC-cached outputs that a local run of the stages may have left beside the sources
    for out in ("data/real_stats", "data/samples"):
        if (repo / out).exists():
            _run(repo, "git", "rm", "-r", "-q", "--cached", out)
            subprocess.run(["rm", "-r", str(repo / out)], check=True)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section] = params[section] | values if isinstance(values, dict) else values
    for model in ("gan", "wgan", "avb", "vae"):
        params[model] |= {"steps": 15, "batch_size": 32}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    first = _ran(_run(repo, "dvc", "repro"))
    assert {"train_gan@ring8", "evaluate@ring8-wgan", "real_stats@ring8", "plot", "report"} <= first
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-qm", "baseline")
    gan_ckpt = (repo / "models/ring8/gan.pt").stat().st_mtime_ns

    again = _ran(_run(repo, "dvc", "exp", "run", "-S", "clip=0.05"))
    assert again == {"train_wgan@ring8", "evaluate@ring8-wgan", "plot", "report"}
    assert (repo / "models/ring8/gan.pt").stat().st_mtime_ns == gan_ckpt  # from the cache, untouched

    shown = json.loads(_run(repo, "dvc", "exp", "show", "--json"))
    text = json.dumps(shown)
    for key in ("w1", "w1_sliced", "fid_domain", "modes_covered"):
        assert f'"{key}"' in text
    assert "metrics/eval/ring8/wgan.json" in text
